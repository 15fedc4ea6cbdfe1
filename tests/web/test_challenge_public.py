"""The challenge in public: /challenges, a challenge's page and a stage's standings, over HTTP on both
databases, in Korean and English: the right teams, outcomes and appeals, the ledger's head, and the
standings' snapshot with when it was taken and whether the ledger moved on since."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from baton.challenge import ledger, service, standings
from baton.cli.main import app
from baton.core import clock
from baton.core.runtime import Runtime
from challenge.ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, make_world, submit_all

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _row(page: str, attribute: str, value: str) -> str:
    """The table row (or list item) with ``attribute="value"``, up to its end."""
    start = page.index(f'{attribute}="{value}"')
    end = min(index for index in (page.find("</tr>", start), page.find("</li>", start)) if index != -1)
    return page[start:end]


def test_the_list_and_a_challenge_with_its_decision_appeal_and_ledger_head(
    runtime: Runtime, client: TestClient
) -> None:
    world = make_world(runtime, stages=2)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
        record = service.decision_record(session, world.slug, "stage-1")
        out = record["eliminated"][0]
        appeal = service.file_appeal(
            session,
            world.slug,
            "stage-1",
            out,
            text="Our review scores were swapped with another team's.",
            user=world.account(session, world.member(out)),
            now=AFTER_DEADLINE + timedelta(hours=1),
        )
        service.answer_appeal(
            session,
            world.slug,
            appeal.id,
            answer="Checked against the reviewers' forms: the scores stand.",
            upheld=False,
            operator=world.op(session),
            now=AFTER_DEADLINE + timedelta(hours=2),
        )
        head = service.get_challenge(session, world.slug).head_hash
        bundle = service.export_bundle(session, world.slug)
    assert ledger.verify_bundle(bundle, head).ok
    with clock.frozen(AFTER_DEADLINE + timedelta(hours=3)):
        listing = client.get("/challenges?lang=en", headers=BROWSER).text
        english = client.get(f"/challenges/{world.slug}?lang=en", headers=BROWSER).text
        korean = client.get(f"/challenges/{world.slug}?lang=ko", headers=BROWSER).text

    row = _row(listing, "data-challenge", world.slug)
    assert f'href="/challenges/{world.slug}"' in row and "Test challenge" in row
    # The stage under way is the first not final: stage 1, decided, its appeal window open.
    assert "Stage 1 (Decided, appeal window open)" in row and "2026-01-10 18:00 (Asia/Seoul)" in row
    assert re.search(r'class="num teams">3<', row)

    assert re.search(r'data-stage="stage-1" data-state="decided"', english)
    assert re.search(r'data-stage="stage-2" data-state="open"', english)
    assert f'href="/challenges/{world.slug}/stages/stage-1/report"' in english
    assert f'href="/challenges/{world.slug}/stages/stage-1"' in english
    out_row = _row(english, "data-team", out)
    assert 'data-outcome="eliminated"' in out_row and "(not final yet)" in out_row
    for team in record["advance"]:
        assert 'data-outcome="advance"' in _row(english, "data-team", team)
    appeal_row = _row(english, "data-appeal", str(appeal.id))
    assert "swapped with another team" in appeal_row and "the scores stand" in appeal_row
    assert world.member(out) not in english and world.operator + "<" not in english  # who filed or answered
    # The published head is the ledger's, with the commands and the download that verify it.
    assert f'<td class="hash" id="ledger-head">{head}</td>' in english
    assert f"baton challenge verify --bundle {world.slug}.ledger.jsonl --head {head}" in english
    assert f"baton challenge export {world.slug} --output {world.slug}.ledger.jsonl" in english
    download = re.search(r'id="ledger-download"', english) and f'href="/api/challenges/{world.slug}/ledger"'
    assert download and download in english
    assert client.get(f"/api/challenges/{world.slug}/ledger").text == bundle

    assert "원장과 검증 방법" in korean and "단계별 결과" in korean and f'id="ledger-head">{head}<' in korean
    assert "2026-01-10 18:00 KST" in korean  # stage 1's deadline, in the challenge's zone

    missing = client.get("/challenges/no-such-challenge?lang=en", headers=BROWSER)
    assert missing.status_code == 404 and "no-such-challenge" in missing.text


def test_standings_come_from_the_snapshot_say_when_and_whether_the_ledger_moved_on(
    runtime: Runtime, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(runtime, stages=2)
    models = submit_all(world)
    feed_inputs(world, models)
    page = f"/challenges/{world.slug}/stages/stage-1"

    with clock.frozen(BEFORE_DEADLINE):
        none = client.get(page + "?lang=en", headers=BROWSER).text
    assert 'data-source="none"' in none and 'id="standings"' not in none

    # The operator's command computes it now (a worker would within the minute).
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.database_url)
    data = ["--data-dir", str(runtime.settings.data_dir)]
    with clock.frozen(BEFORE_DEADLINE):
        done = CliRunner().invoke(app, ["challenge", "standings", world.slug, *data])
        unknown = CliRunner().invoke(app, ["challenge", "standings", world.slug, "--stage", "stage-9", *data])
    assert done.exit_code == 0 and "standings of test-challenge stage-1: computed at ledger seq" in done.output
    assert unknown.exit_code != 0 and "stage-9" in unknown.output
    with runtime.database.session(write=True) as session:
        challenge = service.get_challenge(session, world.slug)
        seq = challenge.last_seq
        assert standings.refresh(session, challenge) == []  # already at the head
    with clock.frozen(BEFORE_DEADLINE + timedelta(minutes=5)):
        english = client.get(page + "?lang=en", headers=BROWSER).text
        korean = client.get(page + "?lang=ko", headers=BROWSER).text
    assert f'data-source="snapshot" data-seq="{seq}"' in english
    assert f"as of 2026-01-05 18:00 KST (UTC+09:00) (ledger event {seq})" in english
    assert 'id="standings-behind"' not in english
    # The blind arena: sealed until the decision; no rating on the page.
    assert 'id="arena-sealed"' in english and "Rating" not in english
    for team in world.teams:
        assert _row(english, "data-team", team).count(">sealed<") == 1
    assert "실시간 순위" in korean and f"(원장 이벤트 {seq})" in korean and "봉인됨" in korean

    # A new score moves the ledger on: the page says it is behind, until the periodic job catches up.
    with runtime.database.session(write=True) as session:
        service.record_score(
            session,
            world.slug,
            "stage-1",
            service.BenchmarkScore(task="t1", model=models[world.teams[0]], score=0.99, stderr=0.01, n=100),
            operator=world.op(session),
            now=BEFORE_DEADLINE,
        )
    with clock.frozen(BEFORE_DEADLINE):
        behind = client.get(page + "?lang=en", headers=BROWSER).text
    assert 'data-behind="1"' in behind and "1 newer event since" in behind
    with clock.frozen(BEFORE_DEADLINE):
        assert standings.refresh_stale(runtime) == {"refreshed": {world.slug: ["stage-1"]}}
        fresh = client.get(page + "?lang=en", headers=BROWSER).text
    assert f'data-seq="{seq + 1}"' in fresh and 'id="standings-behind"' not in fresh

    # The snapshot's numbers are the decision's for the criteria the decision does not reveal anew.
    with runtime.database.session(write=True) as session:
        shown = standings.snapshot(session, service.get_challenge(session, world.slug), "stage-1")
        assert shown is not None
        snapshot = {team["team"]: team["criteria"] for team in shown.standings["teams"]}
        assert shown.standings["arena"]["arena"]["ratings"] == {}  # sealed battles rate nobody
        assert all("outcome" not in team and "rank" not in team for team in shown.standings["teams"])
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
        record = service.decision_record(session, world.slug, "stage-1")
    for team in record["teams"]:
        for criterion in ("bench", "review"):
            assert snapshot[team["team"]][criterion]["points"] == team["criteria"][criterion]["points"]
    with clock.frozen(AFTER_DEADLINE):
        decided = client.get(page + "?lang=en", headers=BROWSER).text
    assert 'data-source="decision"' in decided and 'id="arena-sealed"' not in decided
    assert f'href="{page}/report"' in decided
    best = min(record["teams"], key=lambda team: team["points_rank"])
    assert f'data-team="{best["team"]}" data-points-rank="1"' in decided
