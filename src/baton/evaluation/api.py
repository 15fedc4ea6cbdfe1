"""Evaluation routes: submit runs (queued as background jobs), follow them, read their results.

- ``POST /api/evaluation/runs``: operators, or writers of the hub model repo evaluated.
- ``GET /api/evaluation/runs``, ``GET /api/evaluation/runs/{id}``, ``.../items``, ``.../results``:
  operators, the submitter, and whoever can read the model repo.
- ``GET|POST /api/evaluation/endpoints``: the OpenAI-compatible servers operators registered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from baton.accounts.http import OperatorUser, OptionalUser, RequiredUser, WriteUser
from baton.core.http import DbId, ExactRoute, QueryCount, RuntimeDep
from baton.evaluation import schemas, service
from baton.evaluation.runner import DEFAULT_REQUEST_BATCH

router = APIRouter(route_class=ExactRoute)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="hub model repo id, optionally @revision (operators: also a server folder)")
    task: str | None = Field(default=None, description="a built-in task name")
    task_yaml: str | None = Field(default=None, description="a task YAML whose data are hub dataset repos")
    backend: str = "hf"
    endpoint: str | None = Field(default=None, description="a registered OpenAI-compatible endpoint (openai)")
    options: dict[str, Any] = Field(default_factory=dict)
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    by_generation: bool = False
    num_fewshot: int | None = Field(default=None, ge=0, le=64)
    request_batch_size: int = Field(default=DEFAULT_REQUEST_BATCH, ge=1, le=100_000)
    ray_workers: int | None = Field(default=None, ge=1, description="operators: replicas on a Ray cluster")
    ray_address: str | None = None
    ray_gpus: float = Field(default=0.0, ge=0)


class EndpointRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    base_url: str
    model: str
    tokenizer: str | None = None
    revision: str | None = None
    weight_hash: str | None = None


@router.get("/api/evaluation/tasks")
def list_tasks() -> list[schemas.TaskInfo]:
    from baton.evaluation.tasks import builtin_tasks, load_task

    rows = []
    for name in builtin_tasks():
        task = load_task(name)
        rows.append(
            schemas.TaskInfo(
                name=name,
                version=task.version,
                output_type=task.output_type,
                metrics=list(task.config.metrics),
                description=task.config.description,
            )
        )
    return rows


@router.post("/api/evaluation/runs", status_code=201)
def submit(body: RunRequest, runtime: RuntimeDep, user: WriteUser) -> schemas.Run:
    with runtime.database.session(write=True) as session:
        run = service.submit_run(
            session,
            runtime,
            user,
            service.RunSubmission(
                model=body.model,
                task=body.task,
                task_yaml=body.task_yaml,
                backend=body.backend,
                endpoint=body.endpoint,
                options=body.options,
                limit=body.limit,
                seed=body.seed,
                by_generation=body.by_generation,
                num_fewshot=body.num_fewshot,
                request_batch_size=body.request_batch_size,
                ray_workers=body.ray_workers,
                ray_address=body.ray_address,
                ray_gpus=body.ray_gpus,
            ),
        )
        return schemas.Run.model_validate(service.run_json(session, run))


@router.get("/api/evaluation/runs")
def list_runs(
    runtime: RuntimeDep,
    user: OptionalUser,
    model: str | None = None,
    status: str | None = None,
    limit: QueryCount = 100,
) -> list[schemas.Run]:
    with runtime.database.session() as session:
        runs = service.list_runs(session, user, model_repo=model, status=status, limit=max(1, min(limit, 1000)))
        return [schemas.Run.model_validate(service.run_json(session, run)) for run in runs]


@router.get("/api/evaluation/runs/{run_id}")
def get_run(run_id: DbId, runtime: RuntimeDep, user: OptionalUser) -> schemas.Run:
    with runtime.database.session() as session:
        return schemas.Run.model_validate(
            service.run_json(session, service.get_run(session, user, run_id), detail=True)
        )


@router.get("/api/evaluation/runs/{run_id}/items")
def get_items(
    run_id: DbId, runtime: RuntimeDep, user: OptionalUser, offset: QueryCount = 0, limit: QueryCount = 1000
) -> list[schemas.RunItem]:
    with runtime.database.session() as session:
        items = service.run_items(session, service.get_run(session, user, run_id), offset=offset, limit=limit)
        return [schemas.RunItem.model_validate(item) for item in items]


@router.get("/api/evaluation/runs/{run_id}/results")
def get_results(run_id: DbId, runtime: RuntimeDep, user: OptionalUser) -> schemas.Results:
    with runtime.database.session() as session:
        return schemas.Results.model_validate(service.results_json(session, service.get_run(session, user, run_id)))


@router.get("/api/evaluation/endpoints")
def list_endpoints(runtime: RuntimeDep, user: RequiredUser) -> list[schemas.Endpoint]:
    with runtime.database.session() as session:
        shown = [service.endpoint_json(endpoint) for endpoint in service.list_endpoints(session)]
    if not user.is_operator:
        # Where an endpoint lives inside the operator's network is theirs to know; submitters pick by name.
        for endpoint in shown:
            endpoint.pop("base_url")
    return [schemas.Endpoint.model_validate(endpoint) for endpoint in shown]


@router.post("/api/evaluation/endpoints", status_code=201)
def add_endpoint(body: EndpointRequest, runtime: RuntimeDep, user: OperatorUser) -> schemas.Endpoint:
    with runtime.database.session(write=True) as session:
        endpoint = service.register_endpoint(session, registered_by=user, **body.model_dump())
        return schemas.Endpoint.model_validate(service.endpoint_json(endpoint))
