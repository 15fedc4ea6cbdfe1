"""The decision report: JSON, CSV and HTML (Korean and English) from a decision record, SVG plots."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest

from baton.challenge import report
from baton.core.errors import BadRequestError
from baton.web.challenge_pages import render_report


def _record() -> dict[str, Any]:
    criteria = [
        {"id": "national", "title": "National set", "group": "benchmarks", "kind": "benchmark", "weight": 10.0},
        {"id": "expert", "title": "Expert review", "group": "review", "kind": "review", "weight": 35.0},
        {"id": "arena", "title": "User evaluation", "group": "arena", "kind": "arena", "weight": 25.0},
    ]
    values = {
        "team-a": (0.9, 0.8, 0.7),
        "team-b": (0.5, 0.9, 0.6),
        "team-c": (0.2, 0.3, 0.4),
    }
    teams = []
    for rank, (team, triple) in enumerate(values.items(), start=1):
        cells = {}
        for criterion, value in zip(criteria, triple, strict=True):
            points = criterion["weight"] * value
            cells[criterion["id"]] = {
                "value": value,
                "stderr": 0.02,
                "points": points,
                "lower": points - 1.0,
                "upper": points + 1.0,
                "detail": {},
            }
        composite = sum(cell["points"] for cell in cells.values())
        teams.append(
            {
                "team": team,
                "name": team.upper(),
                "rank": rank,
                "composite": composite,
                "lower": composite - 2.5,
                "upper": composite + 2.5,
                "outcome": "advance" if rank < 3 else "eliminated",
                "eliminated_by": None if rank < 3 else "rank",
                "gates": {"independence": {"outcome": "pass", "source": "provenance", "reason": "no derivation"}},
                "criteria": cells,
            }
        )
    teams[1]["gates"]["independence"] = {
        "outcome": "pass",
        "source": "override",
        "reason": "the shared tokenizer is a public one; the operator checked",
    }
    return {
        "challenge": "demo-challenge",
        "stage": "stage-1",
        "stage_title": "Stage 1",
        "spec_version": 1,
        "decided_at": "2026-01-15T09:00:00+00:00",
        "appeal_days": 10,
        "appeal_deadline": "2026-01-25T09:00:00+00:00",
        "head": "ab" * 32,
        "head_seq": 41,
        "seed": 7,
        "total": 70.0,
        "criteria": criteria,
        # Out of rank order on purpose: the report orders by rank.
        "teams": [teams[2], teams[0], teams[1]],
        "advance": ["team-a", "team-b"],
        "eliminated": ["team-c"],
        "tie_breaks": [],
        "arena": {
            "arena": {
                "ratings": {
                    "team-a": {"rating": 1040.0, "lower": 1010.0, "upper": 1070.0, "rank": 1},
                    "team-b": {"rating": 1000.0, "lower": 970.0, "upper": 1030.0, "rank": 2},
                },
                "votes_total": 120,
                "votes_used": 100,
                "excluded": {"reveals_identity": 5, "contrarian": 15},
                "contrarian_voters": ["voter-0a1b2c3d"],
            }
        },
        "reviews": {
            "expert": {
                "team-a": {
                    "reviewers": ["reviewer-11aa22bb", "reviewer-33cc44dd"],
                    "totals": [0.8, 0.82],
                    "aggregate": 0.81,
                    "lower": 0.78,
                    "upper": 0.84,
                    "method": "trimmed_mean",
                }
            }
        },
        "final": False,
    }


APPEALS = [
    {
        "id": 1,
        "stage": "stage-1",
        "team": "team-c",
        "text": "이의 있음: 점수 재검토 요청",
        "filed_at": "2026-01-16",
        "answer": "재계산 결과 동일합니다",
        "upheld": False,
        "answered_at": "2026-01-20",
    },
]


def test_json_keeps_every_number_and_orders_by_rank() -> None:
    data = report.build_report(_record(), appeals=APPEALS, ledger_head="cd" * 32)
    parsed = json.loads(report.to_json(data))
    assert [team["team"] for team in parsed["teams"]] == ["team-a", "team-b", "team-c"]
    team_a = parsed["teams"][0]
    assert [cell["criterion"] for cell in team_a["breakdown"]] == ["national", "expert", "arena"]
    assert team_a["breakdown"][1]["points"] == pytest.approx(35.0 * 0.8)
    assert sum(cell["points"] for cell in team_a["breakdown"]) == pytest.approx(team_a["composite"])
    assert parsed["ledger_head"] == "cd" * 32 and parsed["decision_head"] == "ab" * 32
    assert parsed["appeals"][0]["upheld"] is False


def test_csv_has_one_row_per_team_and_criterion() -> None:
    data = report.build_report(_record())
    rows = list(csv.DictReader(io.StringIO(report.to_csv(data, "en"))))
    assert len(rows) == 3 * 3
    row = next(r for r in rows if r["team"] == "team-b" and r["criterion"] == "expert")
    assert float(row["points"]) == pytest.approx(31.5)
    assert float(row["weight"]) == 35.0
    assert row["outcome"] == "advance" and row["rank"] == "2"
    composite = sum(float(r["points"]) for r in rows if r["team"] == "team-b")
    assert float(row["composite"]) == pytest.approx(composite)
    korean = report.to_csv(data, "ko").splitlines()
    assert korean[0].startswith("rank,team") and "종합 점수" in korean[1]
    assert len(korean) == 2 + 9


def test_svg_charts_are_wellformed_and_scaled() -> None:
    data = report.build_report(_record())
    svg = report.composite_chart_svg(data, "en")
    root = ElementTree.fromstring(svg)
    namespace = "{http://www.w3.org/2000/svg}"
    bars = [rect for rect in root.iter(f"{namespace}rect") if rect.get("data-criterion")]
    assert len(bars) == 9
    # Bar widths are proportional to points: team-a's expert bar (28 points) is 28/9 of its national (9).
    team_a = bars[:3]
    assert float(team_a[1].get("width", "0")) / float(team_a[0].get("width", "1")) == pytest.approx(28 / 9, rel=0.02)
    assert len(list(root.iter(f"{namespace}g"))) == 3  # one interval whisker per team
    criteria_svg = ElementTree.fromstring(report.criteria_chart_svg(data, "ko"))
    assert "항목별" in "".join(criteria_svg.itertext())


def test_html_in_both_languages_with_gates_overrides_and_appeals() -> None:
    data = report.build_report(_record(), appeals=APPEALS, ledger_head="cd" * 32)
    english = render_report(data, "en")
    korean = render_report(data, "ko")
    assert "Decision report" in english and "평가 결과 보고서" in korean
    for page in (english, korean):
        assert "the shared tokenizer is a public one" in page  # the override's reason stands in the record
        assert "voter-0a1b2c3d" in page and "reviewer-11aa22bb" in page
        assert "cd" * 32 in page
        assert "<svg" in page
        assert "재계산 결과 동일합니다" in page
    assert 'href="?lang=ko"' in english and 'href="?lang=en"' in korean


def test_html_escapes_text_from_the_record() -> None:
    record = _record()
    record["teams"][0]["gates"]["independence"]["reason"] = "<script>alert(1)</script>"
    page = render_report(report.build_report(record), "en")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_bad_input_is_refused() -> None:
    with pytest.raises(BadRequestError, match="no 'teams'"):
        report.build_report({"challenge": "c", "stage": "s", "criteria": []})
    with pytest.raises(BadRequestError, match="language"):
        render_report(report.build_report(_record()), "fr")


def test_a_report_naming_a_voter_is_refused() -> None:
    data = report.build_report(_record())
    report.check_pseudonymous(data, ["alice", "bob"])
    leaked = _record()
    leaked["arena"]["arena"]["contrarian_voters"] = ["alice"]
    with pytest.raises(BadRequestError, match="pseudonyms"):
        report.check_pseudonymous(report.build_report(leaked), ["alice", "bob"])
