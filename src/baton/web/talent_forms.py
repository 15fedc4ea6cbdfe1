"""The talent forms' pieces: the skill picker (search the taxonomy by Korean or English name) and
keeping what a person typed, with each mistake next to its field.

The picker works without JavaScript: the form's "Search" button sends the whole form back
(``intent=search``), and the page comes back with everything typed, the skills already chosen
as ticked boxes and the matches as boxes to tick. With htmx (vendored), typing in the search box
asks ``/talent/skills`` for the matches alone and swaps them in; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as default
from typing import Final

from starlette.datastructures import FormData

from baton.talent import service
from baton.talent.taxonomy import UnknownSkillError, load_taxonomy
from baton.web.i18n import N_, translate

MAX_MATCHES: Final = 12
MAX_QUERY: Final = 100
# The fields of the profile form whose text is kept after an error or a search.
PROFILE_TEXT_FIELDS: Final = ("name", "contact_email", "keywords", "desired_roles")
PROFILE_BOXES: Final = ("agree", "expert_research")
PICKER_FIELDS: Final = ("skills", "required_skills", "preferred_skills")


@dataclass(frozen=True)
class Skill:
    code: str
    label: str  # in the page's language
    other: str  # in the other language (shown muted when it differs)


@dataclass
class SkillPicker:
    """One picker: the field's name, what was chosen, what was searched and what it found."""

    field: str
    chosen: list[Skill] = default(default_factory=list)
    query: str = ""
    matches: list[Skill] = default(default_factory=list)
    searched: bool = False


def _skill(code: str, lang: str) -> Skill | None:
    try:
        concept = load_taxonomy().get(code)
    except UnknownSkillError:
        return None
    other = "en" if lang == "ko" else "ko"
    return Skill(concept.code, concept.label(lang), concept.label(other))


def codes_from(values: Iterable[str]) -> list[str]:
    """Skill codes from a form's values (ticked boxes, or comma-separated codes), in order, once each."""
    out: list[str] = []
    for value in values:
        for part in str(value).replace("\n", ",").split(","):
            code = part.strip()
            if code and code not in out:
                out.append(code)
    return out


def search(query: str, lang: str, *, exclude: Iterable[str] = ()) -> list[Skill]:
    """Concepts matching ``query`` in either language (the page's language first), best first."""
    query = query.strip()[:MAX_QUERY]
    if not query:
        return []
    skipped = set(exclude)
    found: list[Skill] = []
    for concept in load_taxonomy().search(query, limit=MAX_MATCHES + len(skipped)):
        if concept.code in skipped:
            continue
        skill = _skill(concept.code, lang)
        if skill is not None:
            found.append(skill)
        if len(found) >= MAX_MATCHES:
            break
    return found


def picker(name: str, form: FormData | None, lang: str, *, run_search: bool = False) -> SkillPicker:
    """The picker for field ``name`` as the form left it (chosen codes kept; unknown ones dropped)."""
    chosen_codes = codes_from(str(value) for value in form.getlist(name)) if form is not None else []
    chosen = [skill for skill in (_skill(code, lang) for code in chosen_codes) if skill is not None]
    query = str(form.get(f"{name}_query") or "")[:MAX_QUERY] if form is not None else ""
    state = SkillPicker(field=name, chosen=chosen, query=query)
    if run_search:
        state.searched = True
        state.matches = search(query, lang, exclude=[skill.code for skill in chosen])
    return state


def kept_values(form: FormData | None) -> dict[str, object]:
    """What the person typed and ticked, to draw the form again with it."""
    if form is None:
        return {"optional": []}
    values: dict[str, object] = {key: str(form.get(key) or "") for key in PROFILE_TEXT_FIELDS}
    values.update({key: form.get(key) == "1" for key in PROFILE_BOXES})
    values["optional"] = [str(item) for item in form.getlist("optional")]
    return values


OPENING_TEXT_FIELDS: Final = ("organization", "title", "description", "places", "location", "starts_on")


def kept_opening_values(form: FormData | None) -> dict[str, str]:
    """What was typed in the opening form (places default to one)."""
    values = {key: str(form.get(key) or "") if form is not None else "" for key in OPENING_TEXT_FIELDS}
    values["places"] = values["places"] or "1"
    return values


def opening_errors(form: FormData, lang: str) -> dict[str, str]:
    """The opening form's mistakes, each for its field (the service checks everything again)."""
    errors: dict[str, str] = {}
    if not str(form.get("title") or "").strip():
        errors["title"] = N_("Give the opening a title.")
    for name in ("required_skills", "preferred_skills"):
        codes = codes_from(str(value) for value in form.getlist(name))
        if any(_skill(code, lang) is None for code in codes):
            errors[name] = N_("A chosen skill is not in the taxonomy: search for it by name.")
    if "required_skills" not in errors and not codes_from(str(v) for v in form.getlist("required_skills")):
        errors["required_skills"] = N_("Choose at least one required skill: search for it by name and tick it.")
    return {key: translate(lang, message) for key, message in errors.items()}


def profile_errors(form: FormData, lang: str) -> dict[str, str]:
    """Mistakes the page can name next to their field before asking the service (which checks again)."""
    errors: dict[str, str] = {}
    if not str(form.get("name") or "").strip():
        errors["name"] = N_("Enter your name.")
    email = str(form.get("contact_email") or "").strip()
    if not email:
        errors["contact_email"] = N_("Enter an e-mail address where organizations can reach you.")
    elif not service.EMAIL_PATTERN.fullmatch(email):
        errors["contact_email"] = N_("This does not look like an e-mail address (name@example.org).")
    codes = codes_from(str(value) for value in form.getlist("skills"))
    if not codes:
        errors["skills"] = N_("Choose at least one skill: search for it by name and tick it.")
    elif any(_skill(code, lang) is None for code in codes):
        errors["skills"] = N_("A chosen skill is not in the taxonomy: search for it by name.")
    if form.get("agree") != "1":
        errors["agree"] = N_("A profile needs your consent to the collection notice: read it and tick the box.")
    return {key: translate(lang, message) for key, message in errors.items()}
