"""The decision report: JSON, CSV and HTML (Korean and English) from a decision record, SVG plots."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest

from baton.challenge import report
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from baton.web.challenge_pages import render_report
from web.sign_in_support import sign_in_with_token


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


def _gate_failed_record() -> dict[str, Any]:
    """team-a scores most but fails the independence gate: eliminated, ranked last by the decision (an old
    record: no points_rank); team-c entered by repechage; Korean titles; no group on one criterion."""
    record = _record()
    record["stage_title_ko"] = "1단계"
    record["timezone"] = "Asia/Seoul"
    titles_ko = {"national": "국가 벤치마크", "expert": "전문가 평가", "arena": "사용자 평가"}
    for criterion in record["criteria"]:
        criterion["title_ko"] = titles_ko[criterion["id"]]
    record["criteria"][2]["group"] = None
    record["gates"] = [{"id": "independence", "title": "Independence", "kind": "independence"}]
    by_team = {team["team"]: team for team in record["teams"]}
    by_team["team-a"] |= {"rank": 3, "outcome": "eliminated", "eliminated_by": "gate:independence"}
    by_team["team-a"]["gates"] = {
        "independence": {
            "outcome": "fail",
            "source": "provenance",
            "reason": "copied component: layers 0-11 match org-x/base",
        }
    }
    by_team["team-b"] |= {"rank": 1}
    by_team["team-c"] |= {"rank": 2, "outcome": "advance", "eliminated_by": None, "repechage": True}
    record["advance"], record["eliminated"] = ["team-b", "team-c"], ["team-a"]
    return record


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


def test_csv_has_one_header_row_a_bom_and_one_row_per_team() -> None:
    data = report.build_report(_record())
    text = report.to_csv(data)
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    encoded = text.encode("utf-8")
    assert encoded.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(encoded.decode("utf-8-sig"))))
    assert len(rows) == 3  # one row per team, one header row
    columns = list(rows[0])
    assert columns[:3] == ["points_rank", "team", "name"]
    assert {"outcome", "eliminated_by", "composite", "composite_lower", "composite_upper"} <= set(columns)
    assert {"national_points", "expert_points", "expert_lower", "arena_upper"} <= set(columns)
    row = next(r for r in rows if r["team"] == "team-b")
    assert float(row["expert_points"]) == pytest.approx(31.5) and float(row["expert_lower"]) == pytest.approx(30.5)
    assert row["outcome"] == "advance" and row["points_rank"] == "2" and row["decision_rank"] == "2"
    composite = sum(float(row[f"{c}_points"]) for c in ("national", "expert", "arena"))
    assert float(row["composite"]) == pytest.approx(composite)


def test_csv_reads_in_pandas_with_its_column_names() -> None:
    pandas = pytest.importorskip("pandas")
    data = report.build_report(_gate_failed_record())
    frame = pandas.read_csv(io.BytesIO(report.to_csv(data).encode("utf-8")))
    assert list(frame.columns) == report.csv_columns(data)
    assert frame["team"].tolist() == ["team-a", "team-b", "team-c"]  # by the rank on points
    assert frame["points_rank"].tolist() == [1, 2, 3]
    assert frame.loc[0, "eliminated_by"] == "gate:independence" and frame.loc[0, "outcome"] == "eliminated"


def _text_extent(element: Any) -> tuple[float, float]:
    """(left, right) of an SVG text element, from an independent, generous width estimate."""
    text = "".join(element.itertext())
    size = float(element.get("font-size"))
    wide = sum(1 for char in text if ord(char) >= 0x1100)
    width = (wide * 1.0 + (len(text) - wide) * 0.62) * size
    x = float(element.get("x"))
    anchor = element.get("text-anchor")
    if anchor == "end":
        return x - width, x
    if anchor == "middle":
        return x - width / 2, x + width / 2
    return x, x + width


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
    criteria_svg = ElementTree.fromstring(report.criteria_chart_svg(data, "ko", title="항목별 점수"))
    assert "항목별" in "".join(criteria_svg.itertext())


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_no_chart_label_is_clipped(lang: str) -> None:
    record = _record()
    record["criteria"][0]["title"] = "A national benchmark set with a very long descriptive title indeed"
    record["criteria"][0]["title_ko"] = "국가 대표 벤치마크 세트: 아주 길게 설명하는 평가 항목 제목입니다"
    record["teams"][0]["team"] = "a-team-with-an-unusually-long-identifier-2026"
    data = report.build_report(record)
    namespace = "{http://www.w3.org/2000/svg}"
    for svg in (report.composite_chart_svg(data, lang), report.criteria_chart_svg(data, lang)):
        root = ElementTree.fromstring(svg)
        _x, _y, width, _height = (float(v) for v in root.get("viewBox", "").split())
        texts = list(root.iter(f"{namespace}text"))
        longest = max(texts, key=lambda element: len("".join(element.itertext())))
        assert "long" in "".join(longest.itertext()) or "길게" in "".join(longest.itertext())
        for element in texts:
            left, right = _text_extent(element)
            assert left >= 0 and right <= width, ("".join(element.itertext()), left, right, width)


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


def test_a_gate_failure_stands_at_its_rank_on_points_with_its_outcome_beside() -> None:
    data = report.build_report(_gate_failed_record())
    assert [(t["team"], t["points_rank"], t["rank"]) for t in data["teams"]] == [
        ("team-a", 1, 3),
        ("team-b", 2, 1),
        ("team-c", 3, 2),
    ]
    assert data["teams"][0]["outcome_reason"] == {"kind": "gate", "gate": "independence"}
    assert data["teams"][2]["repechage"] is True and data["teams"][2]["entry"]["via"] == "repechage"
    english = render_report(data, "en")
    rows = re.findall(r'<tr data-team="([^"]+)" data-outcome="([^"]+)" data-points-rank="(\d+)"', english)
    assert rows == [("team-a", "eliminated", "1"), ("team-b", "advance", "2"), ("team-c", "advance", "3")]
    assert "Eliminated by the gate Independence" in english
    assert "Entered by repechage (stage-1)" in english and 'data-entry="repechage"' in english
    korean = render_report(data, "ko")
    assert (
        "요건 독립성 미충족으로 탈락" in korean
        and "Independence" not in re.sub(r"<[^>]+>", " ", korean)
        and "패자부활로 참가 (stage-1)" in korean
    )


def test_the_record_fields_of_newer_records_are_used_as_given() -> None:
    record = _gate_failed_record()
    for team in record["teams"]:
        team.pop("repechage", None)
    ranks = {"team-a": 1, "team-b": 2, "team-c": 3}
    entries = {
        "team-a": {"via": "entered"},
        "team-b": {"via": "advanced"},
        "team-c": {"via": "repechage", "stage": "repechage-1"},
    }
    for team in record["teams"]:
        team["points_rank"], team["entry"] = ranks[team["team"]], entries[team["team"]]
    by_team = {team["team"]: team for team in record["teams"]}
    by_team["team-b"] |= {"outcome": "eliminated", "eliminated_by": "lowest"}
    data = report.build_report(record)
    page = render_report(data, "en")
    assert "Entered by repechage (repechage-1)" in page and "Eliminated as the lowest on points" in page
    assert "순위로 탈락" not in page
    korean = render_report(data, "ko")
    assert "최하위 점수로 탈락" in korean and "패자부활로 참가 (repechage-1)" in korean


def test_the_korean_page_is_korean_and_times_are_in_the_challenges_zone() -> None:
    data = report.build_report(_gate_failed_record(), appeals=APPEALS)
    assert data["decided_at"] == "2026-01-15T18:00:00+09:00"  # the JSON form too
    assert data["appeal_deadline"] == "2026-01-25T18:00:00+09:00"
    korean = render_report(data, "ko")
    english = render_report(data, "en")
    for page in (korean, english):
        assert "2026-01-15 18:00 KST (UTC+09:00)" in page and "Asia/Seoul" in page
        assert "09:00:00+00:00" not in page.replace('datetime="', "")
        assert ">None<" not in page and "None" not in re.sub(r"<[^>]+>", " ", page).split()
    english_words = (
        "National set",
        "Expert review",
        "User evaluation",
        "Stage 1",
        "Advances",
        "Eliminated",
        "trimmed_mean",
    )
    for english_word in english_words:
        assert english_word not in re.sub(r"<[^>]+>", " ", korean), english_word
    assert "국가 벤치마크" in korean and "1단계" in korean and "진출" in korean
    assert "National set" in english and "국가 벤치마크" not in english
    # The gate's verdict is translated; the provenance evidence stays as recorded, marked as English.
    assert "미통과" in korean and "출처 검사" in korean
    assert '<td class="evidence" lang="en">copied component: layers 0-11 match org-x/base</td>' in korean
    group_cells = re.findall(r'<td class="group">([^<]*)</td>', korean)
    assert group_cells == ["benchmarks", "review", "–"]


def test_the_closed_arena_shows_only_its_notice(runtime: Runtime, client: Any) -> None:
    from baton.accounts import service as accounts
    from baton.challenge import service

    from .ce_support import AFTER_DEADLINE, feed_inputs, make_world, submit_all

    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        service.create_battle(
            session,
            world.slug,
            "stage-1",
            service.NewBattle(prompt="수도는?", team_a="team-a", team_b="team-b", answer_a="서울", answer_b="부산"),
            operator=world.op(session),
        )
        token = accounts.issue_token(session, accounts.get_account(session, "voter5")).value
    assert sign_in_with_token(client, token).status_code in (302, 303)
    arena = f"/challenges/{world.slug}/stages/stage-1/arena?lang=en"
    open_page = client.get(arena)
    assert 'id="battle"' in open_page.text  # a ballot while voting is open
    battle = re.search(r'data-battle="([0-9a-f]+)"', open_page.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', open_page.text)
    assert battle and csrf
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    for page in (
        client.get(arena),
        client.post(
            f"/challenges/{world.slug}/stages/stage-1/arena/vote?lang=en",
            data={"battle": battle.group(1), "choice": "a", "csrf": csrf.group(1)},
        ),
    ):
        assert 'id="closed"' in page.text and "Voting in this stage is closed" in page.text
        assert 'id="battle"' not in page.text and "Thank you for voting" not in page.text
        assert 'id="error"' not in page.text


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


def test_the_report_routes_give_times_in_the_challenges_zone(runtime: Runtime, client: Any) -> None:
    from baton.challenge import service

    from .ce_support import AFTER_DEADLINE, feed_inputs, make_world, submit_all

    world = make_world(runtime)
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    base = f"/api/challenges/{world.slug}/stages/stage-1/report"
    data = client.get(base).json()
    assert data["timezone"] == "Asia/Seoul"
    assert data["decided_at"] == "2026-01-11T09:00:00+09:00"  # 00:00 UTC, given in Seoul time
    assert [team["points_rank"] for team in data["teams"]] == [1, 2, 3]
    answer = client.get(base, params={"format": "csv", "lang": "ko"})
    assert answer.headers["content-type"].startswith("text/csv") and answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [row["team"] for row in rows] == [team["team"] for team in data["teams"]]
    page = client.get(f"/challenges/{world.slug}/stages/stage-1/report?lang=ko").text
    assert "2026-01-11 09:00 KST (UTC+09:00)" in page and "Asia/Seoul" in page
