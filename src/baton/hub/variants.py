"""Variants: what a model card's ``variant:`` block says, and the cheap checks a commit gets.

A variant (a compressed model or a chip-ready build) is an ordinary model repo whose card says
what it is (docs/variants.md)::

    base_model: gaon-tech/gaon-lm          # exactly one base
    base_model_relation: quantized         # optional: implied by the kind where it can be
    variant:
      kind: quantized                      # quantized | pruned | distilled | onnx | compiled
      method: torchao-int8-weight-only     # one of METHODS[kind] (any name for compiled)
      runtime: transformers                # transformers | onnxruntime | a plug-in's name
      bits: 8                              # optional

:func:`parse_variant` reads and validates the block (a pure function but for the names of the
``baton.runtimes`` entry points, read with importlib.metadata: names only, nothing imported).
:func:`check_commit` runs in the commit's transaction, under the branch lock, when a commit lands on
the default branch of a model repo whose card declares a variant: the base must be one model repo
here that the committer may read (a private base they may not read is "not found", exactly as a
missing one), not the repo itself, and for builds of the same network (quantized, onnx, compiled)
the two ``config.json`` files must agree on the architecture. A refusal raises before anything is
written, so the transaction rolls back whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.core import boundedjson
from baton.core.errors import BadRequestError, ConflictError
from baton.hub import repos
from baton.hub.cards import CardData, Locator, bool_advice, card_from_data, describe
from baton.hub.models import Commit, Ref, Repo, TreeEntry
from baton.storage import BlobStore

__all__ = [
    "BUILTIN_RUNTIMES",
    "KINDS",
    "METHODS",
    "RUNTIME_GROUP",
    "InvalidVariantError",
    "Variant",
    "WrongBaseError",
    "check_commit",
    "parse_variant",
    "runtime_names",
]

KEY: Final = "variant"
KINDS: Final = ("quantized", "pruned", "distilled", "onnx", "compiled")
# Known methods per kind. A compiled artifact's method is whatever its runtime plug-in calls it.
METHODS: Final[dict[str, tuple[str, ...]]] = {
    "quantized": (
        "torchao-int8-weight-only",
        "torchao-int4-weight-only",
        "gptq",
        "awq",
        "bitsandbytes-int8",
        "bitsandbytes-nf4",
        "fp8",
    ),
    "pruned": ("magnitude", "structured"),
    "distilled": ("logit-distillation", "sequence-distillation"),
    "onnx": ("onnx-export", "onnxruntime-dynamic-int8", "onnxruntime-static-int8"),
    "compiled": (),
}
# The bits a method stores its weights in; a declared ``bits`` must agree.
METHOD_BITS: Final = {
    "torchao-int8-weight-only": 8,
    "torchao-int4-weight-only": 4,
    "bitsandbytes-int8": 8,
    "bitsandbytes-nf4": 4,
    "fp8": 8,
    "onnxruntime-dynamic-int8": 8,
    "onnxruntime-static-int8": 8,
}
BUILTIN_RUNTIMES: Final = ("transformers", "onnxruntime")
RUNTIME_GROUP: Final = "baton.runtimes"
# Which built-in runtimes may run each kind; plug-in runtimes may run any kind.
BUILTINS_FOR_KIND: Final[dict[str, tuple[str, ...]]] = {
    "quantized": ("transformers",),
    "pruned": ("transformers",),
    "distilled": ("transformers",),
    "onnx": ("onnxruntime",),
    "compiled": (),
}
# Kinds whose files are the base's network itself (same architecture, stored otherwise).
SAME_NETWORK_KINDS: Final = ("quantized", "onnx", "compiled")
ALLOWED_KEYS: Final = ("kind", "method", "runtime", "bits", "base_revision")
# The commit of the base a variant was made from (the commons writes it; optional for anyone else).
_COMMIT_ID: Final = re.compile(r"[0-9a-f]{40}")
MAX_BITS: Final = 64
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}")
CONFIG_FILE: Final = "config.json"
MAX_CONFIG_BYTES: Final = 1024 * 1024

# Architecture fields compared between a build and its base: (what the message calls it, the
# names configurations use for it, GPT-2's included).
ARCHITECTURE_FIELDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("model_type", ("model_type",)),
    ("vocab_size", ("vocab_size",)),
    ("hidden size", ("hidden_size", "n_embd", "d_model")),
    ("layer count", ("num_hidden_layers", "n_layer", "num_layers")),
    ("head count", ("num_attention_heads", "n_head", "num_heads")),
)


class InvalidVariantError(BadRequestError):
    """The card's ``variant:`` block, its base or the files it describes are not what a variant needs."""

    code = "InvalidVariant"


class WrongBaseError(ConflictError):
    """The declared base is not the network this build was made from (the architectures differ)."""

    code = "InvalidVariant"


@dataclass(frozen=True)
class Variant:
    kind: str
    method: str
    runtime: str
    bits: int | None
    base: str | None  # the one declared base_model (None: missing or several; check_commit refuses)
    relation: str | None  # base_model_relation as declared, or implied by the kind


def runtime_names() -> tuple[str, ...]:
    """The runtimes a card may name: the built-ins and the ``baton.runtimes`` entry points (names only)."""
    plugins = sorted({entry.name for entry in metadata.entry_points(group=RUNTIME_GROUP)} - set(BUILTIN_RUNTIMES))
    return (*BUILTIN_RUNTIMES, *plugins)


def implied_relation(kind: str, method: str) -> str | None:
    """The ``base_model_relation`` a kind implies: quantized, and an int8 ONNX build, are quantized."""
    if kind == "quantized" or (kind == "onnx" and "int8" in method):
        return "quantized"
    return None


def allowed_relations(kind: str, method: str) -> tuple[str, ...]:
    """The ``base_model_relation`` values that do not contradict the kind."""
    implied = implied_relation(kind, method)
    if implied is not None:
        return (implied,)
    return {
        "pruned": ("pruned", "other"),
        "distilled": ("distillation", "other"),
        "onnx": ("other",),
        "compiled": ("quantized", "other"),
    }.get(kind, ("other",))


def _name(block: dict[str, Any], key: str, where: Locator, example: str) -> str:
    value = block.get(key)
    if value is None:
        raise InvalidVariantError(
            f"{where.at(KEY)}'variant' needs '{key}' (e.g. {key}: {example}).",
            hint=f"Add '{key}:' under 'variant:'.",
        )
    if not isinstance(value, str):
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.{key}', KEY)}'variant.{key}' must be a string (e.g. {key}: {example}), "
            f"found {describe(value)}." + bool_advice(value)
        )
    return value.strip()


def parse_variant(card: CardData, *, runtimes: Callable[[], tuple[str, ...]] = runtime_names) -> Variant | None:
    """The card's variant, checked; None when the card has no ``variant:`` key.

    Raises InvalidVariantError, naming the README.md line, for a block that is not a mapping, an
    unknown key, a value of the wrong type, an unknown kind, method or runtime (the message lists
    the choices), ``bits`` that the method contradicts, and a ``base_model_relation`` that
    contradicts the kind.
    """
    if KEY not in card.raw:
        return None
    where = Locator(card.lines)
    block = card.raw[KEY]
    if not isinstance(block, dict):
        raise InvalidVariantError(
            f"{where.at(KEY)}'variant' must be a mapping of 'key: value' lines, found {describe(block)}. "
            "Write e.g. 'variant:' then, indented below it, 'kind: quantized', 'method: torchao-int8-weight-only' "
            "and 'runtime: transformers'."
        )
    unknown = [key for key in block if key not in ALLOWED_KEYS]
    if unknown:
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.{unknown[0]}', KEY)}'variant' has an unknown key {unknown[0][:60]!r}. "
            f"Use only: {', '.join(ALLOWED_KEYS)}."
        )
    kind = _name(block, "kind", where, "quantized")
    if kind not in KINDS:
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.kind', KEY)}variant kind {kind[:60]!r} is not known. Use one of: {', '.join(KINDS)}."
        )
    method = _name(block, "method", where, METHODS[kind][0] if METHODS[kind] else "my-vendor-compiler")
    known_methods = METHODS[kind]
    if known_methods and method not in known_methods:
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.method', KEY)}method {method[:60]!r} is not a known method for kind {kind!r}. "
            f"Use one of: {', '.join(known_methods)}."
        )
    if not known_methods and not _NAME.fullmatch(method):
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.method', KEY)}method {method[:60]!r} is not a method name. Name it as its "
            "runtime plug-in does: lower-case letters, digits, '.', '_', '+' and '-', at most 64 characters."
        )
    runtime = _name(block, "runtime", where, BUILTINS_FOR_KIND[kind][0] if BUILTINS_FOR_KIND[kind] else "my-npu")
    # The installed plug-ins are looked up (some milliseconds) only for a runtime that is not built in,
    # and to list the choices in a refusal.
    if runtime not in BUILTIN_RUNTIMES:
        names = runtimes()
        if runtime not in names:
            plugins = [name for name in names if name not in BUILTIN_RUNTIMES]
            installed = " No runtime plug-in is installed."
            if plugins:
                installed = f" Installed plug-ins: {', '.join(plugins)}."
            raise InvalidVariantError(
                f"{where.at(f'{KEY}.runtime', KEY)}runtime {runtime[:60]!r} is not known. Use one of: "
                f"{', '.join(names)}.{installed}",
                hint="A vendor runtime is added by installing its plug-in (entry point group 'baton.runtimes').",
            )
    elif runtime not in BUILTINS_FOR_KIND[kind]:
        fitting = [*BUILTINS_FOR_KIND[kind], *(name for name in runtimes() if name not in BUILTIN_RUNTIMES)]
        choices = ", ".join(fitting) if fitting else "none installed: install the vendor's runtime plug-in"
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.runtime', KEY)}runtime {runtime!r} does not run kind {kind!r}. "
            f"Use one of: {choices}." + (" An ONNX graph is kind 'onnx'." if runtime == "onnxruntime" else "")
        )
    bits = block.get("bits")
    if bits is not None:
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
            raise InvalidVariantError(
                f"{where.at(f'{KEY}.bits', KEY)}'variant.bits' must be a whole number from 1 to {MAX_BITS} "
                f"(e.g. bits: 8), found {describe(bits)}."
            )
        expected = METHOD_BITS.get(method)
        if expected is not None and bits != expected:
            raise InvalidVariantError(
                f"{where.at(f'{KEY}.bits', KEY)}method {method!r} stores {expected}-bit weights, but "
                f"'variant.bits' says {bits}. Write bits: {expected}, or leave 'bits' out."
            )
    revision = block.get("base_revision")
    if revision is not None and not (isinstance(revision, str) and _COMMIT_ID.fullmatch(revision)):
        raise InvalidVariantError(
            f"{where.at(f'{KEY}.base_revision', KEY)}'variant.base_revision' must be the base's commit id "
            f"(40 lower-case hex digits), found {describe(revision)}. Write the commit the variant was made "
            "from, or leave 'base_revision' out."
        )
    relation = card.base_model_relation
    allowed = allowed_relations(kind, method)
    if relation is not None and relation not in allowed:
        raise InvalidVariantError(
            f"{where.at('base_model_relation')}base_model_relation {relation!r} contradicts variant kind "
            f"{kind!r} (method {method!r}). Use {' or '.join(repr(r) for r in allowed)}, or leave "
            "base_model_relation out."
        )
    base = card.base_models[0] if len(card.base_models) == 1 else None
    return Variant(kind, method, runtime, bits, base, relation or implied_relation(kind, method))


def variant_of_card_data(card_data: dict[str, Any] | None) -> Variant | None:
    """The variant of a stored card (``Repo.card_data``: checked when it landed); None if it has none.

    Lines are unknown here, so messages say "front matter"."""
    raw = card_data if isinstance(card_data, dict) else {}
    if KEY not in raw:
        return None
    return parse_variant(card_from_data(raw))


# ------------------------------------------------------------------------------------ commit checks


def _read_config(store: BlobStore, sha256: str, size: int, what: str) -> dict[str, Any]:
    """A config.json's top level, read in full only when it is at most MAX_CONFIG_BYTES."""
    if size > MAX_CONFIG_BYTES:
        raise InvalidVariantError(
            f"{what} is {size} bytes, more than the {MAX_CONFIG_BYTES} a model configuration may have here.",
            hint="A transformers config.json is a few kilobytes: commit the model's own configuration.",
        )
    data = b"".join(store.open_range(sha256, 0, size - 1)) if size else b""
    try:
        parsed = boundedjson.loads(data)
    except ValueError as error:
        raise InvalidVariantError(
            f"{what} is not valid JSON ({str(error)[:200]}).",
            hint="Commit the configuration transformers wrote (save_pretrained), unchanged.",
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidVariantError(f"{what} must be a JSON object, found {type(parsed).__name__}.")
    return parsed


def _architecture(config: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Field → (the name the config uses, its value), for the fields present."""
    found: dict[str, tuple[str, Any]] = {}
    for label, names in ARCHITECTURE_FIELDS:
        for name in names:
            if name in config and config[name] is not None:
                found[label] = (name, config[name])
                break
    return found


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _head_file(session: Session, repo: Repo, path: str) -> tuple[str, int] | None:
    """(sha256, size) of ``path`` at the head of ``repo``'s default branch; None when it has none."""
    row = session.execute(
        select(TreeEntry.sha256, TreeEntry.size)
        .join(Commit, Commit.tree_id == TreeEntry.tree_id)
        .join(Ref, Ref.commit_oid == Commit.oid)
        .where(
            Ref.repo_id == repo.id,
            Ref.kind == "branch",
            Ref.name == repo.default_branch,
            Commit.repo_id == repo.id,
            TreeEntry.path == path,
        )
    ).first()
    return None if row is None else (str(row[0]), int(row[1]))


def _base_repo(session: Session, user: Actor, repo: Repo, base: str) -> Repo:
    missing = InvalidVariantError(
        f"base_model {base!r} is not a model repo on this hub that you may read.",
        hint="A variant's base_model names the model it was made from, as 'namespace/name', on this hub.",
    )
    try:
        key = repos.parse_repo_id("model", base)
    except BadRequestError:
        raise missing from None
    found = repos.find_repo(session, key)
    # A private base the committer may not read is answered exactly as a missing one.
    if found is None or (found.private and not repos.has_role(session, user, found, "read")):
        raise missing
    if found.id == repo.id:
        raise InvalidVariantError(
            f"base_model {base!r} is this repo itself: a variant's base is the model it was made from.",
            hint="Name the original model as base_model.",
        )
    if not repos.can_read_files(session, user, found):
        raise InvalidVariantError(
            f"You may not read the files of base_model {base!r} (a gated repo): its configuration cannot be compared.",
            hint=f"Request access to {base} first, then commit again.",
        )
    return found


def check_commit(
    session: Session,
    store: BlobStore,
    user: Actor,
    repo: Repo,
    variant: Variant,
    base_models: list[str],
    config: tuple[str, int] | None,
) -> None:
    """Refuse a default-branch commit whose card declares ``variant`` and whose files do not fit it.

    ``config`` is (sha256, size) of the new tree's config.json, None when it has none. Raises
    InvalidVariantError (missing, several or unreadable bases, the repo itself, a config.json too
    large or not JSON) or WrongBaseError (the architectures differ, naming the field and both values).
    """
    if len(base_models) != 1:
        found = "none" if not base_models else f"{len(base_models)}: {', '.join(base_models[:5])}"
        raise InvalidVariantError(
            f"A variant names exactly one base_model, the model it was made from; this card names {found}.",
            hint="Write 'base_model: namespace/name' with the one model this variant was made from.",
        )
    base = _base_repo(session, user, repo, base_models[0])
    if variant.kind not in SAME_NETWORK_KINDS or config is None:
        return
    base_entry = _head_file(session, base, CONFIG_FILE)
    if base_entry is None:
        return
    ours = _architecture(_read_config(store, config[0], config[1], CONFIG_FILE))
    theirs = _architecture(
        _read_config(store, base_entry[0], base_entry[1], f"{CONFIG_FILE} of base_model {base.repo_id}")
    )
    for label, _names in ARCHITECTURE_FIELDS:
        if label in ours and label in theirs and ours[label][1] != theirs[label][1]:
            (our_name, our_value), (their_name, their_value) = ours[label], theirs[label]
            raise WrongBaseError(
                f"Wrong base: this {variant.kind} variant's {CONFIG_FILE} has {label} {our_name}={_shown(our_value)}, "
                f"but base_model {base.repo_id} has {their_name}={_shown(their_value)}. "
                f"A {variant.kind} build keeps its base's architecture.",
                hint="Name the model this variant was really made from as base_model, or commit its config.json.",
            )
