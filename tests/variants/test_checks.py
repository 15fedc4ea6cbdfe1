"""Job variants.check: a commit to a variant's default branch loads it with its runtime and records
whether it ran; a graph that does not load is flagged with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from variant_fixtures import make_tiny_llama

from baton.accounts import service as accounts
from baton.core import events, jobs
from baton.core.errors import BadRequestError
from baton.core.jobs import Job
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos
from baton.variants import checks, produce, runtimes
from baton.variants.models import VariantCheck


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("variants")
    base = make_tiny_llama(root / "base", steps=0, hidden=32)
    onnx = produce.export_onnx(base, root / "onnx")
    return {"base": base, "onnx": onnx, "int8": produce.quantize_weight_only(base, root / "int8", 8)}


@pytest.fixture
def folders(runtime: Runtime, made: dict[str, Path]) -> dict[str, Path]:
    """The variants' base is a model repo on the hub, as the commit checks want."""
    commit(runtime, "base", files_of(made["base"]))
    return made


def card(kind: str, method: str, runtime: str) -> bytes:
    data = {"base_model": "team/base", "variant": {"kind": kind, "method": method, "runtime": runtime}}
    return cards.render_card(data, "A variant.\n").encode()


def commit(runtime: Runtime, name: str, files: dict[str, bytes], deletions: list[str] | None = None) -> tuple[int, str]:
    with runtime.database.session(write=True) as session:
        account = accounts.find_account(session, "team") or accounts.create_user(session, "team")
        user = accounts.actor_for(account)
        key = repos.parse_repo_id("model", f"team/{name}")
        repo = repos.find_repo(session, key)
        if repo is None:
            repo, _ = repos.create_repo(session, user, key, private=False)
            commits.initial_commit(session, runtime.store, user, repo)
        landed = commits.commit_files(
            session, runtime.store, runtime.settings, user, repo, files, title="add", deletions=deletions
        )
        return repo.id, landed.oid


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


def run_jobs(runtime: Runtime) -> None:
    events.drain(runtime)
    jobs.Worker(runtime, kinds=[checks.CHECK_JOB], poll_seconds=0).run(until_idle=True)


def recorded(runtime: Runtime, repo_pk: int) -> list[VariantCheck]:
    with runtime.database.session() as session:
        rows = list(session.scalars(select(VariantCheck).where(VariantCheck.repo_id == repo_pk)))
        session.expunge_all()
        return rows


def test_a_committed_onnx_variant_is_checked_ok(runtime: Runtime, folders: dict[str, Path]) -> None:
    files = files_of(folders["onnx"]) | {"README.md": card("onnx", "onnx-export", "onnxruntime")}
    repo_pk, oid = commit(runtime, "base-onnx", files)
    run_jobs(runtime)
    (row,) = recorded(runtime, repo_pk)
    assert (row.commit, row.runtime, row.status) == (oid, "onnxruntime", "ok")
    assert row.details["file"] == "model.onnx" and row.details["logits_shape"][0] == 1
    assert row.details["runtime_version"] == runtimes.get_runtime("onnxruntime").version()


def test_a_truncated_graph_is_flagged_with_what_to_do(runtime: Runtime, folders: dict[str, Path]) -> None:
    files = files_of(folders["onnx"]) | {"README.md": card("onnx", "onnx-export", "onnxruntime")}
    files["model.onnx"] = files["model.onnx"][: len(files["model.onnx"]) // 2]
    repo_pk, oid = commit(runtime, "broken-onnx", files)
    run_jobs(runtime)
    (row,) = recorded(runtime, repo_pk)
    assert row.status == "failed" and row.commit == oid
    assert "model.onnx" in row.message and "does not load in onnxruntime" in row.message
    assert "export it again" in row.message  # what to do
    assert "\n" not in row.message.split("onnxruntime", 1)[1].split(":", 2)[-1].strip()  # the first line only


def test_garbage_bytes_as_graph_are_flagged(runtime: Runtime, folders: dict[str, Path]) -> None:
    files = files_of(folders["onnx"]) | {"README.md": card("onnx", "onnx-export", "onnxruntime")}
    files["model.onnx"] = b"\x00garbage, not a protobuf\xff" * 100
    repo_pk, _ = commit(runtime, "garbage-onnx", files)
    result = checks.run_check(runtime, repo_pk)
    assert result["status"] == "failed" and "model.onnx" in result["message"]


def test_a_torchao_variant_is_checked_with_transformers(runtime: Runtime, folders: dict[str, Path]) -> None:
    files = files_of(folders["int8"]) | {"README.md": card("quantized", "torchao-int8-weight-only", "transformers")}
    repo_pk, oid = commit(runtime, "base-int8", files)
    result = checks.run_check(runtime, repo_pk, oid)
    assert result["status"] == "ok", result["message"]
    assert result["details"]["tokens"] > 1
    # Without its weights it fails, in transformers' words.
    repo_pk, _ = commit(runtime, "base-int8", {}, deletions=["model.safetensors"])
    failed = checks.run_check(runtime, repo_pk)
    assert failed["status"] == "failed" and "transformers" in failed["message"]
    assert "could not load the checkpoint" in failed["message"]


def test_plain_models_are_not_checked(runtime: Runtime, folders: dict[str, Path]) -> None:
    repo_pk, _ = commit(runtime, "plain", files_of(folders["base"]))
    run_jobs(runtime)
    assert recorded(runtime, repo_pk) == []
    with runtime.database.session() as session:
        assert not list(session.scalars(select(Job).where(Job.kind == checks.CHECK_JOB)))
    with pytest.raises(BadRequestError, match="declares no 'variant:'"):
        checks.run_check(runtime, repo_pk)
