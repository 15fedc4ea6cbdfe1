"""Release plan execution: checks first (personal data, licenses along the lineage), then opening,
tagging and recording; held items resolved by operators; embargoes released when due."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from baton.accounts import service as accounts
from baton.cli.main import app as cli
from baton.commons import checks, release
from baton.commons.events import ItemReleased
from baton.commons.release import PlannedRepo
from baton.core import events
from baton.core.errors import BadRequestError, ConflictError, PermissionDeniedError
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.hub import commits
from commons.release_fixtures import EXIT, NOW, commit, get, make_repo, weights
from conftest import Tokens

PERSONAL = (
    "question,answer\n연락처는?,010-1234-5678\n메일은?,minji.kim@example.com\n주민번호?,900101-1234568\n"
).encode()
CLEAN = "question,answer\n대한민국의 수도는?,서울\n1 더하기 2는?,3\n".encode()


def _execute(runtime: Runtime, planned: list[PlannedRepo], now=NOW) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    items = release.execute_plan(runtime, EXIT, planned, now=now)
    with runtime.database.session() as session:
        return [release.item_json(session, item) for item in items]


def test_a_clear_model_is_opened_licensed_and_tagged(runtime: Runtime, users: Tokens) -> None:
    make_repo(runtime, "model", "lab/tiny", {"model.safetensors": weights(0)}, card={"license": "other"})
    make_repo(runtime, "model", "lab/tiny-gated", {"model.safetensors": weights(1)}, card={"license": "mit"})
    planned = [
        PlannedRepo("model", "lab/tiny", license="apache-2.0"),
        PlannedRepo("model", "lab/tiny-gated", access="gated", gated_mode="manual", license="mit"),
    ]
    public, gated = _execute(runtime, planned)
    assert public["state"] == "released" and gated["state"] == "released"
    with runtime.database.session() as session:
        repo = get(session, "model", "lab/tiny")
        assert repo.private is False and repo.gated is None
        assert repo.card_data["license"] == "apache-2.0"
        assert {"baton-commons", "baton-team:team-lab", "baton-challenge:demo-2026"} <= set(repo.card_data["tags"])
        tag = commits.find_ref(session, repo, "tag", "baton/demo-2026/team-lab/stage-1")
        assert tag is not None and tag.commit_oid == public["released_commit"]
        assert commits.resolve_revision(session, repo, None).oid == tag.commit_oid
        gated_repo = get(session, "model", "lab/tiny-gated")
        assert gated_repo.private is False and gated_repo.gated == "manual"
        actions = [row["action"] for row in release.actions_of(session, "demo-2026", "team-lab")]
    assert actions[0] == "plan_started"
    assert actions.count("released") == 2 and "card_updated" in actions and "checked" in actions
    with runtime.database.session() as session:  # each opened repo is announced once, at what was released
        announced = [stored.payload for stored in events.published(session, ItemReleased)]
    assert sorted((a["repo"], a["commit"]) for a in announced) == sorted(
        [("lab/tiny", public["released_commit"]), ("lab/tiny-gated", gated["released_commit"])]
    )


def test_personal_data_holds_a_dataset_until_an_operator_resolves_it(runtime: Runtime, users: Tokens) -> None:
    make_repo(runtime, "dataset", "lab/qa", {"data/train.csv": PERSONAL, "data/extra.parquet": b"PAR1\x00\x00PAR1"})
    (item,) = _execute(runtime, [PlannedRepo("dataset", "lab/qa", asset_kind="dataset", license="cc-by-4.0")])
    assert item["state"] == "held"
    findings = item["findings"]
    kinds = {finding["detail"]["kind"] for finding in findings}
    assert {"unscanned"} <= kinds and len(kinds - {"unscanned"}) >= 2  # phone, e-mail, resident number...
    assert all("minji.kim@example.com" not in finding["summary"] for finding in findings)  # masked
    with runtime.database.session() as session:
        assert get(session, "dataset", "lab/qa").private is True
        assert [held["repo"] for held in release.held_items(session)] == ["lab/qa"]

    with runtime.database.session(write=True) as session:
        alice, bob = accounts.act_as(session, "alice"), accounts.act_as(session, "bob")
        first = findings[0]["id"]
        with pytest.raises(PermissionDeniedError):
            release.resolve_finding(session, runtime, first, bob, resolution="accept", reason="looks fine to me")
        with pytest.raises(BadRequestError, match="reason"):
            release.resolve_finding(session, runtime, first, alice, resolution="accept", reason=" ")
        pii_finding = next(f for f in findings if f["detail"]["kind"] != "unscanned")
        with pytest.raises(ConflictError, match="no commit after"):
            release.resolve_finding(session, runtime, pii_finding["id"], alice, resolution="cleaned", reason="removed")

    # A new commit that still holds the numbers is not "cleaned".
    commit(runtime, "dataset", "lab/qa", {"data/notes.txt": b"nothing here"})
    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        with pytest.raises(ConflictError, match="still fails"):
            release.resolve_finding(session, runtime, pii_finding["id"], alice, resolution="cleaned", reason="removed")

    commit(runtime, "dataset", "lab/qa", {"data/train.csv": CLEAN})
    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        for finding in findings:
            if finding["detail"]["kind"] == "unscanned":
                release.resolve_finding(
                    session, runtime, finding["id"], alice, resolution="accept", reason="parquet file checked by hand"
                )
            else:
                release.resolve_finding(
                    session, runtime, finding["id"], alice, resolution="cleaned", reason="numbers removed", now=NOW
                )
        item_row = release.list_items(session)[0]
        assert item_row.state == "released"
        assert get(session, "dataset", "lab/qa").private is False
        resolved = release.item_json(session, item_row)["findings"]
        assert {f["state"] for f in resolved} == {"accepted", "cleaned"}
        assert all(f["resolved_by"] == "alice" for f in resolved)
        actions = [row["action"] for row in release.actions_of(session, "demo-2026")]
        assert "finding_accepted" in actions and "finding_cleaned" in actions and actions[-1] == "released"


def test_a_non_commercial_base_holds_a_permissive_derivative(runtime: Runtime, users: Tokens) -> None:
    make_repo(runtime, "model", "lab/base", {"model.safetensors": weights(0)}, card={"license": "cc-by-nc-4.0"})
    make_repo(
        runtime,
        "model",
        "lab/tuned",
        {"model.safetensors": weights(1)},
        card={"license": "apache-2.0", "base_model": "lab/base", "base_model_relation": "finetune"},
    )
    make_repo(
        runtime,
        "model",
        "lab/tuned-nc",
        {"model.safetensors": weights(2)},
        card={"license": "cc-by-nc-4.0", "base_model": "lab/tuned"},
    )
    items = _execute(
        runtime,
        [
            PlannedRepo("model", "lab/tuned", license="apache-2.0"),
            PlannedRepo("model", "lab/tuned-nc", license="cc-by-nc-4.0"),
        ],
    )
    held, fine = items
    assert held["state"] == "held" and fine["state"] == "released"
    (conflict,) = held["findings"]
    assert conflict["kind"] == "license" and "lab/base" in conflict["summary"]
    # The grandchild's check walked the lineage up to lab/base through lab/tuned.
    with runtime.database.session() as session:
        bases = checks.lineage_licenses(session, get(session, "model", "lab/tuned-nc"))
    assert [(base["id"], base["depth"]) for base in bases] == [("lab/tuned", 1), ("lab/base", 2)]

    with runtime.database.session(write=True) as session:
        alice = accounts.act_as(session, "alice")
        release.resolve_finding(
            session,
            runtime,
            conflict["id"],
            alice,
            resolution="accept",
            reason="the base's authors granted a commercial license in writing (letter 2026-01-20)",
        )
        assert get(session, "model", "lab/tuned").private is False


def test_an_embargoed_repo_waits_for_its_date(runtime: Runtime, users: Tokens) -> None:
    make_repo(runtime, "model", "lab/later", {"model.safetensors": weights(3)}, card={"license": "mit"})
    until = NOW + timedelta(days=30)
    (item,) = _execute(runtime, [PlannedRepo("model", "lab/later", license="mit", embargo_until=until)])
    assert item["state"] == "embargoed"
    assert release.release_due(runtime, NOW + timedelta(days=29)) == []
    with runtime.database.session() as session:
        assert get(session, "model", "lab/later").private is True
    (due,) = release.release_due(runtime, until)
    assert due.state == "released" and due.released_at == until
    with runtime.database.session() as session:
        assert get(session, "model", "lab/later").private is False


def test_a_missing_repo_is_held_and_a_second_run_adds_nothing(runtime: Runtime, users: Tokens) -> None:
    planned = [PlannedRepo("model", "lab/never-made", license="mit")]
    (item,) = _execute(runtime, planned)
    assert item["state"] == "held" and item["findings"][0]["kind"] == "missing"
    (again,) = _execute(runtime, planned)
    assert again["id"] == item["id"] and len(again["findings"]) == 1


def test_bad_plan_entries_are_refused() -> None:
    with pytest.raises(BadRequestError, match=r"access .secret."):
        PlannedRepo("model", "lab/x", access="secret")
    with pytest.raises(BadRequestError, match="repo type"):
        PlannedRepo("bucket", "lab/x")
    with pytest.raises(BadRequestError):
        PlannedRepo("model", "no-namespace")
    entry = release.planned_from(
        {
            "repo": "lab/x",
            "repo_type": "dataset",
            "kind": "dataset",
            "license": "mit",
            "embargo_until": "2026-03-01",
            "access": "public",
            "gated_mode": None,
        }
    )
    assert entry.embargo_until is not None and entry.embargo_until.isoformat() == "2026-03-01T00:00:00+00:00"


def test_operators_list_and_resolve_held_items_over_http(runtime: Runtime, users: Tokens, client: TestClient) -> None:
    make_repo(runtime, "dataset", "lab/contacts", {"contacts.csv": PERSONAL})
    _execute(runtime, [PlannedRepo("dataset", "lab/contacts", asset_kind="dataset", license="cc0-1.0")])
    assert client.get("/api/commons/held", headers=users.headers("bob")).status_code == 403
    held = client.get("/api/commons/held", headers=users.headers("alice")).json()
    assert [entry["repo"] for entry in held] == ["lab/contacts"]
    finding = held[0]["findings"][0]["id"]
    refused = client.post(
        f"/api/commons/findings/{finding}/resolve",
        json={"resolution": "maybe", "reason": "x"},
        headers=users.headers("alice"),
    )
    assert refused.status_code == 400 and refused.json()["error"]
    for entry in held[0]["findings"]:
        answer = client.post(
            f"/api/commons/findings/{entry['id']}/resolve",
            json={"resolution": "accept", "reason": "synthetic numbers made for the test set"},
            headers=users.headers("alice"),
        )
        assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "released"
    assert client.get("/api/commons/held", headers=users.headers("alice")).json() == []
    assert client.get("/api/datasets/lab/contacts").status_code == 200  # public now


def test_embargoes_and_held_items_from_the_cli(
    runtime: Runtime, users: Tokens, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(runtime, "model", "lab/cli-later", {"model.safetensors": weights(4)}, card={"license": "mit"})
    make_repo(runtime, "dataset", "lab/cli-contacts", {"contacts.csv": PERSONAL})
    until = NOW + timedelta(days=10)
    _execute(
        runtime,
        [
            PlannedRepo("model", "lab/cli-later", license="mit", embargo_until=until),
            PlannedRepo("dataset", "lab/cli-contacts", asset_kind="dataset", license="cc0-1.0"),
        ],
    )
    monkeypatch.setenv("BATON_DATABASE_URL", runtime.settings.resolved_database_url)
    runner = CliRunner()
    data_dir = ["--data-dir", str(settings.data_dir)]
    early = runner.invoke(cli, ["commons", "release-due", "--now", (until - timedelta(days=1)).isoformat(), *data_dir])
    assert early.exit_code == 0 and "nothing is due" in early.output
    due = runner.invoke(cli, ["commons", "release-due", "--now", until.isoformat(), *data_dir])
    assert due.exit_code == 0 and "lab/cli-later: released" in due.output
    held = runner.invoke(cli, ["commons", "held", *data_dir])
    assert "lab/cli-contacts" in held.output and "phone" in held.output
    finding = int(held.output.split("finding ", 1)[1].split(" ", 1)[0])
    refused = runner.invoke(
        cli,
        [
            "commons",
            "resolve",
            str(finding),
            "--as",
            "bob",
            "--resolution",
            "accept",
            "--reason",
            "fine by me",
            *data_dir,
        ],
    )
    assert refused.exit_code == 2 and "not an operator" in refused.output
    listed = runner.invoke(cli, ["commons", "list", "--json", *data_dir])
    states = {a["repo"]: a["state"] for t in json.loads(listed.output)["teams"] for a in t["assets"]}
    # Changed on purpose (issue 12, item 12): the catalogue is public, and the held dataset is still
    # private, so it is listed without its name (the operators' `commons held` above names it).
    assert states == {"lab/cli-later": "released", None: "held"}
    assert "lab/cli-contacts" not in listed.output


def test_checks_run_outside_the_write_and_again_when_a_commit_lands_in_between(
    runtime: Runtime, users: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(runtime, "dataset", "lab/moving", {"a.csv": CLEAN})
    real_precheck = release.precheck
    checked_heads: list[set[str]] = []

    def precheck_then_a_commit_lands(runtime_: Runtime, item_ids: list[int], **options: bool) -> release.Prechecked:
        outcomes = real_precheck(runtime_, item_ids, **options)
        checked_heads.append({commit_oid for _item, commit_oid in outcomes})
        if len(checked_heads) == 1:  # someone pushes personal data while the first checks run
            commit(runtime, "dataset", "lab/moving", {"b.csv": PERSONAL})
        return outcomes

    monkeypatch.setattr(release, "precheck", precheck_then_a_commit_lands)
    (item,) = _execute(runtime, [PlannedRepo("dataset", "lab/moving", asset_kind="dataset", license="cc-by-4.0")])
    # The first outcome was for a head that had moved: nothing was written from it, and the checks
    # ran again on the new head, which holds the personal data.
    assert len(checked_heads) == 2 and checked_heads[0] != checked_heads[1]
    assert item["state"] == "held" and item["checked_commit"] in checked_heads[1]
    assert item["findings"] and {finding["detail"]["path"] for finding in item["findings"]} == {"b.csv"}
