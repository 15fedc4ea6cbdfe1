"""baton eval ...: run a task on a model, list the built-in tasks."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from baton.cli.common import DataDirOption, console, emit, fail, note, open_runtime, print_json, say
from baton.core.errors import BadRequestError, BatonError
from baton.core.settings import load_settings

if TYPE_CHECKING:
    from baton.core.runtime import Runtime
    from baton.evaluation.tasks import Task

app = typer.Typer(help="Evaluation: run benchmark tasks on models, reproducibly.", no_args_is_help=True)


def _parse_data(values: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for value in values:
        split, separator, path = value.partition("=")
        if not separator or not split or not path:
            raise BadRequestError(f"--data {value!r}: write it as SPLIT=PATH, e.g. --data test=kmmlu_test.csv")
        data[split] = path
    return data


def _task_needs_hub(task: Task) -> bool:
    config = task.config
    splits = {config.test_split} | ({config.fewshot_split} if config.num_fewshot and config.fewshot_split else set())
    return any(config.data[split].hub is not None for split in splits if split in config.data)


def _write_atomically(path: Path, payload: dict[str, Any]) -> None:
    """The results file appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=2)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@app.command("run")
def run(
    model: Annotated[
        str,
        typer.Option("--model", help="A local model folder, a hub repo id (repo@revision), or a served model name."),
    ],
    task_name: Annotated[str, typer.Option("--task", help="A built-in task name or a task YAML path.")],
    backend_name: Annotated[str, typer.Option("--backend", help="hf, openai or dummy.")] = "hf",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate only the first N items.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the results JSON here (else to stdout).")
    ] = None,
    data: Annotated[list[str] | None, typer.Option("--data", help="Use a local file for a split: SPLIT=PATH.")] = None,
    num_fewshot: Annotated[
        int | None, typer.Option("--num-fewshot", min=0, help="Override the task's few-shot count.")
    ] = None,
    by_generation: Annotated[
        bool, typer.Option("--by-generation", help="Multiple choice answered by generated letter.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Backend batch size (hf).")] = 8,
    device: Annotated[str, typer.Option("--device", help="torch device for hf.")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="auto, float32, float16 or bfloat16 (hf).")] = "auto",
    add_bos_token: Annotated[
        bool | None,
        typer.Option(
            "--add-bos-token/--no-add-bos-token",
            help="Start every encoding with the BOS token, or never (hf); default: as the tokenizer does.",
        ),
    ] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible server, e.g. http://host:8000/v1.")
    ] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="The served model's tokenizer (openai).")] = None,
    chat: Annotated[bool, typer.Option("--chat", help="Generate through chat/completions (openai).")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Parallel requests (openai).")] = 8,
    endpoint: Annotated[
        str | None,
        typer.Option("--endpoint", help="A registered server (`baton eval endpoint add`) instead of --base-url."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    use_cache: Annotated[
        bool, typer.Option("--cache/--no-cache", help="Reuse and store answers in the data dir.")
    ] = True,
    data_dir: DataDirOption = None,
) -> None:
    """Evaluate a model on a task and write the results (metrics, per-item records, manifest)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from baton.evaluation.backends import create_backend
    from baton.evaluation.cache import ResultCache, default_cache_path
    from baton.evaluation.runner import run as run_task
    from baton.evaluation.tasks import load_task

    runtime: Runtime | None = None
    cache: ResultCache | None = None
    try:
        task = load_task(task_name, data=_parse_data(data or []), num_fewshot=num_fewshot)
        model_is_local = Path(model).expanduser().exists()
        if _task_needs_hub(task) or (backend_name == "hf" and not model_is_local):
            runtime = open_runtime(data_dir)
            task.runtime = runtime
        options: dict[str, Any] = {}
        if backend_name == "hf":
            options = {"batch_size": batch_size, "device": device, "dtype": dtype}
            if add_bos_token is not None:
                options["add_bos_token"] = add_bos_token
        elif backend_name == "openai":
            options = {"base_url": base_url, "tokenizer": tokenizer, "chat": chat, "concurrency": concurrency}
        if endpoint is not None:
            from baton.evaluation import service

            if backend_name != "openai":
                raise BadRequestError("--endpoint goes with --backend openai")
            runtime = runtime or open_runtime(data_dir)
            with runtime.database.session() as session:
                registered = service.get_endpoint(session, endpoint)
                model = registered.model
                options |= {
                    "base_url": registered.base_url,
                    "tokenizer": tokenizer or registered.tokenizer,
                    "revision": registered.revision,
                    "weight_hash": registered.weight_hash,
                    "operator_controlled": True,
                    "endpoint": registered.name,
                }
        backend = create_backend(backend_name, model, runtime=runtime, **options)
        if use_cache:
            cache = ResultCache(default_cache_path(load_settings(data_dir=data_dir).data_dir))
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            bar = progress.add_task(f"{task.name} on {model}", total=None)

            def report(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            result = run_task(
                task, backend, limit=limit, cache=cache, seed=seed, by_generation=by_generation, progress=report
            )
    except BatonError as error:
        fail(error)
        return
    finally:
        if cache is not None:
            cache.close()
        if runtime is not None:
            runtime.close()
    payload = result.to_json()
    # Without --output the JSON document is the result on stdout and the summary goes beside it on
    # stderr; with --output the file holds the JSON and the summary is the result.
    show: Callable[[str], None] = note
    if output is None:
        print_json(payload, indent=None)
    else:
        _write_atomically(output, payload)
        note(f"wrote {output}")
        show = say
    for name, summary in result.metrics.items():
        interval = summary.get("ci95") or [None, None]
        show(f"{task.name} {name} = {summary.get('value')} ± {summary.get('stderr')} (95% CI {interval})")
    show(f"requests: {result.requests_total} ({result.requests_computed} computed, rest from cache)")


@app.command("tasks")
def tasks(as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False) -> None:
    """List the built-in tasks."""
    from baton.evaluation.tasks import builtin_tasks, load_task

    rows = []
    for name in builtin_tasks():
        try:
            task = load_task(name)
        except BatonError as error:
            fail(error)
            return
        rows.append(
            {
                "name": name,
                "version": task.version,
                "output_type": task.output_type,
                "num_fewshot": task.config.num_fewshot,
                "metrics": list(task.config.metrics),
                "description": task.config.description,
            }
        )
    if as_json:
        print_json(rows, indent=None)
        return
    for row in rows:
        emit(f"{row['name']:<20} v{row['version']:<6} {row['output_type']:<22} {row['description']}")


def _parse_options(values: list[str]) -> dict[str, Any]:
    """KEY=VALUE backend options; VALUE is read as JSON when it parses (numbers, true/false), else text."""
    options: dict[str, Any] = {}
    for value in values:
        key, separator, raw = value.partition("=")
        if not separator or not key:
            raise BadRequestError(f"--option {value!r}: write it as KEY=VALUE, e.g. --option batch_size=16")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


@app.command("submit")
def submit(
    model: Annotated[str, typer.Option("--model", help="A hub model repo id (repo@revision) or a local folder.")],
    task_name: Annotated[str, typer.Option("--task", help="A built-in task name or a task YAML path.")],
    backend_name: Annotated[str, typer.Option("--backend", help="hf, openai or dummy.")] = "hf",
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="A registered OpenAI-compatible endpoint (openai).")
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option("--option", help="Backend option KEY=VALUE (repeatable), e.g. batch_size=16.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Evaluate only the first N items.")] = None,
    num_fewshot: Annotated[int | None, typer.Option("--num-fewshot", min=0)] = None,
    by_generation: Annotated[bool, typer.Option("--by-generation")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    request_batch_size: Annotated[
        int, typer.Option("--request-batch-size", min=1, help="Requests per stored batch (resume granularity).")
    ] = 64,
    ray_workers: Annotated[
        int | None, typer.Option("--ray-workers", min=1, help="Replicate the backend on this many Ray actors.")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="A Ray cluster's address (default: a local runtime).")
    ] = None,
    ray_gpus: Annotated[float, typer.Option("--ray-gpus", min=0, help="GPUs per Ray replica.")] = 0.0,
    data_dir: DataDirOption = None,
) -> None:
    """Queue an evaluation as a background job (run by `baton worker`); prints the run id."""
    from baton.evaluation import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            run = service.submit_run(
                session,
                runtime,
                None,
                service.RunSubmission(
                    model=model,
                    task=task_name,
                    backend=backend_name,
                    endpoint=endpoint,
                    options=_parse_options(option or []),
                    limit=limit,
                    seed=seed,
                    by_generation=by_generation,
                    num_fewshot=num_fewshot,
                    request_batch_size=request_batch_size,
                    ray_workers=ray_workers,
                    ray_address=ray_address,
                    ray_gpus=ray_gpus,
                    local=True,
                ),
            )
            run_id, job_id = run.id, run.job_id
    except BatonError as error:
        fail(error)
        return
    finally:
        runtime.close()
    emit(str(run_id))
    note(f"run {run_id} queued as job {job_id}; follow it with `baton eval show {run_id}`")


@app.command("runs")
def runs(
    model: Annotated[str | None, typer.Option("--model", help="Only runs of this hub model repo.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="queued, running, succeeded or failed.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    data_dir: DataDirOption = None,
) -> None:
    """List evaluation runs, newest first (one JSON object per line)."""
    from baton.evaluation import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            for run in service.list_runs(session, None, model_repo=model, status=status, limit=limit, system=True):
                print_json(service.run_json(session, run), indent=None)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(help="The run's id.")],
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the results JSON (metrics, items, manifest) here.")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print a run (status, progress, attempts, metrics) as JSON; --output writes its full results."""
    from baton.evaluation import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            run = service.get_run(session, None, run_id, system=True)
            print_json(service.run_json(session, run, detail=True))
            if output is not None:
                if run.status != "succeeded":
                    raise BadRequestError(f"Run {run_id} is {run.status}; its results exist once it succeeds.")
                _write_atomically(output, service.results_json(session, run))
                note(f"wrote {output}")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


endpoint_app = typer.Typer(help="OpenAI-compatible servers the operator runs on pinned weights.", no_args_is_help=True)
app.add_typer(endpoint_app, name="endpoint")


@endpoint_app.command("add")
def endpoint_add(
    name: Annotated[str, typer.Argument(help="A name to submit runs with (--endpoint NAME).")],
    base_url: Annotated[str, typer.Option("--base-url", help="e.g. http://10.0.0.5:8000/v1")],
    model: Annotated[str, typer.Option("--model", help="The served model's name.")],
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="Its tokenizer (folder or repo).")] = None,
    revision: Annotated[str | None, typer.Option("--revision", help="The pinned weights, e.g. repo@commit.")] = None,
    weight_hash: Annotated[str | None, typer.Option("--weight-hash")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a server the operator controls (private tasks may run on it)."""
    from baton.evaluation import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            endpoint = service.register_endpoint(
                session,
                name=name,
                base_url=base_url,
                model=model,
                tokenizer=tokenizer,
                revision=revision,
                weight_hash=weight_hash,
            )
            say(f"endpoint {endpoint.name} -> {endpoint.base_url} ({endpoint.model})")
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@endpoint_app.command("list")
def endpoint_list(data_dir: DataDirOption = None) -> None:
    """List the registered endpoints (one JSON object per line)."""
    from baton.evaluation import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session() as session:
            for endpoint in service.list_endpoints(session):
                print_json(service.endpoint_json(endpoint), indent=None)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("serve")
def serve(
    model: Annotated[str, typer.Option("--model", help="A local model folder or a hub repo id (repo@revision).")],
    served_name: Annotated[
        str | None, typer.Option("--served-name", help="The model name clients send (default: --model).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    device: Annotated[str, typer.Option("--device", help="torch device.")] = "cpu",
    dtype: Annotated[str, typer.Option("--dtype", help="auto, float32, float16 or bfloat16.")] = "auto",
    data_dir: DataDirOption = None,
) -> None:
    """Serve a model on pinned weights behind an OpenAI-compatible API (completions with logprobs, chat)."""
    import uvicorn

    from baton.evaluation.backends.hf import HuggingFaceBackend
    from baton.evaluation.serve import create_openai_app

    runtime: Runtime | None = None
    try:
        if not Path(model).expanduser().exists():
            runtime = open_runtime(data_dir)
        backend = HuggingFaceBackend(model, runtime=runtime, device=device, dtype=dtype)
    except BatonError as error:
        fail(error)
        return
    finally:
        if runtime is not None:
            runtime.close()
    described = backend.describe()
    note(
        f"serving {model} (weights sha256 {described['weight_hash'][:16]}...) as {served_name or model} "
        f"on http://{host}:{port}/v1"
    )
    uvicorn.run(create_openai_app(backend, served_name or model), host=host, port=port, log_level="warning")


@app.command("load-data")
def load_data(
    task_name: Annotated[str, typer.Option("--task", help="A built-in task name or a task YAML path.")],
    file: Annotated[list[str], typer.Option("--file", help="SPLIT=PATH, one per split (repeatable).")],
    user: Annotated[str, typer.Option("--user", help="The account that commits (needs write on the namespace).")],
    repo: Annotated[
        str | None, typer.Option("--repo", help="Dataset repo (default: the one the task YAML reads).")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Validate local task data and commit it into the task's dataset repo in the hub."""
    from baton.accounts import service as accounts
    from baton.evaluation import service

    runtime = open_runtime(data_dir)
    try:
        with runtime.database.session(write=True) as session:
            account = accounts.act_as(session, user)
            repo_id, oid = service.load_task_data(session, runtime, account, task_name, _parse_data(file), repo=repo)
        note(f"committed {task_name} data to datasets/{repo_id} at {oid}")
        emit(oid)
    except BatonError as error:
        fail(error)
    finally:
        runtime.close()


@app.command("contamination")
def contamination(
    task_name: Annotated[str, typer.Option("--task", help="A built-in task name or a task YAML path.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Training data: a hub dataset repo (namespace/name@revision).")
    ] = None,
    train_file: Annotated[
        list[Path] | None, typer.Option("--train-file", help="Training data: local files (repeatable).")
    ] = None,
    data: Annotated[list[str] | None, typer.Option("--data", help="Use a local file for a split: SPLIT=PATH.")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Word n-gram length.")] = 8,
    min_fraction: Annotated[
        float, typer.Option("--min-fraction", help="Flag items with at least this share of their n-grams found.")
    ] = 0.5,
    max_mb: Annotated[float, typer.Option("--max-mb", help="Read at most this much training data.")] = 100.0,
    limit: Annotated[int | None, typer.Option("--limit", min=1)] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write the report JSON here (else stdout).")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Report the task's items whose word n-grams occur in a sample of training data."""
    from baton.evaluation import contamination as checker
    from baton.evaluation import service
    from baton.evaluation.tasks import load_task

    if (dataset is None) == (not train_file):
        fail(BadRequestError("Give the training data as --dataset REPO or as --train-file PATH (one of them)."))
        return
    runtime: Runtime | None = None
    try:
        task = load_task(task_name, data=_parse_data(data or []))
        max_bytes = int(max_mb * 1024 * 1024)
        if dataset is not None or _task_needs_hub(task):
            runtime = open_runtime(data_dir)
            task.runtime = runtime
        if dataset is not None:
            assert runtime is not None
            documents, used, source = checker.hub_sample(runtime, dataset, max_bytes)
        else:
            documents, used = checker.local_sample(train_file or [], max_bytes)
            source = ", ".join(str(path) for path in train_file or [])
        key = service.item_id_key(runtime) if runtime is not None and task.private else None
        report = checker.check(
            task,
            documents,
            source=source,
            sample_bytes=used,
            n=n,
            min_fraction=min_fraction,
            limit=limit,
            item_id_key=key,
        ).to_json()
    except BatonError as error:
        fail(error)
        return
    finally:
        if runtime is not None:
            runtime.close()
    if output is None:
        print_json(report, indent=None)
    else:
        _write_atomically(output, report)
    say(
        f"{report['task']}: {report['items_flagged']} of {report['items_checked']} items share "
        f">= {min_fraction:.0%} of their {n}-grams with {used} bytes of {source}"
    )
