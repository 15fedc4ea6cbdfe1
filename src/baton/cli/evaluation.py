"""baton eval ...: run a task on a model, list the built-in tasks."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from baton.cli.common import DataDirOption, console, fail, open_runtime
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
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible server, e.g. http://host:8000/v1.")
    ] = None,
    tokenizer: Annotated[str | None, typer.Option("--tokenizer", help="The served model's tokenizer (openai).")] = None,
    chat: Annotated[bool, typer.Option("--chat", help="Generate through chat/completions (openai).")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Parallel requests (openai).")] = 8,
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
        elif backend_name == "openai":
            options = {"base_url": base_url, "tokenizer": tokenizer, "chat": chat, "concurrency": concurrency}
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
    if output is None:
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        _write_atomically(output, payload)
        console.print(f"wrote {output}")
    for name, summary in result.metrics.items():
        interval = summary.get("ci95") or [None, None]
        console.print(f"{task.name} {name} = {summary.get('value')} ± {summary.get('stderr')} (95% CI {interval})")
    console.print(f"requests: {result.requests_total} ({result.requests_computed} computed, rest from cache)")


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
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(f"{row['name']:<20} v{row['version']:<6} {row['output_type']:<22} {row['description']}")
