"""Helpers shared by the benchmark scripts in this folder.

Each benchmark starts its own Baton server (``baton serve``) as a child process on a free
loopback port with a fresh data folder, so nothing it measures depends on state left by an
earlier run. The server is the real CLI entry point, the same process a user runs.

Import this module before ``huggingface_hub``: it sets the environment the client reads at
import time (no Xet, no telemetry, no progress bars).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")

import httpx  # after the environment above

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BATON = str(Path(sys.executable).parent / "baton")
MIB = 1024 * 1024
GIB = 1024 * MIB
DEFAULT_POSTGRES_URL = os.environ.get("BATON_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


# -- ports, processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll ``url`` until it answers (any status), the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Ask the process (by its own pid) to stop, then kill it if it does not."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


# -- Baton server -----------------------------------------------------------------------------


@dataclass
class BatonServer:
    url: str
    token: str
    user: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def blob_path(self, sha256: str) -> Path:
        """Where the default local blob store (``<data_dir>/blobs``) keeps the bytes of ``sha256``."""
        return self.data_dir / "blobs" / "blobs" / sha256[:2] / sha256[2:4] / sha256


@contextlib.contextmanager
def baton_server(
    *, database_url: str | None = None, base_dir: str | Path | None = None, user: str = "bob", worker: bool = False
) -> Iterator[BatonServer]:
    """A fresh ``baton serve`` on a free loopback port, with user ``user``; removed on exit.

    By default the server runs without its in-process background worker (``--no-worker``), so
    that provenance scans of the weights a benchmark uploads do not run during what it times;
    deployments that care about serving speed run ``baton worker`` processes instead.
    """
    work = Path(tempfile.mkdtemp(prefix="baton-bench-", dir=base_dir))
    data_dir = work / "data"
    env = dict(os.environ)
    env["BATON_DATA_DIR"] = str(data_dir)
    # One client at full speed from one address is what a benchmark is, and what the per-account
    # and per-address limits exist to stop: they would time the limiter, not the server.
    env.setdefault("BATON_RATE_LIMITS", "token-use=off,upload=off")
    if database_url:
        env["BATON_DATABASE_URL"] = database_url
    else:
        env.pop("BATON_DATABASE_URL", None)
    log_path = work / "server.log"
    process: subprocess.Popen[bytes] | None = None
    try:
        # Only init, serve and demo make a data folder; the user comes before the server starts.
        subprocess.run([BATON, "init", "--data-dir", str(data_dir)], env=env, check=True, capture_output=True)
        created = subprocess.run(
            [BATON, "user", "create", user, "--data-dir", str(data_dir)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        token = created.stdout.strip().splitlines()[-1].strip()
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    BATON,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(data_dir),
                    "--worker" if worker else "--no-worker",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/api/models", process)
        yield BatonServer(url, token, user, data_dir, process, log_path)
    finally:
        if process is not None:
            stop_process(process)
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def postgres_schema(admin_url: str = DEFAULT_POSTGRES_URL) -> Iterator[str]:
    """A fresh PostgreSQL schema for one server; the URL selects it; dropped on exit."""
    import psycopg

    schema = f"baton_bench_{uuid.uuid4().hex[:10]}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- data -------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """``1GiB``, ``128MiB``, ``5G`` or a plain number of bytes."""
    units = {"gib": GIB, "mib": MIB, "g": GIB, "m": MIB, "": 1}
    lowered = text.strip().lower()
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if suffix and lowered.endswith(suffix):
            return int(float(lowered[: -len(suffix)]) * factor)
    return int(lowered)


def check_free_disk(folder: str | Path, needed_bytes: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise SystemExit(
            f"{folder} has {free / GIB:.1f} GiB free; this benchmark needs about {needed_bytes / GIB:.1f} GiB"
        )


def write_random_file(path: Path, size: int, block: int = 64 * MIB) -> None:
    """``size`` bytes of random data (incompressible, as model weights are)."""
    with path.open("wb") as file:
        left = size
        while left > 0:
            step = min(block, left)
            file.write(os.urandom(step))
            left -= step


def write_safetensors_file(path: Path, size: int, tensor_bytes: int = 64 * MIB) -> None:
    """A valid safetensors file of exactly ``size`` bytes: 1-D BF16 tensors of random data.

    Baton checks safetensors headers on commit, so benchmark weights must be well formed; the
    random body keeps them as incompressible as real weights.
    """
    header_bytes = 64 * 1024  # fixed, padded with spaces as safetensors allows
    data_size = size - 8 - header_bytes
    if data_size <= 0 or data_size % 2:
        raise ValueError(f"cannot make a BF16 safetensors file of {size} bytes")
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    index = 0
    while offset < data_size:
        step = min(tensor_bytes, data_size - offset)
        header[f"model.layers.{index}.weight"] = {
            "dtype": "BF16",
            "shape": [step // 2],
            "data_offsets": [offset, offset + step],
        }
        offset += step
        index += 1
    text = json.dumps(header, separators=(",", ":")).encode()
    if len(text) > header_bytes:
        raise ValueError("too many tensors for the fixed header size; raise tensor_bytes")
    with path.open("wb") as file:
        file.write(header_bytes.to_bytes(8, "little"))
        file.write(text.ljust(header_bytes, b" "))
        left = data_size
        while left > 0:
            step = min(tensor_bytes, left)
            file.write(os.urandom(step))
            left -= step


# -- timing and statistics --------------------------------------------------------------------


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_summary() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    return {
        "load_average": load_average(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory / GIB, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every number."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "-"


def package_versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    payload = {"benchmark": name, "when": stamp, "machine": machine_summary(), **data}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


# -- CPU and memory of a process -----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_status_kib(pid: int, field_name: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), in KiB; 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class RssSampler:
    """Samples the resident memory of ``pid`` every ``interval`` seconds in a background thread."""

    pid: int
    interval: float = 0.05
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - start, read_status_kib(self.pid, "VmRSS") * 1024))
            self._stop.wait(self.interval)

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)
