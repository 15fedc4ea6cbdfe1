"""Job variants.make: the commons makes a causal LM's variants as repos with cards, once per base head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner
from variant_fixtures import make_tiny_gpt2, make_tiny_llama

from baton.accounts import service as accounts
from baton.cli.main import app as cli
from baton.commons.events import ItemReleased
from baton.core import jobs
from baton.core.errors import ConfigurationError
from baton.core.job_models import Job
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.hub import cards, commits, repos
from baton.variants import checks, make
from baton.variants.make import NotCausalLMError
from baton.variants.models import VariantCheck

LICENSE_CARD = "---\nlicense: other\nlicense_name: gaon-open-1.0\nlicense_link: LICENSE\n---\n# Tiny\n"


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("make") / "llama", steps=0, hidden=32)


def put_base(runtime: Runtime, repo_id: str, folder: Path, *, private: bool = False, card: str = LICENSE_CARD) -> str:
    files = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    files["README.md"] = card.encode()
    namespace = repo_id.partition("/")[0]
    with runtime.database.session(write=True) as session:
        account = accounts.find_account(session, namespace) or accounts.create_user(session, namespace)
        user = accounts.actor_for(account)
        repo, _ = repos.create_repo(session, user, repos.parse_repo_id("model", repo_id), private=private)
        commits.initial_commit(session, runtime.store, user, repo)
        return commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="base").oid


def card_of(runtime: Runtime, repo_id: str) -> tuple[dict, bool, int]:
    with runtime.database.session() as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", repo_id))
        assert repo is not None
        head = commits.resolve_revision(session, repo, None)
        data, _ = checks.card_at(session, runtime, repo, head.oid)
        return data, repo.private, repo.owner_id


def test_weight_only_variants_follow_the_base_and_are_made_once(runtime: Runtime, llama: Path) -> None:
    head = put_base(runtime, "gaon/tiny", llama, private=True)
    outcome = make.make_variants(runtime, "gaon/tiny", methods=["int8", "int4"])
    assert outcome["commit"] == head
    assert [(v["repo"], v["status"]) for v in outcome["variants"]] == [
        ("gaon/tiny-int8", "created"),
        ("gaon/tiny-int4", "created"),
    ]
    base_card, _, base_owner = card_of(runtime, "gaon/tiny")
    for name, method, bits in (
        ("gaon/tiny-int8", "torchao-int8-weight-only", 8),
        ("gaon/tiny-int4", "torchao-int4-weight-only", 4),
    ):
        data, private, owner = card_of(runtime, name)
        assert private and owner == base_owner  # a private base's variants are private, same owner
        assert data["base_model"] == "gaon/tiny" and data["base_model_relation"] == "quantized"
        assert data["variant"] == {
            "kind": "quantized",
            "method": method,
            "runtime": "transformers",
            "bits": bits,
            "base_revision": head,
        }
        assert (data["license"], data["license_name"], data["license_link"]) == ("other", "gaon-open-1.0", "LICENSE")
    # Each variant's check and its measurement against the base are queued.
    with runtime.database.session() as session:
        kinds = [job.kind for job in session.scalars(select(Job))]
    assert kinds.count(checks.CHECK_JOB) == 2 and kinds.count(make.MEASURE_JOB) == 2
    jobs.Worker(runtime, kinds=[checks.CHECK_JOB], poll_seconds=0).run(until_idle=True)
    with runtime.database.session() as session:
        assert [row.status for row in session.scalars(select(VariantCheck))] == ["ok", "ok"]
    # Again for the same head: nothing new. After a new base commit: a new commit on each variant.
    again = make.make_variants(runtime, "gaon/tiny", methods=["int8", "int4"])
    assert [v["status"] for v in again["variants"]] == ["unchanged", "unchanged"]
    new_head = put_more(runtime, "gaon/tiny")
    updated = make.make_variants(runtime, "gaon/tiny", methods=["int8"])
    assert updated["variants"][0]["status"] == "updated"
    assert card_of(runtime, "gaon/tiny-int8")[0]["variant"]["base_revision"] == new_head
    assert base_card["license"] == "other"


def put_more(runtime: Runtime, repo_id: str) -> str:
    with runtime.database.session(write=True) as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", repo_id))
        assert repo is not None
        owner = accounts.find_account(session, repo.namespace)
        assert owner is not None
        user = accounts.actor_for(owner)
        files = {"README.md": (LICENSE_CARD + "More words.\n").encode()}
        return commits.commit_files(session, runtime.store, runtime.settings, user, repo, files, title="card").oid


def test_a_model_without_linear_layers_gets_no_fake_variant(runtime: Runtime, tmp_path: Path) -> None:
    put_base(runtime, "gaon/gpt2", make_tiny_gpt2(tmp_path / "gpt2"))
    outcome = make.make_variants(runtime, "gaon/gpt2", methods=["int8"])
    (variant,) = outcome["variants"]
    assert variant["status"] == "refused" and "torchao quantized nothing" in variant["message"]
    with runtime.database.session() as session:
        assert repos.find_repo(session, repos.parse_repo_id("model", "gaon/gpt2-int8")) is None


def test_only_causal_lms_and_known_methods(runtime: Runtime, llama: Path, tmp_path: Path) -> None:
    folder = tmp_path / "encoder"
    folder.mkdir()
    for path in llama.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    config = (folder / "config.json").read_text().replace("LlamaForCausalLM", "LlamaModel")
    (folder / "config.json").write_text(config)
    put_base(runtime, "gaon/encoder", folder)
    with pytest.raises(NotCausalLMError, match="none ends in ForCausalLM"):
        make.make_variants(runtime, "gaon/encoder")
    with pytest.raises(Exception, match="Unknown variant method"):
        make.make_variants(runtime, "gaon/encoder", methods=["int2"])


def test_a_variant_card_names_its_base_and_how_to_load_it() -> None:
    base = make._Base(1, "gaon/tiny", 1, False, None, "a" * 40, {"license": "apache-2.0"})
    text = make.variant_card(make.METHODS["onnx-int8"], base, "gaon/tiny-onnx-int8").decode()
    data = cards.parse_card(text).raw
    assert data["variant"]["kind"] == "onnx" and data["variant"]["runtime"] == "onnxruntime"
    assert data["license"] == "apache-2.0" and "onnxruntime.InferenceSession" in text


def test_make_and_check_from_the_cli(
    runtime: Runtime, llama: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_base(runtime, "gaon/cli", llama)
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.resolved_database_url)
    runner = CliRunner()
    data_dir = ["--data-dir", str(settings.data_dir)]
    made = runner.invoke(cli, ["variants", "make", "gaon/cli", "--method", "int8", "--json", *data_dir])
    assert made.exit_code == 0, made.output
    outcome = json.loads(made.stdout)
    assert [(v["repo"], v["status"]) for v in outcome["variants"]] == [("gaon/cli-int8", "created")]
    checked = runner.invoke(cli, ["variants", "check", "gaon/cli-int8", "--json", *data_dir])
    assert checked.exit_code == 0, checked.output
    record = json.loads(checked.stdout)
    assert record["status"] == "ok" and record["runtime"] == "transformers"
    plain = runner.invoke(cli, ["variants", "check", "gaon/cli", *data_dir])
    assert plain.exit_code != 0 and "declares no 'variant:'" in plain.output
    again = runner.invoke(cli, ["variants", "make", "gaon/cli", "--method", "int8", *data_dir])
    assert again.exit_code == 0 and "unchanged" in again.stdout
    listed = runner.invoke(cli, ["variants", "runtimes"])
    assert "onnxruntime" in listed.stdout and "transformers" in listed.stdout


def _released(runtime: Runtime, repo_id: str, commit: str) -> ItemReleased:
    with runtime.database.session() as session:
        repo = repos.find_repo(session, repos.parse_repo_id("model", repo_id))
        assert repo is not None
        return ItemReleased(repo_pk=repo.id, repo=repo_id, repo_type="model", commit=commit, challenge="c", team="t")


def test_a_released_causal_lm_gets_its_variants_queued_once(runtime: Runtime, llama: Path, tmp_path: Path) -> None:
    head = put_base(runtime, "gaon/released", llama)
    event = _released(runtime, "gaon/released", head)
    first = make.make_on_release(runtime, event)
    assert first["queued"] is True
    assert make.make_on_release(runtime, event)["job"] == first["job"]  # the same release: the same job
    with runtime.database.session() as session:
        job = session.get(Job, first["job"])
        assert job is not None and job.kind == make.MAKE_JOB and job.payload["repo"] == "gaon/released"
    # Not a causal LM (no architectures): nothing is queued, and the reason says so.
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertModel"]}))
    other = put_base(runtime, "gaon/encoder", tmp_path)
    assert make.make_on_release(runtime, _released(runtime, "gaon/encoder", other)) == {
        "queued": False,
        "reason": "not a causal LM",
    }


def test_without_the_ml_extras_nothing_is_queued_and_make_says_what_to_install(
    runtime: Runtime, llama: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = put_base(runtime, "gaon/no-ml", llama)
    monkeypatch.setattr(make, "missing_packages", lambda: ["torchao", "onnxruntime"])
    assert make.make_on_release(runtime, _released(runtime, "gaon/no-ml", head)) == {
        "queued": False,
        "reason": "not installed: torchao, onnxruntime",
    }
    with pytest.raises(ConfigurationError, match="torchao, onnxruntime") as raised:
        make.make_variants(runtime, "gaon/no-ml")
    assert "baton[ml]" in (raised.value.hint or "")
