"""Every domain's tables, imported in one place so Alembic sees the whole schema."""

from __future__ import annotations

import baton.accounts.models
import baton.challenge.models
import baton.commons.models
import baton.core.job_models
import baton.evaluation.models
import baton.hub.models
import baton.provenance.models
import baton.talent.models  # noqa: F401
from baton.core.database import Base

metadata = Base.metadata
