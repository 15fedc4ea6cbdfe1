"""The variants of a model as the catalogue, the model's pages and the API show them.

A variant of ``repo`` is a model repo whose card names ``repo`` as its one ``base_model`` (a lineage
edge) and that is a variant: its card declares ``variant:`` (the hub's ``variant_kind`` column, when
the hub keeps it), its relation is ``quantized``, or it has been measured. Each comes with its
latest measurement. Repos the viewer may not read are left out, so a private variant is not even
counted; a private base is the caller's to refuse (``repos.get_repo``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.hub import repos
from baton.hub.models import LineageEdge, Repo
from baton.variants import measure
from baton.variants.models import VariantMeasurement

MAX_VARIANTS = 50  # children looked at per base (a page, a catalogue entry: bounded work per request)
VARIANT_RELATIONS = frozenset({"quantized"})


def _number(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def measurement_json(row: VariantMeasurement) -> dict[str, Any]:
    """What the public sees of a measurement (the manifest's numbers; no server paths)."""
    manifest = row.manifest or {}
    retained = manifest.get("accuracy_retained") or {}
    return {
        "id": row.id,
        "status": row.status,
        "error": row.error,
        "commit": row.commit,
        "base": row.base_repo,
        "base_commit": row.base_commit,
        "runtime": row.runtime,
        "runtime_version": row.runtime_version,
        "task": row.task,
        "items_hash": row.items_hash,
        "n_items": row.n_items,
        "base_accuracy": _number(row.base_accuracy),
        "variant_accuracy": _number(row.variant_accuracy),
        "accuracy_retained": {
            "difference": _number(row.difference),
            "ci95": [_number(row.difference_low), _number(row.difference_high)],
            "method": retained.get("method"),
        },
        "file_size": row.file_size,
        "base_file_size": row.base_file_size,
        "peak_memory": row.peak_memory,
        "base_peak_memory": (manifest.get("base") or {}).get("peak_memory_bytes"),
        "tokens_per_second": _number(row.tokens_per_second),
        "base_tokens_per_second": _number((manifest.get("base") or {}).get("tokens_per_second")),
        "items_per_second": _number(row.items_per_second),
        "latency_ms": {"median": _number(row.latency_median_ms), "p95": _number(row.latency_p95_ms)},
        "speedup": manifest.get("speedup"),
        "machine": manifest.get("machine"),
        "peak_memory_method": manifest.get("peak_memory_method"),
        "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


def variants_of(session: Session, user: Actor | None, repo: Repo) -> list[dict[str, Any]]:
    """The variants of ``repo`` that ``user`` may read, by name, each with its latest measurement."""
    rows = session.execute(
        select(LineageEdge, Repo)
        .join(Repo, Repo.id == LineageEdge.child_repo_id)
        .where(LineageEdge.base == repo.repo_id, Repo.repo_type == "model")
        .order_by(Repo.namespace, Repo.name)
        .limit(MAX_VARIANTS)
    ).all()
    found: list[dict[str, Any]] = []
    for edge, child in rows:
        if child.id == repo.id or (child.private and not repos.has_role(session, user, child, "read")):
            continue
        latest = measure.latest(session, child.id)
        kind = getattr(child, "variant_kind", None) or (latest.kind if latest is not None else None)
        if kind is None and edge.relation not in VARIANT_RELATIONS and latest is None:
            continue  # a fine-tune or a merge: built on it, but not a variant
        found.append(
            {
                "id": child.repo_id,
                "url": f"/{child.repo_id}",
                "kind": kind or edge.relation,
                "method": latest.method if latest is not None else None,
                "runtime": latest.runtime if latest is not None else None,
                "private": child.private,
                "measurement": measurement_json(latest) if latest is not None else None,
            }
        )
    return found


def base_summary(variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The base's own numbers, from its variants' newest ok measurement (same items as theirs)."""
    measured = [v["measurement"] for v in variants if v["measurement"] and v["measurement"]["status"] == "ok"]
    if not measured:
        return None
    newest = max(measured, key=lambda m: (m["finished_at"] is not None, m["finished_at"], m["id"]))
    return {
        "accuracy": newest["base_accuracy"],
        "file_size": newest["base_file_size"],
        "tokens_per_second": newest["base_tokens_per_second"],
        "peak_memory": newest["base_peak_memory"],
        "task": newest["task"],
        "n_items": newest["n_items"],
    }
