"""Who sees a challenge entry's real model: every route that shows a submission goes through ``entry_view_for``.

The public (anonymous users, voters, other teams) sees a private repo only under its sealed name:
a pseudonym (an HMAC under the challenge's secret) and a salted commitment to (repo, revision),
exactly as the public ledger carries it. The real name and pinned commit are shown to operators
(site admins), to the members of the team that submitted it, and to whoever may read the repo.
The ledger itself is one public document for everyone; operators get the openings separately.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.models import Account
from baton.challenge.models import Team
from baton.hub import repos
from baton.hub.models import Repo

EntryView = Literal["full", "public"]


def is_member(session: Session, team: Team, user: Account) -> bool:
    if user.name in team.members:
        return True
    return any(org.name in team.organizations for org, _role in accounts.organizations_of(session, user))


def entry_view_for(session: Session, user: Account | None, team: Team, repo: Repo | None) -> EntryView:
    """How ``user`` sees an entry of ``team`` naming ``repo`` (None: the repo no longer exists)."""
    if repo is not None and (not repo.private or repos.has_role(session, user, repo, "read")):
        return "full"  # a public repo, or one the user may read anyway (site admins may read every repo)
    if user is None:
        return "public"
    return "full" if user.is_admin or is_member(session, team, user) else "public"
