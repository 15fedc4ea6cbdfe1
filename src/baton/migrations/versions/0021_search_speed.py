"""repo search: PostgreSQL keeps statistics on 1,000 of the term index's most common terms

Revision ID: 0021_search_speed
Revises: 0020_standings

The planner estimates how many repos a search term matches from the most common values of
``repo_terms.term``. With the default 100, a term common in card text but missing from that list
(Korean 문서 or 요약 in 3,270 of 10,000 repos) was estimated at 167 rows, so a three-word search's
matches were guessed at 126 repos (2,453 real) and each facet looked them up one by one
(21 ms where a hash join takes 2). The frequent terms are the ones that make large matches;
1,000 of them cover those. ANALYZE then reads a larger sample of the table (300,000 rows).
SQLite keeps no such statistics: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_search_speed"
down_revision: str | None = "0020_standings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERM_STATISTICS = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE repo_terms ALTER COLUMN term SET STATISTICS {TERM_STATISTICS}")
    # Only a table with rows is analyzed now: statistics taken of an empty table say "empty" until
    # autovacuum analyzes again, and meanwhile the planner scans the whole table for each repo's
    # rows (a fresh database seeded with 10,000 repos took over ten minutes instead of one).
    # Autovacuum's next ANALYZE uses the larger target either way.
    if op.get_bind().exec_driver_sql("SELECT EXISTS (SELECT 1 FROM repo_terms)").scalar():
        op.execute("ANALYZE repo_terms")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE repo_terms ALTER COLUMN term SET STATISTICS -1")
