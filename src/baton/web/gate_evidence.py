"""A gate standing's evidence as short lines in the reader's language (from the decision record alone).

The record's ``gates.<id>.evidence`` is what the public ledger carries: private references already
sealed (pseudonym and commitment), no provenance report ids. These lines condense it; every word of
them comes from the catalogues, the codes (verdicts, component kinds, statuses) included. Names
(references, files, criteria, licenses) are shown as recorded.
"""

from __future__ import annotations

from typing import Any

from baton.web.i18n import N_, translate

_CODES = {
    # verdicts and relations of the provenance engine
    "derived": N_("derived"),
    "copied": N_("copied"),
    "independent": N_("independent"),
    "inconclusive": N_("inconclusive"),
    "finetune": N_("fine-tuned"),
    "copied_component": N_("copied component"),
    "merge": N_("merged"),
    "quantized": N_("quantized"),
    "adapter": N_("adapter"),
    # component kinds (spec.COMPONENT_KINDS)
    "embeddings": N_("embeddings"),
    "lm_head": N_("output head"),
    "final_norm": N_("final norm"),
    "blocks": N_("blocks"),
    "encoder": N_("encoder"),
    "projector": N_("projector"),
    "other": N_("other"),
    # threshold measures
    "value": N_("normalized value"),
    "points": N_("points"),
}
# Why a from-scratch gate allowed (or did not allow) a reuse: the service's fixed phrases.
_WHY = {
    "the team's own model": N_("the team's own model"),
    "an allowed base": N_("an allowed base"),
    "not allowed": N_("not allowed"),
}
_ONLY_ALLOWED = "only allowed components: "


def evidence_lines(standing: dict[str, Any], lang: str) -> list[str]:
    """One line per reference, document or fact behind a team's standing at a gate ([] without evidence)."""
    evidence = standing.get("evidence")
    kind = standing.get("kind")
    if evidence is None or kind is None:
        return []
    if kind == "threshold" and isinstance(evidence, dict):
        return [
            translate(
                lang,
                N_("%(criterion)s %(measure)s %(value)s (minimum %(minimum)s)"),
                criterion=evidence.get("criterion"),
                measure=_code(evidence.get("measure"), lang),
                value=_number(evidence.get("value")),
                minimum=_number(evidence.get("minimum")),
            )
        ]
    if kind == "license" and isinstance(evidence, dict):
        found = str(evidence.get("license") or translate(lang, N_("none")))
        if found == "other" and evidence.get("license_name"):
            found = f"other ({evidence['license_name']})"
        lines = [
            translate(
                lang,
                N_("license: %(license)s; allowed: %(allowed)s"),
                license=found,
                allowed=", ".join(evidence.get("allowed") or []),
            )
        ]
        license_file = evidence.get("license_file")
        if isinstance(license_file, dict):
            lines.append(
                translate(
                    lang,
                    N_("%(path)s: %(bytes)s bytes, %(digest)s"),
                    path=license_file.get("path"),
                    bytes=license_file.get("bytes"),
                    digest=_digest(license_file, lang),
                )
            )
        return lines
    if kind == "documents" and isinstance(evidence, list):
        return [_document(item, lang) for item in evidence if isinstance(item, dict)]
    if kind == "independence" and isinstance(evidence, list):
        return [_reference(item, lang) for item in evidence if isinstance(item, dict)]
    return []


def _code(value: Any, lang: str) -> str:
    text = str(value)
    return translate(lang, _CODES[text]) if text in _CODES else text


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _digest(item: dict[str, Any], lang: str) -> str:
    digest = item.get("sha256")
    return f"sha256 {str(digest)[:12]}…" if digest else translate(lang, N_("no digest"))


def _document(item: dict[str, Any], lang: str) -> str:
    name = item.get("path")
    if not item.get("present"):
        return translate(lang, N_("%(path)s: missing"), path=name)
    state = (
        translate(lang, N_("ok"))
        if item.get("ok")
        else translate(lang, N_("under %(bytes)s bytes"), bytes=item.get("min_bytes"))
    )
    return translate(
        lang,
        N_("%(path)s: %(bytes)s bytes, %(digest)s, %(state)s"),
        path=name,
        bytes=item.get("bytes"),
        digest=_digest(item, lang),
        state=state,
    )


def _why(value: str, lang: str) -> str:
    if value in _WHY:
        return translate(lang, _WHY[value])
    if value.startswith(_ONLY_ALLOWED):
        kinds = ", ".join(_code(kind.strip(), lang) for kind in value.removeprefix(_ONLY_ALLOWED).split(","))
        return translate(lang, N_("only allowed components: %(kinds)s"), kinds=kinds)
    return value


def _reference(item: dict[str, Any], lang: str) -> str:
    parts = [str(item.get("reference"))]
    words = [_code(v, lang) for v in (item.get("verdict"), item.get("relation")) if v]
    if item.get("declared"):
        words.insert(0, translate(lang, N_("declared")))
    if words:
        verdict = ", ".join(words)
        if isinstance(item.get("p_value"), int | float):
            verdict += f", p={item['p_value']:.2g}"
        parts.append(f"({verdict})")
    components = []
    for component in item.get("components") or []:
        if not isinstance(component, dict):
            continue
        described = [_code(component.get("kind"), lang), _code(component.get("status"), lang)]
        if component.get("allowed") is not None:
            described.append(translate(lang, N_("allowed") if component.get("allowed") else N_("not allowed")))
        components.append(f"{component.get('name')} ({', '.join(described)})")
    line = " ".join(parts)
    if components:
        line += ": " + ", ".join(components)
    if item.get("why"):
        line += f" — {_why(str(item['why']), lang)}"
    return line
