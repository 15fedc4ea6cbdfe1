"""Evaluation runs as durable background jobs, their stored results, and the operator's endpoints.

A run is submitted (``submit_run``): the task is loaded and checked, a hub model's revision is
pinned to its commit, the submitter's rights are checked, and a ``evaluation.run`` job is queued
in the same transaction. A worker runs it (``run_job``) with the runner of
``baton.evaluation.runner``; every answered batch is stored in ``evaluation_responses`` (the
database cache every worker shares) together with the attempt's count of computed requests, in
one transaction. A worker killed mid-run leaves those batches behind; the job's lease runs out,
another worker claims it, and the run resumes with what was stored, asking the backend only for
the rest. The per-item records, metrics and manifest are written in the one transaction that
marks the run succeeded: a run's results are whole or absent.

Private tasks run only on backends the operator controls (``runner.check_private_backend``), and
their records are correctness under ids keyed-hashed with a key derived from the deployment's
secret (stable across runs of one deployment, meaningless outside it).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from baton.core import jobs
from baton.core.database import Database, utcnow
from baton.core.errors import BadRequestError, ConflictError, InvalidNameError, NotFoundError, PermissionDeniedError
from baton.core.job_models import DEAD, FAILED, Job
from baton.evaluation import runner
from baton.evaluation.backends import BACKENDS, backend_names, create_backend
from baton.evaluation.cache import response_from_json
from baton.evaluation.models import (
    RUN_FAILED,
    RUN_QUEUED,
    RUN_RUNNING,
    RUN_STATUSES,
    RUN_SUCCEEDED,
    EvaluationEndpoint,
    EvaluationResponse,
    EvaluationRun,
    EvaluationRunItem,
)
from baton.evaluation.tasks import Task, TaskNotFoundError, builtin_tasks, load_task, task_from_yaml
from baton.evaluation.types import Backend, Response

if TYPE_CHECKING:
    from baton.accounts.actor import Actor
    from baton.core.runtime import Runtime

JOB_KIND = "evaluation.run"
JOB_MAX_ATTEMPTS = 5
LOOKUP_CHUNK = 500

# Backend options a submitter may set; the rest (the server address of an openai backend, or
# ``operator_controlled``) come from Baton itself: a registered endpoint, or an operator's request.
SUBMITTER_OPTIONS: dict[str, frozenset[str]] = {
    "hf": frozenset({"batch_size", "dtype", "device", "max_length", "add_bos_token"}),
    "dummy": frozenset({"delay_seconds"}),
    "openai": frozenset({"chat", "concurrency", "max_retries", "timeout_seconds", "max_length"}),
}
OPERATOR_OPTIONS: dict[str, frozenset[str]] = {"openai": frozenset({"base_url", "tokenizer"})}


class RunNotFoundError(NotFoundError):
    code = "EvaluationRunNotFound"
    default_hint = "List the runs: baton eval runs (or GET /api/evaluation/runs)."


class EndpointNotFoundError(NotFoundError):
    code = "EvaluationEndpointNotFound"
    default_hint = (
        "List the registered servers: baton eval endpoint list (an operator adds one: baton eval endpoint add --help)."
    )


# --- keys and JSON --------------------------------------------------------------------------------


def item_id_key(runtime: Runtime) -> bytes:
    """The key that hashes private items' ids: derived from the deployment's secret, so stable across runs."""
    from baton.core.runtime import secret_key

    return hmac.new(secret_key(runtime.settings), b"baton evaluation private item ids", hashlib.sha256).digest()


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as None (PostgreSQL's JSON refuses them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_safe(element) for key, element in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(element) for element in value]
    return value


def _response_json(response: Response) -> dict[str, Any]:
    data = asdict(response)
    value = data.get("loglikelihood")
    if isinstance(value, float) and not math.isfinite(value):
        data["loglikelihood"] = repr(value)  # "-inf", "nan": kept exactly, as text
    return data


def _response_from_row(data: Mapping[str, Any]) -> Response:
    loaded = dict(data)
    if isinstance(loaded.get("loglikelihood"), str):
        loaded["loglikelihood"] = float(loaded["loglikelihood"])
    return response_from_json(loaded)


# --- the database cache ---------------------------------------------------------------------------


class DatabaseAnswerCache:
    """The runner's cache in ``evaluation_responses``: shared by every worker of the deployment.

    ``on_store(session, count)`` runs inside the transaction that stores each batch, so whatever
    it records (the attempt's count of computed requests) commits with the answers or not at all.
    """

    def __init__(self, database: Database, on_store: Callable[[Session, int], None] | None = None) -> None:
        self.database = database
        self.on_store = on_store

    def get_many(self, backend_id: str, keys: Iterable[str]) -> dict[str, Response]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Response] = {}
        with self.database.session() as session:
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                chunk = wanted[start : start + LOOKUP_CHUNK]
                rows = session.execute(
                    select(EvaluationResponse.request_key, EvaluationResponse.response).where(
                        EvaluationResponse.backend_id == backend_id, EvaluationResponse.request_key.in_(chunk)
                    )
                )
                for key, payload in rows:
                    found[key] = _response_from_row(payload)
        return found

    def put_many(self, backend_id: str, responses: Mapping[str, Response]) -> None:
        if not responses:
            return
        now = utcnow()
        rows = [
            {"backend_id": backend_id, "request_key": key, "response": _response_json(response), "created_at": now}
            for key, response in responses.items()
        ]
        with self.database.session(write=True) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            # Answers are deterministic for one identity: a row another worker stored first is as good.
            for start in range(0, len(rows), LOOKUP_CHUNK):
                chunk = rows[start : start + LOOKUP_CHUNK]
                session.execute(insert(EvaluationResponse).values(chunk).on_conflict_do_nothing())
            if self.on_store is not None:
                self.on_store(session, len(rows))

    def count(self, backend_id: str | None = None) -> int:
        query = select(func.count()).select_from(EvaluationResponse)
        if backend_id is not None:
            query = query.where(EvaluationResponse.backend_id == backend_id)
        with self.database.session() as session:
            return int(session.scalar(query) or 0)


# --- endpoints ------------------------------------------------------------------------------------


def register_endpoint(
    session: Session,
    *,
    name: str,
    base_url: str,
    model: str,
    tokenizer: str | None = None,
    revision: str | None = None,
    weight_hash: str | None = None,
    registered_by: Actor | None = None,
) -> EvaluationEndpoint:
    """Record a server the operator runs on pinned weights (callers check that the user is an operator)."""
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise BadRequestError(f"Invalid endpoint name {name!r}", hint="Use letters, digits, '-', '_' and '.'.")
    if not base_url.startswith(("http://", "https://")):
        raise BadRequestError(f"base_url {base_url!r} is not an http(s) URL", hint="e.g. http://10.0.0.5:8000/v1")
    if session.scalar(select(EvaluationEndpoint).where(EvaluationEndpoint.name == name)) is not None:
        raise ConflictError(f"An endpoint named {name!r} exists", code="EvaluationEndpointExists")
    endpoint = EvaluationEndpoint(
        name=name,
        base_url=base_url.rstrip("/"),
        model=model,
        tokenizer=tokenizer,
        revision=revision,
        weight_hash=weight_hash,
        registered_by=registered_by.account_id if registered_by is not None else None,
        created_at=utcnow(),
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_endpoint(session: Session, name: str) -> EvaluationEndpoint:
    endpoint = session.scalar(select(EvaluationEndpoint).where(EvaluationEndpoint.name == name))
    if endpoint is None:
        raise EndpointNotFoundError(f"No registered evaluation endpoint named {name!r}")
    return endpoint


def list_endpoints(session: Session) -> list[EvaluationEndpoint]:
    return list(session.scalars(select(EvaluationEndpoint).order_by(EvaluationEndpoint.name)))


def endpoint_json(endpoint: EvaluationEndpoint) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "base_url": endpoint.base_url,
        "model": endpoint.model,
        "tokenizer": endpoint.tokenizer,
        "revision": endpoint.revision,
        "weight_hash": endpoint.weight_hash,
        "created_at": endpoint.created_at.isoformat(),
    }


# --- submitting -----------------------------------------------------------------------------------


def _is_operator(user: Actor | None) -> bool:
    """None is the local operator (the CLI on the server's machine); else a site admin with the admin scope."""
    return user is None or user.is_operator


def _load_submitted_task(task: str | None, task_yaml: str | None, num_fewshot: int | None, local: bool) -> Task:
    if task_yaml is not None:
        loaded = task_from_yaml(task_yaml)
        if num_fewshot is not None:
            loaded.config = loaded.config.model_copy(update={"num_fewshot": num_fewshot})
        return loaded
    if not task:
        raise BadRequestError("Name a task (a built-in one) or give its YAML.", hint="List them: baton eval tasks")
    if not local and task not in builtin_tasks():
        raise TaskNotFoundError(
            f"No built-in task named {task!r}",
            hint="Over HTTP, give a built-in task name (GET /api/evaluation/tasks) or the task YAML as task_yaml.",
        )
    return load_task(task, num_fewshot=num_fewshot)


def _check_data_access(session: Session, user: Actor | None, task: Task) -> None:
    """A submitter's own task YAML may read only the dataset repos the submitter can read (the job reads as Baton)."""
    from baton.hub import repos

    for spec in task.config.data.values():
        if spec.hub is not None:
            repo = repos.get_repo(session, user, repos.parse_repo_id("dataset", spec.hub.partition("@")[0]))
            repos.check_file_access(session, user, repo)


def _check_options(backend: str, options: Mapping[str, Any], operator: bool) -> dict[str, Any]:
    allowed = SUBMITTER_OPTIONS.get(backend, frozenset())
    if operator:
        allowed |= OPERATOR_OPTIONS.get(backend, frozenset())
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise BadRequestError(
            f"Option(s) {', '.join(unknown)} cannot be set for the {backend} backend"
            + ("" if operator else " by a submitter"),
            hint=f"Allowed: {', '.join(sorted(allowed)) or 'none'}.",
        )
    return dict(options)


def _server_folder(runtime: Runtime, model: str, *, local: bool, operator: bool) -> str | None:
    """The server folder ``model`` names, or None when it is a hub model repo id.

    The CLI (``local``) may name any folder. Over HTTP ``model`` is a hub repo id, except that an
    operator may name a folder inside one of ``BATON_EVALUATION_MODEL_DIRS``. Whether a refused
    path exists is never looked up, so the answer tells a caller nothing about the server's disk.
    """
    if local:
        path = os.path.expanduser(model)
        return os.path.abspath(path) if os.path.isdir(path) else None
    if _is_hub_model_id(model):
        return None
    allowed = [Path(os.path.realpath(root)) for root in runtime.settings.evaluation_model_dirs]
    if operator and allowed and os.path.isabs(model) and ".." not in model.split("/"):
        resolved = Path(os.path.realpath(model))
        if any(resolved.is_relative_to(root) for root in allowed):
            if not resolved.is_dir():
                raise NotFoundError(f"No model folder at {model!r}", code="ModelNotFound")
            return str(resolved)
    raise BadRequestError(
        f"{model[:200]!r} is not a hub model repo id",
        code="InvalidModel",
        hint="Give 'namespace/name' or 'namespace/name@revision'. Server folders are evaluated from the CLI "
        "(baton eval submit), or by operators inside the folders listed in BATON_EVALUATION_MODEL_DIRS.",
    )


def _is_hub_model_id(model: str) -> bool:
    from baton.hub import repos

    try:
        repos.parse_repo_id("model", model.partition("@")[0].removeprefix("models/"))
    except InvalidNameError:
        return False
    return True


@dataclass(frozen=True)
class RunSubmission:
    """What to evaluate and how: the request ``submit_run`` checks and queues.

    ``local`` (the command line only) allows task YAML paths and folders; ``ray_*`` scale a run out
    on Ray (operators only).
    """

    model: str
    task: str | None = None
    task_yaml: str | None = None
    backend: str = "hf"
    endpoint: str | None = None
    options: Mapping[str, Any] | None = None
    limit: int | None = None
    seed: int = 0
    by_generation: bool = False
    num_fewshot: int | None = None
    request_batch_size: int = runner.DEFAULT_REQUEST_BATCH
    ray_workers: int | None = None
    ray_address: str | None = None
    ray_gpus: float = 0.0
    local: bool = False


def submit_run(session: Session, runtime: Runtime, user: Actor | None, request: RunSubmission) -> EvaluationRun:
    """Queue an evaluation; ``user`` None is the local operator, ``local`` allows task YAML paths and folders.

    Operators may evaluate anything; other users may evaluate (with the ``hf`` backend) the hub model
    repos they can write to. The model's revision is pinned to its commit now.
    """
    from baton.hub import commits, repos

    if request.backend not in BACKENDS:
        raise BadRequestError(f"Unknown backend {request.backend!r}", hint=f"Use one of: {', '.join(backend_names())}.")
    if request.limit is not None and request.limit < 1:
        raise BadRequestError(f"limit must be at least 1, got {request.limit}")
    if request.request_batch_size < 1:
        raise BadRequestError(f"request_batch_size must be at least 1, got {request.request_batch_size}")
    operator = _is_operator(user)
    clean_options = _check_options(request.backend, request.options or {}, operator)
    if request.ray_workers is not None and (not operator or request.ray_workers < 1 or request.ray_gpus < 0):
        raise BadRequestError(
            "Only operators scale a run out on Ray, with ray_workers >= 1 and ray_gpus >= 0",
            hint="Leave ray_workers out to run on one worker.",
        )
    loaded = _load_submitted_task(request.task, request.task_yaml, request.num_fewshot, request.local)
    if not operator and request.task_yaml is not None:
        _check_data_access(session, user, loaded)
    if not operator and request.backend != "hf":
        raise PermissionDeniedError(
            f"Only operators run the {request.backend} backend",
            hint="Submit with backend 'hf' on a hub model repo you can write to, or ask an operator.",
        )
    if request.endpoint is not None:
        if request.backend != "openai":
            raise BadRequestError("An endpoint is used only with the openai backend", hint="Pass backend 'openai'.")
        get_endpoint(session, request.endpoint)
    if request.backend == "openai" and request.endpoint is None and "base_url" not in clean_options:
        raise BadRequestError(
            "The openai backend needs a registered endpoint (or, for an operator, options.base_url)",
            hint="An operator registers the server (baton eval endpoint add NAME --base-url URL --model MODEL); "
            "then submit with endpoint NAME.",
        )
    if loaded.private and request.backend == "openai" and request.endpoint is None:
        raise runner.PrivateTaskBackendError(
            f"Task '{loaded.name}' is private: it runs only on local weights or a server the operator registered, "
            "not on an address given with the run"
        )

    model_repo = model_commit = None
    stored_model = request.model
    folder = (
        _server_folder(runtime, request.model, local=request.local, operator=operator)
        if request.backend == "hf"
        else None
    )
    if folder is not None:
        stored_model = folder
    elif request.backend == "hf":
        repo_id, _, revision = request.model.partition("@")
        key = repos.parse_repo_id("model", repo_id.removeprefix("models/"))
        repo = repos.get_repo(session, user, key) if user is not None else repos.find_repo(session, key)
        if repo is None:
            raise NotFoundError(f"Repository not found: {key}", code="RepoNotFound")
        if not operator:
            repo = repos.get_writable_repo(session, user, key)
        commit = commits.resolve_revision(session, repo, revision or None)
        model_repo, model_commit = repo.repo_id, commit.oid
        stored_model = f"{repo.repo_id}@{commit.oid}"

    run = EvaluationRun(
        task=request.task if request.task_yaml is None else "inline",
        task_yaml=request.task_yaml,
        task_name=loaded.name,
        task_version=loaded.version,
        private=loaded.private,
        model=stored_model,
        model_repo=model_repo,
        model_commit=model_commit,
        backend=request.backend,
        endpoint=request.endpoint,
        options=clean_options,
        settings={
            "limit": request.limit,
            "seed": request.seed,
            "by_generation": request.by_generation,
            "num_fewshot": request.num_fewshot,
            "request_batch_size": request.request_batch_size,
            "task_path": str(os.path.abspath(request.task))
            if request.local and request.task and os.path.isfile(request.task)
            else None,
            "ray": {"workers": request.ray_workers, "address": request.ray_address, "gpus": request.ray_gpus}
            if request.ray_workers
            else None,
        },
        status=RUN_QUEUED,
        submitted_by=user.account_id if user is not None else None,
        progress_done=0,
        progress_total=0,
        attempts=[],
        created_at=utcnow(),
    )
    session.add(run)
    session.flush()
    job = jobs.enqueue(
        session, JOB_KIND, {"run_id": run.id}, dedupe_key=f"{JOB_KIND}:{run.id}", max_attempts=JOB_MAX_ATTEMPTS
    )
    run.job_id = job.id
    return run


# --- running (the job handler) --------------------------------------------------------------------


def _run_task(runtime: Runtime, run: EvaluationRun) -> Task:
    settings = run.settings
    if run.task_yaml is not None:
        task = task_from_yaml(run.task_yaml, runtime=runtime)
        if settings.get("num_fewshot") is not None:
            task.config = task.config.model_copy(update={"num_fewshot": settings["num_fewshot"]})
        return task
    return load_task(settings.get("task_path") or run.task, num_fewshot=settings.get("num_fewshot"), runtime=runtime)


def _run_backend(runtime: Runtime, run: EvaluationRun) -> Backend:
    options: dict[str, Any] = dict(run.options)
    if run.backend == "hf":
        options["system"] = True  # the submitter's access was checked at submission
    if run.backend == "openai" and run.endpoint is not None:
        with runtime.database.session() as session:
            endpoint = get_endpoint(session, run.endpoint)
            options |= {
                "base_url": endpoint.base_url,
                "tokenizer": endpoint.tokenizer,
                "revision": endpoint.revision,
                "weight_hash": endpoint.weight_hash,
                "operator_controlled": True,
                "endpoint": endpoint.name,
            }
            model = endpoint.model
    else:
        model = run.model
    scale = run.settings.get("ray")
    if scale:
        return _ray_backend(runtime, run, model, options, scale)
    return create_backend(run.backend, model, runtime=runtime, **options)


def _ray_backend(
    runtime: Runtime, run: EvaluationRun, model: str, options: dict[str, Any], scale: Mapping[str, Any]
) -> Backend:
    """The run's backend replicated on Ray actors; a hub model is snapshotted here and read from disk there."""
    from baton.evaluation.ray_executor import RayBackend

    overrides: dict[str, Any] = {}
    options.pop("system", None)
    if run.backend == "hf" and run.model_repo is not None:
        from baton.evaluation.backends.models import resolve_model

        resolved = resolve_model(run.model, runtime, system=True)
        overrides = {
            "model": run.model,
            "model_path": str(resolved.path),
            "repo_id": resolved.repo_id,
            "revision": resolved.revision,
            "commit": resolved.commit_oid,
            "weight_hash": resolved.weight_hash,
        }
        model = str(resolved.path)
    return RayBackend(
        run.backend,
        model,
        workers=int(scale["workers"]),
        num_gpus=float(scale.get("gpus") or 0.0),
        address=scale.get("address"),
        options=options,
        describe_overrides=overrides,
    )


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Job handler for ``evaluation.run``: evaluate the run, resuming from the stored answers."""
    run_id = payload.get("run_id")
    if not isinstance(run_id, int):
        raise BadRequestError(f"evaluation.run needs an integer run_id, got {run_id!r}")
    with runtime.database.session(write=True) as session:
        run = session.get(EvaluationRun, run_id)
        if run is None:
            raise RunNotFoundError(f"No evaluation run {run_id}")
        if run.status == RUN_SUCCEEDED:  # a worker died after recording the results: nothing to redo
            return _summary(run)
        attempt = len(run.attempts)
        run.attempts = [
            *run.attempts,
            {"worker": _worker_name(), "started_at": utcnow().isoformat(), "cached": 0, "computed": 0},
        ]
        run.status = RUN_RUNNING
        run.started_at = run.started_at or utcnow()
        run.error = None
        session.flush()
        session.expunge(run)
    settings = run.settings

    def change_attempt(session: Session, **deltas: int) -> EvaluationRun:
        stored = session.get(EvaluationRun, run_id)
        assert stored is not None
        entries = [dict(entry) for entry in stored.attempts]
        for name, delta in deltas.items():
            entries[attempt][name] = entries[attempt].get(name, 0) + delta
        stored.attempts = entries
        return stored

    def on_store(session: Session, count: int) -> None:
        change_attempt(session, computed=count).progress_done += count

    first_report = True

    def progress(done: int, total: int) -> None:
        nonlocal first_report
        if not first_report:
            return
        first_report = False
        with runtime.database.session(write=True) as session:
            stored = change_attempt(session, cached=done)
            stored.progress_done, stored.progress_total = done, total

    backend: Backend | None = None
    try:
        task = _run_task(runtime, run)
        backend = _run_backend(runtime, run)
        result = runner.run(
            task,
            backend,
            limit=settings.get("limit"),
            cache=DatabaseAnswerCache(runtime.database, on_store),
            seed=int(settings.get("seed") or 0),
            batch_size=int(settings.get("request_batch_size") or runner.DEFAULT_REQUEST_BATCH),
            by_generation=bool(settings.get("by_generation")),
            item_id_key=item_id_key(runtime),
            progress=progress,
        )
    except BaseException as error:
        with runtime.database.session(write=True) as session:
            stored = session.get(EvaluationRun, run_id)
            if stored is not None and stored.status != RUN_SUCCEEDED:
                retry = isinstance(error, Exception) and jobs.is_retryable(error)
                stored.status = RUN_QUEUED if retry else RUN_FAILED
                stored.error = jobs.describe_error(error)
                if not retry:
                    stored.finished_at = utcnow()
        raise
    finally:
        close = getattr(backend, "close", None)
        if callable(close):
            close()

    with runtime.database.session(write=True) as session:
        stored = session.get(EvaluationRun, run_id)
        assert stored is not None
        if stored.status == RUN_SUCCEEDED:
            return _summary(stored)
        session.add_all(
            EvaluationRunItem(
                run_id=run_id,
                position=position,
                item_id=str(record["item_id"])[:200],
                correct=record.get("correct"),
                record=_json_safe(record),
            )
            for position, record in enumerate(result.items)
        )
        stored.metrics = _json_safe(result.metrics)
        stored.manifest = _json_safe(result.manifest)
        stored.status = RUN_SUCCEEDED
        stored.progress_done = stored.progress_total = result.requests_total
        stored.finished_at = utcnow()
        stored.error = None
        return _summary(stored)


def _summary(run: EvaluationRun) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "task": run.task_name,
        "model": run.model,
        "metrics": {name: summary.get("value") for name, summary in (run.metrics or {}).items()},
        "attempts": len(run.attempts),
    }


# --- reading --------------------------------------------------------------------------------------


def can_see(session: Session, user: Actor | None, run: EvaluationRun) -> bool:
    """Operators and the submitter see a run; others when they can read its model repo."""
    from baton.hub import repos

    if user is not None and (user.is_admin or run.submitted_by == user.account_id):
        return True
    if run.model_repo is None:
        return False
    repo = repos.find_repo(session, repos.parse_repo_id("model", run.model_repo))
    return repo is not None and (not repo.private or repos.has_role(session, user, repo, "read"))


def get_run(session: Session, user: Actor | None, run_id: int, *, system: bool = False) -> EvaluationRun:
    run = session.get(EvaluationRun, run_id)
    if run is None or not (system or can_see(session, user, run)):
        raise RunNotFoundError(f"No evaluation run {run_id}")
    return run


def list_runs(
    session: Session,
    user: Actor | None,
    *,
    model_repo: str | None = None,
    status: str | None = None,
    limit: int = 100,
    system: bool = False,
) -> list[EvaluationRun]:
    if status is not None and status not in RUN_STATUSES:
        raise BadRequestError(f"Unknown run status {status!r}", hint=f"Use one of: {', '.join(RUN_STATUSES)}.")
    query = select(EvaluationRun).order_by(EvaluationRun.id.desc())
    if model_repo is not None:
        query = query.where(EvaluationRun.model_repo == model_repo)
    if status is not None:
        query = query.where(EvaluationRun.status == status)
    runs = []
    for run in session.scalars(query):
        if system or can_see(session, user, run):
            runs.append(run)
            if len(runs) >= limit:
                break
    return runs


def effective_status(session: Session, run: EvaluationRun) -> tuple[str, str | None]:
    """The run's status, and its error; a run whose job ended failed or dead is failed."""
    if run.status in (RUN_QUEUED, RUN_RUNNING) and run.job_id is not None:
        job = session.get(Job, run.job_id)
        if job is not None and job.status in (FAILED, DEAD):
            return RUN_FAILED, run.error or job.error
    return run.status, run.error


def run_json(session: Session, run: EvaluationRun, *, detail: bool = False) -> dict[str, Any]:
    status, error = effective_status(session, run)
    payload: dict[str, Any] = {
        "id": run.id,
        "status": status,
        "task": {"name": run.task_name, "version": run.task_version, "source": run.task, "private": run.private},
        "model": run.model,
        "model_repo": run.model_repo,
        "model_commit": run.model_commit,
        "backend": run.backend,
        "endpoint": run.endpoint,
        "settings": run.settings,
        "job_id": run.job_id,
        "progress": {"done": run.progress_done, "total": run.progress_total},
        "metrics": run.metrics,
        "error": error,
        "created_at": run.created_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if detail:
        payload["options"] = run.options
        payload["attempts"] = run.attempts
        payload["manifest"] = run.manifest
    return payload


def run_items(session: Session, run: EvaluationRun, *, offset: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    if offset < 0 or not 1 <= limit <= 10000:
        raise BadRequestError("offset must be >= 0 and limit within 1..10000")
    rows = session.scalars(
        select(EvaluationRunItem)
        .where(EvaluationRunItem.run_id == run.id)
        .order_by(EvaluationRunItem.position)
        .offset(offset)
        .limit(limit)
    )
    return [row.record for row in rows]


def results_json(session: Session, run: EvaluationRun) -> dict[str, Any]:
    """The same shape as ``baton eval run --output`` writes: metrics, items and manifest."""
    rows = session.scalars(
        select(EvaluationRunItem.record).where(EvaluationRunItem.run_id == run.id).order_by(EvaluationRunItem.position)
    )
    items = list(rows)
    return {"task": run.task_name, "metrics": run.metrics, "items": items, "manifest": run.manifest}


# --- task data in the hub -------------------------------------------------------------------------


def load_task_data(
    session: Session,
    runtime: Runtime,
    user: Actor,
    task: str,
    files: Mapping[str, str | os.PathLike[str]],
    *,
    repo: str | None = None,
) -> tuple[str, str]:
    """Commit local data files into the dataset repo a task's YAML reads (created if missing).

    ``files`` maps split -> local file; each goes to the path the YAML names for that split. The
    files are validated as the task reads them (every row, the few-shot splits too) before anything
    is written, and all are committed in one commit. Returns the repo id and the commit id.
    """
    from baton.hub import commits, repos

    if not files:
        raise BadRequestError("No data files given", hint="Pass --file SPLIT=PATH for each split, e.g. test=test.csv.")
    config = load_task(task).config
    targets: dict[str, str] = {}
    hub_ids = set()
    for split in files:
        spec = config.data.get(split)
        if spec is None:
            raise BadRequestError(
                f"Task '{config.name}' has no split '{split}'", hint=f"Its splits: {', '.join(sorted(config.data))}."
            )
        if spec.hub is None and repo is None:
            raise BadRequestError(
                f"Task '{config.name}' reads split '{split}' from a local file, not a dataset repo",
                hint="Pass --repo namespace/name to load it anyway, and point the YAML at it.",
            )
        targets[split] = spec.path
        if spec.hub is not None:
            hub_ids.add(spec.hub.partition("@")[0])
    repo_id = repo or (hub_ids.pop() if len(hub_ids) == 1 else None)
    if repo_id is None:
        raise BadRequestError(
            f"The splits of task '{config.name}' live in several repos",
            hint="Load them one repo at a time, or pass --repo.",
        )
    checked = load_task(task, data={split: str(path) for split, path in files.items()})
    checked.items()
    for split in files:
        checked._load_split(split)
    key = repos.parse_repo_id("dataset", repo_id)
    found = repos.find_repo(session, key)
    if found is None:
        found, _ = repos.create_repo(session, user, key, private=config.private)
        commits.initial_commit(session, runtime.store, user, found)
    contents = {targets[split]: Path(path).read_bytes() for split, path in files.items()}
    commit = commits.commit_files(
        session,
        runtime.store,
        runtime.settings,
        user,
        found,
        contents,
        title=f"Load {config.name} {config.version} data ({', '.join(sorted(files))})",
    )
    return found.repo_id, commit.oid
