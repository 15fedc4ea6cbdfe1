"""The reproducibility manifest every run carries: what was evaluated, with what, how."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from baton.core import clock
from baton.evaluation.types import Backend, Item

PACKAGES = ("baton", "torch", "transformers", "tokenizers", "numpy", "scipy", "httpx")
MANIFEST_VERSION = 1


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def items_hash(items: Sequence[Item]) -> str:
    """sha256 over the evaluated items (ids, prompts, choices, answers, groups), in order."""
    digest = hashlib.sha256()
    for item in items:
        row = [item.item_id, item.prompt, list(item.choices), item.answer, item.group]
        digest.update(json.dumps(row, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def build_manifest(
    task: Any,
    backend: Backend,
    items: Sequence[Item],
    *,
    limit: int | None,
    seed: int,
    by_generation: bool = False,
) -> dict[str, Any]:
    """The manifest of one run; ``task`` is described by its ``describe()`` when it has one."""
    settings = backend.describe()
    described = task.describe() if callable(getattr(task, "describe", None)) else {}
    task_part = {"name": getattr(task, "name", None), "version": getattr(task, "version", None)} | described
    task_part |= {"items_sha256": items_hash(items), "item_count": len(items), "limit": limit}
    return {
        "manifest_version": MANIFEST_VERSION,
        "created_at": clock.now().isoformat(timespec="seconds"),
        "task": task_part,
        "multiple_choice_by_generation": by_generation,
        "model": {
            "spec": settings.get("model"),
            "repo_id": settings.get("repo_id"),
            "revision": settings.get("revision"),
            "commit": settings.get("commit"),
            "weight_hash": settings.get("weight_hash"),
        },
        "backend": settings,
        "chat_template": settings.get("chat_template"),
        "truncation": settings.get("truncation"),
        "generation": settings.get("generation"),
        "seed": seed,
        "packages": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(), "executable": sys.implementation.name},
    }
