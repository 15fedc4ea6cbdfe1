"""A stage's decision report: every number behind the decision, in JSON and CSV, and the charts of its page.

The report is rendered from the decision record the challenge engine publishes (see
``baton.challenge.service.decision_record``), plus the stage's appeals. Voters and reviewers appear
only under the pseudonyms the record carries; ``check_pseudonymous`` refuses a report that would name
one of them. Plots are inline SVG drawn here (no plotting library): the composite score per team
stacked by criterion with its 95% interval, and each criterion's points with their intervals. The
report's page is the web layer's (``baton.web.challenge_pages``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from baton.core.errors import BadRequestError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LANGUAGES = ("ko", "en")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Decision report",
        "stage": "Stage",
        "decided_at": "Decided at",
        "appeal_deadline": "Appeal window closes",
        "final": "Final",
        "not_final": "Not final yet (appeal window open or appeals unanswered)",
        "ledger_head": "Ledger head hash",
        "decision_head": "Computed from ledger event",
        "seed": "Seed",
        "rank": "Rank",
        "team": "Team",
        "composite": "Composite",
        "interval": "95% interval",
        "outcome": "Outcome",
        "advance": "Advances",
        "eliminated": "Eliminated",
        "eliminated_by": "Reason",
        "criteria": "Criteria",
        "criterion": "Criterion",
        "group": "Group",
        "weight": "Weight",
        "normalization": "Normalization",
        "value": "Value",
        "stderr": "Std. error",
        "points": "Points",
        "lower": "Lower",
        "upper": "Upper",
        "breakdown": "Breakdown per criterion",
        "gates": "Gates",
        "gate": "Gate",
        "source": "Source",
        "reason": "Reason",
        "tie_breaks": "Tie-breaks",
        "rule": "Rule",
        "order": "Order",
        "arena": "User evaluation (arena)",
        "rating": "Rating",
        "votes_total": "Votes cast",
        "votes_used": "Votes used",
        "excluded_reveals": "Excluded: answer reveals the model",
        "excluded_contrarian": "Excluded: votes of contrarian voters",
        "contrarian_voters": "Voters whose votes contradict the consensus beyond chance",
        "reviews": "Expert review",
        "reviewers": "Reviewers (pseudonyms)",
        "totals": "Rubric totals",
        "aggregate": "Aggregate",
        "method": "Method",
        "appeals": "Appeals",
        "filed_at": "Filed",
        "text": "Appeal",
        "answer": "Answer",
        "upheld": "Upheld",
        "pending": "Awaiting an answer",
        "yes": "yes",
        "no": "no",
        "none": "None",
        "chart_composite": "Composite score by criterion, with 95% interval",
        "chart_criteria": "Points per criterion, with 95% intervals",
        "downloads": "Download",
        "other_language": "한국어",
        "verify": "Recompute it yourself: baton challenge verify --bundle ledger.jsonl --head HASH",
        "pseudonyms": "Voters and reviewers appear under pseudonyms (a keyed hash, stable within the challenge).",
    },
    "ko": {
        "title": "평가 결과 보고서",
        "stage": "단계",
        "decided_at": "결정 시각",
        "appeal_deadline": "이의 신청 마감",
        "final": "확정",
        "not_final": "미확정 (이의 신청 기간 중이거나 답변되지 않은 이의 신청이 있음)",
        "ledger_head": "원장 최신 해시",
        "decision_head": "계산에 쓰인 원장 항목",
        "seed": "시드",
        "rank": "순위",
        "team": "팀",
        "composite": "종합 점수",
        "interval": "95% 구간",
        "outcome": "결과",
        "advance": "진출",
        "eliminated": "탈락",
        "eliminated_by": "사유",
        "criteria": "평가 항목",
        "criterion": "평가 항목",
        "group": "분류",
        "weight": "배점",
        "normalization": "정규화",
        "value": "값",
        "stderr": "표준오차",
        "points": "점수",
        "lower": "하한",
        "upper": "상한",
        "breakdown": "항목별 점수",
        "gates": "요건 심사",
        "gate": "요건",
        "source": "근거",
        "reason": "사유",
        "tie_breaks": "동점 처리",
        "rule": "규칙",
        "order": "순서",
        "arena": "사용자 평가 (아레나)",
        "rating": "레이팅",
        "votes_total": "전체 투표",
        "votes_used": "반영된 투표",
        "excluded_reveals": "제외: 모델을 드러낸 답변",
        "excluded_contrarian": "제외: 합의에 반하는 투표자의 투표",
        "contrarian_voters": "우연으로 보기 어려울 만큼 합의에 반하는 투표자",
        "reviews": "전문가 평가",
        "reviewers": "평가위원 (가명)",
        "totals": "루브릭 합계",
        "aggregate": "집계",
        "method": "방법",
        "appeals": "이의 신청",
        "filed_at": "신청 시각",
        "text": "신청 내용",
        "answer": "답변",
        "upheld": "인용",
        "pending": "답변 대기",
        "yes": "예",
        "no": "아니오",
        "none": "없음",
        "chart_composite": "항목별 종합 점수와 95% 구간",
        "chart_criteria": "항목별 점수와 95% 구간",
        "downloads": "내려받기",
        "other_language": "English",
        "verify": "직접 다시 계산하기: baton challenge verify --bundle ledger.jsonl --head HASH",
        "pseudonyms": "투표자와 평가위원은 가명(대회별 비밀키 해시)으로 표시됩니다.",
    },
}

OUTCOME_LABELS = {"advance": "advance", "eliminated": "eliminated"}
# Colour-blind-safe palette (Okabe–Ito), one colour per criterion in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


class ReportError(BadRequestError):
    code = "DecisionReportError"


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ReportError(f"No report language '{lang}'", hint="Use 'ko' (한국어) or 'en' (English).")
    return lang


def labels(lang: str) -> dict[str, str]:
    return LABELS[check_language(lang)]


# --------------------------------------------------------------------------------------------- model


def build_report(
    record: dict[str, Any],
    *,
    appeals: Sequence[dict[str, Any]] = (),
    ledger_head: str | None = None,
) -> dict[str, Any]:
    """The report's data: the decision record, the stage's appeals and the ledger's current head.

    Teams are ordered by rank; each team's criteria follow the record's criterion order, so every
    format lists the same numbers in the same order.
    """
    for key in ("challenge", "stage", "criteria", "teams"):
        if key not in record:
            raise ReportError(
                f"The decision record has no '{key}'", hint="Render a record from decision_record() unchanged."
            )
    criteria = list(record["criteria"])
    order = [criterion["id"] for criterion in criteria]
    teams = []
    for team in sorted(record["teams"], key=lambda entry: (entry.get("rank") or 10**9, entry["team"])):
        breakdown = []
        for criterion_id in order:
            cell = (team.get("criteria") or {}).get(criterion_id) or {}
            breakdown.append(
                {"criterion": criterion_id}
                | {k: cell.get(k) for k in _CELL_KEYS}
                | {"detail": cell.get("detail") or {}}
            )
        teams.append(team | {"breakdown": breakdown})
    return {
        "challenge": record["challenge"],
        "stage": record["stage"],
        "stage_title": record.get("stage_title") or record["stage"],
        "spec_version": record.get("spec_version"),
        "decided_at": record.get("decided_at"),
        "appeal_days": record.get("appeal_days"),
        "appeal_deadline": record.get("appeal_deadline"),
        "final": bool(record.get("final")),
        "final_at": record.get("final_at"),
        "decision_head": record.get("head"),
        "decision_head_seq": record.get("head_seq"),
        "ledger_head": ledger_head,
        "seed": record.get("seed"),
        "total": float(record.get("total") or sum(float(c.get("weight") or 0) for c in criteria)),
        "criteria": criteria,
        "teams": teams,
        "advance": list(record.get("advance") or []),
        "eliminated": list(record.get("eliminated") or []),
        "tie_breaks": list(record.get("tie_breaks") or []),
        "arena": record.get("arena") or {},
        "reviews": record.get("reviews") or {},
        "appeals": [dict(appeal) for appeal in appeals],
    }


def load_report(session: Session, challenge: str, stage: str) -> dict[str, Any]:
    """The report's data for a stage: its decision record, its appeals and the ledger's head."""
    from baton.challenge import service

    record = service.decision_record(session, challenge, stage)
    appeals = [_public_appeal(appeal) for appeal in record.get("appeals") or []]
    head = service.get_challenge(session, challenge).head_hash
    return build_report(record, appeals=appeals, ledger_head=head)


def _public_appeal(appeal: dict[str, Any]) -> dict[str, Any]:
    # An appeal is the team's; the person who filed it and the operator who answered stay out of it.
    keys = ("id", "stage", "team", "text", "filed_at", "answer", "upheld", "answered_at")
    return {key: appeal.get(key) for key in keys}


_CELL_KEYS = ("value", "stderr", "points", "lower", "upper")


def check_pseudonymous(report: dict[str, Any], names: Iterable[str]) -> None:
    """Refuse a report in which a voter's or reviewer's account name appears."""
    text = json.dumps(report, ensure_ascii=False)
    leaked = sorted(name for name in set(names) if name and f'"{name}"' in text)
    if leaked:
        raise ReportError(
            f"The report would name {len(leaked)} voter(s) or reviewer(s) instead of their pseudonyms",
            hint="Publish only records whose voters and reviewers are pseudonymised.",
        )


# --------------------------------------------------------------------------------------------- JSON, CSV


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2, sort_keys=False)


CSV_COLUMNS = (
    "rank",
    "team",
    "outcome",
    "eliminated_by",
    "composite",
    "lower",
    "upper",
    "criterion",
    "weight",
    "value",
    "stderr",
    "points",
    "criterion_lower",
    "criterion_upper",
)


def to_csv(report: dict[str, Any], lang: str = "en") -> str:
    """One row per team and criterion: the breakdown behind each composite, with its interval.

    Column names are the stable English keys in both languages (spreadsheets and scripts read
    them); ``lang`` adds a second header row with the Korean names when it is ``ko``.
    """
    text = labels(lang)
    weights = {criterion["id"]: criterion.get("weight") for criterion in report["criteria"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    if lang == "ko":
        writer.writerow(
            [
                text["rank"],
                text["team"],
                text["outcome"],
                text["eliminated_by"],
                text["composite"],
                text["lower"],
                text["upper"],
                text["criterion"],
                text["weight"],
                text["value"],
                text["stderr"],
                text["points"],
                text["lower"],
                text["upper"],
            ]
        )
    for team in report["teams"]:
        for cell in team["breakdown"]:
            writer.writerow(
                [
                    team.get("rank"),
                    team["team"],
                    team.get("outcome"),
                    team.get("eliminated_by") or "",
                    _num(team.get("composite")),
                    _num(team.get("lower")),
                    _num(team.get("upper")),
                    cell["criterion"],
                    _num(weights.get(cell["criterion"])),
                    _num(cell.get("value")),
                    _num(cell.get("stderr")),
                    _num(cell.get("points")),
                    _num(cell.get("lower")),
                    _num(cell.get("upper")),
                ]
            )
    return buffer.getvalue()


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(round(float(value), 6))
    return str(value)


# --------------------------------------------------------------------------------------------- SVG


def _svg_text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}">{escape(text)}</text>'
    )


def composite_chart_svg(report: dict[str, Any], lang: str = "en") -> str:
    """Horizontal bars: each team's composite stacked by criterion, with its 95% interval as a whisker."""
    text = labels(lang)
    teams, criteria = report["teams"], report["criteria"]
    total = max(report["total"], max((float(t.get("upper") or 0) for t in teams), default=0.0), 1e-9)
    left, right, row, top = 150, 30, 30, 40
    plot = 520
    legend_rows = (len(criteria) + 2) // 3
    height = top + row * max(1, len(teams)) + 40 + 20 * legend_rows
    width = left + plot + right
    scale = plot / total
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f"<title>{escape(text['chart_composite'])}</title>",
        _svg_text(left, 18, text["chart_composite"], weight="bold"),
    ]
    step = _grid_step(total)
    tick = 0.0
    axis_y = top + row * max(1, len(teams))
    while tick <= total + 1e-9:
        x = left + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{axis_y}" stroke="#ddd"/>')
        parts.append(_svg_text(x, axis_y + 14, f"{tick:g}", anchor="middle", size=10))
        tick += step
    for index, team in enumerate(teams):
        y = top + index * row
        label = f"{team.get('rank') or '-'}. {team['team']}"
        weight = "bold" if team.get("outcome") == "advance" else "normal"
        parts.append(_svg_text(left - 8, y + 17, label, anchor="end", weight=weight))
        x = float(left)
        for position, cell in enumerate(team["breakdown"]):
            points = max(0.0, float(cell.get("points") or 0.0))
            w = points * scale
            colour = PALETTE[position % len(PALETTE)]
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 5}" width="{w:.1f}" height="16" fill="{colour}" '
                f'data-criterion="{escape(str(cell["criterion"]))}"><title>{escape(str(cell["criterion"]))}: '
                f"{points:.2f}</title></rect>"
            )
            x += w
        composite, lower, upper = team.get("composite"), team.get("lower"), team.get("upper")
        if lower is not None and upper is not None:
            x1, x2, yc = left + float(lower) * scale, left + float(upper) * scale, y + 13
            parts.append(
                f'<g class="interval" stroke="#000" stroke-width="1.5"><line x1="{x1:.1f}" y1="{yc}" '
                f'x2="{x2:.1f}" y2="{yc}"/><line x1="{x1:.1f}" y1="{yc - 6}" x2="{x1:.1f}" y2="{yc + 6}"/>'
                f'<line x1="{x2:.1f}" y1="{yc - 6}" x2="{x2:.1f}" y2="{yc + 6}"/></g>'
            )
        if composite is not None:
            end = left + max(float(composite), float(upper or 0)) * scale
            parts.append(_svg_text(min(end + 6, width - 2), y + 17, f"{float(composite):.2f}", size=11))
    legend_y = axis_y + 34
    for position, criterion in enumerate(criteria):
        x = left + (position % 3) * 180
        y = legend_y + (position // 3) * 20
        colour = PALETTE[position % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        name = str(criterion.get("title") or criterion["id"])
        parts.append(_svg_text(x + 16, y, f"{name} ({float(criterion.get('weight') or 0):g})", size=11))
    parts.append("</svg>")
    return "".join(parts)


def criteria_chart_svg(report: dict[str, Any], lang: str = "en") -> str:
    """One panel per criterion: each team's points with its 95% interval, on the criterion's 0..weight."""
    text = labels(lang)
    teams, criteria = report["teams"], report["criteria"]
    panel_width, left, row = 300, 110, 22
    panel_height = 36 + row * max(1, len(teams))
    columns = 2
    rows = (len(criteria) + columns - 1) // columns
    width, height = columns * (panel_width + left) + 20, 30 + rows * (panel_height + 16)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f"<title>{escape(text['chart_criteria'])}</title>",
        _svg_text(10, 18, text["chart_criteria"], weight="bold"),
    ]
    for position, criterion in enumerate(criteria):
        origin_x = 10 + (position % columns) * (panel_width + left) + left
        origin_y = 30 + (position // columns) * (panel_height + 16)
        weight = float(criterion.get("weight") or 0.0)
        top_value = max(
            [weight, *(float(team["breakdown"][position].get("upper") or 0.0) for team in teams)], default=weight
        )
        scale = (panel_width - 40) / max(top_value, 1e-9)
        colour = PALETTE[position % len(PALETTE)]
        name = str(criterion.get("title") or criterion["id"])
        parts.append(_svg_text(origin_x - left + 4, origin_y + 12, f"{name} (0–{weight:g})", size=11, weight="bold"))
        for index, team in enumerate(teams):
            cell = team["breakdown"][position]
            y = origin_y + 20 + index * row
            parts.append(_svg_text(origin_x - 6, y + 13, str(team["team"]), anchor="end", size=10))
            points = max(0.0, float(cell.get("points") or 0.0))
            parts.append(f'<rect x="{origin_x}" y="{y + 3}" width="{points * scale:.1f}" height="12" fill="{colour}"/>')
            lower, upper = cell.get("lower"), cell.get("upper")
            if lower is not None and upper is not None:
                x1, x2, yc = origin_x + float(lower) * scale, origin_x + float(upper) * scale, y + 9
                parts.append(
                    f'<g class="interval" stroke="#000"><line x1="{x1:.1f}" y1="{yc}" x2="{x2:.1f}" y2="{yc}"/>'
                    f'<line x1="{x1:.1f}" y1="{yc - 4}" x2="{x1:.1f}" y2="{yc + 4}"/>'
                    f'<line x1="{x2:.1f}" y1="{yc - 4}" x2="{x2:.1f}" y2="{yc + 4}"/></g>'
                )
            parts.append(
                _svg_text(origin_x + max(points, float(upper or 0)) * scale + 4, y + 13, f"{points:.2f}", size=10)
            )
    parts.append("</svg>")
    return "".join(parts)


def _grid_step(total: float) -> float:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000):
        if total / step <= 10:
            return float(step)
    return total / 10


# --------------------------------------------------------------------------------------------- numbers


def format_number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):.{digits}f}"
    return str(value)
