"""The commons catalogue: what each team released when it left, and what its work went on to do.

Per team and per asset: the release state (released, embargoed until a date, held for an operator),
downloads from the hub, the repos built on it along the lineage (direct and further down), and the
evaluations recorded for it. Held items show only that they are held and why in general terms;
the findings themselves are for operators (``release.held_items``).

The commons does not know the talent domain: a caller that can count how many people from each
former team found a new place passes ``placements_of`` (``baton.web.catalogue`` does, with the talent
domain's count), and the catalogue shows it per team.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts.actor import Actor
from baton.challenge import access
from baton.commons import release
from baton.commons.models import ReleaseItem
from baton.core.errors import NotFoundError
from baton.hub import repos
from baton.hub.models import LineageEdge, Repo

MAX_DESCENDANT_DEPTH = 8

HELD_NOTES = {
    "pii": "held: personal data found in the files; an operator must resolve it",
    "license": "held: its license conflicts with a base model's; an operator must resolve it",
    "missing": "held: the planned repo is not in the hub",
}


def _descendants(session: Session, user: Actor | None, repo: Repo) -> list[dict[str, Any]]:
    """Repos built on ``repo`` along lineage edges, breadth first, with their depth (1 = direct)."""
    found: list[dict[str, Any]] = []
    seen = {repo.repo_id}
    frontier = [(repo.repo_id, 0)]
    while frontier:
        base_id, depth = frontier.pop(0)
        if depth >= MAX_DESCENDANT_DEPTH:
            continue
        rows = session.execute(
            select(LineageEdge, Repo)
            .join(Repo, Repo.id == LineageEdge.child_repo_id)
            .where(LineageEdge.base == base_id)
            .order_by(Repo.namespace, Repo.name)
        ).all()
        for edge, child in rows:
            if child.repo_id in seen:
                continue
            seen.add(child.repo_id)
            if child.private and not repos.has_role(session, user, child, "read"):
                continue
            found.append(
                {
                    "id": child.repo_id,
                    "type": child.repo_type,
                    "relation": edge.relation,
                    "depth": depth + 1,
                    "via": base_id,
                    "downloads": child.downloads,
                }
            )
            frontier.append((child.repo_id, depth + 1))
    return found


def _challenge_scores(session: Session, challenge: str) -> dict[str, list[dict[str, Any]]]:
    """Scores the challenge recorded, by repo id (from its ledger's score events)."""
    from baton.challenge import service

    try:
        events = service.ledger_events(session, challenge)
    except NotFoundError:  # releases recorded for a challenge this database does not hold
        return {}
    by_repo: dict[str, list[dict[str, Any]]] = {}
    # Scores of a sealed model carry its sealed label; its opening, revealed at finality (later in
    # the ledger) when its repo is public by then, says which repo they belong to.
    revealed: dict[str, dict[str, Any]] = {}  # commitment -> opened (repo, revision)
    for event in events:
        if event.get("kind") == "commitments.revealed":
            for opening in (event.get("payload") or {}).get("openings") or []:
                value = opening.get("value")
                if isinstance(value, dict) and "repo" in value and "revision" in value:  # not a repo alone
                    revealed[str(opening.get("commitment"))] = value
    for event in events:
        if event.get("kind") != "score.recorded":
            continue
        payload = event.get("payload") or {}
        model = str(payload.get("model") or "")
        if not model:
            continue
        repo_id, _, commit = model.partition("@")
        if commit in revealed:
            repo_id, commit = str(revealed[commit]["repo"]), str(revealed[commit]["revision"])
        by_repo.setdefault(repo_id, []).append(
            {
                "source": "challenge",
                "stage": payload.get("stage"),
                "task": payload.get("task"),
                "score": payload.get("score"),
                "stderr": payload.get("stderr"),
                "n": payload.get("n"),
                "commit": commit or None,
            }
        )
    return by_repo


PlacementsFunction = Callable[..., Mapping[str, int]]
"""``placements_of(session, challenge=slug)``: per team slug, how many of its people found a new place."""


def asset_entry(
    session: Session, item: ReleaseItem, user: Actor | None, scores: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """One asset of the commons, with what is public about it (a private repo sealed: ``access``)."""
    entry = access.release_item_view_for(session, user, item, release.item_json(session, item, with_findings=False))
    open_kinds = sorted({finding.kind for finding in release.findings_of(session, item) if finding.state == "open"})
    entry["holds"] = open_kinds if item.state == "held" else []  # codes, for pages to say in their language
    entry["notes"] = [HELD_NOTES.get(kind, f"held: {kind}") for kind in entry["holds"]]
    repo = session.get(Repo, item.repo_pk) if item.repo_pk is not None else None
    visible = repo is not None and (not repo.private or repos.has_role(session, user, repo, "read"))
    if repo is None or not visible:
        entry |= {"downloads": None, "file_downloads": {}, "built_on_it": [], "built_on_it_total": 0}
    else:
        descendants = _descendants(session, user, repo)
        file_counts = repos.file_downloads(session, repo)
        entry |= {
            "downloads": repo.downloads,
            "file_downloads": dict(sorted(file_counts.items(), key=lambda pair: -pair[1])[:10]),
            "built_on_it": [d for d in descendants if d["depth"] == 1],
            "built_on_it_total": len(descendants),
            "descendants": descendants,
            "private": repo.private,
            "gated": repo.gated,
            "url": f"/{'' if repo.repo_type == 'model' else repo.repo_type + 's/'}{repo.repo_id}",
        }
    entry["evaluations"] = scores.get(item.repo_name, [])
    return entry


def catalogue(
    session: Session,
    user: Actor | None = None,
    *,
    challenge: str | None = None,
    placements_of: PlacementsFunction | None = None,
) -> dict[str, Any]:
    """The commons: per challenge and team, each planned asset with downloads, lineage and evaluations.

    With ``placements_of``, each team also carries ``placements`` (and ``placements_shown`` is True).
    """
    items = release.list_items(session, challenge=challenge)
    placements: dict[str, dict[str, int]] = {}
    teams: dict[tuple[str, str], dict[str, Any]] = {}
    score_cache: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for item in items:
        if item.challenge not in score_cache:
            score_cache[item.challenge] = _challenge_scores(session, item.challenge)
            if placements_of is not None:
                placements[item.challenge] = dict(placements_of(session, challenge=item.challenge))
        team = teams.setdefault(
            (item.challenge, item.team),
            {
                "challenge": item.challenge,
                "team": item.team,
                "stage": item.stage,
                "reason": item.exit_reason,
                "assets": [],
            },
        )
        team["assets"].append(asset_entry(session, item, user, score_cache[item.challenge]))
    for team in teams.values():
        assets = team["assets"]
        team["totals"] = {
            "assets": len(assets),
            "released": sum(1 for asset in assets if asset["state"] == "released"),
            "held": sum(1 for asset in assets if asset["state"] == "held"),
            "embargoed": sum(1 for asset in assets if asset["state"] == "embargoed"),
            "downloads": sum(asset["downloads"] or 0 for asset in assets),
            "built_on_it": sum(asset["built_on_it_total"] for asset in assets),
            "evaluations": sum(len(asset["evaluations"]) for asset in assets),
        }
        if placements_of is not None:
            team["placements"] = placements.get(team["challenge"], {}).get(team["team"], 0)
    listed = list(teams.values())
    return {
        "challenge": challenge,
        "teams": listed,
        "totals": {
            "teams": len(listed),
            "assets": sum(team["totals"]["assets"] for team in listed),
            "released": sum(team["totals"]["released"] for team in listed),
            "held": sum(team["totals"]["held"] for team in listed),
            "downloads": sum(team["totals"]["downloads"] for team in listed),
        },
        "placements_shown": placements_of is not None,
    }


def latest_releases(session: Session, user: Actor | None = None, *, limit: int = 8) -> list[dict[str, Any]]:
    """The most recently released assets ``user`` may see, newest first (the site's home page).

    An asset whose repo is sealed or private for ``user`` is left out, not shown under a pseudonym:
    the list is a way in to the files, and such a repo has none to offer.
    """
    query = (
        select(ReleaseItem)
        .where(ReleaseItem.state == "released")
        .order_by(ReleaseItem.released_at.desc(), ReleaseItem.id.desc())
        .limit(max(1, limit) * 4)  # room for the ones left out
    )
    shown: list[dict[str, Any]] = []
    for item in session.scalars(query):
        entry = access.release_item_view_for(session, user, item, release.item_json(session, item, with_findings=False))
        repo = session.get(Repo, item.repo_pk) if item.repo_pk is not None else None
        if (
            entry.get("repo") is None
            or repo is None
            or (repo.private and not repos.has_role(session, user, repo, "read"))
        ):
            continue
        shown.append(
            {
                "repo": repo.repo_id,
                "type": repo.repo_type,
                "kind": item.asset_kind,
                "challenge": item.challenge,
                "team": item.team,
                "license": item.effective_license or item.license,
                "gated": repo.gated,
                "released_at": entry.get("released_at"),
                "downloads": repo.downloads,
                "url": f"/{'' if repo.repo_type == 'model' else repo.repo_type + 's/'}{repo.repo_id}",
            }
        )
        if len(shown) >= limit:
            break
    return shown
