"""Job ``variants.make``: the commons makes the lightweight variants of a causal LM itself.

For the head of a model repo whose ``config.json`` names a ``...ForCausalLM`` architecture it makes
(``baton.variants.produce``) an ONNX dynamic int8 graph, torchao weight-only int8 and int4
safetensors, and commits each as a new repo ``{namespace}/{name}-onnx-int8``, ``-int8`` and
``-int4``, owned by the base's owner and as visible as the base, with a card stating the base, the
method, the runtime and the license inherited from the base. Then it queues each variant's check
and, when that job kind is registered, its measurement.

Idempotent: a variant repo whose card already names the base's head (``variant.base_revision``)
is left alone; one made from an older head gets a new commit.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baton.accounts import service as accounts
from baton.accounts.models import Account
from baton.commons.events import ItemReleased
from baton.core import jobs
from baton.core.errors import BadRequestError, BatonError, ConfigurationError, RepoNotFoundError
from baton.hub import cards, commits, repos
from baton.hub.models import Repo
from baton.variants import produce
from baton.variants.checks import CARD, card_at, declared_variant, download_files, enqueue_check

if TYPE_CHECKING:
    from baton.core.runtime import Runtime

MAKE_JOB = "variants.make"
MEASURE_JOB = "variants.measure"
# Card keys inherited from the base.
LICENSE_KEYS = ("license", "license_name", "license_link")
# What a causal LM's class is called (GPT-2's predates the ForCausalLM convention).
CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


@dataclass(frozen=True)
class Method:
    key: str  # the repo name's suffix after "-"
    kind: str
    method: str
    runtime: str
    bits: int
    title: str
    load: str  # how to load it (the card's snippet)


def _onnx_int8(base: Path, out: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="variant-onnx-fp32-") as fp32:
        produce.export_onnx(base, Path(fp32))
        return produce.quantize_onnx_int8(Path(fp32), out)


PRODUCERS: dict[str, Callable[[Path, Path], Path]] = {
    "onnx-int8": _onnx_int8,
    "int8": lambda base, out: produce.quantize_weight_only(base, out, 8),
    "int4": lambda base, out: produce.quantize_weight_only(base, out, 4),
}

METHODS: dict[str, Method] = {
    "onnx-int8": Method(
        "onnx-int8",
        "onnx",
        "onnxruntime-dynamic-int8",
        "onnxruntime",
        8,
        "an ONNX graph with dynamic int8 quantization (onnxruntime)",
        "import numpy as np\nimport onnxruntime\nfrom huggingface_hub import snapshot_download\n"
        "from transformers import AutoTokenizer\n\n"
        "folder = snapshot_download('{repo}')\n"
        "tokenizer = AutoTokenizer.from_pretrained(folder)\n"
        "session = onnxruntime.InferenceSession(f'{folder}/model.onnx')\n"
        "ids = np.array([tokenizer('안녕하세요')['input_ids']])\n"
        "# logit_positions: the positions whose logits you want (here every one)\n"
        "feed = {'input_ids': ids, 'attention_mask': np.ones_like(ids), 'logit_positions': np.arange(ids.shape[1])}\n"
        "logits, = session.run(['logits'], feed)",
    ),
    "int8": Method(
        "int8",
        "quantized",
        "torchao-int8-weight-only",
        "transformers",
        8,
        "weight-only int8 quantization (torchao), safetensors",
        "from transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('{repo}', device_map='cpu')  # needs torchao",
    ),
    "int4": Method(
        "int4",
        "quantized",
        "torchao-int4-weight-only",
        "transformers",
        4,
        "weight-only int4 quantization (torchao, groups of 32), safetensors",
        "from transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('{repo}', device_map='cpu')  # needs torchao",
    ),
}
INT4_NOTE = (
    "The int4 values are stored one per byte (torchao's packed int4 layouts do not run on CPU), "
    "so this file is about the size of the int8 variant; the saving is in accuracy-neutral storage "
    "formats to come, not here."
)


class NotCausalLMError(BadRequestError):
    code = "NotCausalLM"
    default_hint = "Variants are made for causal language models (config.json architectures such as LlamaForCausalLM)."


@dataclass(frozen=True)
class _Base:
    repo_pk: int
    repo_id: str
    owner_id: int
    private: bool
    gated: str | None
    commit: str
    card: dict[str, Any]


def variant_card(method: Method, base: _Base, repo_id: str) -> bytes:
    data: dict[str, Any] = {key: base.card[key] for key in LICENSE_KEYS if base.card.get(key)}
    data.update(
        {
            "base_model": base.repo_id,
            "base_model_relation": "quantized",
            "library_name": "transformers" if method.runtime == "transformers" else "onnx",
            "pipeline_tag": "text-generation",
            "tags": ["baton-variant", method.kind, method.method],
            "variant": {
                "kind": method.kind,
                "method": method.method,
                "runtime": method.runtime,
                "bits": method.bits,
                "base_revision": base.commit,
            },
        }
    )
    license_line = (
        f"License: {base.card['license']} (inherited from the base)."
        if base.card.get("license")
        else "The base's card names no license; ask its owner before reusing this variant."
    )
    body = (
        f"# {repo_id}\n\n"
        f"{method.title[0].upper()}{method.title[1:]} of [{base.repo_id}](/{base.repo_id}) at revision "
        f"`{base.commit[:12]}`, made by the Baton commons.\n\n"
        f"- Kind: `{method.kind}`; method: `{method.method}`; runtime: `{method.runtime}`; {method.bits} bits.\n"
        f"- {license_line}\n\n"
        "## How to load it\n\n"
        f"```python\n{method.load.replace('{repo}', repo_id)}\n```\n"
    )
    if method.key == "int4":
        body += f"\n{INT4_NOTE}\n"
    return cards.render_card(data, body).encode()


def names_causal_lm(config: object) -> bool:
    """Whether a parsed config.json names a causal LM architecture."""
    architectures = config.get("architectures") if isinstance(config, dict) else None
    return isinstance(architectures, list) and any(
        isinstance(name, str) and name.endswith(CAUSAL_LM_SUFFIXES) for name in architectures
    )


def _is_causal_lm(folder: Path, repo_id: str) -> None:
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise NotCausalLMError(f"{repo_id} has no readable config.json at its head: {error}") from error
    if not names_causal_lm(config):
        architectures = config.get("architectures") if isinstance(config, dict) else None
        raise NotCausalLMError(
            f"{repo_id} is not a causal LM: its config.json architectures are {architectures!r}, none ends in "
            f"{' or '.join(CAUSAL_LM_SUFFIXES)}"
        )


def _read_base(runtime: Runtime, repo_id: str, folder: Path) -> _Base:
    key = repos.parse_repo_id("model", repo_id)
    with runtime.database.session() as session:
        repo = repos.find_repo(session, key)
        if repo is None:
            raise RepoNotFoundError(f"Repository not found: {key}")
        head = commits.resolve_revision(session, repo, None).oid
        card, entries = card_at(session, runtime, repo, head)
        base = _Base(repo.id, str(key), repo.owner_id, repo.private, repo.gated, head, card)
    if declared_variant(card) is not None:
        raise BadRequestError(
            f"{repo_id} is itself a variant; variants are made from a base model.",
            hint="Make variants of the model it was made from (its card's base_model).",
        )
    download_files(runtime, [entry for entry in entries if entry.path != CARD], folder)
    _is_causal_lm(folder, repo_id)
    return base


def _existing(runtime: Runtime, key: repos.RepoKey) -> tuple[Repo | None, str | None]:
    """The variant repo if it exists, and the base revision its head's card names."""
    with runtime.database.session() as session:
        repo = repos.find_repo_any_case(session, key)
        if repo is None:
            return None, None
        try:
            head = commits.resolve_revision(session, repo, None).oid
        except BatonError:  # created but never committed to
            return repo, None
        card, _ = card_at(session, runtime, repo, head)
    variant = declared_variant(card) or {}
    revision = variant.get("base_revision")
    return repo, revision if isinstance(revision, str) else None


def _publish(runtime: Runtime, base: _Base, method: Method, key: repos.RepoKey, folder: Path) -> dict[str, Any]:
    files = {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}
    files[CARD] = variant_card(method, base, str(key))
    with runtime.database.session(write=True) as session:
        owner = session.get(Account, base.owner_id)
        if owner is None:
            raise RepoNotFoundError(f"The owner of {base.repo_id} no longer exists.")
        actor = accounts.actor_for(owner)
        repo, created = repos.create_repo(session, actor, key, private=base.private, exist_ok=True)
        if created:
            commits.initial_commit(session, runtime.store, actor, repo)
        commit = commits.commit_files(
            session,
            runtime.store,
            runtime.settings,
            actor,
            repo,
            files,
            title=f"{method.method} variant of {base.repo_id}@{base.commit[:12]}",
        )
        if created and base.gated and not base.private:
            repos.update_settings(session, actor, key, gated=base.gated)
        check = enqueue_check(session, repo, commit.oid)
        queued = {"check": check.id}
        if runtime.registry.job_owner(MEASURE_JOB) is not None:
            measure = jobs.enqueue(
                session,
                MEASURE_JOB,
                {"repo_pk": repo.id, "commit": commit.oid},
                dedupe_key=f"{MEASURE_JOB}:{repo.id}:{commit.oid}",
            )
            queued["measure"] = measure.id
        return {
            "method": method.key,
            "repo": str(key),
            "status": "created" if created else "updated",
            "commit": commit.oid,
            "bytes": sum(len(content) for content in files.values()),
            "jobs": queued,
        }


# What producing variants imports (the ``ml`` extra); the server runs without them.
ML_PACKAGES = ("torch", "transformers", "accelerate", "torchao", "onnx", "onnxscript", "onnxruntime")


def missing_packages() -> list[str]:
    """The packages variants need that this installation lacks (none: variants can be made)."""
    return [name for name in ML_PACKAGES if importlib.util.find_spec(name) is None]


def make_variants(runtime: Runtime, repo_id: str, *, methods: Sequence[str] | None = None) -> dict[str, Any]:
    """Make (or bring up to date) the variants ``methods`` (default: all) of the model ``repo_id``."""
    wanted = list(methods) if methods else list(METHODS)
    unknown = [name for name in wanted if name not in METHODS]
    if unknown:
        raise BadRequestError(
            f"Unknown variant method(s): {', '.join(unknown)}", hint=f"Use some of: {', '.join(METHODS)}."
        )
    missing = missing_packages()
    if missing:
        raise ConfigurationError(
            f"Making variants needs packages that are not installed: {', '.join(missing)}",
            hint="Install Baton's ML extras: pip install 'baton[ml]'.",
        )
    root = Path(tempfile.mkdtemp(prefix="variants-make-"))
    try:
        base = _read_base(runtime, repo_id, root / "base")
        namespace, _, name = base.repo_id.partition("/")
        results = []
        for method_name in wanted:
            method = METHODS[method_name]
            key = repos.parse_repo_id("model", f"{namespace}/{name}-{method.key}")
            existing, revision = _existing(runtime, key)
            if existing is not None and revision is None:
                results.append(
                    {
                        "method": method.key,
                        "repo": str(key),
                        "status": "skipped",
                        "message": f"{key} exists and is not a variant made by Baton; it is left alone.",
                    }
                )
                continue
            if revision == base.commit:
                results.append({"method": method.key, "repo": str(key), "status": "unchanged"})
                continue
            out = root / method.key
            try:
                PRODUCERS[method.key](root / "base", out)
            except produce.VariantProductionError as error:
                results.append({"method": method.key, "repo": str(key), "status": "refused", "message": error.message})
                continue
            try:
                results.append(_publish(runtime, base, method, key, out))
            except BatonError as error:  # e.g. the hub's commit checks refused it: say so, go on with the rest
                results.append(
                    {
                        "method": method.key,
                        "repo": str(key),
                        "status": "failed",
                        "message": f"{error.message} {error.hint}".strip(),
                    }
                )
            shutil.rmtree(out, ignore_errors=True)
        return {"base": base.repo_id, "commit": base.commit, "variants": results}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_job(runtime: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    repo, methods = payload.get("repo"), payload.get("methods")
    if not isinstance(repo, str) or (methods is not None and not isinstance(methods, list)):
        raise BadRequestError(
            f"A {MAKE_JOB} job needs a payload {{'repo': 'ORG/NAME', 'methods': [...]}}, got {payload!r}"
        )
    return make_variants(runtime, repo, methods=[str(m) for m in methods] if methods else None)


def enqueue_make(runtime: Runtime, repo_id: str, methods: Sequence[str] | None = None) -> jobs.Job:
    with runtime.database.session(write=True) as session:
        return jobs.enqueue(session, MAKE_JOB, {"repo": repo_id, "methods": list(methods or [])})


MAX_CONFIG_BYTES = 1 << 20


def make_on_release(runtime: Runtime, event: ItemReleased) -> dict[str, Any]:
    """A released model whose config.json names a causal LM gets its variants made (one job per commit).

    Only config.json is read here (at most 1 MiB); the job itself checks the rest and says why it
    makes nothing (e.g. a GPT-2, whose Conv1D layers torchao does not quantize).
    """
    if event.repo_type != "model":
        return {"queued": False, "reason": "not a model"}
    missing = missing_packages()
    if missing:  # a server installed without the ML extras: nothing could make them
        return {"queued": False, "reason": f"not installed: {', '.join(missing)}"}
    with runtime.database.session(write=True) as session:
        repo = session.get(Repo, event.repo_pk)
        if repo is None:
            return {"queued": False, "reason": "deleted"}
        card, entries = card_at(session, runtime, repo, event.commit)
        if declared_variant(card) is not None:
            return {"queued": False, "reason": "itself a variant"}
        config = next((entry for entry in entries if entry.path == "config.json"), None)
        if config is None or config.size > MAX_CONFIG_BYTES:
            return {"queued": False, "reason": "no config.json"}
        try:
            document = json.loads(b"".join(runtime.store.open_range(config.sha256)))
        except ValueError:
            return {"queued": False, "reason": "config.json is not JSON"}
        if not names_causal_lm(document):
            return {"queued": False, "reason": "not a causal LM"}
        job = jobs.enqueue(session, MAKE_JOB, {"repo": event.repo, "methods": []}, dedupe_key=f"release:{event.key()}")
        return {"queued": True, "job": job.id}
