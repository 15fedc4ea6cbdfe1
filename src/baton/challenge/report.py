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
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from baton.core.errors import BadRequestError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

LANGUAGES = ("ko", "en")

# The report's words are the web layer's (its gettext catalogues): this module computes, the page and
# the charts' callers translate. Charts take their titles from the caller; these are the fallbacks
# for a caller without a catalogue (scripts, tests).
CHART_TITLES = {
    "composite": "Composite score by criterion, with 95% interval",
    "criteria": "Points per criterion, with 95% intervals",
}
# Colour-blind-safe palette (Okabe–Ito), one colour per criterion in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


class ReportError(BadRequestError):
    code = "DecisionReportError"


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ReportError(f"No report language '{lang}'", hint="Use 'ko' (한국어) or 'en' (English).")
    return lang


def title_in(item: dict[str, Any], lang: str, *, fallback: str | None = None) -> str:
    """An item's title (a stage, a criterion, a gate) in ``lang``: ``title_ko`` on Korean pages when set."""
    if lang == "ko" and item.get("title_ko"):
        return str(item["title_ko"])
    return str(item.get("title") or fallback or item.get("id") or "")


def local_time(value: Any, zone: str) -> str | None:
    """An ISO instant (any offset) as ISO in the challenge's time zone; None and unreadable values as given."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(zone)).isoformat()


def show_time(value: Any, zone: str) -> str:
    """An ISO instant for people: '2026-01-11 09:00 KST (UTC+09:00)' in the challenge's time zone."""
    if not value:
        return "–"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(_zone(zone))
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else "+00:00"
    name = local.tzname() or ""
    named = f" {name}" if name and not name.startswith(("+", "-")) else ""
    return f"{local:%Y-%m-%d %H:%M}{named} (UTC{offset})"


def _zone(zone: str) -> tzinfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def outcome_of(team: dict[str, Any]) -> dict[str, Any]:
    """A team's outcome as structured fields: kind advance / gate / lowest / rank / eliminated, and the gate.

    Pages translate it; the record carries ``eliminated_by`` as ``gate:<id>``, ``lowest`` or ``rank``.
    """
    if team.get("outcome") == "advance":
        return {"kind": "advance", "gate": None}
    reason = str(team.get("eliminated_by") or "")
    if reason.startswith("gate:"):
        return {"kind": "gate", "gate": reason.split(":", 1)[1]}
    if reason in ("lowest", "rank"):
        return {"kind": reason, "gate": None}
    return {"kind": "eliminated", "gate": None}


def _points_ranks(teams: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Rank on the composite's points among every team, gate failures included (for records without it).

    Equal composites (to 6 decimals) keep the decision's order between them.
    """
    ordered = sorted(
        teams, key=lambda t: (-round(float(t.get("composite") or 0.0), 6), t.get("rank") or 10**9, t["team"])
    )
    return {team["team"]: position for position, team in enumerate(ordered, start=1)}


# --------------------------------------------------------------------------------------------- model


def build_report(
    record: dict[str, Any],
    *,
    appeals: Sequence[dict[str, Any]] = (),
    ledger_head: str | None = None,
    timezone: str | None = None,
    entries: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report's data: the decision record, the stage's appeals and the ledger's current head.

    Teams are ordered by their rank on points (``points_rank``: the record's, or computed from the
    composites for records without it), each with its outcome beside it, so a team eliminated by a
    gate stands above the teams it outscored. Each team's criteria follow the record's criterion
    order, so every format lists the same numbers in the same order. Times are given in ``timezone``
    (the challenge's); ``entries`` says how teams entered the stage (``{"via": "repechage", "stage"}``)
    where the record's rows do not.
    """
    for key in ("challenge", "stage", "criteria", "teams"):
        if key not in record:
            raise ReportError(
                f"The decision record has no '{key}'", hint="Render a record from decision_record() unchanged."
            )
    zone = timezone or record.get("timezone") or "UTC"
    criteria = list(record["criteria"])
    order = [criterion["id"] for criterion in criteria]
    computed = _points_ranks(record["teams"])
    known_entries = entries or {}
    teams = []
    for team in sorted(
        record["teams"],
        key=lambda entry: (entry.get("points_rank") or computed[entry["team"]], entry.get("rank") or 10**9),
    ):
        breakdown = []
        for criterion_id in order:
            cell = (team.get("criteria") or {}).get(criterion_id) or {}
            breakdown.append(
                {"criterion": criterion_id}
                | {k: cell.get(k) for k in _CELL_KEYS}
                | {"detail": cell.get("detail") or {}}
            )
        entry = team.get("entry") or known_entries.get(team["team"])
        if entry is None and team.get("repechage"):
            entry = {"via": "repechage", "stage": record["stage"]}
        teams.append(
            team
            | {
                "points_rank": team.get("points_rank") or computed[team["team"]],
                "entry": entry,
                "repechage": bool(entry and entry.get("via") == "repechage"),
                "outcome_reason": outcome_of(team),
                "breakdown": breakdown,
            }
        )
    return {
        "challenge": record["challenge"],
        "stage": record["stage"],
        "stage_title": record.get("stage_title") or record["stage"],
        "stage_title_ko": record.get("stage_title_ko"),
        "spec_version": record.get("spec_version"),
        "timezone": zone,
        "decided_at": local_time(record.get("decided_at"), zone),
        "appeal_days": record.get("appeal_days"),
        "appeal_deadline": local_time(record.get("appeal_deadline"), zone),
        "final": bool(record.get("final")),
        "final_at": local_time(record.get("final_at"), zone),
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
        "gates": list(record.get("gates") or []),
        "appeals": [
            dict(appeal)
            | {key: local_time(appeal.get(key), zone) for key in ("filed_at", "answered_at") if key in appeal}
            for appeal in appeals
        ],
    }


def load_report(session: Session, challenge: str, stage: str) -> dict[str, Any]:
    """The report's data for a stage: its decision record, its appeals and the ledger's head."""
    from baton.challenge import service

    record = service.decision_record(session, challenge, stage)
    appeals = [_public_appeal(appeal) for appeal in record.get("appeals") or []]
    row = service.get_challenge(session, challenge)
    entries = {
        team.slug: {"via": "repechage", "stage": team.entered_stage}
        for team in service.list_teams(session, challenge)
        if team.repechage and team.entered_stage == stage
    }
    zone = service.spec_of(row).timezone
    return build_report(record, appeals=appeals, ledger_head=row.head_hash, timezone=zone, entries=entries)


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
    "points_rank",
    "team",
    "name",
    "entry",
    "outcome",
    "eliminated_by",
    "decision_rank",
    "composite",
    "composite_stderr",
    "composite_lower",
    "composite_upper",
)


def csv_columns(report: dict[str, Any]) -> list[str]:
    """The CSV's one header row: the team columns, then points and interval per criterion (by id)."""
    per_criterion = [
        f"{criterion['id']}_{part}" for criterion in report["criteria"] for part in ("points", "lower", "upper")
    ]
    return [*CSV_COLUMNS, *per_criterion]


def to_csv(report: dict[str, Any]) -> str:
    """One row per team, in the order of the rank on points: its outcome, composite with interval, and
    points with interval per criterion.

    One header row of stable keys (spreadsheets and scripts read them in any language), codes for the
    outcome (``advance``/``eliminated``) and its reason (``gate:<id>``, ``lowest``, ``rank``), and
    ``entry`` as how the team entered the stage (``repechage``, ``advanced``, ``entered`` or empty).
    The text starts with a byte-order mark so that Excel reads it as UTF-8.
    """
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_columns(report))
    for team in report["teams"]:
        cells = {cell["criterion"]: cell for cell in team["breakdown"]}
        row = [
            team.get("points_rank"),
            team["team"],
            team.get("name") or team["team"],
            (team.get("entry") or {}).get("via") or "",
            team.get("outcome"),
            team.get("eliminated_by") or "",
            team.get("rank"),
            _num(team.get("composite")),
            _num(team.get("stderr")),
            _num(team.get("lower")),
            _num(team.get("upper")),
        ]
        for criterion in report["criteria"]:
            cell = cells.get(criterion["id"]) or {}
            row += [_num(cell.get("points")), _num(cell.get("lower")), _num(cell.get("upper"))]
        writer.writerow(row)
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


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """A conservative estimate of ``text``'s width in a sans-serif font at ``size``: wide characters
    (Hangul, CJK) take an em, capitals three quarters, the rest 0.6 (bold 10% more)."""
    ems = 0.0
    for char in text:
        if unicodedata.combining(char):
            continue
        if unicodedata.east_asian_width(char) in ("W", "F"):
            ems += 1.0
        elif char.isupper() or char in "mw@%":
            ems += 0.75
        else:
            ems += 0.6
    return ems * size * (1.1 if bold else 1.0)


def _svg_text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}">{escape(text)}</text>'
    )


def _team_label(team: dict[str, Any]) -> str:
    return f"{team.get('points_rank') or team.get('rank') or '-'}. {team['team']}"


def composite_chart_svg(report: dict[str, Any], lang: str = "en", *, title: str | None = None) -> str:
    """Horizontal bars: each team's composite stacked by criterion, with its 95% interval as a whisker.

    Teams stand in the order of their rank on points; the teams that advance are in bold. The margins
    and the legend's columns are sized from the labels' widths, so no label is cut off.
    """
    check_language(lang)
    heading = title or CHART_TITLES["composite"]
    teams, criteria = report["teams"], report["criteria"]
    total = max(report["total"], max((float(t.get("upper") or 0) for t in teams), default=0.0), 1e-9)
    labels = [_team_label(team) for team in teams]
    left = max(60.0, *(text_width(label, 12, bold=True) + 16 for label in labels)) if labels else 60.0
    plot, right, row, top = 520, 56, 30, 40
    legend = [f"{title_in(c, lang)} ({float(c.get('weight') or 0):g})" for c in criteria]
    column = max((16 + text_width(item, 11) + 20 for item in legend), default=0.0)
    width = max(left + plot + right, column + 20, text_width(heading, 12, bold=True) + 20)
    columns = max(1, min(3, len(legend), int((width - 20) // max(column, 1.0))))
    legend_rows = (len(legend) + columns - 1) // columns
    height = top + row * max(1, len(teams)) + 40 + 20 * legend_rows
    scale = plot / total
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" font-family="sans-serif">',
        f"<title>{escape(heading)}</title>",
        _svg_text(10, 18, heading, weight="bold"),
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
        weight = "bold" if team.get("outcome") == "advance" else "normal"
        parts.append(_svg_text(left - 8, y + 17, labels[index], anchor="end", weight=weight))
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
            shown = f"{float(composite):.2f}"
            end = left + max(float(composite), float(upper or 0)) * scale
            parts.append(_svg_text(min(end + 6, width - 4 - text_width(shown, 11)), y + 17, shown, size=11))
    legend_y = axis_y + 34
    for position, item in enumerate(legend):
        x = 10 + (position % columns) * column
        y = legend_y + (position // columns) * 20
        colour = PALETTE[position % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(_svg_text(x + 16, y, item, size=11))
    parts.append("</svg>")
    return "".join(parts)


def criteria_chart_svg(report: dict[str, Any], lang: str = "en", *, title: str | None = None) -> str:
    """One panel per criterion: each team's points with its 95% interval, on the criterion's 0..weight.

    The team labels' column and the panels are as wide as their longest label needs.
    """
    check_language(lang)
    heading = title or CHART_TITLES["criteria"]
    teams, criteria = report["teams"], report["criteria"]
    row, value_room = 22, 44
    left = max([60.0, *(text_width(str(team["team"]), 10) + 12 for team in teams)])
    titles = [f"{title_in(c, lang)} (0–{float(c.get('weight') or 0.0):g})" for c in criteria]
    panel_width = max([300.0, *(text_width(name, 11, bold=True) + 8 - left for name in titles)])
    panel_height = 36 + row * max(1, len(teams))
    columns = 2
    rows = (len(criteria) + columns - 1) // columns
    width = max(20 + columns * (panel_width + left), text_width(heading, 12, bold=True) + 20)
    height = 30 + rows * (panel_height + 16)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" font-family="sans-serif">',
        f"<title>{escape(heading)}</title>",
        _svg_text(10, 18, heading, weight="bold"),
    ]
    for position, criterion in enumerate(criteria):
        origin_x = 10 + (position % columns) * (panel_width + left) + left
        origin_y = 30 + (position // columns) * (panel_height + 16)
        weight = float(criterion.get("weight") or 0.0)
        top_value = max(
            [weight, *(float(team["breakdown"][position].get("upper") or 0.0) for team in teams)], default=weight
        )
        scale = (panel_width - value_room) / max(top_value, 1e-9)
        colour = PALETTE[position % len(PALETTE)]
        parts.append(_svg_text(origin_x - left + 4, origin_y + 12, titles[position], size=11, weight="bold"))
        for index, team in enumerate(teams):
            cell = team["breakdown"][position]
            y = origin_y + 20 + index * row
            parts.append(_svg_text(origin_x - 6, y + 13, str(team["team"]), anchor="end", size=10))
            points = max(0.0, float(cell.get("points") or 0.0))
            parts.append(
                f'<rect x="{origin_x:.1f}" y="{y + 3}" width="{points * scale:.1f}" height="12" fill="{colour}"/>'
            )
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
