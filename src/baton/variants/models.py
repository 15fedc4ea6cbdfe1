"""Tables of the variants domain: the result of loading and running each variant revision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from baton.core.database import Base, UTCDateTime, utcnow

CHECK_OK = "ok"
CHECK_FAILED = "failed"


class VariantCheck(Base):
    """Whether a variant revision loads and runs with the runtime its card names (the latest check)."""

    __tablename__ = "variant_checks"
    __table_args__ = (UniqueConstraint("repo_id", "commit", "runtime"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    commit: Mapped[str] = mapped_column(String(40))
    runtime: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))  # ok | failed
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
