"""The pages of a repo and of an account, at the Hugging Face Hub's addresses.

- ``/{namespace}/{name}`` (models) and ``/datasets/{namespace}/{name}``: the card; below each,
  ``/tree/{revision}/{folder}`` (files with sizes and scan results, branches and tags),
  ``/blob/{revision}/{path}`` (a file, its text when small), ``/commits/{revision}`` (history, 50
  a page), ``/lineage`` (declared and verified, drawn as SVG), ``/evaluations`` (models: results
  with 95 % intervals), ``/settings`` (admins: visibility, gating, access requests, deletion), and
  the forms ``/ask-access`` and ``/settings/{visibility,gating,access,delete}``.
- ``/{name}``: a user's or an organization's page (their repos; an organization's members and the
  status of the challenge teams it forms).

Routes are thin: they read the request, call ``baton.web.repo_view`` (which reads through the
domains' rules) or the hub's services for changes, and draw a template. Names in paths match the
hub's patterns only (a reserved top-level name is never an account), and these routes are
registered after every other page (``baton.web.domain``), so they never shadow a page of the site.
Every form carries the sign-in's CSRF value and is refused without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor

from baton.accounts.actor import Actor
from baton.accounts.service import RESERVED_NAMES
from baton.core.errors import BadRequestError, BatonError, PermissionDeniedError
from baton.core.http import RuntimeDep
from baton.core.runtime import Runtime
from baton.hub import repos
from baton.hub.hf_api import base_url, raw_tail
from baton.web import errors, messages, repo_view, signin, templating, variants_view
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import PageUser

_NAME: Final = r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}"
_RESERVED: Final = "|".join(sorted((name.replace(".", r"\.") for name in RESERVED_NAMES), key=len, reverse=True))


class AccountConvertor(Convertor[str]):
    """A user or organization name in a path: the hub's name pattern, never a reserved top-level word."""

    regex = rf"(?!(?i:{_RESERVED})(?:/|$)){_NAME}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class RepoNameConvertor(AccountConvertor):
    regex = _NAME


register_url_convertor("account", AccountConvertor())
register_url_convertor("reponame", RepoNameConvertor())

router = APIRouter(include_in_schema=False)

PREFIXES: Final = {"model": "", "dataset": "/datasets"}
REPO: Final = "/{namespace:account}/{name:reponame}"
GATING_CHOICES: Final = ("off", "auto", "manual")
NOTICES: Final = {
    "visibility": N_("The visibility was changed."),
    "gating": N_("The access setting was changed."),
    "access": N_("The access request was answered."),
    "requested": N_("Your access request was sent."),
}


def _viewer(user: Actor | None) -> str | None:
    return user.name if user is not None else None


def _server(request: Request, runtime: Runtime) -> str:
    return base_url(request, runtime)


def _page(
    request: Request,
    runtime: Runtime,
    user: Actor | None,
    repo_type: str,
    namespace: str,
    name: str,
    template: str,
    tab: str,
    build: Callable[..., dict[str, Any]],
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    with runtime.database.session() as session:
        repo = repo_view.open_repo(session, user, repo_type, namespace, name)
        head = repo_view.header(session, user, repo, _server(request, runtime))
        context = build(session, repo)
        notice = NOTICES.get(request.query_params.get("done", ""))
        return templating.render_page(
            request,
            template,
            viewer=_viewer(user),
            status_code=status_code,
            repo=head,
            tab=tab,
            notice=translate(page_language(request), notice) if notice else None,
            csrf=signin.request_csrf(request),
            login_url=templating.with_query(templating.path_for(request, "login_page"), next=request.url.path),
            **context,
            **extra,
        )


def _csrf_ok(request: Request, value: str) -> bool:
    return signin.csrf_ok(request, value)


def _refused(request: Request, user: Actor | None) -> HTMLResponse:
    lang = page_language(request)
    error = PermissionDeniedError(
        translate(lang, N_("This form has expired or did not come from this site.")),
        code="CsrfMismatch",
        hint=translate(lang, N_("Reload the page and send the form again.")),
    )
    return errors.error_page(request, error, viewer=_viewer(user))


# --------------------------------------------------------------------------------------------- pages


def _repo_routes(repo_type: str) -> None:
    prefix = PREFIXES[repo_type]
    base = prefix + REPO
    kind = repo_type

    def card_page(request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str) -> HTMLResponse:
        def build(session: Any, repo: Any) -> dict[str, Any]:
            return {
                "card": repo_view.card_view(session, runtime, user, repo),
                "variant": repo_view.variant_view(session, user, repo),
            }

        return _page(request, runtime, user, kind, namespace, name, "repo/card.html", "card", build)

    def tree_page(
        request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str, rest: str
    ) -> HTMLResponse:
        revision, folder = raw_tail(request, f"/{namespace}/{name}/tree/")

        def build(session: Any, repo: Any) -> dict[str, Any]:
            return {"tree": repo_view.tree_view(session, repo, revision, folder)}

        return _page(request, runtime, user, kind, namespace, name, "repo/files.html", "files", build)

    def blob_page(
        request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str, rest: str
    ) -> HTMLResponse:
        revision, path = raw_tail(request, f"/{namespace}/{name}/blob/")

        def build(session: Any, repo: Any) -> dict[str, Any]:
            return {"blob": repo_view.blob_view(session, runtime, user, repo, revision, path)}

        return _page(request, runtime, user, kind, namespace, name, "repo/blob.html", "files", build)

    def commits_page(
        request: Request,
        runtime: RuntimeDep,
        user: PageUser,
        namespace: str,
        name: str,
        rest: str,
        after: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        revision, _ = raw_tail(request, f"/{namespace}/{name}/commits/")

        def build(session: Any, repo: Any) -> dict[str, Any]:
            return {"history": repo_view.commits_view(session, repo, revision, after)}

        return _page(request, runtime, user, kind, namespace, name, "repo/commits.html", "commits", build)

    def lineage_page(request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str) -> HTMLResponse:
        def build(session: Any, repo: Any) -> dict[str, Any]:
            return {
                "lineage": repo_view.lineage_view(session, runtime, user, repo, page_language(request)),
                "notes": repo_view.DIFFERENCE_NOTES,
            }

        return _page(request, runtime, user, kind, namespace, name, "repo/lineage.html", "lineage", build)

    def settings_page(request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str) -> Response:
        if user is None:
            return signin.sign_in_redirect(request)
        return _settings(request, runtime, user, kind, namespace, name)

    async def ask_access(request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str) -> Response:
        return await _ask_access(request, runtime, user, kind, namespace, name)

    def change_visibility(
        request: Request,
        runtime: RuntimeDep,
        user: PageUser,
        namespace: str,
        name: str,
        visibility: Annotated[str, Form(max_length=16)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        def act(session: Any, actor: Actor, key: repos.RepoKey) -> None:
            if visibility not in ("public", "private"):
                raise BadRequestError(f"Unknown visibility '{visibility[:16]}'", hint="Choose public or private.")
            repos.update_settings(session, actor, key, visibility=visibility)

        return _settings_action(request, runtime, user, kind, namespace, name, csrf, act, "visibility")

    def change_gating(
        request: Request,
        runtime: RuntimeDep,
        user: PageUser,
        namespace: str,
        name: str,
        gated: Annotated[str, Form(max_length=16)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        def act(session: Any, actor: Actor, key: repos.RepoKey) -> None:
            if gated not in GATING_CHOICES:
                raise BadRequestError(f"Unknown gating mode '{gated[:16]}'", hint="Choose off, auto or manual.")
            repos.update_settings(session, actor, key, gated=False if gated == "off" else gated)

        return _settings_action(request, runtime, user, kind, namespace, name, csrf, act, "gating")

    def answer_access(
        request: Request,
        runtime: RuntimeDep,
        user: PageUser,
        namespace: str,
        name: str,
        username: Annotated[str, Form(max_length=96, alias="user")] = "",
        status: Annotated[str, Form(max_length=16)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        def act(session: Any, actor: Actor, key: repos.RepoKey) -> None:
            repos.decide_access(session, actor, key, username, status)

        return _settings_action(request, runtime, user, kind, namespace, name, csrf, act, "access")

    def delete_repo(
        request: Request,
        runtime: RuntimeDep,
        user: PageUser,
        namespace: str,
        name: str,
        confirm: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        def act(session: Any, actor: Actor, key: repos.RepoKey) -> None:
            if confirm.strip() != key.repo_id:
                lang = page_language(request)
                raise BadRequestError(
                    translate(lang, N_("Type the repo's full name (%(name)s) to delete it."), name=key.repo_id)
                )
            repos.delete_repo(session, actor, key)

        return _settings_action(
            request, runtime, user, kind, namespace, name, csrf, act, "delete", done_url=f"/{quote(namespace)}"
        )

    page = HTMLResponse
    router.add_api_route(base, card_page, methods=["GET"], name=f"{kind}_page", response_class=page)
    router.add_api_route(
        base + "/tree/{rest:path}", tree_page, methods=["GET"], name=f"{kind}_tree", response_class=page
    )
    router.add_api_route(
        base + "/blob/{rest:path}", blob_page, methods=["GET"], name=f"{kind}_blob", response_class=page
    )
    router.add_api_route(
        base + "/commits/{rest:path}", commits_page, methods=["GET"], name=f"{kind}_commits", response_class=page
    )
    router.add_api_route(base + "/lineage", lineage_page, methods=["GET"], name=f"{kind}_lineage", response_class=page)
    if kind == "model":

        def evaluations_page(
            request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str
        ) -> HTMLResponse:
            def build(session: Any, repo: Any) -> dict[str, Any]:
                return {"runs": repo_view.evaluation_view(session, user, repo)}

            return _page(request, runtime, user, kind, namespace, name, "repo/evaluations.html", "evaluations", build)

        router.add_api_route(
            base + "/evaluations", evaluations_page, methods=["GET"], name=f"{kind}_evaluations", response_class=page
        )

        def variants_page(
            request: Request, runtime: RuntimeDep, user: PageUser, namespace: str, name: str
        ) -> HTMLResponse:
            def build(session: Any, repo: Any) -> dict[str, Any]:
                return variants_view.page_context(session, user, repo, page_language(request))

            return _page(request, runtime, user, kind, namespace, name, "repo/variants.html", "variants", build)

        router.add_api_route(
            base + "/variants", variants_page, methods=["GET"], name=f"{kind}_variants", response_class=page
        )
    router.add_api_route(
        base + "/settings", settings_page, methods=["GET"], name=f"{kind}_settings", response_class=page
    )
    router.add_api_route(base + "/ask-access", ask_access, methods=["POST"], name=f"{kind}_ask_access")
    router.add_api_route(base + "/settings/visibility", change_visibility, methods=["POST"], name=f"{kind}_visibility")
    router.add_api_route(base + "/settings/gating", change_gating, methods=["POST"], name=f"{kind}_gating")
    router.add_api_route(base + "/settings/access", answer_access, methods=["POST"], name=f"{kind}_access")
    router.add_api_route(base + "/settings/delete", delete_repo, methods=["POST"], name=f"{kind}_delete")


# --------------------------------------------------------------------------------------------- forms


def _settings(
    request: Request,
    runtime: Runtime,
    user: Actor,
    repo_type: str,
    namespace: str,
    name: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    def build(session: Any, repo: Any) -> dict[str, Any]:
        repos.get_admin_repo(session, user, repos.key_of(repo))  # the hub's rule: 403 to readers who are not admins
        return {"requests": repo_view.settings_requests(session, user, repo), "error": error}

    return _page(
        request, runtime, user, repo_type, namespace, name, "repo/settings.html", "settings", build, status_code
    )


def _settings_action(
    request: Request,
    runtime: Runtime,
    user: Actor | None,
    repo_type: str,
    namespace: str,
    name: str,
    csrf: str,
    act: Callable[[Any, Actor, repos.RepoKey], None],
    done: str,
    *,
    done_url: str | None = None,
) -> Response:
    if user is None:
        return signin.sign_in_redirect(request)
    if not _csrf_ok(request, csrf):
        return _refused(request, user)
    key = repo_view.key(repo_type, namespace, name)
    try:
        with runtime.database.session(write=True) as session:
            act(session, user, key)
    except BatonError as error:
        if error.status_code == 404 or (done == "delete" and error.status_code == 403):
            return errors.error_page(request, error, viewer=user.name)
        try:
            return _settings(
                request,
                runtime,
                user,
                repo_type,
                namespace,
                name,
                error=messages.error_text(page_language(request), error),
                status_code=error.status_code,
            )
        except BatonError as page_error:  # the settings page itself is refused (not an admin): its error page
            return errors.error_page(request, page_error, viewer=user.name)
    target = done_url or f"{repo_view.repo_path(repo_type, key.repo_id)}/settings?done={done}"
    return RedirectResponse(target, status_code=303)


async def _ask_access(
    request: Request, runtime: Runtime, user: Actor | None, repo_type: str, namespace: str, name: str
) -> Response:
    if user is None:
        return signin.sign_in_redirect(request)
    form = await request.form(max_files=0, max_fields=60)
    csrf = form.get("csrf")
    if not isinstance(csrf, str) or not _csrf_ok(request, csrf):
        return _refused(request, user)
    answers = {key: value for key, value in form.items() if key.startswith("gated-field-") and isinstance(value, str)}

    def act() -> Response:
        key = repo_view.key(repo_type, namespace, name)
        try:
            with runtime.database.session(write=True) as session:
                repo = repos.get_repo(session, user, key)
                user.require("write", f"request access to {key}")
                fields: dict[str, Any] = {}
                for field in repo_view.access_state(session, user, repo).fields:
                    value = answers.get(field["id"], "").strip()[:1000]
                    if field["type"] == "checkbox":
                        if value:
                            fields[field["label"]] = True
                    elif value:
                        fields[field["label"]] = value
                repos.request_access(session, user, repo, fields)
        except BatonError as error:
            if error.status_code == 404:
                return errors.error_page(request, error, viewer=user.name)
            return _page(
                request,
                runtime,
                user,
                repo_type,
                namespace,
                name,
                "repo/card.html",
                "card",
                lambda session, repo: {"card": repo_view.card_view(session, runtime, user, repo)},
                status_code=error.status_code,
                access_error=messages.error_text(page_language(request), error),
            )
        return RedirectResponse(f"{repo_view.repo_path(repo_type, key.repo_id)}?done=requested", status_code=303)

    return await run_in_threadpool(act)


for _kind in PREFIXES:
    _repo_routes(_kind)


# --------------------------------------------------------------------------------------------- accounts


def account_page(request: Request, runtime: RuntimeDep, user: PageUser, account: str) -> HTMLResponse:
    with runtime.database.session() as session:
        view = repo_view.account_view(session, user, account)
        # An operator sets other users' passwords from their page; one's own is changed in one's settings.
        own = user is not None and user.name == view.name
        password_link = user is not None and user.is_operator and view.kind != "org" and not own
        return templating.render_page(
            request, "account.html", viewer=_viewer(user), account=view, own=own, password_link=password_link
        )


# Registered last of all (see baton.web.domain): a single name after every other page of the site.
account_router = APIRouter(include_in_schema=False)
account_router.add_api_route(
    "/{account:account}", account_page, methods=["GET"], name="account_page", response_class=HTMLResponse
)
