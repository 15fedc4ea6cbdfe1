"""The talent pool's pages: home and invitations, profile and consent, openings, recommendations.

They call the same service functions as the API (``baton.talent.service``), so every rule (consent,
visibility, roles) holds here too. A person signs in once (``baton.web.signin``); every form that
changes something carries the value derived from the sign-in cookie and needs the write scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from baton.accounts import service as accounts
from baton.accounts.actor import WRITE, Actor
from baton.core.errors import BadRequestError, BatonError
from baton.core.http import DbId, RuntimeDep
from baton.core.runtime import Runtime
from baton.talent import consent as notices
from baton.talent import matchmaking, service
from baton.talent.schemas import ExportDocument
from baton.web import messages, talent_forms, templating
from baton.web.i18n import N_, page_language, translate
from baton.web.signin import PageUser, csrf_ok, request_csrf, sign_in_redirect

router = APIRouter(include_in_schema=False)


def _render(request: Request, user: Actor, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    error = context.get("error")
    # A service error in the page's language (its code's message, or a lead and the English text).
    context["error"] = messages.shown_error(page_language(request), error) if isinstance(error, BatonError) else None
    context.setdefault("done", None)
    return templating.render_page(
        request, name, viewer=user.name, status_code=status, csrf=request_csrf(request), **context
    )


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


async def _checked_form(request: Request) -> FormData:
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise BadRequestError("This form has expired", hint="Reload the page and submit it again.")
    return form


# What withdrawing each consent does, said before the person confirms it.
WITHDRAW_EFFECTS = {
    notices.POOL: N_(
        "Withdrawing this consent takes your profile out of the pool at once: no organization sees it any more, "
        "whatever your visibility setting says."
    ),
    notices.RECOMMENDATION: N_(
        "Withdrawing this consent stops automated recommendations that use your profile; openings stay open to you."
    ),
    notices.PROVISION: N_(
        "Withdrawing this consent stops any further provision of your profile to this organization. What it "
        "received before stays recorded with the date."
    ),
    "default": N_("Withdrawing this consent stops the processing it allowed."),
}


# The pages, each as a function of (session, user, lang) -> (template, context).


def _home(session: Session, user: Actor) -> dict[str, Any]:
    return {"invitations": [service.invitation_json(row) for row in service.list_invitations(session, user)]}


def _profile(
    session: Session, user: Actor, lang: str, form: FormData | None = None, *, run_search: bool = False
) -> dict[str, Any]:
    profile = service.find_profile(session, user)
    context: dict[str, Any] = {
        "profile": None,
        "values": talent_forms.kept_values(form),
        "skills": talent_forms.picker("skills", form, lang, run_search=run_search),
        "field_errors": {},
        "collection": notices.current_notice(notices.COLLECTION).render(lang),
        "collection_labels": {item: labels[lang] for item, labels in notices.ITEM_LABELS.items()},
    }
    context["htmx"] = profile is None  # the skill picker's live search
    context["purpose_titles"] = {
        purpose: notices.current_notice(purpose).render(lang)["title"] for purpose in notices.PURPOSES
    }
    context["withdraw_effects"] = {key: translate(lang, text) for key, text in WITHDRAW_EFFECTS.items()}
    if profile is not None:
        context["profile"] = service.own_profile_json(session, profile)
        context["collected"] = service.collected_items(session, profile)
        context["purpose_notices"] = [
            notices.current_notice(purpose).render(lang)
            for purpose in (notices.POOL, notices.RECOMMENDATION, notices.PROVISION)
        ]
    return context


def _openings(
    session: Session, user: Actor, lang: str = "ko", form: FormData | None = None, *, run_search: bool = False
) -> dict[str, Any]:
    writable = [
        org.name for org, role in accounts.organizations_of(session, user.account_id) if role in ("write", "admin")
    ]
    return {
        "openings": [service.opening_json(session, row) for row in service.list_openings(session)],
        "organizations": writable,
        "values": talent_forms.kept_opening_values(form),
        "required": talent_forms.picker("required_skills", form, lang, run_search=run_search),
        "preferred": talent_forms.picker("preferred_skills", form, lang, run_search=run_search),
        "field_errors": {},
        "htmx": bool(writable),
    }


def _recommendations(session: Session, user: Actor) -> tuple[dict[str, Any], BatonError | None]:
    reviews: list[dict[str, Any]] = []
    try:
        reviews = [service.review_json(row) for row in service.own_reviews(session, user)]
        return {"recommendations": matchmaking.recommendations_for_person(session, user), "reviews": reviews}, None
    except BatonError as error:
        return {"recommendations": None, "reviews": reviews}, error


@router.get("/talent", name="talent_home", response_class=HTMLResponse)
def home_page(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    done = None
    if request.query_params.get("deleted"):
        done = translate(page_language(request), N_("Your profile and every record about you were deleted."))
    with runtime.database.session() as session:
        return _render(request, user, "talent_home.html", done=done, **_home(session, user))


@router.get("/talent/profile", name="talent_profile", response_class=HTMLResponse)
def profile_page(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    done = None
    if request.query_params.get("withdrawn"):
        done = translate(page_language(request), N_("Your consent was withdrawn. It took effect at once."))
    with runtime.database.session() as session:
        context = _profile(session, user, page_language(request))
        return _render(request, user, "talent_profile.html", done=done, **context)


@router.get("/talent/openings", name="talent_openings", response_class=HTMLResponse)
def openings_page(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    with runtime.database.session() as session:
        return _render(request, user, "talent_openings.html", **_openings(session, user, page_language(request)))


@router.get("/talent/recommendations", name="talent_recommendations", response_class=HTMLResponse)
def recommendations_page(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    with runtime.database.session() as session:
        context, error = _recommendations(session, user)
        return _render(request, user, "talent_recommendations.html", error=error, **context)


@router.get(
    "/talent/export",
    name="talent_export",
    responses={200: {"model": ExportDocument, "description": "The export, as a JSON attachment."}},
)
def export_page(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    if user is None:
        return sign_in_redirect(request)
    try:
        with runtime.database.session(write=True) as session:  # the audit record, append-only
            service.record_export(session, user)
        with runtime.database.session() as session:
            data = service.export_profile(session, user)
    except BatonError as error:
        return JSONResponse(error.to_json(), status_code=error.status_code)
    document = ExportDocument.model_validate(data).model_dump(mode="json", exclude_unset=True)
    return JSONResponse(document, headers={"Content-Disposition": 'attachment; filename="baton-talent-export.json"'})


# Actions: run the service call, then go back to the page (or show it again with the error).

Action = Callable[[Session, Actor, FormData], str | None]


async def _act(
    request: Request, runtime: Runtime, user: Actor | None, action: Action, page: str, back: str
) -> Response:
    if user is None:
        return sign_in_redirect(request)

    def work(form: FormData) -> str | None:
        # Forms change things: the signed-in token must hold the write scope, as over the API.
        user.require(WRITE, "change your talent profile or openings")
        with runtime.database.session(write=True) as session:
            return action(session, user, form)

    try:
        form = await _checked_form(request)
        target = await run_in_threadpool(work, form)
    except BatonError as error:

        def again() -> dict[str, Any]:
            with runtime.database.session() as session:
                if page == "talent_profile.html":
                    return _profile(session, user, page_language(request))
                if page == "talent_openings.html":
                    return _openings(session, user, page_language(request))
                if page == "talent_recommendations.html":
                    return _recommendations(session, user)[0]
                return _home(session, user)

        context = await run_in_threadpool(again)
        return _render(request, user, page, status=error.status_code, error=error, **context)
    return RedirectResponse(target or back, status_code=303)


def _create_profile(session: Session, user: Actor, form: FormData) -> None:
    optional = [str(item) for item in form.getlist("optional")]
    data: dict[str, Any] = {
        "name": str(form.get("name", "")),
        "contact_email": str(form.get("contact_email", "")),
        "skills": talent_forms.codes_from(str(value) for value in form.getlist("skills")),
    }
    for item in ("keywords", "desired_roles"):
        values = _split(str(form.get(item, "")))
        if values:
            data[item] = values
    if form.get("expert_research") == "1":
        data["service_status"] = "expert_research_personnel"
    consent = service.CollectionConsent(
        notice_version=notices.CURRENT_VERSION[notices.COLLECTION], optional_items=optional, language="ko"
    )
    service.create_profile(session, user, service.parse_profile_fields(data), consent)


Validate = Callable[[FormData, str], dict[str, str]]
Build = Callable[[Session, Actor, str, FormData, bool], dict[str, Any]]


async def _form_round(
    request: Request,
    runtime: Runtime,
    user: Actor | None,
    page: str,
    validate: Validate,
    action: Action,
    build: Build,
    back: str,
) -> Response:
    """A form with a skill picker: ``intent=search`` draws it again with the matches; a mistake draws it
    again as typed, each message beside its field; otherwise ``action`` runs and the page is shown anew."""
    if user is None:
        return sign_in_redirect(request)
    lang = page_language(request)
    searching = False
    field_errors: dict[str, str] = {}
    error: BatonError | None = None
    form = FormData()  # a form refused for its CSRF value is not drawn again
    try:
        form = await _checked_form(request)
        searching = form.get("intent") == "search"
        if not searching:
            field_errors = validate(form, lang)
            if field_errors:
                error = BadRequestError(
                    translate(lang, N_("Some fields need your attention: see the messages next to them."))
                )
            else:

                def work() -> None:
                    user.require(WRITE, "change your talent profile or openings")
                    with runtime.database.session(write=True) as session:
                        action(session, user, form)

                await run_in_threadpool(work)
                return RedirectResponse(back, status_code=303)
    except BatonError as failed:
        error = failed

    def again() -> dict[str, Any]:
        with runtime.database.session() as session:
            return build(session, user, lang, form, searching)

    context = await run_in_threadpool(again)
    context["field_errors"] = field_errors
    status = 200 if error is None else error.status_code
    return _render(request, user, page, status=status, error=error, **context)


@router.post("/talent/profile", name="talent_create_profile")
async def create_profile(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    """Make the profile; or, for the skill search or a mistake, the form again as typed."""

    def build(session: Session, person: Actor, lang: str, form: FormData, searching: bool) -> dict[str, Any]:
        return _profile(session, person, lang, form, run_search=searching)

    def action(session: Session, person: Actor, form: FormData) -> None:
        _create_profile(session, person, form)

    return await _form_round(
        request, runtime, user, "talent_profile.html", talent_forms.profile_errors, action, build, "/talent/profile"
    )


@router.get("/talent/skills", name="talent_skills", response_class=HTMLResponse)
def skills_search(request: Request, user: PageUser, q: str = "", field: str = "skills") -> Response:
    """The taxonomy's matches for ``q`` (Korean or English): the picker's live search (htmx asks for the
    matches alone) and, without htmx, a page of them with their codes."""
    lang = page_language(request)
    name = field if field in talent_forms.PICKER_FIELDS else "skills"
    query = (request.query_params.get(f"{name}_query") or q)[: talent_forms.MAX_QUERY]
    state = talent_forms.SkillPicker(field=name, query=query, searched=True)
    state.matches = talent_forms.search(
        query, lang, exclude=talent_forms.codes_from(request.query_params.getlist(name))
    )
    if request.headers.get("HX-Request") == "true":
        page = templating.render("_skill_matches.html", lang=lang, request=request, picker=state)
        return templating.page_response(request, page)
    return templating.render_page(request, "talent_skills.html", viewer=user.name if user else None, picker=state)


@router.get("/talent/people", name="talent_people", response_class=HTMLResponse)
def people_page(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    """The pool as this person may see it: only profiles whose owners consented and made them visible."""
    if user is None:
        return sign_in_redirect(request)
    lang = page_language(request)
    with runtime.database.session() as session:
        people = [
            service.profile_json(profile, items, language=lang)
            for profile, items in service.visible_profiles(session, user)
        ]
        return _render(request, user, "talent_people.html", people=people)


@router.post("/talent/consent", name="talent_consent")
async def give_consent(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> None:
        service.grant_consent(
            session,
            person,
            str(form.get("purpose", "")),
            str(form.get("notice_version", "")),
            [str(item) for item in form.getlist("items")],
            recipient=str(form.get("recipient") or "") or None,
            language=page_language(request),
        )

    return await _act(request, runtime, user, action, "talent_profile.html", "/talent/profile")


@router.post("/talent/withdraw", name="talent_withdraw")
async def withdraw(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> None:
        if form.get("confirm") != "1":
            raise BadRequestError(
                translate(page_language(request), N_("Tick the box to confirm the withdrawal")),
                hint=translate(page_language(request), N_("Nothing was withdrawn.")),
            )
        recipient = str(form.get("recipient") or "") or None
        service.withdraw_consent(session, person, str(form.get("purpose", "")), recipient=recipient)

    return await _act(request, runtime, user, action, "talent_profile.html", "/talent/profile?withdrawn=1")


@router.post("/talent/visibility", name="talent_visibility")
async def visibility(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> None:
        service.set_visibility(
            session,
            person,
            str(form.get("visibility", "")),
            organizations=_split(str(form.get("organizations", ""))),
            hidden_from=_split(str(form.get("hidden_from", ""))),
        )

    return await _act(request, runtime, user, action, "talent_profile.html", "/talent/profile")


@router.post("/talent/automated", name="talent_automated")
async def automated(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> None:
        service.set_automated_recommendation(session, person, accept=form.get("accept") == "1")

    return await _act(request, runtime, user, action, "talent_profile.html", "/talent/profile")


@router.post("/talent/suspend", name="talent_suspend")
async def suspend(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    return await _act(
        request,
        runtime,
        user,
        lambda s, u, _f: (service.suspend_profile(s, u), None)[1],
        "talent_profile.html",
        "/talent/profile",
    )


@router.post("/talent/resume", name="talent_resume")
async def resume(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    return await _act(
        request,
        runtime,
        user,
        lambda s, u, _f: (service.resume_profile(s, u), None)[1],
        "talent_profile.html",
        "/talent/profile",
    )


@router.post("/talent/delete", name="talent_delete")
async def delete(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> str:
        if form.get("confirm") != "1":
            raise BadRequestError("Tick the box to confirm the deletion", hint="Deletion cannot be undone.")
        service.delete_profile(session, person)
        return "/talent?deleted=1"

    return await _act(request, runtime, user, action, "talent_profile.html", "/talent")


@router.post("/talent/invitations/{invitation_id}/{answer}", name="talent_invitation")
async def invitation(
    request: Request, runtime: RuntimeDep, user: PageUser, invitation_id: DbId, answer: str
) -> Response:
    def action(session: Session, person: Actor, _form: FormData) -> str:
        if answer == "accept":
            service.accept_invitation(session, person, invitation_id)
            return "/talent/profile"
        if answer == "decline":
            service.decline_invitation(session, person, invitation_id)
            return "/talent"
        raise BadRequestError(f"Unknown answer '{answer}'", hint="Accept or decline.")

    return await _act(request, runtime, user, action, "talent_home.html", "/talent")


@router.post("/talent/openings", name="talent_post_opening")
async def post_opening(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> None:
        data: dict[str, Any] = {
            "title": str(form.get("title", "")),
            "description": str(form.get("description", "")),
            "required_skills": talent_forms.codes_from(str(value) for value in form.getlist("required_skills")),
            "preferred_skills": talent_forms.codes_from(str(value) for value in form.getlist("preferred_skills")),
            "places": str(form.get("places") or "1"),
            "location": str(form.get("location", "")),
        }
        if form.get("starts_on"):
            data["starts_on"] = str(form.get("starts_on"))
        service.create_opening(session, person, str(form.get("organization", "")), service.parse_opening_fields(data))

    def build(session: Session, person: Actor, lang: str, form: FormData, searching: bool) -> dict[str, Any]:
        return _openings(session, person, lang, form, run_search=searching)

    return await _form_round(
        request, runtime, user, "talent_openings.html", talent_forms.opening_errors, action, build, "/talent/openings"
    )


@router.post("/talent/review", name="talent_review")
async def review(request: Request, runtime: RuntimeDep, user: PageUser) -> Response:
    def action(session: Session, person: Actor, form: FormData) -> None:
        service.request_review(session, person, str(form.get("subject", "")), str(form.get("message", "")))

    return await _act(request, runtime, user, action, "talent_recommendations.html", "/talent/recommendations")
