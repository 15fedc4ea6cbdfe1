"""Evaluation as a durable background job: a killed worker's run resumes from its stored answers;
runs over HTTP (operators and repo writers), hub models and hub task data; private tasks.

Every test runs on SQLite and PostgreSQL (the ``runtime`` fixture).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from backend_fixtures import make_tiny_gpt2
from test_runner import QUESTIONS, write_multiple_choice_task

from baton.accounts import service as accounts
from baton.core import jobs
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.evaluation import service
from baton.evaluation.backends.dummy import DummyBackend
from baton.evaluation.backends.hf import HuggingFaceBackend
from baton.evaluation.backends.openai import BackendUnreachableError, OpenAIBackend
from baton.evaluation.models import EvaluationRun
from baton.evaluation.runner import PrivateTaskBackendError, run
from baton.evaluation.tasks import load_task
from baton.hub import commits, repos

BATON = Path(sys.executable).parent / "baton"
WORKER_TIMING = ("--lease-seconds", "2", "--poll-seconds", "0.1")


def write_long_task(folder: Path, rows: int) -> Path:
    """A KMMLU-style task with ``rows`` distinct questions (four choices each)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = write_multiple_choice_task(folder)
    with (folder / "test.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "A", "B", "C", "D", "answer", "Category"])
        for index in range(rows):
            question, *rest = QUESTIONS[index % len(QUESTIONS)]
            writer.writerow([f"{question} ({index})", *rest])
    return path


def load_run(runtime: Runtime, run_id: int) -> EvaluationRun:
    with runtime.database.session() as session:
        stored = session.get(EvaluationRun, run_id)
        assert stored is not None
        session.expunge(stored)
        return stored


def wait_for(condition: Callable[[], bool], seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            detail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{detail}")
        time.sleep(0.05)


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BATON_")}
    environment["BATON_DATABASE_URL"] = settings.resolved_database_url
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(BATON), "worker", "--data-dir", str(settings.data_dir), "--kinds", "evaluation.run", *WORKER_TIMING],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {"metrics": payload["metrics"], "items": payload["items"]}


@pytest.mark.integration
def test_a_killed_worker_s_run_resumes_without_recomputing(
    settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    rows, choices, batch = 12, 4, 4
    total = rows * choices
    task_path = write_long_task(tmp_path / "task", rows)
    with runtime.database.session(write=True) as session:
        submitted = service.submit_run(
            session,
            runtime,
            None,
            service.RunSubmission(
                model="slow-model",
                task=str(task_path),
                backend="dummy",
                options={"delay_seconds": 0.35},
                request_batch_size=batch,
                local=True,
            ),
        )
        run_id, job_id = submitted.id, submitted.job_id
    log = tmp_path / "worker.log"
    first = start_worker(settings, log)
    try:
        wait_for(
            lambda: (attempts := load_run(runtime, run_id).attempts) != [] and attempts[0]["computed"] >= 3 * batch,
            90,
            "the first worker to store some answers",
            log,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    killed = load_run(runtime, run_id)
    done_at_kill = killed.attempts[0]["computed"]
    assert killed.status == "running" and batch <= done_at_kill < total and done_at_kill % batch == 0
    assert service.DatabaseAnswerCache(runtime.database).count() == done_at_kill

    second = start_worker(settings, log)
    try:
        wait_for(lambda: load_run(runtime, run_id).status == "succeeded", 120, "the second worker to finish", log)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finished = load_run(runtime, run_id)
    # The second worker found what the first had stored and computed only the rest: no request twice.
    assert len(finished.attempts) == 2
    assert finished.attempts[0]["computed"] == done_at_kill
    assert finished.attempts[1]["cached"] == done_at_kill
    assert finished.attempts[1]["computed"] == total - done_at_kill
    assert str(second.pid) in finished.attempts[1]["worker"] and str(first.pid) in finished.attempts[0]["worker"]
    assert service.DatabaseAnswerCache(runtime.database).count() == total
    with runtime.database.session() as session:
        job = jobs.get(session, job_id or 0)
        stored = service.results_json(session, service.get_run(session, None, run_id, system=True))
    assert (job.status, job.attempts) == ("succeeded", 2)
    # The same results as one uninterrupted run in this process.
    reference = run(load_task(task_path), DummyBackend("slow-model")).to_json()
    assert comparable(stored) == comparable(reference)
    assert finished.progress_done == finished.progress_total == total


@pytest.fixture
def hub_setup(runtime: Runtime, users: Any, tmp_path: Path) -> dict[str, Any]:
    """lab/tiny (a tiny GPT-2, public), lab/secret (the same, private) and lab/mc (a dataset repo with a CSV)."""
    model = make_tiny_gpt2(tmp_path / "gpt2")
    files = {path.name: path.read_bytes() for path in model.iterdir() if path.is_file()}
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    task_path = write_multiple_choice_task(task_dir)
    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        oids = {}
        for name, private in (("tiny", False), ("secret", True)):
            repo, _ = repos.create_repo(session, alice, repos.parse_repo_id("model", f"lab/{name}"), private=private)
            commits.initial_commit(session, runtime.store, alice, repo)
            oids[name] = commits.commit_files(
                session, runtime.store, runtime.settings, alice, repo, files, title="weights"
            ).oid
        data, _ = repos.create_repo(session, alice, repos.parse_repo_id("dataset", "lab/mc"), private=False)
        commits.initial_commit(session, runtime.store, alice, data)
        commits.commit_files(
            session,
            runtime.store,
            runtime.settings,
            alice,
            data,
            {"test.csv": (task_dir / "test.csv").read_bytes()},
            title="data",
        )
    inline = task_path.read_text(encoding="utf-8").replace(
        "  test: test.csv", "  test: {hub: lab/mc@main, path: test.csv}"
    )
    return {"model": model, "task_path": task_path, "task_yaml": inline, "oids": oids}


def run_queued_jobs(runtime: Runtime) -> None:
    worker = jobs.Worker(runtime, kinds=["evaluation.run"], worker_id="test-worker")
    while worker.run_once() is not None:
        pass


def test_runs_over_http_on_a_hub_model_with_hub_task_data(
    runtime: Runtime, users: Any, client: httpx.Client, hub_setup: dict[str, Any]
) -> None:
    body = {"model": "lab/tiny", "task_yaml": hub_setup["task_yaml"], "options": {"batch_size": 2}}
    answer = client.post("/api/evaluation/runs", json=body, headers=users.headers("bob"))  # bob writes to lab
    assert answer.status_code == 201, answer.text
    submitted = answer.json()
    assert submitted["status"] == "queued" and submitted["model"] == f"lab/tiny@{hub_setup['oids']['tiny']}"
    run_queued_jobs(runtime)

    shown = client.get(f"/api/evaluation/runs/{submitted['id']}").json()  # a public repo's run: anyone reads it
    assert shown["status"] == "succeeded", shown
    assert shown["progress"] == {"done": 4 * len(QUESTIONS), "total": 4 * len(QUESTIONS)}
    manifest = shown["manifest"]
    assert manifest["model"]["repo_id"] == "lab/tiny" and manifest["model"]["commit"] == hub_setup["oids"]["tiny"]
    assert manifest["task"]["data"]["test"]["source"].startswith("hub:lab/mc@")
    # The same numbers as the CLI path: the local folder and the local CSV.
    local = run(load_task(hub_setup["task_path"]), HuggingFaceBackend(str(hub_setup["model"]))).to_json()
    items = client.get(f"/api/evaluation/runs/{submitted['id']}/items").json()
    assert [item["prediction"] for item in items] == [item["prediction"] for item in local["items"]]
    for ours, theirs in zip(items, local["items"], strict=True):
        assert ours["loglikelihoods"] == pytest.approx(theirs["loglikelihoods"], abs=1e-5)
    assert shown["metrics"]["acc"]["value"] == pytest.approx(local["metrics"]["acc"]["value"])
    results = client.get(f"/api/evaluation/runs/{submitted['id']}/results").json()
    assert len(results["items"]) == len(QUESTIONS) and results["manifest"] == manifest
    listed = client.get("/api/evaluation/runs", params={"model": "lab/tiny"}).json()
    assert [row["id"] for row in listed] == [submitted["id"]]


def test_who_may_submit_and_see_runs(
    runtime: Runtime, users: Any, client: httpx.Client, hub_setup: dict[str, Any]
) -> None:
    task = {"task_yaml": hub_setup["task_yaml"]}
    refused = client.post("/api/evaluation/runs", json={"model": "lab/tiny", **task}, headers=users.headers("carol"))
    assert refused.status_code == 403 and "cannot write" in refused.json()["message"]
    anonymous = client.post("/api/evaluation/runs", json={"model": "lab/tiny", **task})
    assert anonymous.status_code == 401
    dummy = client.post(
        "/api/evaluation/runs", json={"model": "m", "backend": "dummy", **task}, headers=users.headers("bob")
    )
    assert dummy.status_code == 403 and "Only operators" in dummy.json()["message"]
    folder = client.post(
        "/api/evaluation/runs", json={"model": str(hub_setup["model"]), **task}, headers=users.headers("bob")
    )
    assert folder.status_code == 400 and folder.json()["error"] == "InvalidModel", folder.text  # never the disk
    sneaky = client.post(
        "/api/evaluation/runs",
        json={"model": "m", "backend": "openai", "options": {"base_url": "http://127.0.0.1:9/v1"}, **task},
        headers=users.headers("bob"),
    )
    assert sneaky.status_code == 400 and "base_url" in sneaky.json()["message"]
    local_data = client.post(
        "/api/evaluation/runs",
        json={"model": "lab/tiny", "task_yaml": hub_setup["task_path"].read_text(encoding="utf-8")},
        headers=users.headers("bob"),
    )
    assert local_data.status_code == 400 and "local files" in local_data.json()["message"]

    # A submitter's own task YAML cannot read a dataset repo the submitter cannot read (the job reads as Baton).
    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        hidden, _ = repos.create_repo(session, alice, repos.parse_repo_id("dataset", "alice/hidden"), private=True)
        commits.initial_commit(session, runtime.store, alice, hidden)
    peeking = hub_setup["task_yaml"].replace("lab/mc@main", "alice/hidden@main")
    peek = client.post(
        "/api/evaluation/runs", json={"model": "lab/tiny", "task_yaml": peeking}, headers=users.headers("bob")
    )
    assert peek.status_code == 404 and "alice/hidden" in peek.json()["message"]

    secret = client.post("/api/evaluation/runs", json={"model": "lab/secret", **task}, headers=users.headers("bob"))
    assert secret.status_code == 201, secret.text
    run_id = secret.json()["id"]
    assert client.get(f"/api/evaluation/runs/{run_id}", headers=users.headers("carol")).status_code == 404
    assert client.get(f"/api/evaluation/runs/{run_id}").status_code == 404
    assert client.get(f"/api/evaluation/runs/{run_id}", headers=users.headers("bob")).status_code == 200
    assert client.get("/api/evaluation/runs", headers=users.headers("carol")).json() == []
    # The job reads the private repo as Baton itself: the submitter's rights were checked at submission.
    run_queued_jobs(runtime)
    done = client.get(f"/api/evaluation/runs/{run_id}", headers=users.headers("alice")).json()
    assert done["status"] == "succeeded", done
    endpoints = client.post(
        "/api/evaluation/endpoints",
        json={"name": "x", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        headers=users.headers("bob"),
    )
    assert endpoints.status_code == 403


def test_bad_task_data_fails_the_run_with_the_line_and_no_records(runtime: Runtime, tmp_path: Path) -> None:
    task_path = write_multiple_choice_task(tmp_path)
    csv_path = tmp_path / "test.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].rsplit(",", 2)[0] + ",7,수학"  # answer 7: outside A-D
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with runtime.database.session(write=True) as session:
        run_id = service.submit_run(
            session, runtime, None, service.RunSubmission(model="m", task=str(task_path), backend="dummy", local=True)
        ).id
    run_queued_jobs(runtime)
    with runtime.database.session() as session:
        stored = service.get_run(session, None, run_id, system=True)
        payload = service.run_json(session, stored)
        results = service.results_json(session, stored)
    assert payload["status"] == "failed"
    assert "test.csv line 4" in payload["error"] and "answer" in payload["error"]
    assert results["items"] == [] and results["metrics"] is None


def write_private_task(folder: Path) -> Path:
    path = write_multiple_choice_task(folder)
    path.write_text(path.read_text(encoding="utf-8") + "private: true\n", encoding="utf-8")
    return path


def test_private_tasks_run_only_on_operator_controlled_backends(runtime: Runtime, tmp_path: Path) -> None:
    task_path = write_private_task(tmp_path)
    team_server = OpenAIBackend("team-model", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(PrivateTaskBackendError, match="private"):
        run(load_task(task_path), team_server)  # refused before any prompt is sent
    with runtime.database.session(write=True) as session:
        with pytest.raises(PrivateTaskBackendError):
            service.submit_run(
                session,
                runtime,
                None,
                service.RunSubmission(
                    model="team-model",
                    task=str(task_path),
                    backend="openai",
                    options={"base_url": "http://127.0.0.1:9/v1"},
                    local=True,
                ),
            )
        service.register_endpoint(session, name="pinned", base_url="http://127.0.0.1:9/v1", model="m")
    registered = OpenAIBackend(
        "m", base_url="http://127.0.0.1:9/v1", operator_controlled=True, endpoint="pinned", max_retries=0
    )
    with pytest.raises(BackendUnreachableError, match=r"127\.0\.0\.1:9"):  # let through, then nobody answers
        run(load_task(task_path), registered, by_generation=True)

    with runtime.database.session(write=True) as session:
        ids = [
            service.submit_run(
                session,
                runtime,
                None,
                service.RunSubmission(model="m", task=str(task_path), backend="dummy", local=True),
            ).id
            for _ in range(2)
        ]
    run_queued_jobs(runtime)
    with runtime.database.session() as session:
        first, second = (service.results_json(session, service.get_run(session, None, i, system=True)) for i in ids)
    assert all(set(item) == {"item_id", "correct"} for item in first["items"])
    raw_ids = {str(index) for index in range(len(QUESTIONS))}
    assert not raw_ids & {item["item_id"] for item in first["items"]}
    # Keyed with the deployment's secret: the same opaque ids in every run of this deployment.
    assert first["items"] == second["items"]


def test_submit_runs_show_and_endpoints_on_the_command_line(
    settings: Settings, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from baton.cli.main import app

    for name in ("BATON_DATA_DIR", "BATON_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_DATABASE_URL", settings.resolved_database_url)
    cli, data_dir = CliRunner(), ["--data-dir", str(settings.data_dir)]
    task_path = write_multiple_choice_task(tmp_path)
    submitted = cli.invoke(
        app,
        ["eval", "submit", "--model", "m", "--task", str(task_path), "--backend", "dummy", "--limit", "3", *data_dir],
    )
    assert submitted.exit_code == 0, submitted.output
    run_id = int(submitted.stdout.strip().splitlines()[-1])
    queued = cli.invoke(app, ["eval", "runs", *data_dir]).stdout.splitlines()
    assert '"status": "queued"' in queued[0]
    run_queued_jobs(runtime)
    output = tmp_path / "results.json"
    shown = cli.invoke(app, ["eval", "show", str(run_id), "--output", str(output), *data_dir])
    assert shown.exit_code == 0, shown.output
    results = json.loads(output.read_text(encoding="utf-8"))
    reference = run(load_task(task_path), DummyBackend("m"), limit=3).to_json()
    assert comparable(results) == comparable(reference)
    bad_option = cli.invoke(
        app,
        ["eval", "submit", "--model", "m", "--task", str(task_path), "--backend", "dummy", "--option", "x", *data_dir],
    )
    assert bad_option.exit_code == 2 and "KEY=VALUE" in bad_option.output
    added = cli.invoke(
        app, ["eval", "endpoint", "add", "pinned", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", *data_dir]
    )
    assert added.exit_code == 0, added.output
    listed = cli.invoke(app, ["eval", "endpoint", "list", *data_dir])
    assert json.loads(listed.stdout.splitlines()[0])["name"] == "pinned"
    twice = cli.invoke(
        app, ["eval", "endpoint", "add", "pinned", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", *data_dir]
    )
    assert twice.exit_code == 2 and "exists" in twice.output
