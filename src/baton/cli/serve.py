"""baton serve / baton demo: run the server."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from baton.app import create_app
from baton.cli.common import DataDirOption, console, emit, fail, note, open_runtime
from baton.core import jobs
from baton.core.errors import ConfigurationError
from baton.core.runtime import Runtime
from baton.demo import challenge_demo
from baton.demo.seed import seed_demo

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]
WorkerOption = Annotated[
    bool,
    typer.Option(
        "--worker/--no-worker",
        help="Also run background jobs (provenance scans) in this process; use --no-worker when "
        "separate `baton worker` processes do it.",
    ),
]


def _start_worker(runtime: Runtime) -> jobs.Worker:
    for action in runtime.registry.startup:  # e.g. the challenge's hourly finality sweep
        action(runtime)
    worker = jobs.Worker(runtime)
    threading.Thread(target=worker.run, name="baton-worker", daemon=True).start()
    return worker


def _simulate_challenge(runtime: Runtime) -> None:
    """The simulated challenge of `baton demo` (once per data folder), with its steps as it goes."""
    console.print("[green]Running the simulated challenge[/green] (five teams, one stage decided, releases):")
    result = challenge_demo.run_challenge_demo(
        runtime, progress=lambda line: console.print(f"  {line}", soft_wrap=True)
    )
    if not result.created:
        console.print("  The demo challenge ran already in this data folder.")
        return
    console.print(f"  done in {result.seconds:.1f} s")
    for user, token in result.tokens.items():
        console.print(f"  token for [bold]{user}[/bold] (votes in the arena): {token}", soft_wrap=True)
    console.print(
        f"  check the published ledger: baton challenge verify --bundle {result.bundle_path} --head {result.head}",
        soft_wrap=True,
    )


def check_port(host: str, port: int, command: str) -> None:
    """Stop before any work when ``host:port`` cannot be listened on (another server has it)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        fail(ConfigurationError(f"Cannot listen on {host!r}: {error.strerror}.", hint="Pass --host 127.0.0.1."))
    family, kind, protocol, _name, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            fail(
                ConfigurationError(
                    f"Port {port} on {host} is not free ({error.strerror}): another server is listening there.",
                    hint=f"Stop it, or pick another port: baton {command} --port {port + 1 if port < 65535 else 8001}",
                )
            )


def _run(data_dir: Path | None, host: str, port: int, *, demo: bool, worker: bool) -> None:
    check_port(host, port, "demo" if demo else "serve")  # before loading anything or printing tokens
    runtime = open_runtime(data_dir, create=True)
    if demo:
        result = seed_demo(runtime)
        if result.created:
            console.print("[green]Loaded the demo data:[/green]")
            for line in result.repos:
                console.print(f"  {line}")
            for user, token in result.tokens.items():
                console.print(f"  token for [bold]{user}[/bold]: {token}")
        else:
            console.print("Demo data already loaded (tokens were printed the first time).")
        _simulate_challenge(runtime)
    url = f"http://{host}:{port}"
    console.print(f"Baton serving {runtime.settings.data_dir} at [bold]{url}[/bold]")
    if demo:
        for label, link in challenge_demo.urls(url):
            console.print(f"  {label}: {link}", soft_wrap=True)
    console.print(f"  export HF_ENDPOINT={url} HF_HUB_DISABLE_XET=1   # then use huggingface_hub as usual")
    app = create_app(runtime=runtime)
    background = _start_worker(runtime) if worker else None
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", timeout_keep_alive=30)
    finally:
        if background is not None:
            background.stop()


def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    worker: WorkerOption = True,
    data_dir: DataDirOption = None,
) -> None:
    """Run Baton's HTTP server (HF-compatible hub API included)."""
    _run(data_dir, host, port, demo=False, worker=worker)


def init(data_dir: DataDirOption = None) -> None:
    """Create a data folder (database, blob store, secret key) without serving; other commands need one."""
    runtime = open_runtime(data_dir, create=True)
    try:
        emit(str(runtime.settings.data_dir.resolve()))
        note(f"Baton data folder ready at {runtime.settings.data_dir.resolve()}")
    finally:
        runtime.close()


def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    worker: WorkerOption = True,
    data_dir: DataDirOption = None,
) -> None:
    """Load the demo data and run a simulated challenge (once), then run the server."""
    _run(data_dir, host, port, demo=True, worker=worker)
