"""Migration 0010_privacy on a database that already holds provenance reports (SQLite)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from baton.core.database import Database
from baton.domains import alembic_config

NOW = "2026-01-01 00:00:00"


def test_existing_reports_get_their_reference_repo_and_a_salt_and_the_migration_reverts(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'baton.db'}")
    config = alembic_config(database.engine)
    command.upgrade(config, "0009")
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, name, kind, fullname, is_admin, created_at) "
                "VALUES (1, 'carol', 'user', 'Carol', 0, :now)"
            ),
            {"now": NOW},
        )
        for repo_id, name, private in ((1, "subject", 0), (2, "secret", 1)):
            connection.execute(
                text(
                    "INSERT INTO repos (id, repo_type, namespace, name, owner_id, private, default_branch, card_data,"
                    " used_storage, downloads, created_at, last_modified)"
                    " VALUES (:id, 'model', 'carol', :name, 1, :private, 'main', '{}', 0, 0, :now, :now)"
                ),
                {"id": repo_id, "name": name, "private": private, "now": NOW},
            )
        for report_id, reference in ((1, "carol/secret@" + "a" * 40), (2, "gone/deleted@" + "b" * 40)):
            connection.execute(
                text(
                    "INSERT INTO provenance_reports (id, repo_id, commit_oid, reference, reason, verdict, report,"
                    " summary, created_at) VALUES (:id, 1, :oid, :reference, 'width', 'copied', '{}', '', :now)"
                ),
                {"id": report_id, "oid": "c" * 40, "reference": reference, "now": NOW},
            )
    command.upgrade(config, "heads")
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, reference_repo_id, reference_salt FROM provenance_reports ORDER BY id")
        ).all()
    assert [(row[0], row[1]) for row in rows] == [(1, 2), (2, None)]  # found by name; a deleted repo stays NULL
    salts = [row[2] for row in rows]
    assert all(len(salt) == 64 for salt in salts) and salts[0] != salts[1]
    command.downgrade(config, "0009")
    with database.engine.connect() as connection:
        columns = [row[1] for row in connection.execute(text("PRAGMA table_info(provenance_reports)"))]
        tables = [row[0] for row in connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))]
    assert "reference_salt" not in columns and "challenge_openings" not in tables
    database.dispose()
