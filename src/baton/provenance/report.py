"""Provenance reports a non-specialist can follow: plain-language explanations in Korean and English.

The report's page (``/api/provenance/reports/{id}.html`` and ``baton provenance compare --html``) is
drawn by the web layer (``baton.web.provenance_pages``) from these words and the report's JSON.
"""

from __future__ import annotations

from typing import Any

VERDICT_TEXT = {
    "independent": ("독립적으로 학습됨", "independently trained"),
    "derived": ("파생됨", "derived"),
    "copied": ("복사됨", "copied"),
    "inconclusive": ("판단 보류 (운영자 검토 필요)", "inconclusive (needs an operator's review)"),
}
RELATION_TEXT = {
    "finetune": ("미세조정 또는 추가 사전학습", "fine-tuning or continued pretraining"),
    "quantized": ("양자화", "quantization"),
    "merge": ("모델 병합", "a merge of models"),
    "adapter": ("어댑터", "an adapter"),
    "pruned": ("가지치기(pruning)", "pruning"),
    "upcycled": ("MoE 업사이클링", "MoE upcycling"),
    "copied_component": ("구성요소 복사", "a copied component"),
}


def format_number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def _flagged(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in result.get("components") or [] if c.get("status") in ("derived", "copied")]


def explain(result: dict[str, Any], subject: str, reference: str) -> dict[str, str]:
    """Two short paragraphs, Korean and English, saying what was found and why."""
    verdict = str(result.get("verdict", "inconclusive"))
    relation = result.get("relation")
    verdict_ko, verdict_en = VERDICT_TEXT.get(verdict, (verdict, verdict))
    flagged = _flagged(result)
    names = ", ".join(str(c.get("name")) for c in flagged[:6]) + (" …" if len(flagged) > 6 else "")
    alpha = result.get("alpha", 0.01)
    p_value = format_number(result.get("p_value"))
    ko = [f"판정: {subject} 은(는) {reference} 에 대해 '{verdict_ko}'입니다."]
    en = [f"Verdict: {subject} is {verdict_en} with respect to {reference}."]
    if verdict in ("derived", "copied"):
        if relation in RELATION_TEXT:
            ko.append(f"가중치로 보아 관계는 {RELATION_TEXT[relation][0]}입니다.")
            en.append(f"The weights point to {RELATION_TEXT[relation][1]}.")
        if flagged:
            ko.append(f"근거가 된 구성요소: {names}.")
            en.append(f"Components that carry the evidence: {names}.")
        ko.append(
            f"두 모델이 독립적으로 학습되었다면 이만큼 닮을 확률(p값)은 {p_value}로, 유의수준 {alpha}보다 작습니다."
        )
        en.append(
            f"If the two had been trained independently, weights this alike would occur with "
            f"probability p = {p_value}, below the significance level {alpha}."
        )
    elif verdict == "independent":
        ko.append(
            f"독립적으로 학습된 모델끼리 보이는 정도 이상의 닮음은 없습니다 (p = {p_value}). "
            "구조 설정(config)이 비슷한 것은 참고 정보일 뿐 파생의 증거가 아닙니다."
        )
        en.append(
            f"The weights are no more alike than those of independently trained models (p = {p_value}). "
            "A similar architecture configuration is context only, never evidence of derived weights."
        )
    else:
        ko.append("가중치만으로는 결론을 내릴 수 없어 운영자의 검토가 필요합니다.")
        en.append("The weights do not settle the question; an operator should review the evidence.")
    norms = result.get("norms") or {}
    if norms.get("raw_cosine") is not None:
        ko.append(
            f"정규화 계수(norm gain)의 단순 코사인 유사도는 {format_number(norms.get('raw_cosine'))}이지만, "
            f"좌표를 무작위로 섞어도 {format_number(norms.get('shuffled_raw_cosine'))}이 나오므로 아무것도 말해주지 "
            f"않습니다. 평균을 뺀 상관계수(Pearson)는 {format_number(norms.get('pearson'))}입니다."
        )
        en.append(
            f"The raw cosine of the norm gains is {format_number(norms.get('raw_cosine'))}, but shuffling the "
            f"coordinates gives {format_number(norms.get('shuffled_raw_cosine'))} too, so it says nothing; the "
            f"centered (Pearson) correlation is {format_number(norms.get('pearson'))}."
        )
    return {"ko": " ".join(ko), "en": " ".join(en)}
