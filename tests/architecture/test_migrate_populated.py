"""Issue 13's migrations on a populated database: every row the domains held is still there.

A database is filled through the services (a challenge decided and final, its teams' release plans
run, invitations sent, a commit's events delivered), taken back to the revision before this issue
(``0010_privacy``: no event outbox, the commons' jobs under the challenge's names), snapshotted,
and migrated forward again. Every table's rows must come back unchanged, but for the jobs the issue
renames on purpose.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from baton.core import clock, events, jobs
from baton.core.runtime import Runtime
from baton.domains import alembic_config

from .test_exits_exactly_once import LATER, by_service, decided_world

BEFORE_ISSUE = "0010_privacy"


def snapshot(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    engine = runtime.database.engine
    tables = sorted(name for name in inspect(engine).get_table_names() if name != "alembic_version")
    with engine.connect() as connection:
        return {
            table: sorted((tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table}"'))), key=repr)
            for table in tables
        }


def test_a_populated_database_migrates_forward_keeping_every_row(runtime: Runtime) -> None:
    world = decided_world(runtime)
    by_service(runtime, world, pytest.MonkeyPatch())
    with clock.frozen(LATER), runtime.database.session(write=True) as session:
        jobs.enqueue(session, "commons.release_due", {"slot": LATER.isoformat()}, dedupe_key="old-due")
        jobs.enqueue(session, "commons.release_recheck", {"repo_id": 1}, dedupe_key="old-recheck")
    config = alembic_config(runtime.database.engine)

    command.downgrade(config, BEFORE_ISSUE)
    old = snapshot(runtime)
    assert "events" not in old
    old_kinds = sorted(row[1] for row in old["jobs"])
    assert "challenge.release_due" in old_kinds and "challenge.release_recheck" in old_kinds
    assert old["challenge_release_items"] and old["talent_invitations"] and old["challenge_ledger"]

    command.upgrade(config, "heads")
    new = snapshot(runtime)
    assert new.pop("events") == []  # the outbox starts empty; the events before it were delivered
    for table in ("account_passwords", "web_sessions", "sign_in_attempts"):  # web sign-in (0013) starts empty
        assert new.pop(table) == []
    assert new.pop("repo_terms") == []  # issue 15's search index starts empty: baton hub reindex fills it
    assert new.pop("file_scans") == []  # scans are recorded for files committed from then on
    assert new.pop("provenance_scans") == []  # issue 17: one row per scanned revision (this world has no reports)
    for table in ("challenge_panel_assignments", "challenge_panel_conflicts"):  # panel criteria start empty
        assert new.pop(table) == []
    assert new.pop("provenance_component_prints") == []  # filled when a revision is next fingerprinted
    assert new.pop("challenge_standings") == []  # issue 18: the standings' snapshots, computed by the job from then on
    assert new.pop("variant_checks") == []  # issue 19: variants' load checks, from commits made from then on
    assert new.pop("variant_measurements") == []  # issue 19: measured by the job from then on
    # issue 19: repos gain variant_kind (last), NULL here: no card in this world declares a variant
    assert [row[-1] for row in new["repos"]] == [None] * len(old["repos"])
    new["repos"] = sorted((row[:-1] for row in new["repos"]), key=repr)
    renamed = {"challenge.release_due": "commons.release_due", "challenge.release_recheck": "commons.release_recheck"}
    expected_jobs = sorted(
        (
            tuple(renamed.get(value, value) if index == 1 else value for index, value in enumerate(row))
            for row in old["jobs"]
        ),
        key=repr,
    )
    assert new.pop("jobs") == expected_jobs
    old.pop("jobs")
    assert new == old
    with runtime.database.session() as session:
        assert events.published(session) == []
