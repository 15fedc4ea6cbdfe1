"""commons job kinds: the release jobs queued under the challenge's names move to the commons'

Revision ID: 0012_commons_jobs
Revises: 0011_events

The commons' code moved out of the challenge domain; its job kinds follow (``challenge.release_due``
becomes the periodic ``commons.release_due``, ``challenge.release_recheck`` becomes
``commons.release_recheck``). Queued, failed and dead jobs keep their payloads and history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_commons_jobs"
down_revision: str | None = "0011_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {
    "challenge.release_due": "commons.release_due",
    "challenge.release_recheck": "commons.release_recheck",
}


def _rename(pairs: dict[str, str]) -> None:
    jobs = sa.table("jobs", sa.column("kind", sa.String))
    for old, new in pairs.items():
        op.execute(jobs.update().where(jobs.c.kind == old).values(kind=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
