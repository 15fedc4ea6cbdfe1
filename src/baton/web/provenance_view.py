"""A provenance report as the page shows it: the verdict as a sentence, the evidence as table rows and
the per-component chart's geometry, every word through the catalogues in the reader's language.

The report's JSON (``ComparisonResult.to_json``, or its public form from ``provenance.access``) holds
codes (verdicts, statuses, relations, test names) and nested details; nothing of it reaches the page
as a Python value: codes are translated, numbers formatted, details flattened to "label: value".
Names (components, tensors, references) are shown as recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from baton.challenge.service.gates import component_kind
from baton.provenance.compare import CKA_CONTEXT
from baton.provenance.report import format_number
from baton.web.i18n import N_, translate

VERDICTS: Final = {
    "derived": N_("derived"),
    "copied": N_("copied"),
    "independent": N_("independent"),
    "inconclusive": N_("inconclusive"),
}
RELATIONS: Final = {
    "finetune": N_("fine-tuning or continued pretraining"),
    "quantized": N_("quantization"),
    "merge": N_("a merge of models"),
    "adapter": N_("an adapter"),
    "pruned": N_("pruning"),
    "upcycled": N_("MoE upcycling"),
    "copied_component": N_("a copied component"),
}
REASONS: Final = {
    "declared": N_("the model card declares it as a base (declared)"),
    "digest": N_("they share identical tensors (not declared)"),
    "component": N_("the component index found a similar component (not declared)"),
    "width": N_("it has the same width: every such model is compared (not declared)"),
}
KINDS: Final = {
    "embeddings": N_("embeddings"),
    "lm_head": N_("output head"),
    "final_norm": N_("final norm"),
    "blocks": N_("block"),
    "encoder": N_("encoder"),
    "projector": N_("projector"),
    "other": N_("other"),
}
TESTS: Final = {
    "mlp_unit_matching": N_("MLP unit matching"),
    "mlp_unit_matching_stored_basis": N_("MLP unit matching (reference basis)"),
    "attention_cka": N_("attention CKA"),
    "norm_gain_pearson": N_("norm gains (Pearson)"),
    "exact_copy": N_("exact copy"),
    "none": N_("not tested"),
}
# The engine's fixed phrases in a test's details (``provenance.compare``), in the reader's language.
DETAIL_PHRASES: Final = {
    "unpaired layers": N_("unpaired layers"),
    "signed permutations of the reference's residual basis": N_(
        "signed permutations of the reference's residual basis"
    ),
    CKA_CONTEXT: N_(
        "Attention CKA (as AWM) is shown for comparison but not counted: independently trained models "
        "learn similar attention subspaces, most of all in the first layers, so its null is not calibrated."
    ),
}
DETAIL_LABELS: Final = {
    "block": N_("block"),
    "reference_block": N_("reference block"),
    "tensor": N_("tensor"),
    "reference_tensor": N_("reference tensor"),
    "null": N_("null model"),
    "null_size": N_("null draws"),
    "raw_cosine": N_("raw cosine"),
    "shuffled_raw_cosine": N_("shuffled baseline"),
    "why": N_("why not counted"),
}
# How sure the sentence sounds: the overall p-value against the significance level α.
VERY_STRONG_FACTOR: Final = 1e-6


@dataclass(frozen=True)
class Bar:
    """One component's bar: its label, −log10 p, where the bar ends, and its status (for the colour)."""

    label: str
    value: str
    y: int
    width: float
    status: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    width: int
    height: int
    left: int  # where bars start
    span: int  # the bars' full length (the axis maximum)
    threshold_x: float | None  # −log10 α on the axis; None without α
    threshold: str
    maximum: str


def _t(lang: str, message: str, **values: object) -> str:
    return translate(lang, message, **values)


def code(lang: str, table: dict[str, str], value: Any) -> str:
    """A code in the reader's language; an unknown one as it is, a missing one as a dash."""
    if value is None or value == "":
        return "—"
    text = str(value)
    return _t(lang, table[text]) if text in table else text


def _p(value: Any) -> str:
    return format_number(value)


def verdict_sentence(result: dict[str, Any], subject: str, reference: str, lang: str) -> str:
    """The verdict first, in one plain sentence, with how strong the evidence is."""
    verdict = str(result.get("verdict") or "inconclusive")
    relation = result.get("relation")
    p_value = result.get("p_value")
    alpha = result.get("alpha") or 0.01
    names = {"subject": subject, "reference": reference, "p": _p(p_value), "alpha": format_number(alpha)}
    if verdict in ("derived", "copied"):
        strong = isinstance(p_value, int | float) and p_value <= alpha * VERY_STRONG_FACTOR
        strength = (
            _t(lang, N_("The evidence is very strong"))
            if strong
            else _t(lang, N_("The evidence is strong enough to conclude"))
        )
        if verdict == "copied":
            first = _t(lang, N_("%(subject)s copies weights of %(reference)s."), **names)
        elif relation in RELATIONS:
            first = _t(
                lang,
                N_("%(subject)s was derived from %(reference)s, by %(how)s."),
                how=_t(lang, RELATIONS[str(relation)]),
                **names,
            )
        else:
            first = _t(lang, N_("%(subject)s was derived from %(reference)s."), **names)
        second = _t(
            lang, N_("%(strength)s: p = %(p)s, below the significance level α = %(alpha)s."), strength=strength, **names
        )
        return f"{first} {second}"
    if verdict == "independent":
        return _t(
            lang,
            N_(
                "%(subject)s was trained independently of %(reference)s: its weights are no more alike than "
                "those of unrelated models (p = %(p)s; α = %(alpha)s)."
            ),
            **names,
        )
    return _t(
        lang,
        N_(
            "The weights do not settle whether %(subject)s derives from %(reference)s (p = %(p)s); an operator "
            "should review the evidence."
        ),
        **names,
    )


def _statistics(component: dict[str, Any], lang: str) -> str:
    values = component.get("statistics")
    if not isinstance(values, dict) or not values:
        return "—"
    return "; ".join(f"{code(lang, TESTS, name)} {format_number(value)}" for name, value in values.items())


def component_rows(result: dict[str, Any], lang: str, *, withheld: bool) -> list[dict[str, str]]:
    """Per component: name, kind, status (code and words), test, statistics (unless withheld), p-value."""
    rows = []
    for component in result.get("components") or []:
        if not isinstance(component, dict):
            continue
        name = str(component.get("name") or "?")
        status = str(component.get("status") or "inconclusive")
        rows.append(
            {
                "name": name,
                "kind": code(lang, KINDS, component_kind(name)),
                "status": status,
                "status_text": code(lang, VERDICTS, status),
                "test": code(lang, TESTS, component.get("test")),
                "statistics": "—" if withheld else _statistics(component, lang),
                "p_value": _p(component.get("p_value")),
            }
        )
    return rows


def _detail_value(value: Any, lang: str) -> str:
    """A nested value as words: booleans as yes/no, lists joined, mappings as "key = value"."""
    if isinstance(value, bool):
        return _t(lang, N_("yes") if value else N_("no"))
    if isinstance(value, dict):
        return ", ".join(f"{key} = {_detail_value(item, lang)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_detail_value(item, lang) for item in value)
    if isinstance(value, str) and value in DETAIL_PHRASES:
        return _t(lang, DETAIL_PHRASES[value])
    return format_number(value)


def _details(detail: Any, lang: str) -> list[tuple[str, str]]:
    if not isinstance(detail, dict):
        return []
    return [(code(lang, DETAIL_LABELS, key), _detail_value(value, lang)) for key, value in detail.items()]


def evidence_rows(result: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Per test: component, reference part, test, statistic against its null, p-value, counted, details."""
    rows = []
    for item in result.get("evidence") or []:
        if not isinstance(item, dict):
            continue
        counted = item.get("counted", True) is not False
        mean, std = item.get("null_mean"), item.get("null_std")
        rows.append(
            {
                "component": str(item.get("component") or "?"),
                "source": str(item.get("source") or "—"),
                "test": code(lang, TESTS, item.get("test")),
                "statistic": format_number(item.get("statistic")),
                "null": f"{format_number(mean)} ± {format_number(std)}" if mean is not None else "—",
                "p_value": _p(item.get("p_value")),
                "counted": counted,
                "details": _details(item.get("detail"), lang),
            }
        )
    return rows


def norm_rows(result: dict[str, Any]) -> list[dict[str, str]]:
    norms = result.get("norms")
    tensors = norms.get("tensors") if isinstance(norms, dict) else None
    return [
        {
            "tensor": str(row.get("tensor") or "?"),
            "raw_cosine": format_number(row.get("raw_cosine")),
            "shuffled_raw_cosine": format_number(row.get("shuffled_raw_cosine")),
            "pearson": format_number(row.get("pearson")),
            "p_value": _p(row.get("p_value")),
        }
        for row in tensors or []
        if isinstance(row, dict)
    ]


def context_rows(result: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The configuration's likeness and the residual alignment: context, never evidence."""
    rows: list[tuple[str, str]] = []
    likeness = result.get("config_likeness")
    if isinstance(likeness, dict) and likeness:
        rows.append((_t(lang, N_("Configuration likeness")), format_number(likeness.get("likeness"))))
        rows.append((_t(lang, N_("Identical settings")), ", ".join(map(str, likeness.get("identical") or [])) or "—"))
        rows.append((_t(lang, N_("Differing settings")), ", ".join(map(str, likeness.get("differing") or [])) or "—"))
    alignment = result.get("alignment")
    if isinstance(alignment, dict):
        for tower, found in alignment.items():
            if isinstance(found, dict):
                rows.append((_t(lang, N_("Alignment of %(tower)s"), tower=tower), _detail_value(found, lang)))
    pairs = result.get("layer_alignment")
    if isinstance(pairs, list) and pairs:
        text = ", ".join(" ↔ ".join(map(str, pair)) for pair in pairs if isinstance(pair, list | tuple))
        rows.append((_t(lang, N_("Layers paired")), text))
    transformations = result.get("transformations")
    if isinstance(transformations, list) and transformations:
        rows.append((_t(lang, N_("Transformations found")), ", ".join(map(str, transformations))))
    return rows


# The chart: one bar per component, its label above it (never clipped), −log10 p along the axis.
CHART_WIDTH: Final = 560
CHART_LEFT: Final = 8
CHART_RIGHT: Final = 80  # room for the value after the longest bar
ROW: Final = 38
TOP: Final = 8
AXIS_CAP: Final = 300.0


def _score(p_value: Any) -> float | None:
    if isinstance(p_value, bool) or not isinstance(p_value, int | float) or p_value < 0:
        return None
    return min(AXIS_CAP, -math.log10(max(float(p_value), 10**-AXIS_CAP)))


def chart(result: dict[str, Any], lang: str) -> Chart | None:
    """The per-component chart of −log10 p with the threshold −log10 α; None when nothing was tested."""
    tested = [
        (str(c.get("name") or "?"), _score(c.get("p_value")), str(c.get("status") or "inconclusive"))
        for c in result.get("components") or []
        if isinstance(c, dict)
    ]
    tested = [(name, score, status) for name, score, status in tested if score is not None]
    if not tested:
        return None
    alpha = result.get("alpha")
    threshold = -math.log10(alpha) if isinstance(alpha, int | float) and 0 < alpha < 1 else None
    top = max([score for _n, score, _s in tested if score is not None] + [threshold * 1.5 if threshold else 1.0])
    span = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    bars = [
        Bar(
            label=f"{name} · {code(lang, VERDICTS, status)}",
            value=format_number(score, 2),
            y=TOP + index * ROW,
            width=round(max(1.0, span * (score or 0.0) / top), 1),
            status=status,
        )
        for index, (name, score, status) in enumerate(tested)
    ]
    return Chart(
        bars=bars,
        width=CHART_WIDTH,
        height=TOP + len(bars) * ROW + 28,
        left=CHART_LEFT,
        span=span,
        threshold_x=round(CHART_LEFT + span * threshold / top, 1) if threshold is not None else None,
        threshold=format_number(threshold, 2) if threshold is not None else "",
        maximum=format_number(top, 2),
    )
