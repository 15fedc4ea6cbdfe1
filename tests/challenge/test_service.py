"""The challenge service end to end on both databases: teams, submissions, inputs, decisions, appeals, finality."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from baton.challenge import ledger, recompute, service
from baton.challenge.errors import AppealError, GatePendingError, StageStateError
from baton.challenge.events import TeamLeft
from baton.core import events
from baton.core.errors import ConflictError
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, BEFORE_DEADLINE, feed_inputs, make_world, push, submit_all


def test_stage_decision_ranks_by_composite_and_publishes_intervals(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    # team-c has the best benchmark, review and arena inputs, team-a the worst.
    assert [row["team"] for row in record["teams"]] == ["team-c", "team-b", "team-a"]
    assert record["advance"] == ["team-c", "team-b"]
    assert record["eliminated"] == ["team-a"]
    top = record["teams"][0]
    assert top["lower"] < top["composite"] < top["upper"]
    assert sum(entry["points"] for entry in top["criteria"].values()) == pytest.approx(top["composite"], abs=1e-5)
    assert top["criteria"]["bench"]["value"] == pytest.approx(0.7)
    assert record["arena"]["arena"]["votes_used"] == record["arena"]["arena"]["votes_total"] > 0
    with runtime.database.session() as session:
        pseudonyms = {service.pseudonym(session, world.slug, name, "reviewer") for name in world.reviewers}
        assert set(record["reviews"]["review"]["team-a"]["reviewers"]) <= pseudonyms
        challenge = service.get_challenge(session, world.slug)
        assert record["head_seq"] == challenge.last_seq - 1
        # The decision is exactly what recomputation from the ledger gives.
        checked, problems = recompute.check_decisions(service.events_of(session, challenge))
    assert checked == 1 and problems == []


def test_submission_is_pinned_and_a_later_push_changes_nothing(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    submitted = models["team-a"].split("@")[1]
    newer = push(runtime, "m-team-a", world.repo("team-a"), "v2 after the deadline")
    assert newer != submitted
    with runtime.database.session() as session:
        rows = {team.slug: submission for team, submission in service.list_submissions(session, world.slug, "stage-1")}
        assert rows["team-a"].commit_oid == submitted
        from baton.hub import repos

        repo = repos.find_repo(session, repos.parse_repo_id("model", world.repo("team-a")))
        assert repo is not None
        assert [hold.commit_oid for hold in repos.active_holds(session, repo)] == [submitted]


def test_resubmission_before_deadline_replaces_and_releases_the_hold(runtime: Runtime) -> None:
    world = make_world(runtime)
    first = submit_all(world)["team-a"].split("@")[1]
    second = push(runtime, "m-team-a", world.repo("team-a"), "v2")
    with runtime.database.session(write=True) as session:
        submission = service.submit(
            session,
            world.slug,
            "stage-1",
            "team-a",
            repo=world.repo("team-a"),
            user=world.account(session, "m-team-a"),
            now=BEFORE_DEADLINE + timedelta(days=1),
        )
        assert submission.commit_oid == second != first
    with runtime.database.session() as session:
        from baton.hub import repos

        repo = repos.find_repo(session, repos.parse_repo_id("model", world.repo("team-a")))
        assert repo is not None
        assert [hold.commit_oid for hold in repos.active_holds(session, repo)] == [second]


def test_appeal_window_finality_and_team_left_events(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    with runtime.database.session(write=True) as session:
        appeal = service.file_appeal(
            session,
            world.slug,
            "stage-1",
            "team-a",
            text="Our arena answers were mislabelled.",
            user=world.account(session, "m-team-a"),
            now=AFTER_DEADLINE + timedelta(days=2),
        )
        appeal_id = appeal.id
    # The window closes after 10 days, but an unanswered appeal keeps the decision open.
    later = AFTER_DEADLINE + timedelta(days=11)
    with runtime.database.session(write=True) as session:
        assert service.finalize_due(session, now=later) == []
        with pytest.raises(AppealError, match="closed"):
            service.file_appeal(
                session,
                world.slug,
                "stage-1",
                "team-b",
                text="late",
                user=world.account(session, "m-team-b"),
                now=later,
            )
    with runtime.database.session(write=True) as session:
        service.answer_appeal(
            session,
            world.slug,
            appeal_id,
            answer="Checked: labels were correct.",
            upheld=False,
            operator=world.op(session),
            now=later,
        )
    with runtime.database.session(write=True) as session:
        assert service.finalize_due(session, now=later) == [(world.slug, "stage-1")]
        # Published in the finalizing transaction: the teams' status is already projected.
        exits = [TeamLeft.model_validate(row.payload) for row in events.published(session, TeamLeft)]
        for exit_event in exits:
            assert service.get_team(session, exit_event.challenge, exit_event.team).status in ("eliminated", "ended")
    assert all(exit_event.at == later for exit_event in exits)
    # The only stage was the last: the eliminated team leaves as "eliminated", the others as "challenge_ended".
    assert sorted((e.team, e.reason) for e in exits) == [
        ("team-a", "eliminated"),
        ("team-b", "challenge_ended"),
        ("team-c", "challenge_ended"),
    ]
    assert exits[0].organizations == ("org-team-a",) and exits[0].members == ("m-team-a",)
    with runtime.database.session() as session:
        record = service.decision_record(session, world.slug, "stage-1")
        assert record["final"] is True
        assert record["appeals"][0]["answer"] == "Checked: labels were correct."
        kinds = [event["kind"] for event in service.ledger_events(session, world.slug)]
        assert kinds[-2:] == ["decision.final", "challenge.ended"]
        report = service.verify_database(session, world.slug)
        assert report.ok, [str(p) for p in report.problems]
    with pytest.raises(StageStateError, match="final"), runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=later)


def test_inconclusive_gate_blocks_the_decision_until_an_operator_rules(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        operator = world.op(session)
        # A fresh provenance check replaces nothing: the operator's override still stands...
        result = service.check_gate(session, world.slug, "stage-1", "team-a", operator=operator, now=AFTER_DEADLINE)
        # ...and the check itself is inconclusive (no comparison of this revision exists).
        assert result.outcome == "inconclusive"
        standing = service.gate_standing(
            session,
            service.get_challenge(session, world.slug),
            "stage-1",
            "independence",
            service.get_team(session, world.slug, "team-a"),
        )
        assert standing is not None and standing.source == "override"
    # A team whose gate is only checked, never ruled on, blocks the decision.
    world2 = make_world_second(runtime)
    with pytest.raises(GatePendingError, match="team-x"), runtime.database.session(write=True) as session:
        service.decide(session, runtime, world2, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    with runtime.database.session() as session:
        queue = service.gate_queue(session, world.slug)
        assert queue == []


def make_world_second(runtime: Runtime) -> str:
    """A second challenge whose one team has only an automatic (inconclusive) gate check."""
    from baton.accounts import service as accounts

    from .ce_support import make_repo, spec_yaml

    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, "op")
        member = accounts.create_user(session, "m-x")
        org = accounts.create_organization(session, "org-x", creator=accounts.get_account(session, "op"))
        accounts.set_membership(session, org, member, "write")
        text = spec_yaml(slug="second", teams=1, advance=1, weights=(100, 0, 0), benchmark_only=True)
        service.create_challenge(session, text, operator=operator, now=BEFORE_DEADLINE)
        service.enter_team(
            session,
            "second",
            service.TeamEntry(team="team-x", name="X", organizations=["org-x"], members=["m-x"]),
            operator=operator,
            now=BEFORE_DEADLINE,
        )
    make_repo(runtime, "m-x", "org-x", "model")
    with runtime.database.session(write=True) as session:
        service.submit(
            session,
            "second",
            "stage-1",
            "team-x",
            repo="org-x/model",
            user=accounts.act_as(session, "m-x"),
            now=BEFORE_DEADLINE,
        )
    return "second"


def test_ledger_export_verifies_and_a_tampered_line_is_reported(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    with runtime.database.session() as session:
        bundle = service.export_bundle(session, world.slug)
        head = service.get_challenge(session, world.slug).head_hash
    report = ledger.verify_bundle(bundle, head)
    assert report.ok and report.decisions_checked == 1 and report.head_seq == report.events
    lines = bundle.splitlines()
    index = next(i for i, line in enumerate(lines) if '"kind":"score.recorded"' in line)
    tampered = lines[index].replace('"score":0.5', '"score":0.95')
    assert tampered != lines[index]
    lines[index] = tampered
    bad = ledger.verify_bundle("\n".join(lines) + "\n", head)
    assert not bad.ok
    assert any(p.line == index + 1 and "altered" in p.what for p in bad.problems)


def test_independence_gate_reads_provenance_a_copy_fails_and_an_override_stands_beside_it(runtime: Runtime) -> None:
    from baton.accounts import service as accounts
    from baton.demo.seed import tiny_gpt2_files
    from baton.hub import commits, repos
    from baton.hub.models import Repo
    from baton.provenance import service as provenance

    world = make_world(runtime)
    # A foreign base in the hub, and team-a's model: the same weights under another name.
    with runtime.database.session(write=True) as session:
        operator = accounts.act_as(session, "op")
        base, _ = repos.create_repo(session, operator, repos.parse_repo_id("model", "op/base"), private=False)
        commits.initial_commit(session, runtime.store, operator, base)
        base_commit = commits.commit_files(
            session, runtime.store, runtime.settings, operator, base, tiny_gpt2_files(seed=1), title="base"
        )
        member = accounts.act_as(session, "m-team-a")
        repo = repos.get_writable_repo(session, member, repos.parse_repo_id("model", world.repo("team-a")))
        commits.commit_files(
            session, runtime.store, runtime.settings, member, repo, tiny_gpt2_files(seed=1), title="our model"
        )
        base_pk = base.id
    models = submit_all(world)
    with runtime.database.session() as session:
        base_repo = session.get(Repo, base_pk)
        team_repo = repos.find_repo(session, repos.parse_repo_id("model", world.repo("team-a")))
        assert base_repo is not None and team_repo is not None
        repo_pk = team_repo.id
    provenance.fingerprint_revision(runtime, base_repo, base_commit.oid)
    provenance.scan_revision(runtime, repo_pk, models["team-a"].split("@")[1])
    with runtime.database.session(write=True) as session:
        result = service.check_gate(
            session, world.slug, "stage-1", "team-a", operator=world.op(session), now=BEFORE_DEADLINE
        )
        assert result.outcome == "fail"
        assert "op/base" in result.reason
        assert result.evidence["flags"][0]["verdict"] in ("copied", "derived")
    # Give team-a the best inputs: the gate still eliminates it (feed_inputs rules "pass", so rule again).
    feed_inputs(world, models, scores={"team-a": 0.99, "team-b": 0.5, "team-c": 0.6})
    with runtime.database.session(write=True) as session:
        service.override_gate(
            session,
            world.slug,
            "stage-1",
            "team-a",
            outcome="fail",
            reason="The provenance report shows a copied model; upheld on review.",
            operator=world.op(session),
            now=BEFORE_DEADLINE,
        )
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    row = next(r for r in record["teams"] if r["team"] == "team-a")
    assert row["outcome"] == "eliminated" and row["eliminated_by"] == "gate:independence"
    assert row["gates"]["independence"]["source"] == "override"
    assert row["gates"]["independence"]["checked"] == "fail"  # the provenance check stands beside the ruling
    assert record["advance"] == ["team-c", "team-b"]


def test_an_evaluation_run_result_is_recorded_as_a_benchmark_score(runtime: Runtime, tmp_path: Any) -> None:
    from baton.core.errors import BadRequestError
    from baton.evaluation.backends.dummy import DummyBackend
    from baton.evaluation.runner import run
    from baton.evaluation.tasks import load_task

    rows = [[f"질문 {k}?", "하나", "둘", "셋", "넷", str(1 + k % 4), "역사" if k % 2 else "과학"] for k in range(12)]
    (tmp_path / "test.csv").write_text(
        "question,A,B,C,D,answer,Category\n" + "\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8"
    )
    (tmp_path / "task.yaml").write_text(
        "name: t1\nversion: 1\nformat: kmmlu\noutput_type: multiple_choice\ndata:\n  test: test.csv\n"
        'prompt: "{question}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\n정답："\n'
        "choices: [A, B, C, D]\ntarget: '{answer_index}'\nmetrics: [acc]\n",
        encoding="utf-8",
    )
    world = make_world(runtime)
    models = submit_all(world)
    result = run(load_task(tmp_path / "task.yaml"), DummyBackend(models["team-a"])).to_json()
    with runtime.database.session(write=True) as session:
        recorded = service.record_evaluation(
            session, world.slug, "stage-1", result, model=models["team-a"], operator=world.op(session)
        )
        with pytest.raises(BadRequestError, match="no value for metric 'f1'"):
            service.record_evaluation(
                session, world.slug, "stage-1", result, model=models["team-a"], operator=world.op(session), metric="f1"
            )
    assert recorded["task"] == "t1" and recorded["n"] == 12
    assert recorded["score"] == result["metrics"]["acc"]["value"]
    assert recorded["stderr"] == result["metrics"]["acc"]["stderr"]
    assert recorded["source"]["manifest"] == result["manifest"]


def test_concurrent_appends_do_not_fork_the_chain(runtime: Runtime) -> None:
    import threading

    world = make_world(runtime)
    submit_all(world)
    with runtime.database.session(write=True) as session:
        battles = [
            service.create_battle(
                session,
                world.slug,
                "stage-1",
                service.NewBattle(prompt=f"p{k}", team_a="team-a", team_b="team-b", answer_a="x", answer_b="y"),
                operator=world.op(session),
                now=BEFORE_DEADLINE,
            ).battle
            for k in range(5)
        ]
    errors: list[BaseException] = []

    def vote(voter: str) -> None:
        try:
            for battle in battles:
                with runtime.database.session(write=True) as session:
                    service.record_vote(
                        session,
                        world.slug,
                        "stage-1",
                        battle,
                        voter=world.account(session, voter),
                        choice="a",
                        now=BEFORE_DEADLINE,
                    )
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=vote, args=(voter,)) for voter in world.voters[:4]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.database.session() as session:
        events = service.ledger_events(session, world.slug)
        assert sum(1 for event in events if event["kind"] == "vote.recorded") == 20
        assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
        assert service.verify_database(session, world.slug).ok


def test_a_new_spec_version_may_change_only_undecided_stages(runtime: Runtime) -> None:
    from .ce_support import spec_yaml

    world = make_world(runtime, spec=spec_yaml(stages=2))
    revised = spec_yaml(stages=2).replace("title: Test challenge", "title: Test challenge\nversion: 2")
    changed_later = revised.replace("deadline: 2026-04-10T18:00:00+09:00", "deadline: 2026-05-10T18:00:00+09:00")
    with runtime.database.session(write=True) as session:
        challenge = service.revise_challenge(session, world.slug, changed_later, operator=world.op(session))
        assert challenge.spec_version == 2
    with pytest.raises(ConflictError, match="not newer"), runtime.database.session(write=True) as session:
        service.revise_challenge(session, world.slug, changed_later, operator=world.op(session))
    feed_inputs(world, submit_all(world))
    with runtime.database.session(write=True) as session:
        service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
    version3 = changed_later.replace("version: 2", "version: 3")
    touching_decided = version3.replace("weight: 40", "weight: 45").replace("weight: 35", "weight: 30")
    with pytest.raises(StageStateError, match="stage-1 is decided"), runtime.database.session(write=True) as session:
        service.revise_challenge(session, world.slug, touching_decided, operator=world.op(session))
    with runtime.database.session() as session:
        kinds = [event["kind"] for event in service.ledger_events(session, world.slug)]
        assert kinds.count("challenge.revised") == 1
        assert service.verify_database(session, world.slug).ok
