"""Who may call each route: the declared table that every route of the app must appear in.

Each rule names the least a caller needs; the route's own dependencies enforce it before the route
runs (``baton.accounts.http``), and the services check what only they can know (membership of a
team, a repo's owner, a reviewer's assignment, a private repo's visibility).

A test walks the app's routes and checks both ways: every route is declared here, its dependencies
match its rule, and calling it as anonymous, with a read token, with a write token of a
non-member, as a member and as an operator gives what the rule says.

Rules:

- ``PUBLIC``: anyone; private and blind-by-rule content stays hidden (404) from who may not see it.
- ``SIGNED_IN``: any valid token, even read-only (reads of one's own things, or checked further).
- ``WRITE``: a token with the ``write`` scope; what it may change is checked by the service.
- ``MEMBER``: a ``write`` token of someone who belongs to what the route changes (the repo's
  namespace with the needed role, the team, the opening's organization); others get 403 or 404.
- ``VOTE`` / ``REVIEW``: a token with that scope (a voter, an assigned expert reviewer).
- ``OPERATOR``: a site admin's token with the ``admin`` scope.
- ``SIGNED_LINK``: no token; the URL carries Baton's signature, bound to the uploader's token,
  whose access is re-checked at every use.
- ``PAGE``: a page for browsers: the sign-in cookie (a web session in the database) stands for
  the person (a token's scopes when signed in with one), forms carry the session's CSRF value;
  without a sign-in it asks for one.

The web session cookie is a credential for pages only, with one exception: the file-download
routes (``GET``/``HEAD`` ``.../resolve/...``, ``PUBLIC``) also accept it when no Authorization
header is sent (``baton.accounts.http.file_reader``), so a signed-in browser downloads the gated
and private files it may read. No other route, and no method that changes anything, reads it.
"""

from __future__ import annotations

from typing import Final

PUBLIC: Final = "public"
SIGNED_IN: Final = "signed-in"
WRITE: Final = "write"
MEMBER: Final = "member"
VOTE: Final = "vote"
REVIEW: Final = "review"
OPERATOR: Final = "operator"
SIGNED_LINK: Final = "signed-link"
PAGE: Final = "page"

# The dependency (by function name) that enforces each rule; PUBLIC and SIGNED_LINK routes have
# none of the token-requiring ones, PAGE routes read the sign-in cookie.
ENFORCED_BY: Final = {
    SIGNED_IN: "required_user",
    WRITE: "write_user",
    MEMBER: "write_user",
    VOTE: "vote_user",
    REVIEW: "review_user",
    OPERATOR: "operator_user",
    PAGE: "page_user",
    SIGNED_LINK: "signed_link_uploader",
}

_HUB_REPO = "/api/{type_plural}/{namespace}/{name}"

ROUTES: Final[dict[tuple[str, str], str]] = {
    # --- hub: repos, files and uploads (Hugging Face-compatible) ---
    ("GET", "/api/whoami-v2"): SIGNED_IN,
    # --- accounts: a user's own password (with the current one), or anyone's by an operator ---
    ("PUT", "/api/users/{name}/password"): WRITE,
    ("POST", "/api/repos/create"): MEMBER,
    ("DELETE", "/api/repos/delete"): MEMBER,
    ("POST", "/api/repos/move"): MEMBER,
    ("POST", "/api/validate-yaml"): PUBLIC,
    ("GET", "/api/{type_plural}"): PUBLIC,
    ("GET", _HUB_REPO): PUBLIC,
    ("GET", _HUB_REPO + "/revision/{revision:path}"): PUBLIC,
    ("GET", _HUB_REPO + "/refs"): PUBLIC,
    ("GET", _HUB_REPO + "/commits/{revision:path}"): PUBLIC,
    ("GET", _HUB_REPO + "/tree/{rest:path}"): PUBLIC,
    ("POST", _HUB_REPO + "/paths-info/{revision:path}"): PUBLIC,
    ("GET", "/{namespace}/{name}/resolve/{rest:path}"): PUBLIC,
    ("HEAD", "/{namespace}/{name}/resolve/{rest:path}"): PUBLIC,
    ("GET", "/{type_plural}/{namespace}/{name}/resolve/{rest:path}"): PUBLIC,
    ("HEAD", "/{type_plural}/{namespace}/{name}/resolve/{rest:path}"): PUBLIC,
    ("GET", _HUB_REPO + "/xet-read-token/{revision:path}"): PUBLIC,
    ("GET", _HUB_REPO + "/xet-write-token/{revision:path}"): PUBLIC,
    ("GET", "/xet-is-not-supported-here/set-HF_HUB_DISABLE_XET=1-and-run-it-again"): PUBLIC,
    ("PUT", _HUB_REPO + "/settings"): MEMBER,
    ("POST", _HUB_REPO + "/branch/{branch:path}"): MEMBER,
    ("DELETE", _HUB_REPO + "/branch/{branch:path}"): MEMBER,
    ("POST", _HUB_REPO + "/tag/{revision:path}"): MEMBER,
    ("DELETE", _HUB_REPO + "/tag/{tag:path}"): MEMBER,
    ("POST", _HUB_REPO + "/preupload/{revision:path}"): MEMBER,
    ("POST", _HUB_REPO + "/commit/{revision:path}"): MEMBER,
    ("POST", "/{namespace}/{repo_git}/info/lfs/objects/batch"): MEMBER,
    ("POST", "/{type_plural}/{namespace}/{repo_git}/info/lfs/objects/batch"): MEMBER,
    ("PUT", "/api/lfs/{repo_type}/{namespace}/{name}/objects/{oid}/{size}"): SIGNED_LINK,
    ("PUT", "/api/lfs/{repo_type}/{namespace}/{name}/parts/{oid}/{size}/{upload_id}/{part}"): SIGNED_LINK,
    ("POST", "/api/lfs/{repo_type}/{namespace}/{name}/complete/{oid}/{size}/{upload_id}"): SIGNED_LINK,
    ("POST", "/api/lfs/{repo_type}/{namespace}/{name}/verify/{oid}"): SIGNED_LINK,
    # --- hub: gated access, lineage, holds ---
    ("POST", _HUB_REPO + "/ask-access"): WRITE,
    ("GET", _HUB_REPO + "/user-access-request/{status}"): MEMBER,
    ("POST", _HUB_REPO + "/user-access-request/handle"): MEMBER,
    ("POST", _HUB_REPO + "/user-access-request/grant"): MEMBER,
    ("GET", _HUB_REPO + "/lineage"): PUBLIC,
    ("POST", _HUB_REPO + "/holds"): OPERATOR,
    ("DELETE", "/api/holds/{hold_id}"): OPERATOR,
    # --- provenance ---
    ("GET", _HUB_REPO + "/provenance"): PUBLIC,
    ("POST", _HUB_REPO + "/provenance/scan"): MEMBER,
    ("GET", "/api/provenance/reports/{report_id}.html"): PUBLIC,
    ("GET", "/api/provenance/reports/{report_id}"): PUBLIC,
    # --- evaluation ---
    ("GET", "/api/evaluation/tasks"): PUBLIC,
    ("POST", "/api/evaluation/runs"): WRITE,
    ("GET", "/api/evaluation/runs"): PUBLIC,
    ("GET", "/api/evaluation/runs/{run_id}"): PUBLIC,
    ("GET", "/api/evaluation/runs/{run_id}/items"): PUBLIC,
    ("GET", "/api/evaluation/runs/{run_id}/results"): PUBLIC,
    ("GET", "/api/evaluation/endpoints"): SIGNED_IN,
    ("POST", "/api/evaluation/endpoints"): OPERATOR,
    # --- challenge ---
    ("GET", "/api/challenges"): PUBLIC,
    ("POST", "/api/challenges"): OPERATOR,
    ("POST", "/api/challenges/finalize"): OPERATOR,
    ("GET", "/api/challenges/{slug}"): PUBLIC,
    ("PUT", "/api/challenges/{slug}/spec"): OPERATOR,
    ("POST", "/api/challenges/{slug}/teams"): OPERATOR,
    ("GET", "/api/challenges/{slug}/teams"): PUBLIC,
    ("GET", "/api/challenges/{slug}/teams/{team}"): PUBLIC,
    ("GET", "/api/challenges/{slug}/teams/{team}/release-plan"): PUBLIC,
    ("PUT", "/api/challenges/{slug}/teams/{team}/release-plan"): MEMBER,
    ("POST", "/api/challenges/{slug}/stages/{stage}/submissions"): MEMBER,
    ("GET", "/api/challenges/{slug}/stages/{stage}/submissions"): PUBLIC,
    ("POST", "/api/challenges/{slug}/stages/{stage}/scores"): OPERATOR,
    ("POST", "/api/challenges/{slug}/stages/{stage}/target-scores"): OPERATOR,
    ("POST", "/api/challenges/{slug}/stages/{stage}/reviewers"): OPERATOR,
    ("GET", "/api/challenges/{slug}/stages/{stage}/assignments"): SIGNED_IN,
    ("POST", "/api/challenges/{slug}/stages/{stage}/reviews"): REVIEW,
    ("POST", "/api/challenges/{slug}/stages/{stage}/panel/raters"): OPERATOR,
    ("GET", "/api/challenges/{slug}/stages/{stage}/panel/assignments"): SIGNED_IN,
    ("POST", "/api/challenges/{slug}/stages/{stage}/panel/conflicts"): REVIEW,
    ("POST", "/api/challenges/{slug}/stages/{stage}/panel/ratings"): REVIEW,
    ("POST", "/api/challenges/{slug}/stages/{stage}/panel/ratings/import"): OPERATOR,
    ("POST", "/api/challenges/{slug}/stages/{stage}/battles"): OPERATOR,
    ("GET", "/api/challenges/{slug}/stages/{stage}/battles/next"): VOTE,
    ("POST", "/api/challenges/{slug}/stages/{stage}/votes"): VOTE,
    ("POST", "/api/challenges/{slug}/stages/{stage}/gates/{gate}/check"): OPERATOR,
    ("POST", "/api/challenges/{slug}/stages/{stage}/gates/check"): OPERATOR,
    ("POST", "/api/challenges/{slug}/stages/{stage}/gates/{gate}/override"): OPERATOR,
    ("GET", "/api/challenges/{slug}/gates/queue"): OPERATOR,
    ("POST", "/api/challenges/{slug}/stages/{stage}/decision"): OPERATOR,
    ("GET", "/api/challenges/{slug}/stages/{stage}/decision"): PUBLIC,
    ("POST", "/api/challenges/{slug}/stages/{stage}/appeals"): MEMBER,
    ("GET", "/api/challenges/{slug}/appeals"): PUBLIC,
    ("POST", "/api/challenges/{slug}/stages/{stage}/applications"): MEMBER,
    ("GET", "/api/challenges/{slug}/stages/{stage}/applications"): PUBLIC,
    ("POST", "/api/challenges/{slug}/appeals/{appeal_id}/answer"): OPERATOR,
    ("GET", "/api/challenges/{slug}/ledger"): PUBLIC,
    ("GET", "/api/challenges/{slug}/verify"): PUBLIC,
    ("GET", "/api/challenges/{slug}/openings"): OPERATOR,
    ("GET", "/api/challenges/{challenge}/stages/{stage}/report"): PUBLIC,
    # --- commons ---
    ("GET", "/api/commons"): PUBLIC,
    ("GET", "/api/variants/{namespace}/{name}"): PUBLIC,
    # --- web: the models and datasets listing's data ---
    ("GET", "/api/web/models"): PUBLIC,
    ("GET", "/api/web/datasets"): PUBLIC,
    ("GET", "/api/commons/held"): OPERATOR,
    ("GET", "/api/commons/actions"): OPERATOR,
    ("POST", "/api/commons/findings/{finding_id}/resolve"): OPERATOR,
    ("POST", "/api/commons/release-due"): OPERATOR,
    # --- talent ---
    ("GET", "/api/talent/notices"): PUBLIC,
    ("GET", "/api/talent/notices/{purpose}/{version}"): PUBLIC,
    ("GET", "/api/talent/skills"): PUBLIC,
    ("POST", "/api/talent/profile"): WRITE,
    ("GET", "/api/talent/me"): SIGNED_IN,
    ("PATCH", "/api/talent/me"): WRITE,
    ("DELETE", "/api/talent/me"): WRITE,
    ("GET", "/api/talent/me/export"): SIGNED_IN,
    ("POST", "/api/talent/me/suspend"): WRITE,
    ("POST", "/api/talent/me/resume"): WRITE,
    ("POST", "/api/talent/me/renew"): WRITE,
    ("POST", "/api/talent/me/consents"): WRITE,
    ("DELETE", "/api/talent/me/consents/{purpose}"): WRITE,
    ("PUT", "/api/talent/me/visibility"): WRITE,
    ("POST", "/api/talent/me/automated"): WRITE,
    ("GET", "/api/talent/me/recommendations"): SIGNED_IN,
    ("PUT", "/api/talent/me/preferences"): WRITE,
    ("GET", "/api/talent/me/matches"): SIGNED_IN,
    ("POST", "/api/talent/me/reviews"): WRITE,
    ("GET", "/api/talent/me/reviews"): SIGNED_IN,
    ("POST", "/api/talent/me/provisions"): WRITE,
    ("POST", "/api/talent/me/placement"): WRITE,
    ("GET", "/api/talent/me/invitations"): SIGNED_IN,
    ("POST", "/api/talent/invitations/{invitation_id}/accept"): WRITE,
    ("POST", "/api/talent/invitations/{invitation_id}/decline"): WRITE,
    ("GET", "/api/talent/groups"): SIGNED_IN,
    ("POST", "/api/talent/groups"): WRITE,
    ("POST", "/api/talent/groups/{group_id}/accept"): WRITE,
    ("POST", "/api/talent/groups/{group_id}/leave"): WRITE,
    ("GET", "/api/talent/people"): SIGNED_IN,
    ("GET", "/api/talent/people/{public_id}"): PUBLIC,
    ("POST", "/api/talent/people/{public_id}/provide"): WRITE,
    ("GET", "/api/talent/organizations/{organization}/provided"): SIGNED_IN,
    ("GET", "/api/talent/openings"): PUBLIC,
    ("POST", "/api/talent/openings"): MEMBER,
    ("GET", "/api/talent/openings/{opening_id}"): PUBLIC,
    ("PATCH", "/api/talent/openings/{opening_id}"): MEMBER,
    ("POST", "/api/talent/openings/{opening_id}/close"): MEMBER,
    ("GET", "/api/talent/openings/{opening_id}/recommendations"): SIGNED_IN,
    ("PUT", "/api/talent/openings/{opening_id}/preferences"): MEMBER,
    ("POST", "/api/talent/openings/{opening_id}/hires"): MEMBER,
    ("GET", "/api/talent/placements"): PUBLIC,
    ("GET", "/api/talent/reviews"): OPERATOR,
    ("POST", "/api/talent/reviews/{review_id}/answer"): OPERATOR,
    ("POST", "/api/talent/matching-runs"): OPERATOR,
    ("GET", "/api/talent/matching-runs/{run_id}"): OPERATOR,
    ("GET", "/api/talent/exposure"): OPERATOR,
    ("POST", "/api/talent/purge-expired"): OPERATOR,
    # --- the site: static files, the language switch, the API's documentation ---
    ("GET", "/static/{path:path}"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/robots.txt"): PUBLIC,
    ("GET", "/language/{lang}"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/openapi/{part}.json"): PUBLIC,
    # --- pages ---
    ("GET", "/"): PAGE,
    ("GET", "/login"): PAGE,
    ("POST", "/login"): PUBLIC,
    ("GET", "/logout"): PAGE,
    ("POST", "/logout"): PAGE,
    ("GET", "/settings/account"): PAGE,
    ("POST", "/settings/account/password"): PAGE,
    ("POST", "/settings/account/sessions/end-others"): PAGE,
    ("GET", "/settings/users/{user_name}/password"): PAGE,
    ("POST", "/settings/users/{user_name}/password"): PAGE,
    ("GET", "/commons"): PAGE,
    ("GET", "/models"): PAGE,
    ("GET", "/datasets"): PAGE,
    ("GET", "/challenges/{challenge}/stages/{stage}/arena"): PAGE,
    ("POST", "/challenges/{challenge}/stages/{stage}/arena/vote"): PAGE,
    ("GET", "/challenges/{challenge}/stages/{stage}/report"): PAGE,
    ("GET", "/challenges"): PAGE,
    ("GET", "/challenges/{challenge}"): PAGE,
    ("GET", "/challenges/{challenge}/stages/{stage}"): PAGE,
    ("GET", "/settings/work"): PAGE,
    ("GET", "/challenges/{challenge}/teams/{team}"): PAGE,
    ("POST", "/challenges/{challenge}/teams/{team}/release-plan"): PAGE,
    ("POST", "/challenges/{challenge}/teams/{team}/appeals"): PAGE,
    ("GET", "/challenges/{challenge}/stages/{stage}/review"): PAGE,
    ("POST", "/challenges/{challenge}/stages/{stage}/review/{team}"): PAGE,
    ("POST", "/challenges/{challenge}/stages/{stage}/panel/{criterion}/{team}"): PAGE,
    ("POST", "/challenges/{challenge}/stages/{stage}/panel-conflicts/{team}"): PAGE,
    ("GET", "/admin"): PAGE,
    ("GET", "/admin/challenges/{challenge}"): PAGE,
    ("POST", "/admin/challenges/{challenge}/stages/{stage}/gates/{gate}/override"): PAGE,
    ("POST", "/admin/challenges/{challenge}/stages/{stage}/decide"): PAGE,
    ("POST", "/admin/findings/{finding_id}/resolve"): PAGE,
    ("POST", "/admin/jobs/{job_id}/retry"): PAGE,
    ("POST", "/admin/access-requests/{request_id}"): PAGE,
    ("POST", "/admin/finalize"): PAGE,
    ("POST", "/admin/challenges/{challenge}/appeals/{appeal_id}/answer"): PAGE,
    ("GET", "/talent"): PAGE,
    ("GET", "/talent/profile"): PAGE,
    ("GET", "/talent/openings"): PAGE,
    ("GET", "/talent/recommendations"): PAGE,
    ("GET", "/talent/export"): PAGE,
    ("GET", "/talent/people"): PAGE,
    ("GET", "/talent/skills"): PAGE,
    ("POST", "/talent/profile"): PAGE,
    ("POST", "/talent/consent"): PAGE,
    ("POST", "/talent/withdraw"): PAGE,
    ("POST", "/talent/visibility"): PAGE,
    ("POST", "/talent/automated"): PAGE,
    ("POST", "/talent/suspend"): PAGE,
    ("POST", "/talent/resume"): PAGE,
    ("POST", "/talent/delete"): PAGE,
    ("POST", "/talent/invitations/{invitation_id}/{answer}"): PAGE,
    ("POST", "/talent/openings"): PAGE,
    ("POST", "/talent/review"): PAGE,
    # --- repo and account pages (baton.web.repo_pages; matched after every other route) ---
    ("GET", "/{namespace:account}/{name:reponame}"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/tree/{rest:path}"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/blob/{rest:path}"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/commits/{rest:path}"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/lineage"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/evaluations"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/variants"): PAGE,
    ("GET", "/{namespace:account}/{name:reponame}/settings"): PAGE,
    ("POST", "/{namespace:account}/{name:reponame}/ask-access"): PAGE,
    ("POST", "/{namespace:account}/{name:reponame}/settings/visibility"): PAGE,
    ("POST", "/{namespace:account}/{name:reponame}/settings/gating"): PAGE,
    ("POST", "/{namespace:account}/{name:reponame}/settings/access"): PAGE,
    ("POST", "/{namespace:account}/{name:reponame}/settings/delete"): PAGE,
    ("GET", "/datasets/{namespace:account}/{name:reponame}"): PAGE,
    ("GET", "/datasets/{namespace:account}/{name:reponame}/tree/{rest:path}"): PAGE,
    ("GET", "/datasets/{namespace:account}/{name:reponame}/blob/{rest:path}"): PAGE,
    ("GET", "/datasets/{namespace:account}/{name:reponame}/commits/{rest:path}"): PAGE,
    ("GET", "/datasets/{namespace:account}/{name:reponame}/lineage"): PAGE,
    ("GET", "/datasets/{namespace:account}/{name:reponame}/settings"): PAGE,
    ("POST", "/datasets/{namespace:account}/{name:reponame}/ask-access"): PAGE,
    ("POST", "/datasets/{namespace:account}/{name:reponame}/settings/visibility"): PAGE,
    ("POST", "/datasets/{namespace:account}/{name:reponame}/settings/gating"): PAGE,
    ("POST", "/datasets/{namespace:account}/{name:reponame}/settings/access"): PAGE,
    ("POST", "/datasets/{namespace:account}/{name:reponame}/settings/delete"): PAGE,
    ("GET", "/{account:account}"): PAGE,
}
