"""The demo site for the crawler and the accessibility tests: the data `baton demo` loads, in a fresh SQLite
data folder, served by a real uvicorn server; the demo's roles and how each signs in through ``/login``; and
what an anonymous visitor must never see (private repo names, sealed names, tokens, e-mails, talent profiles).

SQLite is enough here: these tests read pages, and the database suites cover PostgreSQL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx
from sqlalchemy import select

from baton.accounts import service as accounts
from baton.accounts.models import Account
from baton.challenge.models import Battle, Opening
from baton.core.runtime import Runtime
from baton.core.settings import Settings
from baton.demo import challenge_demo
from baton.demo.seed import MEMBER, OPERATOR, seed_demo
from baton.domains import open_runtime
from baton.hub.models import Repo
from baton.talent import consent as notices
from baton.talent import service as talent
from baton.talent.models import TalentProfile

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
REVIEWER = challenge_demo.REVIEWERS[0][0]  # reviewer-kim: scored every team of stage 1
VOTER = challenge_demo.GUEST_VOTER  # the demo prints its token: it votes in stage 2's arena
NLP_SKILL = "10010179"  # a skill code of the talent taxonomy (natural language processing)
# Talent profiles the tests add (the demo has none): one shown to nobody, one to the signed-in pool.
HIDDEN_PERSON = challenge_demo.TEAMS[2].member  # seoyeon
POOL_PERSON = challenge_demo.TEAMS[1].member  # jiho


@dataclass
class DemoSite:
    runtime: Runtime
    tokens: dict[str, str]  # role name -> an API token of that user
    roles: dict[str, str] = field(default_factory=dict)  # role -> user name

    def close(self) -> None:
        self.runtime.close()


def load_demo(data_dir: Path) -> DemoSite:
    """What `baton demo` loads (the same two calls), plus a reviewer's token, e-mails and two talent profiles."""
    data_dir.mkdir(parents=True, exist_ok=True)
    runtime = open_runtime(Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'baton.db'}"))
    seeded = seed_demo(runtime)
    challenge = challenge_demo.run_challenge_demo(runtime)
    assert seeded.created and challenge.created
    tokens = seeded.tokens | challenge.tokens
    with runtime.database.session(write=True) as session:
        reviewer = accounts.get_account(session, REVIEWER)
        tokens[REVIEWER] = accounts.issue_token(session, reviewer, name="crawl").value
        for account in session.scalars(select(Account).where(Account.kind == "user")):
            account.email = f"{account.name}.mail@example.org"
        for name, visibility in ((HIDDEN_PERSON, "nobody"), (POOL_PERSON, "pool")):
            person = accounts.act_as(session, name)
            talent.create_profile(
                session,
                person,
                talent.ProfileFields(
                    name=f"Talent {name} Realname",
                    contact_email=f"{name}.talent@example.org",
                    skills=[NLP_SKILL],
                    headline=f"Headline of {name} seeking a place",
                ),
                talent.CollectionConsent(
                    notice_version=notices.CURRENT_VERSION[notices.COLLECTION], optional_items=["headline"]
                ),
            )
            if visibility == "pool":
                talent.grant_consent(
                    session,
                    person,
                    notices.POOL,
                    notices.CURRENT_VERSION[notices.POOL],
                    ["name", "skills", "headline"],
                )
                talent.set_visibility(session, person, "pool")
    roles = {"operator": OPERATOR, "member": MEMBER, "reviewer": REVIEWER, "voter": VOTER}
    return DemoSite(runtime=runtime, tokens=tokens, roles=roles)


# ------------------------------------------------------------------------------------------------- signing in


class _Forms(HTMLParser):
    """The forms of a page: action, method and the named fields with their default values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, object]] = []
        self._open: dict[str, object] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._open = {
                "action": values.get("action", ""),
                "method": values.get("method", "get").lower(),
                "fields": [],
                "names": set(),
            }
            self.forms.append(self._open)
            return
        if self._open is None:
            return
        fields = self._open["fields"]
        names = self._open["names"]
        assert isinstance(fields, list) and isinstance(names, set)
        name = values.get("name")
        if tag == "input" and name:
            names.add(name)
            kind = values.get("type", "text").lower()
            if kind in {"checkbox", "radio"} and "checked" not in values:
                return
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            fields.append((name, values.get("value", "on" if kind in {"checkbox", "radio"} else "")))
        elif tag == "textarea" and name:
            names.add(name)
            fields.append((name, ""))
        elif tag == "select" and name:
            names.add(name)
            self._select = name
            fields.append((name, None))  # the first option, or the selected one, fills it in
        elif tag == "option" and self._select is not None:
            option = values.get("value", "")
            last = fields[-1]
            if last[1] is None or "selected" in values:
                fields[-1] = (last[0], option)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        elif tag == "select":
            self._select = None


def page_forms(text: str) -> list[dict[str, object]]:
    parser = _Forms()
    parser.feed(text)
    parser.close()
    return parser.forms


def sign_in(client: httpx.Client, user: str, secret: str) -> None:
    """Sign ``client`` in as ``user`` through the site's own /login form (the one place that knows how).

    The demo's people sign in with an API token (``secret``): the page's second form, with its CSRF value."""
    page = client.get("/login", headers=HTML)
    assert page.status_code == 200, page.text
    (form,) = [form for form in page_forms(page.text) if "token" in form["names"]]  # type: ignore[operator]
    fields = dict(form["fields"])  # type: ignore[call-overload]
    fields["token"] = secret
    answer = client.post(str(form["action"]) or "/login", data=fields, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303, f"signing in as {user}: {answer.status_code} {answer.text[:300]}"
    home = client.get("/", headers=HTML)
    assert f'id="viewer">{html.escape(user)}<' in home.text, f"not signed in as {user}"


# -------------------------------------------------------------------------------------------- private data


@dataclass(frozen=True)
class Secret:
    what: str
    value: str
    pattern: re.Pattern[str]


def _secret(what: str, value: str) -> Secret:
    # Whole names only: "org/model" must not match inside "org/model-public".
    return Secret(what, value, re.compile(r"(?<![\w.-])" + re.escape(value) + r"(?![\w-])", re.IGNORECASE))


def private_data(site: DemoSite) -> list[Secret]:
    """What no anonymous page may show, read from the database as it is now."""
    found: list[Secret] = []
    with site.runtime.database.session() as session:
        for repo in session.scalars(select(Repo).where(Repo.private.is_(True))):
            found.append(_secret(f"private {repo.repo_type} repo", repo.repo_id))
        for opening in session.scalars(select(Opening).where(Opening.revealed_seq.is_(None))):
            value = opening.value
            if opening.kind in {"repo", "model"}:
                found.append(_secret(f"sealed name behind {opening.pseudonym}", str(value["repo"])))
                if value.get("revision"):
                    found.append(_secret(f"sealed revision behind {opening.pseudonym}", str(value["revision"])))
        sealed_battles = {
            (opening.stage, opening.value["team_a"], opening.value["answer_a"])
            for opening in session.scalars(
                select(Opening).where(Opening.kind == "battle", Opening.revealed_seq.is_(None))
            )
        }
        for battle in session.scalars(select(Battle)):
            if (battle.stage, battle.team_a, battle.answer_a) in sealed_battles:
                found.append(_secret(f"blind battle of {battle.stage}", battle.battle))
        for account in session.scalars(select(Account).where(Account.email.is_not(None))):
            found.append(_secret(f"e-mail of {account.name}", str(account.email)))
        for profile in session.scalars(select(TalentProfile)):
            found.append(_secret(f"talent profile {profile.public_id}", profile.public_id))
            found.append(_secret(f"talent profile name of {profile.public_id}", profile.name))
            found.append(_secret(f"talent contact of {profile.public_id}", profile.contact_email))
            if profile.headline:
                found.append(_secret(f"talent headline of {profile.public_id}", profile.headline))
    for user, token in site.tokens.items():
        found.append(_secret(f"API token of {user}", token))
    return found


def leaks(text: str, secrets: list[Secret]) -> Iterator[Secret]:
    for secret in secrets:
        if secret.value.lower() in text.lower() and secret.pattern.search(text):
            yield secret
