"""Turn evidence into the fixed output vocabulary, and the result's JSON shape.

Verdicts and component statuses: ``independent``, ``derived``, ``copied``, ``inconclusive``.
Relations: ``finetune``, ``quantized``, ``merge``, ``adapter``, ``pruned``, ``upcycled``,
``copied_component``, or null. Other parts of Baton rely on these words; do not add to them
without changing those parts too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from baton.core.multiple_testing import holm_sidak, sidak

Status = Literal["independent", "derived", "copied", "inconclusive"]
Relation = Literal["finetune", "quantized", "merge", "adapter", "pruned", "upcycled", "copied_component"]

STATUSES: tuple[str, ...] = ("independent", "derived", "copied", "inconclusive")
RELATIONS: tuple[str, ...] = ("finetune", "quantized", "merge", "adapter", "pruned", "upcycled", "copied_component")

CORRECTION = (
    "Each test's p-value is a permutation p-value with the +1 correction, (1 + draws at least as extreme) / "
    "(1 + draws); only beyond every null draw is the tail extrapolated, by the Student-t prediction interval of "
    "the draws (which carries the error of their estimated mean and spread). "
    "Within a component, the smallest p-value of its tests is Šidák-corrected for the number of tests; "
    "across components, Holm–Šidák step-down; the overall p-value is the smallest adjusted component "
    "p-value (Šidák over all tested components). Scanning against several reference models: "
    "Bonferroni over the references (statistics.bonferroni_over_references)."
)


@dataclass
class Evidence:
    """One test on one component: a row of the evidence table."""

    component: str
    source: str | None
    test: str
    statistic: float
    null_mean: float
    null_std: float
    p_value: float
    detail: dict[str, Any] = field(default_factory=dict)
    counted: bool = True  # False: shown for context, not used for the verdict (see `detail["why"]`)


@dataclass
class NormEvidence:
    """The LayerNorm trap, made explicit: raw cosine beside its shuffle baseline and Pearson."""

    component: str
    tensor: str
    source_tensor: str
    raw_cosine: float
    shuffled_raw_cosine: float
    pearson: float
    p_value: float


@dataclass
class ComponentResult:
    name: str
    status: str
    source: str | None
    p_value: float | None  # Holm–Šidák adjusted; None when nothing could be tested
    test: str
    statistics: dict[str, float] = field(default_factory=dict)


@dataclass
class ComparisonResult:
    model: str
    reference: str
    verdict: str
    relation: str | None
    p_value: float
    alpha: float
    correction: str
    components: list[ComponentResult]
    evidence: list[Evidence]
    norms: list[NormEvidence]
    alignment: dict[str, Any]
    layer_alignment: list[tuple[str, str]]
    transformations: list[str]
    config_likeness: dict[str, Any]
    explanation: dict[str, str]

    def component(self, name: str) -> ComponentResult:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    def score(self) -> float:
        """-log10 of the overall p-value (capped at 300): one number for separation plots."""
        import math

        return min(300.0, -math.log10(max(self.p_value, 1e-300)))

    def norm_summary(self) -> dict[str, Any]:
        """The LayerNorm-trap numbers averaged over the norm tensors, with every tensor listed."""
        tensors = [asdict(n) for n in self.norms]
        if not self.norms:
            return {"count": 0, "tensors": []}
        count = len(self.norms)
        return {
            "count": count,
            "raw_cosine": sum(n.raw_cosine for n in self.norms) / count,
            "shuffled_raw_cosine": sum(n.shuffled_raw_cosine for n in self.norms) / count,
            "pearson": sum(n.pearson for n in self.norms) / count,
            "p_value": sidak([n.p_value for n in self.norms]),
            "tensors": tensors,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["layer_alignment"] = [list(pair) for pair in self.layer_alignment]
        data["norms"] = self.norm_summary()
        return _plain(data)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    import math

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


@dataclass
class ComponentEvidence:
    """What compare() gathered for one component of the model under test."""

    name: str
    tests: list[Evidence] = field(default_factory=list)
    copied_source: str | None = None
    copied_fraction: float = 0.0
    copy_p_value: float = 1.0


def decide(gathered: list[ComponentEvidence], alpha: float) -> tuple[list[ComponentResult], float, dict[str, float]]:
    """Component statuses, the overall p-value, and each component's adjusted p-value."""
    raw: dict[str, float] = {}
    for component in gathered:
        p_values = [e.p_value for e in component.tests if e.counted]
        if component.copied_fraction >= 0.5:
            p_values.append(component.copy_p_value)
        if p_values:
            raw[component.name] = sidak(p_values)
    names = list(raw)
    adjusted = dict(zip(names, holm_sidak([raw[n] for n in names]), strict=True))
    results: list[ComponentResult] = []
    for component in gathered:
        p_value = adjusted.get(component.name)
        counted = [e for e in component.tests if e.counted]
        best = min(counted, key=lambda e: e.p_value) if counted else None
        source = best.source if best else None
        statistics: dict[str, float] = {}
        for e in component.tests:
            statistics.setdefault(e.test, e.statistic)
        if component.copied_fraction >= 0.5 and component.copy_p_value <= alpha:
            status, source, test = "copied", component.copied_source, "exact_copy"
            statistics["copied_fraction"] = component.copied_fraction
        elif p_value is None:
            status, test = "inconclusive", "none"
        elif p_value <= alpha:
            status, test = "derived", best.test if best else "none"
        else:
            status, test, source = "independent", best.test if best else "none", None
        results.append(ComponentResult(component.name, status, source, p_value, test, statistics))
    overall = min(adjusted.values()) if adjusted else 1.0
    return results, overall, adjusted


def overall_verdict(
    components: list[ComponentResult], p_value: float, alpha: float, core: set[str] | None = None
) -> str:
    """``copied`` when copying is the whole story (a bit-exact model, or copied parts in an otherwise
    independent model); ``derived`` when the core blocks (``core``) are mostly derived."""
    tested = [c for c in components if c.status != "inconclusive"]
    flagged = [c for c in tested if c.status in ("derived", "copied")]
    if not tested:
        return "inconclusive"
    if not flagged or p_value > alpha:
        return "independent"
    if all(c.status == "copied" for c in tested):
        return "copied"
    core_tested = [c for c in tested if core is None or c.name in core]
    core_flagged = [c for c in core_tested if c.status in ("derived", "copied")]
    if core_tested and len(core_flagged) * 2 >= len(core_tested):
        return "derived"
    return "copied" if any(c.status == "copied" for c in flagged) else "derived"


def explain(verdict: str, relation: str | None, p_value: float, alpha: float, flagged: list[str]) -> dict[str, str]:
    where = ", ".join(flagged[:6]) + (" …" if len(flagged) > 6 else "")
    if verdict == "independent":
        return {
            "en": (
                f"No component is more similar to the reference than independently trained weights are "
                f"(overall p = {p_value:.3g} > α = {alpha}). Raw cosine of norm gains is shown beside its "
                "shuffle baseline: it is high for any two models and is not evidence."
            ),
            "ko": (
                f"어떤 구성 요소도 독립적으로 학습된 가중치보다 기준 모델과 더 닮지 않았습니다 "
                f"(전체 p = {p_value:.3g} > α = {alpha}). 정규화 계수의 단순 코사인 유사도는 좌표를 섞은 기준값과 "
                "함께 표시됩니다. 어떤 두 모델이든 높게 나오므로 증거가 되지 않습니다."
            ),
        }
    if verdict == "inconclusive":
        return {
            "en": "The two checkpoints share no component that could be compared; no conclusion is drawn.",
            "ko": "두 체크포인트에 비교할 수 있는 구성 요소가 없어 결론을 내리지 않습니다.",
        }
    kind = {"copied": "copied from", "derived": "derived from"}[verdict]
    kind_ko = {"copied": "복사되었습니다", "derived": "파생되었습니다"}[verdict]
    relation_text = f" (relation: {relation})" if relation else ""
    return {
        "en": (
            f"Weights were {kind} the reference{relation_text}: {where}. Overall p = {p_value:.3g} "
            f"≤ α = {alpha}, after correcting for the number of components tested."
        ),
        "ko": (
            f"가중치가 기준 모델에서 {kind_ko}{relation_text}: {where}. 검정한 구성 요소 수를 보정한 뒤 "
            f"전체 p = {p_value:.3g} ≤ α = {alpha}."
        ),
    }
