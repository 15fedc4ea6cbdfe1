"""Backends answer requests (log-likelihoods, generations) for the runner.

They are registered as lazy ``"module:attr"`` entries so that importing this package (the server,
the CLI's help) never imports torch or an HTTP client; a backend's module is imported only when a
run asks for it. Each entry is a factory ``factory(model, *, runtime=None, **options) -> Backend``.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any

from baton.core.errors import ConfigurationError, NotFoundError

if TYPE_CHECKING:
    from baton.core.runtime import Runtime
    from baton.evaluation.types import Backend

__all__ = ["BACKENDS", "UnknownBackendError", "backend_names", "create_backend"]

BACKENDS: dict[str, str] = {
    "dummy": "baton.evaluation.backends.dummy:DummyBackend",
    "hf": "baton.evaluation.backends.hf:HuggingFaceBackend",
    "onnxruntime": "baton.evaluation.backends.onnxruntime:OnnxRuntimeBackend",
    "openai": "baton.evaluation.backends.openai:OpenAIBackend",
}


class UnknownBackendError(NotFoundError):
    code = "UnknownBackend"


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def _load_factory(name: str) -> Any:
    entry = BACKENDS.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, BACKENDS, n=1)
        suggestion = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownBackendError(
            f"No evaluation backend named {name!r}.{suggestion}",
            hint=f"Pick one of: {', '.join(backend_names())}.",
        )
    module_name, _, attribute = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:  # e.g. torch or transformers missing for "hf"
        raise ConfigurationError(
            f"The {name!r} backend needs a package that is not installed: {error.name or error}",
            hint="Install Baton's ML extras: pip install 'baton[ml]'.",
        ) from error
    return getattr(module, attribute)


def create_backend(name: str, model: str, *, runtime: Runtime | None = None, **options: Any) -> Backend:
    """Build the backend ``name`` for ``model`` (a local folder, a hub repo id, or a served model name)."""
    factory = _load_factory(name)
    backend: Backend = factory(model, runtime=runtime, **options)
    return backend
