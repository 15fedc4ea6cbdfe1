"""Who sees the real name of a repo a challenge's team names: every public route goes through this module.

A team names repos in its submissions, its declared target models, its release plan and, when it
leaves, its release items. The public (anonymous users, voters, other teams) sees a repo that is
private at the time only under its sealed name: a pseudonym (an HMAC under the challenge's secret)
and the salted commitment the public ledger carries (to (repo, revision) where a revision is
pinned, to the repo alone where none is). The real name is shown to operators (site admins), to
the members of the team, and to whoever may read the repo. A name that is no repo of the hub (a
target model outside it, a planned repo not created yet) is shown as given, as in the ledger.

One function per kind of resource: ``entry_view_for`` (the rule, and submissions),
``team_view_for`` (target models and release plan), ``release_item_view_for`` (the commons). The
ledger itself is one public document for everyone; operators get the openings separately.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.challenge.models import Challenge, Team
from baton.hub import repos
from baton.hub.models import Repo

EntryView = Literal["full", "public"]


class ReleasedRepo(Protocol):
    """What ``release_item_view_for`` reads of a release item (the commons' ``ReleaseItem``), so that
    the challenge need not import the commons, which builds on it."""

    @property
    def challenge(self) -> str: ...

    @property
    def team(self) -> str: ...

    @property
    def repo_type(self) -> str: ...

    @property
    def repo_name(self) -> str: ...

    @property
    def repo_pk(self) -> int | None: ...


def is_member(session: Session, team: Team, user: Actor) -> bool:
    if user.name in team.members:
        return True
    return any(org.name in team.organizations for org, _role in accounts.organizations_of(session, user.account_id))


def entry_view_for(session: Session, user: Actor | None, team: Team | None, repo: Repo | None) -> EntryView:
    """How ``user`` sees a repo ``team`` names (repo None: it no longer exists; team None: a release
    recorded for a challenge this database does not hold, where only operators and readers see it)."""
    if repo is not None and (not repo.private or repos.has_role(session, user, repo, "read")):
        return "full"  # a public repo, or one the user may read anyway (site admins may read every repo)
    if user is None:
        return "public"
    return "full" if user.is_operator or (team is not None and is_member(session, team, user)) else "public"


def _sealed(session: Session, user: Actor | None, team: Team | None, repo: Repo) -> bool:
    """Whether ``user`` must see ``repo`` (a hub repo a team names) sealed."""
    return entry_view_for(session, user, team, repo) == "public"


def sealed_json(
    session: Session, challenge: Challenge | None, repo: Repo, revision: str | None = None
) -> dict[str, str | None] | None:
    """The sealed name the ledger gave ``repo`` (with ``revision``, or alone), for a public response.

    Reads only. A repo the ledger named while it was public and that is private now has no
    commitment: it is shown by its pseudonym alone. None outside a challenge this database holds
    (no secret to key a pseudonym with).
    """
    from baton.challenge import service

    if challenge is None:
        return None
    found = service.find_sealed(session, challenge, repo.id, repo.repo_id, revision)
    if found is not None:
        return {"pseudonym": found.pseudonym, "commitment": found.commitment}
    return {"pseudonym": service.model_pseudonym(challenge, repo.repo_type, repo.id, repo.repo_id), "commitment": None}


def _label(sealed: dict[str, str | None] | None) -> str | None:
    if sealed is None or sealed["commitment"] is None:
        return None if sealed is None else sealed["pseudonym"]
    return f"{sealed['pseudonym']}@{sealed['commitment']}"


def _plan_view(
    session: Session, user: Actor | None, challenge: Challenge, team: Team, plan: dict[str, Any]
) -> dict[str, Any]:
    from baton.challenge import service

    entries = []
    for entry in plan.get("repos") or []:
        repo = service.named_repo(session, str(entry.get("repo_type") or "model"), str(entry.get("repo")))
        if repo is not None and _sealed(session, user, team, repo):
            entry = {key: value for key, value in entry.items() if key != "repo"} | {
                "repo": None,
                "sealed": sealed_json(session, challenge, repo),
            }
        entries.append(entry)
    return plan | {"repos": entries}


def team_view_for(session: Session, user: Actor | None, team: Team) -> dict[str, Any]:
    """A team's declarations as ``user`` may see them: ``target_models`` (a private one by its sealed
    label) and ``release_plan`` (a private repo's entry with ``repo`` None and its ``sealed`` name)."""
    from baton.challenge import service

    challenge = service.get_challenge_by_id(session, team.challenge_id)
    targets = []
    for target in team.target_models:
        name, _, revision = target.partition("@")
        repo = service.named_repo(session, "model", name)
        if repo is not None and _sealed(session, user, team, repo):
            target = str(_label(sealed_json(session, challenge, repo, revision or None)))
        targets.append(target)
    return {
        "target_models": targets,
        "release_plan": _plan_view(session, user, challenge, team, dict(team.release_plan or {"repos": []})),
    }


def release_plan_view_for(session: Session, user: Actor | None, team: Team, plan: dict[str, Any]) -> dict[str, Any]:
    """A team's release plan (as ``service.release_plan`` returns it) as ``user`` may see it."""
    from baton.challenge import service

    return _plan_view(session, user, service.get_challenge_by_id(session, team.challenge_id), team, plan)


def release_item_view_for(
    session: Session, user: Actor | None, item: ReleasedRepo, data: dict[str, Any]
) -> dict[str, Any]:
    """A release item (``release.item_json``) as ``user`` may see it: while its repo is private, the
    public sees neither its name nor its commits, only its sealed name, state, kind and license."""
    from baton.challenge import service

    repo = session.get(Repo, item.repo_pk) if item.repo_pk is not None else None
    repo = repo or service.named_repo(session, item.repo_type, item.repo_name)
    challenge = session.scalar(select(Challenge).where(Challenge.slug == item.challenge))
    team = None
    if challenge is not None:
        team = session.scalar(select(Team).where(Team.challenge_id == challenge.id, Team.slug == item.team))
    if repo is None or not _sealed(session, user, team, repo):
        return data
    hidden = {"repo": None, "checked_commit": None, "released_commit": None}
    return data | hidden | {"sealed": sealed_json(session, challenge, repo)}
