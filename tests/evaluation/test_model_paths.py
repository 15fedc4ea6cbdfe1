"""Over HTTP an evaluation's ``model`` is a hub repo id; server folders only from the CLI or an allowlist.

Issue 12, item 11: ``/etc`` answered 403 and ``/nonexistent-dir`` 400, telling any signed-in user
what exists on the server's disk. A refused path must get one answer whatever is on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.core.runtime import Runtime
from baton.evaluation import service

TASK = {"task": "click"}  # a built-in task: loading it reads no submitter-chosen file


def submit(client: httpx.Client, headers: dict[str, str], model: str) -> httpx.Response:
    return client.post("/api/evaluation/runs", json={"model": model, **TASK}, headers=headers)


def refusal(response: httpx.Response, model: str) -> tuple[int, str, str, str]:
    """The answer with the echoed model taken out: what must not depend on the disk."""
    body = response.json()
    return response.status_code, body["error"], body["message"].replace(repr(model), "<model>"), body["hint"]


PROBES = ["/etc", "/nonexistent-dir", "/etc/passwd", "/root", "/tmp", "~root", "../../etc", "./models", "/"]


@pytest.mark.parametrize("who", ["alice", "bob"])  # an operator without an allowlist, and a user
def test_a_path_is_refused_the_same_way_whatever_exists_on_disk(client: httpx.Client, users: Any, who: str) -> None:
    answers = {model: refusal(submit(client, users.headers(who), model), model) for model in PROBES}
    assert len(set(answers.values())) == 1, answers
    status, code, message, hint = answers["/etc"]
    assert (status, code) == (400, "InvalidModel")
    assert "hub model repo id" in message and "BATON_EVALUATION_MODEL_DIRS" in hint


def test_operators_evaluate_folders_inside_the_allowlist_only(
    client: httpx.Client, runtime: Runtime, users: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "models"
    (allowed / "tiny").mkdir(parents=True)
    (allowed / "escape").symlink_to("/etc")
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.setattr(runtime.settings, "evaluation_model_dirs", [allowed])
    alice, bob = users.headers("alice"), users.headers("bob")

    accepted = submit(client, alice, str(allowed / "tiny"))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["model"] == str((allowed / "tiny").resolve())
    missing = submit(client, alice, str(allowed / "missing"))
    assert missing.status_code == 404 and missing.json()["error"] == "ModelNotFound"

    expected = refusal(submit(client, alice, "/etc"), "/etc")
    for model in (str(allowed / "escape"), str(outside), f"{allowed}/../outside", str(tmp_path / "nothing")):
        assert refusal(submit(client, alice, model), model) == expected, model
    # The allowlist is for operators: a user is refused the same way inside it.
    assert refusal(submit(client, bob, str(allowed / "tiny")), str(allowed / "tiny")) == refusal(
        submit(client, bob, "/etc"), "/etc"
    )


def test_the_cli_still_evaluates_any_folder(runtime: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    with runtime.database.session(write=True) as session:
        run = service.submit_run(
            session, runtime, None, service.RunSubmission(model=str(folder), task="click", local=True)
        )
        assert run.model == str(folder) and run.model_repo is None
