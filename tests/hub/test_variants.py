"""Variants (issue 19): the card's ``variant:`` block, and the cheap checks a commit to the default branch gets.

The parser's tests are pure; the commit checks go through the real ``huggingface_hub`` client against
a live server, with configurations written by ``transformers`` itself (tiny Llama and GPT-2 shapes).
"""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError
from sqlalchemy import select

from baton.core.runtime import Runtime
from baton.hub import cards, variants
from baton.hub.models import LineageEdge, Repo

# --------------------------------------------------------------------------------------------- parser


def card(variant: str, *, base: str = "lab/base", relation: str | None = None) -> cards.CardData:
    lines = ["---", f"base_model: {base}"]
    if relation is not None:
        lines.append(f"base_model_relation: {relation}")
    lines += [variant, "---", "# a variant", ""]
    return cards.parse_card("\n".join(lines))


def refusal(text: cards.CardData, runtimes: tuple[str, ...] | None = None) -> str:
    with pytest.raises(variants.InvalidVariantError) as raised:
        if runtimes is None:
            variants.parse_variant(text)
        else:
            variants.parse_variant(text, runtimes=lambda: runtimes)
    assert raised.value.code == "InvalidVariant"
    return raised.value.message


QUANTIZED = "variant:\n  kind: quantized\n  method: torchao-int8-weight-only\n  runtime: transformers\n  bits: 8"


def test_a_quantized_variant_parses_and_implies_its_relation() -> None:
    found = variants.parse_variant(card(QUANTIZED))
    assert found == variants.Variant(
        "quantized", "torchao-int8-weight-only", "transformers", 8, "lab/base", "quantized"
    )
    onnx = variants.parse_variant(
        card("variant:\n  kind: onnx\n  method: onnxruntime-dynamic-int8\n  runtime: onnxruntime")
    )
    assert onnx is not None and onnx.relation == "quantized" and onnx.bits is None
    fp32 = variants.parse_variant(card("variant:\n  kind: onnx\n  method: onnx-export\n  runtime: onnxruntime"))
    assert fp32 is not None and fp32.relation is None
    assert variants.parse_variant(cards.parse_card("---\nlicense: mit\n---\n")) is None


def test_broken_variant_yaml_names_the_line_and_the_key() -> None:
    assert refusal(card("variant: [quantized, int8]")).startswith("README.md line 3: 'variant' must be a mapping")
    unknown = refusal(card(QUANTIZED + "\n  group_size: 32"))
    assert unknown.startswith("README.md line 8: 'variant' has an unknown key 'group_size'")
    assert "kind, method, runtime, bits" in unknown
    wrong_type = refusal(card("variant:\n  kind: [quantized]\n  method: gptq\n  runtime: transformers"))
    assert wrong_type.startswith("README.md line 4: 'variant.kind' must be a string") and "found a list" in wrong_type
    missing = refusal(card("variant:\n  kind: quantized\n  runtime: transformers"))
    assert missing.startswith("README.md line 3: 'variant' needs 'method'")
    bits = refusal(card(QUANTIZED.replace("bits: 8", "bits: eight")))
    assert bits.startswith("README.md line 7: 'variant.bits' must be a whole number")
    # Broken YAML inside the block is the card's own error, with its line, as for any card.
    with pytest.raises(cards.InvalidYamlError, match=r"flow sequence on line 5"):
        card("variant:\n  kind: quantized\n  method: [gptq")


def test_unknown_kind_method_and_runtime_list_the_choices() -> None:
    kind = refusal(card(QUANTIZED.replace("kind: quantized", "kind: shrunk")))
    assert "README.md line 4: variant kind 'shrunk' is not known" in kind
    assert "quantized, pruned, distilled, onnx, compiled" in kind
    method = refusal(card(QUANTIZED.replace("torchao-int8-weight-only", "magic-int3")))
    assert "method 'magic-int3' is not a known method for kind 'quantized'" in method
    assert "torchao-int8-weight-only, torchao-int4-weight-only, gptq" in method
    runtime = refusal(
        card(QUANTIZED.replace("runtime: transformers", "runtime: tensorrt")), runtimes=("transformers", "onnxruntime")
    )
    assert "README.md line 6: runtime 'tensorrt' is not known. Use one of: transformers, onnxruntime." in runtime
    assert "No runtime plug-in is installed" in runtime


def test_a_runtime_registered_through_an_entry_point_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    real = metadata.entry_points

    def entry_points(**selection: Any) -> Any:
        if selection.get("group") == variants.RUNTIME_GROUP:
            point = metadata.EntryPoint(name="rebel-npu", value="rebel_runtime:factory", group=variants.RUNTIME_GROUP)
            return metadata.EntryPoints([point])
        return real(**selection)

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    assert variants.runtime_names() == ("transformers", "onnxruntime", "rebel-npu")
    compiled = variants.parse_variant(card("variant:\n  kind: compiled\n  method: rbln-compile\n  runtime: rebel-npu"))
    assert compiled is not None and compiled.runtime == "rebel-npu" and compiled.method == "rbln-compile"
    on_npu = variants.parse_variant(card(QUANTIZED.replace("runtime: transformers", "runtime: rebel-npu")))
    assert on_npu is not None and on_npu.runtime == "rebel-npu"
    # The module is named, never imported: nothing called rebel_runtime exists.
    wrong = refusal(card(QUANTIZED.replace("runtime: transformers", "runtime: furiosa")))
    assert "Use one of: transformers, onnxruntime, rebel-npu. Installed plug-ins: rebel-npu." in wrong


def test_kinds_runtimes_bits_and_relations_must_agree() -> None:
    builtins = ("transformers", "onnxruntime")
    compiled = refusal(card("variant:\n  kind: compiled\n  method: x-compile\n  runtime: transformers"), builtins)
    assert (
        "runtime 'transformers' does not run kind 'compiled'" in compiled and "install the vendor's runtime" in compiled
    )
    graph = refusal(card(QUANTIZED.replace("runtime: transformers", "runtime: onnxruntime")), builtins)
    assert "does not run kind 'quantized'. Use one of: transformers. An ONNX graph is kind 'onnx'." in graph
    bits = refusal(card(QUANTIZED.replace("bits: 8", "bits: 4")))
    assert "method 'torchao-int8-weight-only' stores 8-bit weights, but 'variant.bits' says 4" in bits
    relation = refusal(card(QUANTIZED, relation="finetune"))
    assert relation.startswith("README.md line 3: base_model_relation 'finetune' contradicts variant kind 'quantized'")
    pruned = variants.parse_variant(
        card("variant:\n  kind: pruned\n  method: magnitude\n  runtime: transformers", relation="pruned")
    )
    assert pruned is not None and pruned.relation == "pruned"
    compiled_method = refusal(card("variant:\n  kind: compiled\n  method: 'Bad Name!'\n  runtime: npu"), ("npu",))
    assert "is not a method name" in compiled_method


def test_a_stored_card_gives_its_variant_without_lines() -> None:
    stored = card(QUANTIZED).raw
    found = variants.variant_of_card_data(stored)
    assert found is not None and found.kind == "quantized"
    assert variants.variant_of_card_data({"license": "mit"}) is None
    with pytest.raises(variants.InvalidVariantError, match=r"README\.md front matter: 'variant' has an unknown key"):
        variants.variant_of_card_data({"variant": {"kind": "onnx", "colour": "red"}})


# ------------------------------------------------------------------------------- commits, live server


@pytest.fixture
def api(live_server, users, monkeypatch) -> HfApi:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    return HfApi(endpoint=live_server.url, token=users["bob"])


def llama_config(hidden: int = 32, layers: int = 2, heads: int = 4, vocab: int = 128) -> bytes:
    from transformers import LlamaConfig

    config = LlamaConfig(
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        vocab_size=vocab,
    )
    return config.to_json_string().encode()


def gpt2_config(embd: int = 32) -> bytes:
    from transformers import GPT2Config

    return GPT2Config(n_embd=embd, n_layer=2, n_head=4, vocab_size=128).to_json_string().encode()


def variant_card(base: str, variant: str = QUANTIZED, extra: str = "") -> bytes:
    return f"---\nbase_model: {base}\nlicense: apache-2.0\n{extra}{variant}\n---\n# A variant\n".encode()


def make_base(api: HfApi, repo_id: str, config: bytes, *, private: bool = False, token: Any = None) -> None:
    client = api if token is None else HfApi(endpoint=api.endpoint, token=token)
    client.create_repo(repo_id, private=private)
    client.create_commit(
        repo_id,
        operations=[
            CommitOperationAdd("config.json", config),
            CommitOperationAdd("README.md", b"---\nlicense: apache-2.0\n---\n# base\n"),
        ],
        commit_message="base",
    )


def commit_variant(api: HfApi, repo_id: str, readme: bytes, config: bytes | None, branch: str | None = None) -> Any:
    operations = [CommitOperationAdd("README.md", readme)]
    if config is not None:
        operations.append(CommitOperationAdd("config.json", config))
    return api.create_commit(repo_id, operations=operations, commit_message="variant", revision=branch)


def refused(api: HfApi, repo_id: str, readme: bytes, config: bytes | None) -> str:
    """The message refusing the commit. The client first sends a README to /api/validate-yaml, which
    checks the block itself (the client then raises ValueError); the base and the files are checked
    by the commit."""
    head = api.model_info(repo_id).sha
    with pytest.raises((HfHubHTTPError, ValueError)) as raised:
        commit_variant(api, repo_id, readme, config)
    assert api.model_info(repo_id).sha == head  # nothing was written: the branch did not move
    if not isinstance(raised.value, HfHubHTTPError):
        text = str(raised.value)
        assert text.startswith("Invalid metadata in README.md.\n- "), text
        return text.split("\n- ", 1)[1]
    assert raised.value.response.status_code in (400, 409)
    body = raised.value.response.json()
    assert body["error"] == "InvalidVariant", body
    return str(body["message"])


def repo_row(runtime: Runtime, repo_id: str) -> Repo:
    namespace, name = repo_id.split("/")
    with runtime.database.session() as session:
        found = session.scalar(select(Repo).where(Repo.namespace == namespace, Repo.name == name))
        assert found is not None
        session.expunge(found)
        return found


def test_a_good_variant_lands_and_is_listed_by_kind(api: HfApi, runtime: Runtime) -> None:
    make_base(api, "bob/tiny", llama_config())
    api.create_repo("bob/tiny-int8")
    commit_variant(api, "bob/tiny-int8", variant_card("bob/tiny"), llama_config())
    assert repo_row(runtime, "bob/tiny-int8").variant_kind == "quantized"
    with runtime.database.session() as session:
        relations = session.scalars(select(LineageEdge.relation).where(LineageEdge.base == "bob/tiny")).all()
    assert relations == ["quantized"]  # implied by the kind
    info = api.model_info("bob/tiny-int8")
    assert info.card_data is not None and info.card_data["variant"]["method"] == "torchao-int8-weight-only"

    listed = httpx.get(f"{api.endpoint}/api/models", params={"variant_kind": "quantized"}).json()
    assert [item["id"] for item in listed] == ["bob/tiny-int8"]
    assert httpx.get(f"{api.endpoint}/api/models", params={"variant_kind": "onnx"}).json() == []
    bad = httpx.get(f"{api.endpoint}/api/models", params={"variant_kind": "shrunk"})
    assert bad.status_code == 400 and "quantized, pruned, distilled, onnx, compiled" in bad.json()["hint"]
    assert [m.id for m in api.list_models(filter="kind:quantized")] == ["bob/tiny-int8"]

    # A later commit of a config.json that no longer matches the base is refused too.
    message = refused(api, "bob/tiny-int8", variant_card("bob/tiny"), llama_config(layers=3))
    assert "layer count num_hidden_layers=3" in message and "num_hidden_layers=2" in message
    head = api.model_info("bob/tiny-int8").sha
    with pytest.raises(HfHubHTTPError):
        api.upload_file(path_or_fileobj=llama_config(heads=8), path_in_repo="config.json", repo_id="bob/tiny-int8")
    assert api.model_info("bob/tiny-int8").sha == head

    # Dropping the block (here: the README) clears the kind.
    api.create_commit("bob/tiny-int8", operations=[CommitOperationDelete("README.md")], commit_message="no card")
    assert repo_row(runtime, "bob/tiny-int8").variant_kind is None
    assert httpx.get(f"{api.endpoint}/api/models", params={"variant_kind": "quantized"}).json() == []


def test_a_mislabelled_variant_is_refused_naming_the_field(api: HfApi) -> None:
    make_base(api, "bob/wide", llama_config(hidden=64))
    api.create_repo("bob/narrow-int8")
    message = refused(api, "bob/narrow-int8", variant_card("bob/wide"), llama_config(hidden=32))
    assert message.startswith("Wrong base: this quantized variant's config.json has hidden size hidden_size=32")
    assert "bob/wide has hidden_size=64" in message
    # GPT-2's names, and model_type first.
    make_base(api, "bob/gpt", gpt2_config(embd=64))
    assert "hidden size n_embd=32" in refused(api, "bob/narrow-int8", variant_card("bob/gpt"), gpt2_config(embd=32))
    assert "model_type model_type='llama'" in refused(api, "bob/narrow-int8", variant_card("bob/gpt"), llama_config())
    # A pruned model may change the shape: only builds of the same network are compared.
    pruned = "variant:\n  kind: pruned\n  method: structured\n  runtime: transformers"
    commit_variant(api, "bob/narrow-int8", variant_card("bob/wide", pruned), llama_config(hidden=32))


def test_missing_private_and_wrong_bases(api: HfApi, users) -> None:  # type: ignore[no-untyped-def]
    make_base(api, "carol/secret", llama_config(), private=True, token=users["carol"])
    api.create_repo("bob/v")
    missing = refused(api, "bob/v", variant_card("carol/nothing"), llama_config())
    private = refused(api, "bob/v", variant_card("carol/secret"), llama_config())
    assert missing == "base_model 'carol/nothing' is not a model repo on this hub that you may read."
    assert private == missing.replace("carol/nothing", "carol/secret")  # no existence leak
    assert "is this repo itself" in refused(api, "bob/v", variant_card("bob/v"), llama_config())
    assert "this card names none" in refused(api, "bob/v", b"---\n" + QUANTIZED.encode() + b"\n---\n", None)
    both = variant_card("[bob/a, bob/b]")
    assert "exactly one base_model" in refused(api, "bob/v", both, None)
    api.create_repo("bob/data", repo_type="dataset")
    assert "is not a model repo" in refused(api, "bob/v", variant_card("bob/data"), None)
    unknown = refused(api, "bob/v", variant_card("bob/x", QUANTIZED.replace("torchao-int8-weight-only", "magic")), None)
    assert "method 'magic' is not a known method" in unknown
    runtime = refused(
        api, "bob/v", variant_card("bob/x", QUANTIZED.replace("runtime: transformers", "runtime: tvm")), None
    )
    assert "runtime 'tvm' is not known. Use one of: transformers, onnxruntime" in runtime
    broken = refused(api, "bob/v", variant_card("bob/x", "variant: quantized"), None)
    assert broken.startswith("README.md line 4: 'variant' must be a mapping")
    # The checks are for the default branch: a branch may hold work in progress.
    api.create_branch("bob/v", branch="wip")
    commit_variant(api, "bob/v", variant_card("carol/nothing"), None, branch="wip")


def test_an_unreadable_config_is_refused_clearly(api: HfApi) -> None:
    make_base(api, "bob/b", llama_config())
    api.create_repo("bob/b-int8")
    assert "config.json is not valid JSON" in refused(api, "bob/b-int8", variant_card("bob/b"), b"{not json")
    deep = b"[" * 200 + b"]" * 200
    assert "nest 200 levels deep" in refused(api, "bob/b-int8", variant_card("bob/b"), deep)
    huge = json.dumps({"model_type": "llama", "pad": "x" * (variants.MAX_CONFIG_BYTES + 1)}).encode()
    assert "more than the 1048576" in refused(api, "bob/b-int8", variant_card("bob/b"), huge)


def test_the_commit_itself_refuses_a_broken_block_that_skipped_validate_yaml(api: HfApi, users) -> None:  # type: ignore[no-untyped-def]
    """A client that does not call /api/validate-yaml first (a raw NDJSON commit) meets the same checks."""
    import base64

    api.create_repo("bob/raw")
    head = api.model_info("bob/raw").sha
    readme = variant_card(
        "bob/x", "variant:\n  kind: quantized\n  method: gptq\n  runtime: transformers\n  dtype: int4"
    )
    lines = [
        {"key": "header", "value": {"summary": "raw", "description": ""}},
        {
            "key": "file",
            "value": {"path": "README.md", "content": base64.b64encode(readme).decode(), "encoding": "base64"},
        },
    ]
    response = httpx.post(
        f"{api.endpoint}/api/models/bob/raw/commit/main",
        content=b"\n".join(json.dumps(line).encode() for line in lines) + b"\n",
        headers={"Authorization": f"Bearer {users['bob']}", "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidVariant"
    assert response.json()["message"].startswith("README.md line 8: 'variant' has an unknown key 'dtype'")
    assert api.model_info("bob/raw").sha == head


def test_the_migration_fills_the_kind_of_stored_variant_cards(runtime: Runtime, users: Any) -> None:
    from alembic import command

    from baton.accounts import service as accounts
    from baton.domains import alembic_config
    from baton.hub import repos

    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        for name, data in (
            ("int8", {"variant": {"kind": "quantized", "method": "gptq", "runtime": "transformers"}}),
            ("odd", {"variant": {"kind": "shrunk"}}),
            ("plain", {"license": "mit", "tags": ["variant"]}),
        ):
            repo, _ = repos.create_repo(session, alice, repos.RepoKey("model", "lab", name), private=False)
            repo.card_data = data
    config = alembic_config(runtime.database.engine)
    command.downgrade(config, "0020_standings")
    command.upgrade(config, "heads")
    kinds = {name: repo_row(runtime, f"lab/{name}").variant_kind for name in ("int8", "odd", "plain")}
    assert kinds == {"int8": "quantized", "odd": None, "plain": None}
