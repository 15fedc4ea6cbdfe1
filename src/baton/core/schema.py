"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from __future__ import annotations

import baton.accounts.models
import baton.core.job_models
import baton.hub.models
import baton.provenance.models  # noqa: F401
from baton.core.database import Base

metadata = Base.metadata
