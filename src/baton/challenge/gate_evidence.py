"""A gate standing's evidence as short lines for the decision report (pure; from the record alone).

The record's ``gates.<id>.evidence`` is what the public ledger carries: private references already
sealed (pseudonym and commitment), no provenance report ids. These lines only condense it.
"""

from __future__ import annotations

from typing import Any


def evidence_lines(standing: dict[str, Any]) -> list[str]:
    """One line per reference, document or fact behind a team's standing at a gate ([] without evidence)."""
    evidence = standing.get("evidence")
    kind = standing.get("kind")
    if evidence is None or kind is None:
        return []
    if kind == "threshold" and isinstance(evidence, dict):
        return [
            f"{evidence.get('criterion')} {evidence.get('measure')} {_number(evidence.get('value'))} "
            f"(minimum {_number(evidence.get('minimum'))})"
        ]
    if kind == "license" and isinstance(evidence, dict):
        found = evidence.get("license") or "none"
        if found == "other" and evidence.get("license_name"):
            found = f"other ({evidence['license_name']})"
        lines = [f"license: {found}; allowed: {', '.join(evidence.get('allowed') or [])}"]
        license_file = evidence.get("license_file")
        if isinstance(license_file, dict):
            lines.append(f"{license_file.get('path')}: {license_file.get('bytes')} bytes, {_digest(license_file)}")
        return lines
    if kind == "documents" and isinstance(evidence, list):
        return [_document(item) for item in evidence if isinstance(item, dict)]
    if kind == "independence" and isinstance(evidence, list):
        return [_reference(item) for item in evidence if isinstance(item, dict)]
    return []


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _digest(item: dict[str, Any]) -> str:
    digest = item.get("sha256")
    return f"sha256 {str(digest)[:12]}…" if digest else "no digest"


def _document(item: dict[str, Any]) -> str:
    name = item.get("path")
    if not item.get("present"):
        return f"{name}: missing"
    state = "ok" if item.get("ok") else f"under {item.get('min_bytes')} bytes"
    return f"{name}: {item.get('bytes')} bytes, {_digest(item)}, {state}"


def _reference(item: dict[str, Any]) -> str:
    parts = [str(item.get("reference"))]
    verdict = ", ".join(str(v) for v in (item.get("verdict"), item.get("relation")) if v)
    if item.get("declared"):
        verdict = "declared" + (f", {verdict}" if verdict else "")
    if verdict:
        parts.append(f"({verdict}")
        parts[-1] += f", p={item['p_value']:.2g})" if isinstance(item.get("p_value"), int | float) else ")"
    components = [
        f"{c.get('name')} ({c.get('kind')}, {c.get('status')}"
        + ("" if c.get("allowed") is None else ", allowed" if c.get("allowed") else ", not allowed")
        + ")"
        for c in item.get("components") or []
        if isinstance(c, dict)
    ]
    if components:
        parts.append(": " + ", ".join(components))
    if item.get("why"):
        parts.append(f"— {item['why']}")
    return " ".join(parts).replace(" :", ":")
