"""A provenance report as a page: ``/api/provenance/reports/{id}.html``, and the file ``baton provenance
compare --html`` writes (the same template, with the stylesheet inlined and no links).

What a viewer may see of a report is the provenance domain's decision (``provenance.access``): a
report on a private reference is shown in its public form, with the reference sealed.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from baton.accounts.http import OptionalUser
from baton.core.errors import NotFoundError
from baton.core.http import DbId, RuntimeDep
from baton.provenance import access
from baton.provenance.api import pseudonym_key
from baton.provenance.models import ProvenanceReport
from baton.provenance.report import explain, format_number
from baton.web import provenance_view as view
from baton.web import templating
from baton.web.i18n import N_, checked_language, page_language, translate
from baton.web.signin import PageUser

# Matched before the provenance domain's JSON route, whose id parameter would take "5.html".
router = APIRouter()

TITLE = N_("Provenance report")
NORM_KEYS = ("raw_cosine", "shuffled_raw_cosine", "pearson", "p_value")
WITHHELD = N_(
    "The reference model is in a private repo: it is named by a pseudonym and a salted hash commitment to its "
    "(repo, revision); its per-layer statistics and configuration are withheld. The verdict, p-value and "
    "per-component results are public."
)


def render_provenance(
    result: dict[str, Any],
    subject: str,
    reference: str,
    *,
    lang: str,
    withheld: bool = False,
    request: Request | None = None,
    viewer: str | None = None,
    standalone: bool = False,
    reason: str | None = None,
) -> str:
    """The report page: the verdict as a sentence, the per-component chart and table, and (unless
    withheld) the evidence, the norm gains and the context, as tables in the reader's language."""
    lang = checked_language(lang)
    verdict = str(result.get("verdict", "inconclusive"))
    words = explain(result, subject, reference)
    # The title and the privacy notice are given in both languages, the page's first: a report is passed
    # on between people who read either. The rest is in the page's language.
    languages = (lang, "en" if lang == "ko" else "ko")
    return templating.render(
        "provenance_report.html",
        lang=lang,
        request=request,
        viewer=viewer,
        standalone=standalone,
        subject=subject,
        reference=reference,
        verdict=verdict,
        verdict_word=view.code(lang, view.VERDICTS, verdict),
        sentence=view.verdict_sentence(result, subject, reference, lang),
        relation=view.code(lang, view.RELATIONS, result.get("relation")),
        reason=view.code(lang, view.REASONS, reason) if reason else None,
        p_value=format_number(result.get("p_value")),
        alpha=format_number(result.get("alpha")),
        titles=[(language, translate(language, TITLE)) for language in languages],
        explanation=words[lang],
        withheld_notices=[(language, translate(language, WITHHELD)) for language in languages] if withheld else [],
        withheld=withheld,
        components=view.component_rows(result, lang, withheld=withheld),
        chart=view.chart(result, lang),
        evidence=view.evidence_rows(result, lang),
        norms=view.norm_rows(result),
        norm_summary={key: format_number((result.get("norms") or {}).get(key)) for key in NORM_KEYS},
        context_rows=view.context_rows(result, lang),
        correction=bool(result.get("correction")),
        result_json=json.dumps(result, ensure_ascii=False, indent=2),
    )


@router.get(
    "/api/provenance/reports/{report_id}.html",
    name="provenance_report_page",
    response_class=HTMLResponse,
    responses={200: {"description": "The report as a page", "content": {"text/html": {"schema": {"type": "string"}}}}},
)
def report_html(
    request: Request, report_id: DbId, runtime: RuntimeDep, user: OptionalUser, page_viewer: PageUser
) -> HTMLResponse:
    viewer = user or page_viewer  # a token, or else the person signed in to the site
    with runtime.database.session() as session:
        report = session.get(ProvenanceReport, report_id)
        view = access.report_view_for(session, viewer, report) if report is not None else None
        if report is None or view is None:
            raise NotFoundError(f"No provenance report {report_id}", code="ReportNotFound")
        subject, reference, withheld = access.html_labels(session, report, view, pseudonym_key(runtime))
        result = report.report if view == "full" else access.public_result(report.report)
    page = render_provenance(
        result,
        subject,
        reference,
        lang=page_language(request),
        withheld=withheld,
        request=request,
        viewer=page_viewer.name if page_viewer else None,
        reason=report.reason,
    )
    return templating.page_response(request, page)
