"""Minimal server-rendered pages where a person must act or read: arena voting and a stage's decision
report; plus a token sign-in that keeps the person signed in by cookie. The site's layout
(``templates/base.html``) is shared with the commons catalogue's page, which the web layer serves.

Sign-in: the person pastes their API token once; Baton answers with an HttpOnly, SameSite=Strict
cookie that names the token's id and carries an HMAC signature and an expiry (never the token
itself). Each request checks the signature and that the token is still valid, so revoking the token
signs the person out everywhere. Forms that change something also carry a value derived from the
cookie, which another site cannot read.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import VOTE, Actor
from baton.accounts.http import limit_actions
from baton.accounts.models import ApiToken
from baton.core.errors import AuthenticationError, BatonError, RateLimitedError
from baton.core.http import RuntimeDep, client_address
from baton.core.runtime import Runtime

SESSION_COOKIE = "baton_session"
SESSION_TTL_SECONDS = 12 * 3600
_SESSION_PATH = "/web-session/"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("baton.challenge", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: Any) -> str:
    context.setdefault("viewer", None)
    context.setdefault("lang", "ko")
    return _environment().get_template(name).render(**context)


def _lang(request: Request, lang: str | None) -> str:
    if lang in ("ko", "en"):
        return lang
    accepted = request.headers.get("accept-language", "")
    return "en" if accepted.lower().startswith("en") else "ko"


def page_language(request: Request, lang: str | None) -> str:
    """The page's language: ``lang`` when it is one Baton speaks, else the browser's (Korean by default)."""
    return _lang(request, lang)


# --------------------------------------------------------------------------------------------- sessions


def session_cookie_value(runtime: Runtime, token: ApiToken) -> str:
    signed = runtime.signer.sign(f"{_SESSION_PATH}{token.id}", ttl_seconds=SESSION_TTL_SECONDS)
    query = parse_qs(signed.partition("?")[2])
    return f"{token.id}.{query['expires'][0]}.{query['signature'][0]}"


def user_from_cookie(session: Session, runtime: Runtime, value: str | None) -> Actor | None:
    """The signed-in person, or None when there is no cookie or it is expired, forged or revoked."""
    if not value:
        return None
    token_id, _, rest = value.partition(".")
    expires, _, signature = rest.partition(".")
    if not token_id.isdigit():
        return None
    try:
        runtime.signer.verify(f"{_SESSION_PATH}{token_id}", expires, signature)
    except AuthenticationError:
        return None
    token = session.get(ApiToken, int(token_id)) if len(token_id) < 19 else None
    if token is None:
        return None
    try:
        return accounts.actor_from_token(session, token)
    except AuthenticationError:  # revoked or expired since the sign-in
        return None


def csrf_value(cookie: str) -> str:
    """A form value only a page served to the cookie's holder can know."""
    return hashlib.sha256(f"baton-form\n{cookie}".encode()).hexdigest()[:32]


def page_user(request: Request, runtime: RuntimeDep) -> Actor | None:
    with runtime.database.session() as session:
        return user_from_cookie(session, runtime, request.cookies.get(SESSION_COOKIE))


PageUser = Annotated[Actor | None, Depends(page_user)]


def _safe_next(target: str | None) -> str:
    # Only local paths: a sign-in form must not bounce the person to another site.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/commons"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: PageUser, next: str = "/commons", lang: str | None = None) -> HTMLResponse:
    language = _lang(request, lang)
    return HTMLResponse(
        render_template(
            "login.html", lang=language, next=_safe_next(next), error=None, viewer=user.name if user else None
        )
    )


@router.post("/login")
def login(
    request: Request,
    runtime: RuntimeDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/commons",
) -> Response:
    language = _lang(request, None)
    try:
        runtime.rate_limiter.hit("sign-in", "address:" + client_address(request))
        with runtime.database.session() as session:
            _user, api_token = accounts.authenticate_token(session, token.strip())
            cookie = session_cookie_value(runtime, api_token)
    except RateLimitedError as error:
        page = render_template("login.html", lang=language, next=_safe_next(next), error=error.message)
        return HTMLResponse(page, status_code=429, headers=error.headers)
    except AuthenticationError as error:
        if error.code == "TokenExpired":
            message = error.message if language == "en" else "만료된 토큰입니다. 새 토큰을 발급받으세요."
        else:
            message = (
                "That token is not valid (or was revoked)."
                if language == "en"
                else "유효하지 않거나 폐기된 토큰입니다."
            )
        page = render_template("login.html", lang=language, next=_safe_next(next), error=message)
        return HTMLResponse(page, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_TTL_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/commons", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _error_page(lang: str, error: BatonError, viewer: str | None) -> HTMLResponse:
    title = "Something went wrong" if lang == "en" else "요청을 처리하지 못했습니다"
    page = render_template("error.html", lang=lang, title=title, message=error.message, hint=error.hint, viewer=viewer)
    return HTMLResponse(page, status_code=error.status_code)


# --------------------------------------------------------------------------------------------- arena


def _arena_path(challenge: str, stage: str) -> str:
    return f"/challenges/{quote(challenge)}/stages/{quote(stage)}/arena"


@router.get("/challenges/{challenge}/stages/{stage}/arena", response_class=HTMLResponse)
def arena_page(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    stage: str,
    lang: str | None = None,
    voted: str | None = None,
) -> Response:
    from baton.challenge import service

    language = _lang(request, lang)
    path = _arena_path(challenge, stage)
    if user is None:
        return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    try:
        user.require(VOTE, "vote")
        with runtime.database.session() as session:
            battle = service.next_battle(session, challenge, stage, voter=user)
            shown = (
                {
                    "battle": battle.battle,
                    "prompt": battle.prompt,
                    "answer_a": battle.answer_a,
                    "answer_b": battle.answer_b,
                }
                if battle is not None
                else None
            )
    except BatonError as error:
        return _error_page(language, error, user.name)
    notice = None
    if voted:
        notice = "Your vote was recorded." if language == "en" else "투표가 기록되었습니다."
    page = render_template(
        "arena.html",
        lang=language,
        viewer=user.name,
        challenge=challenge,
        stage=stage,
        battle=shown,
        vote_path=f"{path}/vote",
        csrf=csrf_value(cookie),
        notice=notice,
        error=None,
    )
    return HTMLResponse(page)


@router.post("/challenges/{challenge}/stages/{stage}/arena/vote")
def arena_vote(
    request: Request,
    runtime: RuntimeDep,
    user: PageUser,
    challenge: str,
    stage: str,
    battle: Annotated[str, Form()] = "",
    choice: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    from baton.challenge import service

    language = _lang(request, None)
    path = _arena_path(challenge, stage)
    if user is None:
        return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
    if csrf != csrf_value(request.cookies.get(SESSION_COOKIE, "")):
        error = AuthenticationError(
            "This vote did not come from the voting page", hint="Open the arena page again and vote from there."
        )
        return _error_page(language, error, user.name)
    try:
        user.require(VOTE, "vote")
        limit_actions(runtime, request, "vote", user)
        with runtime.database.session(write=True) as session:
            service.record_vote(session, challenge, stage, battle, voter=user, choice=choice)
    except BatonError as error:
        page = render_template(
            "arena.html",
            lang=language,
            viewer=user.name,
            challenge=challenge,
            stage=stage,
            battle=None,
            vote_path=f"{path}/vote",
            csrf=csrf,
            notice=None,
            error=f"{error.message} {error.hint}".strip(),
        )
        return HTMLResponse(page, status_code=error.status_code)
    return RedirectResponse(f"{path}?voted=1", status_code=303)


# --------------------------------------------------------------------------------------------- report


@router.get("/challenges/{challenge}/stages/{stage}/report", response_class=HTMLResponse)
def report_page(
    request: Request, runtime: RuntimeDep, user: PageUser, challenge: str, stage: str, lang: str | None = None
) -> HTMLResponse:
    from baton.challenge import report as reports

    language = _lang(request, lang)
    try:
        with runtime.database.session() as session:
            data = reports.load_report(session, challenge, stage)
    except BatonError as error:
        return _error_page(language, error, user.name if user else None)
    return HTMLResponse(reports.render_html(data, language, viewer=user.name if user else None))
