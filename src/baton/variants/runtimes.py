"""Runtimes that load and run variants: a small plug-in registry.

A runtime has a ``name`` (what a card's ``variant.runtime`` says), the variant ``kinds`` it runs, a
``version()``, ``check(folder)`` (load the artifact and run it on a few tokens; raise
:class:`VariantLoadError` saying which file, what the runtime said and what to do) and
``backend(folder, **options)`` (an evaluation backend, for measuring it).

Built in: ``transformers`` (safetensors checkpoints, torchao quantized ones included) and
``onnxruntime`` (``model.onnx``). Others come from installed packages through the entry-point group
``baton.runtimes``: each entry's value is ``"module:attr"``, a factory called with no arguments that
returns a runtime. Listing the names (``runtime_names``) imports nothing; a plug-in's module is
imported the first time its runtime is asked for. See docs/variants.md ("Runtimes are plug-ins").
"""

from __future__ import annotations

import difflib
import importlib
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from baton.core.errors import BadRequestError, ConfigurationError, NotFoundError

if TYPE_CHECKING:
    from baton.evaluation.types import Backend

ENTRY_POINT_GROUP = "baton.runtimes"
CHECK_TEXT = "The capital of Korea is Seoul."
CHECK_TOKENS = 8  # token ids run when a folder has no tokenizer


class VariantLoadError(BadRequestError):
    code = "VariantLoadFailed"
    default_hint = "Re-create the variant from its base and commit every file it needs."


class UnknownRuntimeError(NotFoundError):
    code = "UnknownRuntime"


@runtime_checkable
class VariantRuntime(Protocol):
    """What Baton needs of a runtime to check and measure the variants that name it."""

    name: str
    kinds: tuple[str, ...]  # the variant kinds it runs (quantized, pruned, distilled, onnx, compiled)

    def version(self) -> str: ...

    def check(self, folder: Path) -> dict[str, Any]:
        """Load the artifact in ``folder`` and run it on a few tokens; details for the record."""
        ...

    def backend(self, folder: Path, **options: Any) -> Backend:
        """An evaluation backend answering requests with the artifact in ``folder``."""
        ...


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:500]


def check_ids(folder: Path, vocab_size: int | None) -> list[int]:
    """A few token ids to run: the tokenizer's encoding of a sentence, else the first ids."""
    try:
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        ids: list[int] = tokenizer(CHECK_TEXT)["input_ids"]
        if ids:
            return ids
    except Exception:  # noqa: BLE001 - no usable tokenizer: plain ids below
        pass
    return list(range(min(CHECK_TOKENS, vocab_size or CHECK_TOKENS)))


def _vocab_size(folder: Path) -> int | None:
    import json

    try:
        value = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("vocab_size")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and value > 0 else None


class TransformersRuntime:
    """Checkpoints ``transformers`` loads with ``AutoModelForCausalLM`` (torchao quantized ones too)."""

    name: str = "transformers"
    kinds: tuple[str, ...] = ("quantized", "pruned", "distilled")

    def version(self) -> str:
        import transformers

        return str(transformers.__version__)

    def check(self, folder: Path) -> dict[str, Any]:
        import torch
        import transformers

        if not (folder / "config.json").is_file():
            raise VariantLoadError(
                "The variant has no config.json, so transformers cannot load it.",
                hint="Commit the config.json that save_pretrained wrote beside the weights.",
            )
        started = time.perf_counter()
        try:
            model: Any = transformers.AutoModelForCausalLM.from_pretrained(folder, device_map="cpu")
        except Exception as error:
            raise VariantLoadError(
                f"transformers {self.version()} could not load the checkpoint: {first_line(error)}",
                hint="Save the variant again with save_pretrained(safe_serialization=True) and commit every file.",
            ) from error
        loaded = time.perf_counter() - started
        ids = check_ids(folder, getattr(model.config, "vocab_size", None))
        started = time.perf_counter()
        try:
            with torch.inference_mode():
                logits = model(input_ids=torch.tensor([ids])).logits
        except Exception as error:
            raise VariantLoadError(
                f"transformers loaded the checkpoint but running it on {len(ids)} tokens failed: {first_line(error)}",
                hint="Check that the weights match config.json (shapes, vocabulary) and re-create the variant.",
            ) from error
        if not bool(torch.isfinite(logits).all()):
            raise VariantLoadError(
                "The checkpoint runs but gives non-finite logits (NaN or infinity).",
                hint="Re-create the variant from its base; the weights or scales are corrupt.",
            )
        return {
            "file": "config.json",
            "tokens": len(ids),
            "logits_shape": list(logits.shape),
            "load_seconds": round(loaded, 3),
            "run_seconds": round(time.perf_counter() - started, 3),
        }

    def backend(self, folder: Path, **options: Any) -> Backend:
        from baton.evaluation.backends import create_backend

        return create_backend("hf", str(folder), **options)


class OnnxRuntimeRuntime:
    """ONNX graphs (``model.onnx`` with ``input_ids``/``attention_mask`` in, ``logits`` out) on CPU."""

    name: str = "onnxruntime"
    kinds: tuple[str, ...] = ("onnx",)
    graph = "model.onnx"

    def version(self) -> str:
        import onnxruntime  # type: ignore[import-untyped]

        return str(onnxruntime.__version__)

    def check(self, folder: Path) -> dict[str, Any]:
        import numpy as np
        import onnxruntime

        path = folder / self.graph
        if not path.is_file():
            raise VariantLoadError(
                f"The variant has no {self.graph} at its top level.",
                hint="Commit the exported graph as model.onnx (baton.variants.produce.export_onnx writes it).",
            )
        started = time.perf_counter()
        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:
            raise VariantLoadError(
                f"{self.graph} ({path.stat().st_size} bytes) does not load in onnxruntime {self.version()}: "
                f"{first_line(error)}",
                hint="The graph is damaged or truncated: export it again (torch.onnx.export or "
                "baton.variants.produce.export_onnx) and commit the whole file, with its external data file if any.",
            ) from error
        loaded = time.perf_counter() - started
        inputs = {item.name for item in session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= inputs:
            raise VariantLoadError(
                f"{self.graph} takes the inputs {sorted(inputs)}, not input_ids and attention_mask.",
                hint="Export a causal LM whose graph takes input_ids and attention_mask and returns logits, no cache.",
            )
        if "logits" not in {item.name for item in session.get_outputs()}:
            raise VariantLoadError(
                f"{self.graph} has no output named logits.", hint="Name the graph's output 'logits' when exporting."
            )
        ids = check_ids(folder, _vocab_size(folder))
        array = np.array([ids], dtype=np.int64)
        started = time.perf_counter()
        try:
            feed = {"input_ids": array, "attention_mask": np.ones_like(array)}
            if "logit_positions" in {item.name for item in session.get_inputs()}:
                feed["logit_positions"] = np.arange(array.shape[1], dtype=np.int64)
            (logits,) = session.run(["logits"], feed)
        except Exception as error:
            raise VariantLoadError(
                f"{self.graph} loads but running it on {len(ids)} tokens failed: {first_line(error)}",
                hint="Check that the graph's vocabulary matches config.json and the tokenizer; export it again.",
            ) from error
        if not bool(np.isfinite(logits).all()):
            raise VariantLoadError(
                f"{self.graph} runs but gives non-finite logits (NaN or infinity).",
                hint="Export and quantize the graph again from the base.",
            )
        return {
            "file": self.graph,
            "bytes": path.stat().st_size,
            "tokens": len(ids),
            "logits_shape": list(np.shape(logits)),
            "load_seconds": round(loaded, 3),
            "run_seconds": round(time.perf_counter() - started, 3),
        }

    def backend(self, folder: Path, **options: Any) -> Backend:
        from baton.evaluation.backends import create_backend

        return create_backend("onnxruntime", str(folder), **options)


BUILT_IN: dict[str, Callable[[], VariantRuntime]] = {
    TransformersRuntime.name: TransformersRuntime,
    OnnxRuntimeRuntime.name: OnnxRuntimeRuntime,
}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in BUILT_IN:  # a plug-in cannot replace a built-in runtime
            found.setdefault(entry.name, entry)
    return found


def runtime_names() -> list[str]:
    """Built-in and plug-in runtime names (reading the entry points imports no plug-in)."""
    return sorted(set(BUILT_IN) | set(_entry_points()))


def get_runtime(name: str) -> VariantRuntime:
    """The runtime called ``name``: a built-in, else the plug-in registered under that name."""
    factory: Callable[[], Any] | None = BUILT_IN.get(name)
    if factory is None:
        entry = _entry_points().get(name)
        if entry is None:
            close = difflib.get_close_matches(name, runtime_names(), n=1)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownRuntimeError(
                f"No variant runtime named {name!r}.{suggestion}",
                hint=f"Use one of: {', '.join(runtime_names())}; a vendor's runtime is installed as a package "
                f"registering the entry point group {ENTRY_POINT_GROUP!r}.",
            )
        try:
            module_name, _, attribute = entry.value.partition(":")
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ConfigurationError(
                f"The runtime plug-in {name!r} ({entry.value}) could not be imported: {first_line(error)}",
                hint="Reinstall the package that provides it, or uninstall it.",
            ) from error
    assert factory is not None
    runtime = factory()
    if not isinstance(runtime, VariantRuntime) or runtime.name != name:
        raise ConfigurationError(
            f"The runtime plug-in {name!r} returned {type(runtime).__name__}, not a runtime named {name!r}.",
            hint="Its factory must return an object with name, kinds, version(), check(folder) and backend(folder).",
        )
    return runtime
