"""Helpers for the repo page tests: repos with files, signed-in browsers, provenance reports and runs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from safetensors.numpy import save

from baton.accounts import service as accounts
from baton.app import create_app
from baton.core.runtime import Runtime
from baton.evaluation.models import RUN_SUCCEEDED, EvaluationRun
from baton.hub import commits, repos
from baton.hub.models import Repo
from baton.hub.repos import RepoKey
from baton.provenance.models import ProvenanceReport
from web.sign_in_support import sign_in_with_token

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ENGLISH = BROWSER | {"Accept-Language": "en"}


def weights(seed: int = 0) -> bytes:
    generator = np.random.default_rng(seed)
    return save({"layer.weight": generator.standard_normal((8, 8)).astype(np.float32)})


def model_card(title: str, **front: Any) -> bytes:
    lines = ["---"]
    for key, value in front.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines.extend(f"  - {item}" for item in value)
        elif isinstance(value, dict):
            lines.append(f"{key}:")
            lines.extend(f"  {label}: {kind}" for label, kind in value.items())
        else:
            lines.append(f"{key}: {value}")
    lines += ["---", "", f"# {title}", "", "A small model for the page tests.", ""]
    return "\n".join(lines).encode()


def make_repo(
    runtime: Runtime,
    repo_id: str,
    files: dict[str, bytes],
    *,
    repo_type: str = "model",
    private: bool = False,
    gated: str | None = None,
) -> Repo:
    namespace, name = repo_id.split("/")
    with runtime.database.session(write=True) as session:
        actor = accounts.act_as(session, "alice")
        repo, _created = repos.create_repo(session, actor, RepoKey(repo_type, namespace, name), private=private)
        commits.initial_commit(session, runtime.store, actor, repo)
        if files:
            commits.commit_files(session, runtime.store, runtime.settings, actor, repo, files, title="Add files")
        repo.gated = gated
        session.flush()
        session.expunge(repo)
        return repo


def browser(runtime: Runtime, user: str | None = None, *, scopes: tuple[str, ...] = ("write",)) -> TestClient:
    """A client that asks for pages, signed in as ``user`` through the sign-in form when given."""
    client = TestClient(create_app(runtime=runtime), base_url="http://testserver", headers=BROWSER)
    if user is not None:
        with runtime.database.session(write=True) as session:
            token = accounts.issue_token(session, accounts.get_account(session, user), scopes=scopes).value
        response = sign_in_with_token(client, token)
        assert response.status_code == 303, response.text
    return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has no form with a CSRF value"
    return found.group(1)


def add_report(
    runtime: Runtime,
    subject: str,
    reference: str,
    *,
    verdict: str,
    p_value: float,
    relation: str | None = None,
) -> int:
    with runtime.database.session(write=True) as session:
        subject_repo = repos.find_repo(session, repos.parse_repo_id("model", subject))
        reference_repo = repos.find_repo(session, repos.parse_repo_id("model", reference))
        assert subject_repo is not None and reference_repo is not None
        head = commits.resolve_revision(session, subject_repo, None)
        reference_head = commits.resolve_revision(session, reference_repo, None)
        report = ProvenanceReport(
            repo_id=subject_repo.id,
            commit_oid=head.oid,
            reference=f"{reference}@{reference_head.oid}",
            reference_repo_id=reference_repo.id,
            reason="declared",
            verdict=verdict,
            relation=relation,
            p_value=p_value,
            report={"verdict": verdict, "p_value": p_value},
            summary="",
        )
        session.add(report)
        session.flush()
        return report.id


def add_run(runtime: Runtime, model: str, metrics: dict[str, Any]) -> int:
    with runtime.database.session(write=True) as session:
        run = EvaluationRun(
            task="arithmetic",
            task_name="arithmetic",
            task_version="1.0",
            model=f"{model}@main",
            model_repo=model,
            model_commit="0" * 40,
            backend="hf",
            status=RUN_SUCCEEDED,
            metrics=metrics,
            finished_at=datetime(2026, 5, 1, tzinfo=UTC),
        )
        session.add(run)
        session.flush()
        return run.id


def text_of(page: str) -> str:
    """The page's text without tags, spaces collapsed (for assertions on what people read)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
