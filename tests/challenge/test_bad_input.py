"""The issue's bad inputs: each refused or reported clearly, and nothing recorded in part."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from baton.accounts import service as accounts
from baton.challenge import service
from baton.challenge.errors import (
    ConflictOfInterestError,
    DeadlinePassedError,
    InvalidSpecError,
    InvalidVoteError,
    StageStateError,
    VoteLimitError,
)
from baton.challenge.models import Challenge, LedgerEntry, Submission, Vote
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from baton.hub import repos

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, World, feed_inputs, make_world, spec_yaml, submit_all


def ledger_length(world: World) -> int:
    with world.runtime.database.session() as session:
        return int(session.scalar(select(func.count(LedgerEntry.id))) or 0)


def test_weights_not_summing_to_the_total_create_nothing(runtime: Runtime) -> None:
    world = make_world(runtime)
    before = ledger_length(world)
    with pytest.raises(InvalidSpecError) as caught, runtime.database.session(write=True) as session:
        service.create_challenge(session, spec_yaml(slug="other", weights=(40, 35, 20)), operator=world.op(session))
    assert "weights sum to 95" in caught.value.message and "line " in caught.value.message
    with runtime.database.session() as session:
        assert session.scalar(select(func.count(Challenge.id))) == 1
    assert ledger_length(world) == before


def test_stage_advancing_more_teams_than_it_has_is_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidSpecError, match="advances 4 teams but only 3 compete"):
        service.load_spec(spec_yaml(teams=3, advance=4))
    # At decision time too: two teams entered a stage that advances three.
    world = make_world(runtime, teams=2, spec=spec_yaml(teams=4, advance=3))
    before = ledger_length(world)
    with pytest.raises(StageStateError) as caught, runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    assert "advances 3 teams but only 2 compete" in caught.value.message
    assert ledger_length(world) == before


def test_vote_for_a_model_not_in_the_battle_records_nothing(runtime: Runtime) -> None:
    world = make_world(runtime)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        battle = service.create_battle(
            session,
            world.slug,
            "stage-1",
            service.NewBattle(prompt="p", team_a="team-a", team_b="team-b", answer_a="x", answer_b="y"),
            operator=world.op(session),
            now=BEFORE_DEADLINE,
        )
        battle_id = battle.battle
    before = ledger_length(world)
    # The arena is blind: a vote names an answer ('a', 'b'), a tie or both bad, never a team. A team's
    # name is refused whether or not the team is in the battle, and the refusal names no team, so a
    # voter cannot probe which teams are behind a battle.
    for choice in ("team-c", "team-b", "c"):
        with pytest.raises(InvalidVoteError) as caught, runtime.database.session(write=True) as session:
            service.record_vote(
                session, world.slug, "stage-1", battle_id, voter=world.account(session, "voter1"), choice=choice
            )
        assert "team-" not in caught.value.message + caught.value.hint
    assert ledger_length(world) == before
    with runtime.database.session() as session:
        assert session.scalar(select(func.count(Vote.id))) == 0
    with runtime.database.session(write=True) as session:
        recorded = service.record_vote(
            session, world.slug, "stage-1", battle_id, voter=world.account(session, "voter1"), choice="b"
        )
    assert recorded["choice"] == "b"


def test_voter_of_a_team_and_over_the_limit_are_refused(runtime: Runtime) -> None:
    world = make_world(runtime)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        ids = [
            service.create_battle(
                session,
                world.slug,
                "stage-1",
                service.NewBattle(prompt=f"p{k}", team_a="team-b", team_b="team-c", answer_a="x", answer_b="y"),
                operator=world.op(session),
                now=BEFORE_DEADLINE,
            ).battle
            for k in range(51)
        ]
    with pytest.raises(ConflictOfInterestError), runtime.database.session(write=True) as session:
        service.record_vote(
            session, world.slug, "stage-1", ids[0], voter=world.account(session, "m-team-b"), choice="a"
        )
    with runtime.database.session() as session:
        # The team's member is never shown a battle of the team.
        assert service.next_battle(session, world.slug, "stage-1", voter=world.account(session, "m-team-b")) is None
        assert service.next_battle(session, world.slug, "stage-1", voter=world.account(session, "m-team-a"))
    with runtime.database.session(write=True) as session:
        voter = world.account(session, "voter2")
        for battle in ids[:50]:
            service.record_vote(session, world.slug, "stage-1", battle, voter=voter, choice="tie")
    with pytest.raises(VoteLimitError), runtime.database.session(write=True) as session:
        service.record_vote(session, world.slug, "stage-1", ids[50], voter=world.account(session, "voter2"), choice="a")


def test_review_by_an_excluded_reviewer_is_refused(runtime: Runtime) -> None:
    world = make_world(runtime)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        org = accounts.get_account(session, "org-team-a")
        accounts.set_membership(session, org, accounts.get_account(session, "rev3"), "read")
    before = ledger_length(world)
    with pytest.raises(ConflictOfInterestError) as caught, runtime.database.session(write=True) as session:
        service.assign_reviewer(
            session, world.slug, "stage-1", "team-a", accounts.get_account(session, "rev3"), operator=world.op(session)
        )
    assert "org-team-a" in caught.value.message
    # Assigned before joining the consortium: the score is refused at entry.
    with runtime.database.session(write=True) as session:
        service.assign_reviewer(
            session, world.slug, "stage-1", "team-b", accounts.get_account(session, "rev1"), operator=world.op(session)
        )
        org_b = accounts.get_account(session, "org-team-b")
        accounts.set_membership(session, org_b, accounts.get_account(session, "rev1"), "read")
    after_assignment = ledger_length(world)
    assert after_assignment == before + 1
    with pytest.raises(ConflictOfInterestError), runtime.database.session(write=True) as session:
        service.record_review(
            session,
            world.slug,
            "stage-1",
            "team-b",
            reviewer=world.account(session, "rev1"),
            scores={"report": 5, "logs": 5},
        )
    with pytest.raises(BadRequestError, match=r"outside 0\.\.10"), runtime.database.session(write=True) as session:
        service.assign_reviewer(
            session, world.slug, "stage-1", "team-c", accounts.get_account(session, "rev2"), operator=world.op(session)
        )
        service.record_review(
            session,
            world.slug,
            "stage-1",
            "team-c",
            reviewer=world.account(session, "rev2"),
            scores={"report": 50, "logs": 5},
        )
    # The refused review rolled back the assignment made in the same transaction too.
    assert ledger_length(world) == after_assignment


def test_submission_after_the_deadline_is_refused_and_holds_nothing(runtime: Runtime) -> None:
    world = make_world(runtime)
    before = ledger_length(world)
    with pytest.raises(DeadlinePassedError) as caught, runtime.database.session(write=True) as session:
        service.submit(
            session,
            world.slug,
            "stage-1",
            "team-a",
            repo=world.repo("team-a"),
            user=world.account(session, "m-team-a"),
            now=AFTER_DEADLINE - timedelta(hours=14),
        )
    assert "2026-01-10 18:00 (Asia/Seoul)" in caught.value.message
    assert ledger_length(world) == before
    with runtime.database.session() as session:
        assert session.scalar(select(func.count(Submission.id))) == 0
        repo = repos.find_repo(session, repos.parse_repo_id("model", world.repo("team-a")))
        assert repo is not None and repos.active_holds(session, repo) == []


def test_tampered_ledger_row_is_reported_with_its_seq(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
        head = service.get_challenge(session, world.slug).head_hash
    with runtime.database.session() as session:
        target = session.scalar(
            select(LedgerEntry).where(LedgerEntry.kind == "vote.recorded").order_by(LedgerEntry.seq)
        )
        assert target is not None
        seq, payload = target.seq, target.payload
    flipped = (
        payload.replace('"choice":"a"', '"choice":"b"')
        if '"choice":"a"' in payload
        else payload.replace('"choice":"b"', '"choice":"a"')
    )
    with runtime.database.session(write=True) as session:
        session.execute(update(LedgerEntry).where(LedgerEntry.seq == seq).values(payload=flipped))
    with runtime.database.session() as session:
        report = service.verify_database(session, world.slug, head)
    assert not report.ok
    assert any(p.seq == seq and "altered" in p.what for p in report.problems)
