"""Provenance reports a non-specialist can follow: plain-language explanations in Korean and
English, and a self-contained HTML page (no scripts, no external assets) beside the JSON.
"""

from __future__ import annotations

import html
import json
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
STATUS_COLORS = {"independent": "#1b7f3b", "derived": "#b35c00", "copied": "#b00020", "inconclusive": "#5b5b5b"}


def _number(value: Any, digits: int = 3) -> str:
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
    p_value = _number(result.get("p_value"))
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
            f"정규화 계수(norm gain)의 단순 코사인 유사도는 {_number(norms.get('raw_cosine'))}이지만, "
            f"좌표를 무작위로 섞어도 {_number(norms.get('shuffled_raw_cosine'))}이 나오므로 아무것도 말해주지 "
            f"않습니다. 평균을 뺀 상관계수(Pearson)는 {_number(norms.get('pearson'))}입니다."
        )
        en.append(
            f"The raw cosine of the norm gains is {_number(norms.get('raw_cosine'))}, but shuffling the "
            f"coordinates gives {_number(norms.get('shuffled_raw_cosine'))} too, so it says nothing; the "
            f"centered (Pearson) correlation is {_number(norms.get('pearson'))}."
        )
    return {"ko": " ".join(ko), "en": " ".join(en)}


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            text = html.escape(_number(value) if not isinstance(value, str) else value)
            if key == "status" and isinstance(value, str):
                color = STATUS_COLORS.get(value, "#333")
                text = f'<span class="status" style="background:{color}">{text}</span>'
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


WITHHELD_TEXT = (
    "기준 모델은 비공개 저장소입니다. 가명과 (저장소, 리비전)에 대한 솔트 해시 약속값만 공개하며, 층별 통계와 "
    "설정(config)은 공개하지 않습니다. 판정, p값, 구성요소별 결과는 공개됩니다.",
    "The reference model is in a private repo: it is named by a pseudonym and a salted hash commitment to its "
    "(repo, revision); its per-layer statistics and configuration are withheld. The verdict, p-value and "
    "per-component results are public.",
)


def render_html(result: dict[str, Any], subject: str, reference: str, *, withheld: bool = False) -> str:
    """A self-contained page: verdict, explanation (KO/EN), components, norms, context, JSON.

    ``withheld``: ``result`` is the public view of a report on a private reference (no evidence,
    norms or context); the page says so instead of showing empty sections.
    """
    verdict = str(result.get("verdict", "inconclusive"))
    verdict_ko, verdict_en = VERDICT_TEXT.get(verdict, (verdict, verdict))
    words = explain(result, subject, reference)
    columns = [
        ("name", "component / 구성요소"),
        ("status", "status / 상태"),
        ("source", "source / 출처"),
        ("test", "test / 검정"),
        ("statistic", "statistic / 통계량"),
        ("p_value", "p"),
    ]
    if withheld:  # the source layer and statistics describe the private reference
        columns = [column for column in columns if column[0] not in ("source", "statistic")]
    components = _table(list(result.get("components") or []), columns)
    evidence_rows = list(result.get("evidence") or [])
    evidence = (
        _table(evidence_rows, [(key, key) for key in sorted({k for row in evidence_rows for k in row})])
        if evidence_rows
        else "<p>—</p>"
    )
    norms = result.get("norms") or {}
    context = result.get("context") or {}
    color = STATUS_COLORS.get(verdict, "#333")
    correction = html.escape(str(result.get("correction", "")))
    if withheld:
        notice = (
            f'<p class="withheld" lang="ko">{html.escape(WITHHELD_TEXT[0])}</p>\n'
            f'<p class="withheld" lang="en">{html.escape(WITHHELD_TEXT[1])}</p>'
        )
        details = ""
    else:
        notice = ""
        details = f"""<h2>정규화 계수 · Norm gains (the LayerNorm trap)</h2>
<p>raw cosine {html.escape(_number(norms.get("raw_cosine")))} · shuffled baseline
 {html.escape(_number(norms.get("shuffled_raw_cosine")))} · Pearson {html.escape(_number(norms.get("pearson")))}
 · p {html.escape(_number(norms.get("p_value")))}</p>
<h2>참고 정보 (증거 아님) · Context (not evidence)</h2>
<pre>{html.escape(json.dumps(context, ensure_ascii=False, indent=2))}</pre>
<h2>근거 표 · Evidence</h2>
{evidence}
"""
    return f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8">
<title>Provenance: {html.escape(subject)} vs {html.escape(reference)}</title>
<style>
body{{font-family:system-ui,"Noto Sans KR",sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}}
.verdict{{display:inline-block;padding:.3em .8em;border-radius:4px;color:#fff;background:{color};font-weight:600}}
.status{{padding:.1em .5em;border-radius:3px;color:#fff}}
table{{border-collapse:collapse;width:100%;margin:1em 0;font-size:.9em}}
th,td{{border:1px solid #ddd;padding:.3em .5em;text-align:left}} th{{background:#f4f4f4}}
pre{{background:#f7f7f7;padding:1em;overflow:auto;font-size:.8em}} .muted{{color:#666}}
</style></head><body>
<h1>출처 분석 보고서 · Provenance report</h1>
<p><b>{html.escape(subject)}</b> vs <b>{html.escape(reference)}</b></p>
<p><span class="verdict">{html.escape(verdict_ko)} · {html.escape(verdict_en)}</span>
 relation: <b>{html.escape(str(result.get("relation") or "—"))}</b>,
 p = <b>{html.escape(_number(result.get("p_value")))}</b>,
 α = {html.escape(_number(result.get("alpha")))}</p>
<p class="muted">{correction}</p>
{notice}
<h2>설명 · Explanation</h2>
<p lang="ko">{html.escape(words["ko"])}</p>
<p lang="en">{html.escape(words["en"])}</p>
<h2>구성요소별 판정 · Components</h2>
{components}
{details}
<details><summary>JSON</summary><pre>{html.escape(json.dumps(result, ensure_ascii=False, indent=2))}</pre></details>
</body></html>
"""
