"""What the repo pages and the account pages show, assembled from the hub, provenance and evaluation.

Every function here reads through the domains' own rules: a repo is opened with ``repos.get_repo``
(private repos are "not found" to who may not read them, exactly as the API answers), file bytes
(the card, a file's text) only where ``repos.can_read_files`` allows (gated repos), provenance
references through ``provenance.access`` (a reference the viewer may not read is named by its
pseudonym), evaluation runs through ``evaluation.service.list_runs`` (its ``can_see``), a team's
declarations through ``challenge.access.team_view_for``. Each page's work is bounded: listings,
histories and the card's size have limits, said on the page when reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from baton.accounts import service as accounts
from baton.accounts.actor import Actor
from baton.accounts.models import ORGANIZATION, Account, Membership
from baton.challenge import access as challenge_access
from baton.challenge.models import Challenge, Team
from baton.core.errors import BatonError, EntryNotFoundError, InvalidYamlError, NotFoundError
from baton.core.runtime import Runtime
from baton.evaluation import service as evaluation
from baton.evaluation.models import RUN_SUCCEEDED
from baton.hub import cards, commits, paths, repos, variants
from baton.hub.commits import FileEntry
from baton.hub.models import AccessRequest, Commit, Repo
from baton.hub.models import LineageEdge as LineageEdgeRow
from baton.hub.repos import RepoKey
from baton.provenance import access as provenance_access
from baton.provenance import follow as provenance_follow
from baton.provenance import service as provenance
from baton.provenance.api import pseudonym_key
from baton.provenance.models import ProvenanceReport
from baton.web import messages
from baton.web.card_render import MAX_CARD_BYTES, RenderedCard, render_card
from baton.web.i18n import N_

COMMITS_PER_PAGE: Final = 50
MAX_TREE_ENTRIES_READ: Final = 20_000  # files of one folder (and below) read for a listing
MAX_TREE_ITEMS_SHOWN: Final = 1_000
MAX_TEXT_VIEW_BYTES: Final = 256 * 1024
MAX_ACCOUNT_REPOS: Final = 100
MAX_MEMBERS: Final = 200
MAX_TEAMS_CHECKED: Final = 1_000
MAX_RUNS: Final = 20
MAX_VERIFIED_DERIVATIVES: Final = 50
MAX_EDGES: Final = 50  # declared bases, and declared derivatives, drawn per page
TYPE_PREFIX: Final = {"model": "", "dataset": "datasets/", "space": "spaces/"}


# --------------------------------------------------------------------------------------------- urls


def repo_path(repo_type: str, repo_id: str) -> str:
    """The page of a repo, as on the Hugging Face Hub: ``/org/name`` or ``/datasets/org/name``."""
    return "/" + TYPE_PREFIX.get(repo_type, "") + repo_id


def _quoted(path: str) -> str:
    return quote(path, safe="/")


def resolve_url(repo: Repo, revision: str, path: str) -> str:
    return f"{repo_path(repo.repo_type, repo.repo_id)}/resolve/{quote(revision, safe='')}/{_quoted(path)}"


def blob_url(repo: Repo, revision: str, path: str) -> str:
    return f"{repo_path(repo.repo_type, repo.repo_id)}/blob/{quote(revision, safe='')}/{_quoted(path)}"


def tree_url(repo: Repo, revision: str, folder: str = "") -> str:
    base = f"{repo_path(repo.repo_type, repo.repo_id)}/tree/{quote(revision, safe='')}"
    return base + (f"/{_quoted(folder)}" if folder else "")


def commits_url(repo: Repo, revision: str) -> str:
    return f"{repo_path(repo.repo_type, repo.repo_id)}/commits/{quote(revision, safe='')}"


# --------------------------------------------------------------------------------------------- repo


def human_size(size: int) -> str:
    """Bytes for people: 999 B, 1.2 kB, 3.4 MB, 5.6 GB (powers of 1000, as the Hub writes them)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB", "PB"):
        value /= 1000
        if value < 1000 or unit == "PB":
            return f"{value:.1f} {unit}"
    return f"{size} B"  # pragma: no cover - the loop always returns


@dataclass
class AccessState:
    """Where the viewer stands with a gated repo's files."""

    gated: bool
    can_read: bool  # the files (and the card's text) may be read
    signed_in: bool
    status: str | None = None  # the viewer's request: pending, accepted, rejected (None: none made)
    fields: list[dict[str, Any]] = field(default_factory=list)  # what the request form asks
    prompt: str | None = None


@dataclass
class RepoHeader:
    repo: Repo
    repo_type: str
    repo_id: str
    namespace: str
    name: str
    path: str
    default_branch: str
    private: bool
    gated: str | None
    downloads: int
    last_modified: datetime
    tags: list[str]
    may_admin: bool
    access: AccessState
    snippets: list[dict[str, str]]


def open_repo(session: Session, user: Actor | None, repo_type: str, namespace: str, name: str) -> Repo:
    """The repo if ``user`` may see it (``repos.get_repo``: private repos are 404 to everyone else)."""
    return repos.get_repo(session, user, repos.parse_repo_id(repo_type, f"{namespace}/{name}"))


def may_admin(session: Session, user: Actor | None, repo: Repo) -> bool:
    """Whether ``user`` may use the settings page: exactly ``repos.get_admin_repo``'s rule."""
    try:
        repos.get_admin_repo(session, user, repos.key_of(repo))
    except BatonError:
        return False
    return True


def _gated_fields(card_data: dict[str, Any]) -> list[dict[str, Any]]:
    """The access request form's fields, from the card's ``extra_gated_fields`` (label: type or spec)."""
    raw = card_data.get("extra_gated_fields") or {}
    if not isinstance(raw, dict):
        return []
    fields = []
    for index, (label, spec) in enumerate(list(raw.items())[:50]):
        kind = spec.get("type") if isinstance(spec, dict) else spec
        options: list[str] = []
        if isinstance(spec, dict) and isinstance(spec.get("options"), list):
            for option in spec["options"][:200]:
                value = option.get("value", option.get("label")) if isinstance(option, dict) else option
                options.append(str(value))
        kind = kind if kind in ("text", "checkbox", "date_picker", "country", "select") else "text"
        fields.append({"id": f"gated-field-{index}", "label": str(label), "type": kind, "options": options})
    return fields


def access_state(session: Session, user: Actor | None, repo: Repo) -> AccessState:
    can_read = repos.can_read_files(session, user, repo)
    state = AccessState(gated=bool(repo.gated), can_read=can_read, signed_in=user is not None)
    if repo.gated:
        card = repo.card_data or {}
        state.fields = _gated_fields(card)
        prompt = card.get("extra_gated_prompt")
        state.prompt = str(prompt)[:4000] if prompt else None
        if user is not None:
            state.status = session.scalar(
                select(AccessRequest.status).where(
                    AccessRequest.repo_id == repo.id, AccessRequest.user_id == user.account_id
                )
            )
    return state


def snippets(repo: Repo, server: str) -> list[dict[str, str]]:
    """Copy-paste commands that fetch this repo from this server with the usual clients."""
    repo_id = repo.repo_id
    is_dataset = repo.repo_type == "dataset"
    type_flag = " --repo-type dataset" if is_dataset else ""
    found = [
        {
            "id": "snippet-download",
            "title": N_("Download with the hf command"),
            "text": f"HF_ENDPOINT={server} hf download {repo_id}{type_flag}",
        }
    ]
    if is_dataset:
        python = (
            "import os\n"
            f'os.environ["HF_ENDPOINT"] = "{server}"  # before importing datasets\n'
            "from datasets import load_dataset\n\n"
            f'dataset = load_dataset("{repo_id}")'
        )
    else:
        python = (
            "import os\n"
            f'os.environ["HF_ENDPOINT"] = "{server}"  # before importing transformers\n'
            "from transformers import AutoModel\n\n"
            f'model = AutoModel.from_pretrained("{repo_id}")'
        )
    found.append({"id": "snippet-python", "title": N_("Use it from Python"), "text": python})
    found.append(
        {
            "id": "snippet-upload",
            "title": N_("Upload (Baton speaks LFS, not Xet: HF_HUB_DISABLE_XET=1)"),
            "text": f"HF_HUB_DISABLE_XET=1 HF_ENDPOINT={server} hf upload {repo_id} ./local-folder{type_flag}",
        }
    )
    return found


def header(session: Session, user: Actor | None, repo: Repo, server: str) -> RepoHeader:
    card = repo.card_data or {}
    tags: list[str] = []
    for key in ("pipeline_tag", "library_name", "license"):
        if card.get(key):
            tags.append(str(card[key]))
    raw_tags = card.get("tags") or []
    tags.extend(str(tag) for tag in (raw_tags if isinstance(raw_tags, list) else [raw_tags])[:30])
    return RepoHeader(
        repo=repo,
        repo_type=repo.repo_type,
        repo_id=repo.repo_id,
        namespace=repo.namespace,
        name=repo.name,
        path=repo_path(repo.repo_type, repo.repo_id),
        default_branch=repo.default_branch,
        private=repo.private,
        gated=repo.gated,
        downloads=repo.downloads,
        last_modified=repo.last_modified,
        tags=tags,
        may_admin=may_admin(session, user, repo),
        access=access_state(session, user, repo),
        snippets=snippets(repo, server),
    )


# --------------------------------------------------------------------------------------------- card


@dataclass
class VariantView:
    """What a variant's card declares (``baton.hub.variants``), and its base's page if the viewer may see it."""

    kind: str
    method: str
    runtime: str
    bits: int | None
    base: str | None
    base_url: str | None


def variant_view(session: Session, user: Actor | None, repo: Repo) -> VariantView | None:
    """The variant block of a model repo whose card declares one (checked when it landed); None otherwise."""
    if repo.repo_type != "model" or repo.variant_kind is None:
        return None
    try:
        found = variants.variant_of_card_data(repo.card_data)
    except BatonError:  # a plug-in runtime since uninstalled, say: the card is then shown as it is
        return None
    if found is None:
        return None
    base_url = None
    if found.base is not None:
        try:
            base = repos.get_repo(session, user, repos.parse_repo_id("model", found.base))
        except BatonError:  # not on this hub, or private to the viewer: named, not linked
            pass
        else:
            base_url = repo_path(base.repo_type, base.repo_id)
    return VariantView(found.kind, found.method, found.runtime, found.bits, found.base, base_url)


@dataclass
class CardView:
    metadata: list[tuple[str, str]]  # the front matter's keys and values, as text
    body: RenderedCard | None  # None: no README.md, or its text may not be read (gated)
    exists: bool
    problem: str | None = None


def _metadata_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_metadata_text(item) for item in value[:50])
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_metadata_text(item)}" for key, item in list(value.items())[:50])
    return str(value)[:500]


def card_view(session: Session, runtime: Runtime, user: Actor | None, repo: Repo) -> CardView:
    """The card at the default branch: its metadata (what the API's ``cardData`` shows) and its text."""
    metadata = [(str(key), _metadata_text(value)) for key, value in list((repo.card_data or {}).items())[:60]]
    head = commits.resolve_revision(session, repo, None)
    try:
        entry = commits.get_entry(session, head, cards.FILE_NAME)
    except EntryNotFoundError:
        return CardView(metadata, None, exists=False)
    if not repos.can_read_files(session, user, repo):
        return CardView(metadata, None, exists=True)
    raw = b""
    end = min(entry.size, MAX_CARD_BYTES) - 1
    if end >= 0:
        raw = b"".join(runtime.store.open_range(entry.sha256, 0, end))
    text = raw.decode("utf-8", errors="replace")
    try:
        _yaml, body, _offset = cards.split_front_matter(text)
    except InvalidYamlError as error:
        return CardView(metadata, None, exists=True, problem=error.message)
    revision = repo.default_branch
    rendered = render_card(
        body,
        file_url=lambda path: blob_url(repo, revision, path),
        image_url=lambda path: resolve_url(repo, revision, path),
    )
    if entry.size > MAX_CARD_BYTES:
        rendered = RenderedCard(rendered.html, truncated=True)
    return CardView(metadata, rendered, exists=True)


# --------------------------------------------------------------------------------------------- files


@dataclass
class TreeItem:
    name: str
    path: str
    folder: bool
    size: int = 0
    size_text: str = ""
    lfs: bool = False
    scan: str | None = None  # what the content scan found (None: no record), in English
    scan_format: str = ""  # its format's code, which pages translate (``messages.scan_text``)
    imports: list[str] = field(default_factory=list)
    url: str = ""
    download_url: str | None = None


@dataclass
class TreeView:
    revision: str
    commit: Commit
    folder: str
    crumbs: list[tuple[str, str]]  # (name, url) from the repo's root to the folder
    items: list[TreeItem]
    truncated: bool
    branches: list[str]
    tags: list[str]


def split_revision(rest: str) -> tuple[str, str]:
    """``main/a/b.txt`` -> (``main``, ``a/b.txt``): the first segment names the revision (``%2F`` inside it)."""
    revision, _, path = rest.partition("/")
    return revision, path.strip("/")


def tree_view(session: Session, repo: Repo, revision: str, folder: str) -> TreeView:
    commit = commits.resolve_revision(session, repo, revision)
    folder = folder.strip("/")
    if folder:
        folder = paths.validate_folder_path(folder).strip("/")
    entries = commits.folder_entries(session, commit.tree_id, folder, MAX_TREE_ENTRIES_READ + 1)
    truncated = len(entries) > MAX_TREE_ENTRIES_READ
    entries = entries[:MAX_TREE_ENTRIES_READ]
    if folder and not entries:
        raise EntryNotFoundError(f"Folder {folder} does not exist at revision {commit.oid}")
    prefix = folder + "/" if folder else ""
    folders: dict[str, TreeItem] = {}
    files: list[FileEntry] = []
    for entry in entries:
        rest = entry.path[len(prefix) :]
        if "/" in rest:
            name = rest.split("/", 1)[0]
            sub = prefix + name
            item = folders.get(sub)
            if item is None:
                item = folders[sub] = TreeItem(name, sub, folder=True, url=tree_url(repo, revision, sub))
            item.size += entry.size
        else:
            files.append(entry)
    scans = commits.file_scans(session, files[:MAX_TREE_ITEMS_SHOWN])
    items = sorted(folders.values(), key=lambda item: item.name)
    for entry in files:
        scan = scans.get((entry.sha256, entry.path))
        items.append(
            TreeItem(
                entry.path[len(prefix) :],
                entry.path,
                folder=False,
                size=entry.size,
                size_text=human_size(entry.size),
                lfs=entry.is_lfs,
                scan=scan.description if scan else None,
                scan_format=scan.format if scan else "",
                imports=list(scan.imports or [])[:20] if scan else [],
                url=blob_url(repo, revision, entry.path),
                download_url=resolve_url(repo, revision, entry.path),
            )
        )
    for item in items:
        if item.folder:
            item.size_text = human_size(item.size)
    if len(items) > MAX_TREE_ITEMS_SHOWN:
        items, truncated = items[:MAX_TREE_ITEMS_SHOWN], True
    crumbs = [(repo.name, tree_url(repo, revision))]
    walked: list[str] = []
    for part in folder.split("/") if folder else []:
        walked.append(part)
        crumbs.append((part, tree_url(repo, revision, "/".join(walked))))
    refs = commits.list_refs(session, repo)
    return TreeView(
        revision=revision,
        commit=commit,
        folder=folder,
        crumbs=crumbs,
        items=items,
        truncated=truncated,
        branches=sorted(ref.name for ref in refs if ref.kind == "branch"),
        tags=sorted(ref.name for ref in refs if ref.kind == "tag"),
    )


@dataclass
class BlobView:
    revision: str
    commit: Commit
    path: str
    size_text: str
    lfs: bool
    scan: str | None
    scan_format: str
    imports: list[str]
    text: str | None  # None: not shown (binary, too large, or not readable)
    reason: str | None  # why the text is not shown: "binary", "large", "gated"
    download_url: str


def blob_view(session: Session, runtime: Runtime, user: Actor | None, repo: Repo, revision: str, path: str) -> BlobView:
    commit = commits.resolve_revision(session, repo, revision)
    path = paths.validate_repo_path(path)
    entry = commits.get_entry(session, commit, path)
    scan = commits.file_scans(session, [entry]).get((entry.sha256, entry.path))
    text: str | None = None
    reason: str | None = None
    if not repos.can_read_files(session, user, repo):
        reason = "gated"
    elif entry.size > MAX_TEXT_VIEW_BYTES:
        reason = "large"
    else:
        data = b"".join(runtime.store.open_range(entry.sha256, 0, entry.size - 1)) if entry.size else b""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            reason = "binary"
        else:
            if "\x00" in text:
                text, reason = None, "binary"
    return BlobView(
        revision=revision,
        commit=commit,
        path=path,
        size_text=human_size(entry.size),
        lfs=entry.is_lfs,
        scan=scan.description if scan else None,
        scan_format=scan.format if scan else "",
        imports=list(scan.imports or [])[:50] if scan else [],
        text=text,
        reason=reason,
        download_url=resolve_url(repo, revision, path),
    )


# --------------------------------------------------------------------------------------------- commits


@dataclass
class CommitsView:
    revision: str
    commits: list[Commit]
    older_url: str | None
    newest_url: str | None  # the first page, when this is not it


def commits_view(session: Session, repo: Repo, revision: str, after: str | None) -> CommitsView:
    """One page of ``revision``'s history, newest first; ``after`` (a commit oid) starts past that commit.

    Pages are keyed by the last commit shown, so each page is one bounded query however deep it is.
    """
    head = commits.resolve_revision(session, repo, revision)
    start: Commit | None = head
    if after:
        anchor = session.get(Commit, after) if commits.COMMIT_OID_PATTERN.match(after) else None
        if anchor is None or anchor.repo_id != repo.id:
            raise NotFoundError(f"No commit {after[:64]} in {repo.repo_id}", code="RevisionNotFound")
        start = session.get(Commit, anchor.parent_oid) if anchor.parent_oid else None
    page = commits.history(session, repo, start, COMMITS_PER_PAGE + 1) if start is not None else []
    base = commits_url(repo, revision)
    older = None
    if len(page) > COMMITS_PER_PAGE:
        page = page[:COMMITS_PER_PAGE]
        older = f"{base}?after={page[-1].oid}"
    return CommitsView(revision=revision, commits=page, older_url=older, newest_url=base if after else None)


@dataclass
class RefView:
    kind: str
    name: str
    commit: str
    message: str | None
    url: str


def refs_view(session: Session, repo: Repo) -> list[RefView]:
    return [
        RefView(ref.kind, ref.name, ref.commit_oid, ref.message, tree_url(repo, ref.name))
        for ref in sorted(commits.list_refs(session, repo), key=lambda ref: (ref.kind, ref.name))
    ]


# --------------------------------------------------------------------------------------------- lineage


@dataclass
class LineageEdge:
    """One edge of the graph: ``other`` is a base (direction "base") or a derivative of the repo."""

    direction: str  # "base" or "derivative"
    other: str  # a repo id, a name outside Baton, or a pseudonym for a reference the viewer may not read
    url: str | None  # the other repo's page, where it is a repo the viewer may see
    declared: bool
    relation: str | None = None
    verdict: str | None = None  # derived, copied, independent, inconclusive (None: not compared)
    p_value: float | None = None
    sealed: bool = False
    report_url: str | None = None
    note: str = ""  # what differs between the declaration and the verification
    computed_on: str | None = None  # the commit the verdict was computed on
    current: bool = True  # False: computed on earlier weights (the head's are not scanned yet)


@dataclass
class LineageView:
    edges: list[LineageEdge]
    svg: Markup
    status: str | None  # provenance's summary status for the default branch's head
    head: str | None = None  # the default branch's head (models)
    computed_on: str | None = None  # the commit the head's verdicts were computed on (same weights)
    scan: str | None = None  # done, pending, failed, none (provenance.follow)
    previous: str | None = None  # while the head's weights are not scanned: the commit of the verdicts shown


def _repo_link(session: Session, user: Actor | None, repo_type: str, name: str) -> str | None:
    try:
        found = repos.find_repo(session, repos.parse_repo_id(repo_type, name))
    except BatonError:
        return None
    if found is None or (found.private and not repos.has_role(session, user, found, "read")):
        return None
    return repo_path(found.repo_type, found.repo_id)


DIFFERENCE_NOTES: Final = {
    "declared-confirmed": N_("declared and confirmed by the weights"),
    "declared-unconfirmed": N_("declared, but the weights do not confirm it"),
    "declared-unchecked": N_("declared, not compared yet"),
    "undeclared": N_("not declared: found by comparing the weights"),
    "inconclusive": N_("compared, inconclusive"),
}


def lineage_view(
    session: Session, runtime: Runtime, user: Actor | None, repo: Repo, lang: str = "en"
) -> LineageView:
    edges: dict[tuple[str, str], LineageEdge] = {}
    bases = session.scalars(
        select(LineageEdgeRow)
        .where(LineageEdgeRow.child_repo_id == repo.id)
        .order_by(LineageEdgeRow.id)
        .limit(MAX_EDGES)
    )
    for base in bases:
        edges[("base", base.base)] = LineageEdge(
            "base",
            base.base,
            _repo_link(session, user, "model", base.base),
            declared=True,
            relation=base.relation,
            note="declared-unchecked",
        )
    # The visible repos that declare this one as their base (as ``repos.lineage`` shows them), bounded.
    children = session.execute(
        select(LineageEdgeRow, Repo)
        .join(Repo, Repo.id == LineageEdgeRow.child_repo_id)
        .where(LineageEdgeRow.base == repo.repo_id)
        .order_by(Repo.private, Repo.namespace, Repo.name)
        .limit(MAX_EDGES * 4)
    ).all()
    shown = 0
    for edge_row, child in children:
        if shown >= MAX_EDGES or (child.private and not repos.has_role(session, user, child, "read")):
            continue
        shown += 1
        edges[("derivative", child.repo_id)] = LineageEdge(
            "derivative",
            child.repo_id,
            repo_path(child.repo_type, child.repo_id),
            declared=True,
            relation=edge_row.relation,
            note="declared-unchecked",
        )
    status = None
    follow: dict[str, str | None] = {}
    if repo.repo_type == "model":
        head = commits.resolve_revision(session, repo, None)
        names = provenance_access.PublicNames(session, user, pseudonym_key(runtime))
        summary = provenance.summarize(session, repo, head.oid, names)
        status = str(summary["status"])
        follow = {"head": head.oid, "computed_on": summary["computed_on"], "scan": summary["scan"]}
        verdicts: dict[str, Any] = summary
        if summary["computed_on"] is None and summary["previous"] is not None:
            # The head's weights are not scanned yet: the earlier verdicts, marked as such.
            verdicts = summary["previous"]
            follow["previous"] = summary["previous"]["commit"]
        for entry in [*verdicts["declared_checks"], *verdicts["flags"]]:
            reference = str(entry["reference"])
            sealed = "commitment" in entry
            other = reference if sealed else reference.split("@", 1)[0]
            key = ("base", other)
            edge = edges.get(key) or LineageEdge(
                "base", other, None if sealed else _repo_link(session, user, "model", other), declared=False
            )
            edge.verdict, edge.p_value, edge.sealed = entry["verdict"], entry["p_value"], sealed
            edge.relation = edge.relation or entry.get("relation")
            edge.report_url = f"/api/provenance/reports/{entry['report_id']}.html"
            edge.computed_on, edge.current = entry["computed_on"], verdicts is summary
            if edge.declared:
                edge.note = "declared-confirmed" if entry.get("confirmed") else "declared-unconfirmed"
            else:
                edge.note = "inconclusive" if entry["verdict"] == "inconclusive" else "undeclared"
            edges[key] = edge
        # Repos verified as built on this one: reports whose reference is this repo, on subjects the viewer may read.
        reports = session.scalars(
            select(ProvenanceReport)
            .where(
                ProvenanceReport.reference_repo_id == repo.id,
                ProvenanceReport.verdict.in_(provenance.DERIVED_VERDICTS),
            )
            .order_by(ProvenanceReport.id.desc())
            .limit(MAX_VERIFIED_DERIVATIVES * 4)
        )
        seen: set[int] = set()
        for report in reports:
            if report.repo_id in seen or len(seen) >= MAX_VERIFIED_DERIVATIVES:
                continue
            subject = session.get(Repo, report.repo_id)
            if subject is None or not provenance_access.can_read(session, user, subject):
                continue
            seen.add(report.repo_id)
            key = ("derivative", subject.repo_id)
            edge = edges.get(key) or LineageEdge(
                "derivative", subject.repo_id, repo_path(subject.repo_type, subject.repo_id), declared=False
            )
            edge.verdict, edge.p_value = report.verdict, report.p_value
            edge.relation = edge.relation or report.relation
            edge.report_url = f"/api/provenance/reports/{report.id}.html"
            edge.note = "declared-confirmed" if edge.declared else "undeclared"
            # Whether the derivative's head still has the weights this verdict was computed on.
            subject_head = commits.resolve_revision(session, subject, None).oid
            edge.computed_on = report.commit_oid
            edge.current = (
                provenance_follow.basis_for(session, subject.id, subject_head).computed_on == report.commit_oid
            )
            edges[key] = edge
    ordered = sorted(edges.values(), key=lambda edge: (edge.direction, edge.other))
    return LineageView(ordered, lineage_svg(repo.repo_id, ordered, lang), status, **follow)


VERDICT_COLOURS: Final = {
    "derived": "#8f4700",
    "copied": "#a8201a",
    "independent": "#146c2e",
    "inconclusive": "#4d4d4d",
}
DECLARED_COLOUR: Final = "#0b57a4"


def _clip(text: str, length: int = 34) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def lineage_svg(center: str, edges: list[LineageEdge], lang: str = "en") -> Markup:
    """The lineage as an SVG drawing: bases on the left, the repo in the middle, derivatives on the right.

    A declared edge is a solid blue line; a verified one a dashed line in its verdict's colour, labelled
    with the verdict and p-value (an edge both declared and verified has both lines).
    """
    bases = [edge for edge in edges if edge.direction == "base"]
    children = [edge for edge in edges if edge.direction == "derivative"]
    rows = max(len(bases), len(children), 1)
    row_height, box_w, box_h = 56, 230, 30
    width, height = 900, rows * row_height + 60
    left_x, center_x, right_x = 10, (900 - box_w) // 2, 900 - box_w - 10
    center_y = height // 2 - box_h // 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart lineage-graph" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-labelledby="lineage-svg-title">',
        f'<title id="lineage-svg-title">{escape(center)}</title>',
    ]

    def box(x: int, y: int, label: str, kind: str) -> None:
        fill = "#14213d" if kind == "center" else "#ffffff"
        ink = "#ffffff" if kind == "center" else "#1b1b1b"
        parts.append(
            f'<g class="node node-{kind}"><rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
            f'fill="{fill}" stroke="#595959"/><text x="{x + box_w // 2}" y="{y + 20}" text-anchor="middle" '
            f'font-size="13" fill="{ink}">{escape(_clip(label))}</text></g>'
        )

    def connect(edge: LineageEdge, x1: int, y1: int, x2: int, y2: int) -> None:
        label_x, label_y = (x1 + x2) // 2, (y1 + y2) // 2
        direction = escape(edge.direction)
        if edge.declared:
            parts.append(
                f'<line class="edge edge-declared edge-{direction}" x1="{x1}" y1="{y1 - 3}" x2="{x2}" y2="{y2 - 3}" '
                f'stroke="{DECLARED_COLOUR}" stroke-width="2"/>'
            )
        if edge.verdict:
            colour = VERDICT_COLOURS.get(edge.verdict, "#4d4d4d")
            parts.append(
                f'<line class="edge edge-verified edge-{direction} verdict-{escape(edge.verdict)}" x1="{x1}" '
                f'y1="{y1 + 3}" x2="{x2}" y2="{y2 + 3}" stroke="{colour}" stroke-width="2" stroke-dasharray="6 4"/>'
            )
            verdict = messages.say(lang, "verdict", edge.verdict)  # the label in the page's language
            label = verdict + (f" p={edge.p_value:.3g}" if edge.p_value is not None else "")
            parts.append(
                f'<text x="{label_x}" y="{label_y - 6}" text-anchor="middle" font-size="11" '
                f'fill="{colour}">{escape(label)}</text>'
            )

    box(center_x, center_y, center, "center")
    for column, x, anchor_x, center_anchor in (
        (bases, left_x, left_x + box_w, center_x),
        (children, right_x, right_x, center_x + box_w),
    ):
        top = (height - len(column) * row_height) // 2
        for index, edge in enumerate(column):
            y = top + index * row_height + (row_height - box_h) // 2
            connect(edge, anchor_x, y + box_h // 2, center_anchor, center_y + box_h // 2)
            box(x, y, edge.other, "declared" if edge.declared else "verified")
    parts.append("</svg>")
    return Markup("".join(parts))  # every text above is escaped


# --------------------------------------------------------------------------------------------- evaluation


@dataclass
class MetricRow:
    name: str
    value: float | None
    low: float | None
    high: float | None
    stderr: float | None


@dataclass
class RunView:
    id: int
    task: str
    task_version: str
    commit: str | None
    finished_at: datetime | None
    metrics: list[MetricRow]
    svg: Markup | None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def evaluation_view(session: Session, user: Actor | None, repo: Repo) -> list[RunView]:
    """The model's finished evaluation runs the viewer may see (``evaluation.service.can_see``), newest first."""
    if repo.repo_type != "model":
        return []
    runs = evaluation.list_runs(session, user, model_repo=repo.repo_id, status=RUN_SUCCEEDED, limit=MAX_RUNS)
    shown = []
    for run in runs:
        rows = []
        for name, summary in sorted((run.metrics or {}).items())[:30]:
            if not isinstance(summary, dict):
                continue
            interval = summary.get("ci95") if isinstance(summary.get("ci95"), list | tuple) else None
            low = _number(interval[0]) if interval and len(interval) == 2 else None
            high = _number(interval[1]) if interval and len(interval) == 2 else None
            rows.append(MetricRow(str(name), _number(summary.get("value")), low, high, _number(summary.get("stderr"))))
        shown.append(
            RunView(
                run.id, run.task_name, run.task_version, run.model_commit, run.finished_at, rows, interval_svg(rows)
            )
        )
    return shown


def interval_svg(rows: list[MetricRow]) -> Markup | None:
    """Each metric's value as a dot and its 95 % interval as a bar, on one shared scale."""
    drawn = [row for row in rows if row.value is not None]
    if not drawn:
        return None
    values = [v for row in drawn for v in (row.value, row.low, row.high) if v is not None]
    low, high = min(values), max(values)
    if low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    label_w, plot_w, row_h = 160, 380, 26
    width, height = label_w + plot_w + 20, len(drawn) * row_h + 30

    def x(value: float) -> float:
        return label_w + (value - low) / (high - low) * plot_w

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart interval-plot" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}"><title>95% intervals</title>',
        f'<line x1="{label_w}" y1="{height - 22}" x2="{label_w + plot_w}" y2="{height - 22}" stroke="#595959"/>',
        f'<text x="{label_w}" y="{height - 6}" font-size="11" fill="#595959">{low:.3g}</text>',
        f'<text x="{label_w + plot_w}" y="{height - 6}" font-size="11" text-anchor="end" '
        f'fill="#595959">{high:.3g}</text>',
    ]
    for index, row in enumerate(drawn):
        y = 14 + index * row_h
        assert row.value is not None
        parts.append(f'<text x="0" y="{y + 4}" font-size="12" fill="#1b1b1b">{escape(_clip(row.name, 24))}</text>')
        if row.low is not None and row.high is not None:
            parts.append(
                f'<line class="interval" x1="{x(row.low):.1f}" y1="{y}" x2="{x(row.high):.1f}" y2="{y}" '
                'stroke="#0b57a4" stroke-width="3"/>'
            )
        parts.append(f'<circle class="point" cx="{x(row.value):.1f}" cy="{y}" r="4.5" fill="#14213d"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # the only text (metric names) is escaped


# --------------------------------------------------------------------------------------------- accounts


@dataclass
class RepoCard:
    repo_type: str
    repo_id: str
    url: str
    private: bool
    gated: str | None
    downloads: int
    last_modified: datetime


@dataclass
class TeamStatus:
    challenge: str
    challenge_title: str
    team: str
    name: str
    status: str
    entered_stage: str
    exit_stage: str | None
    target_models: list[str]


@dataclass
class AccountView:
    name: str
    fullname: str
    kind: str
    models: list[RepoCard]
    datasets: list[RepoCard]
    truncated: bool
    members: list[tuple[str, str]]  # (name, full name) of an organization's members
    teams: list[TeamStatus]


def _repo_cards(session: Session, user: Actor | None, account: Account, repo_type: str) -> tuple[list[RepoCard], bool]:
    # The hub's listing rule: public repos, and private ones to their owner, the namespace's members and admins.
    found = repos.list_repos(
        session, user, repo_type, author=account.name, sort="lastModified", limit=MAX_ACCOUNT_REPOS + 1
    )
    cards_ = [
        RepoCard(
            repo.repo_type,
            repo.repo_id,
            repo_path(repo.repo_type, repo.repo_id),
            repo.private,
            repo.gated,
            repo.downloads,
            repo.last_modified,
        )
        for repo in found[:MAX_ACCOUNT_REPOS]
    ]
    return cards_, len(found) > MAX_ACCOUNT_REPOS


def account_view(session: Session, user: Actor | None, name: str) -> AccountView:
    account = accounts.find_account(session, name)
    if account is None:
        raise NotFoundError(f"No user or organization named '{name[:100]}'", hint="Check the spelling.")
    models, more_models = _repo_cards(session, user, account, "model")
    datasets, more_datasets = _repo_cards(session, user, account, "dataset")
    members: list[tuple[str, str]] = []
    teams: list[TeamStatus] = []
    if account.kind == ORGANIZATION:
        rows = session.execute(
            select(Account.name, Account.fullname)
            .join(Membership, Membership.user_id == Account.id)
            .where(Membership.org_id == account.id)
            .order_by(Account.name)
            .limit(MAX_MEMBERS)
        ).all()
        members = [(member, fullname or "") for member, fullname in rows]
        found = session.execute(
            select(Team, Challenge)
            .join(Challenge, Challenge.id == Team.challenge_id)
            .order_by(Team.id.desc())
            .limit(MAX_TEAMS_CHECKED)
        ).all()
        for team, challenge in found:
            if account.name not in (team.organizations or []):
                continue
            declared = challenge_access.team_view_for(session, user, team)
            teams.append(
                TeamStatus(
                    challenge=challenge.slug,
                    challenge_title=challenge.title or challenge.slug,
                    team=team.slug,
                    name=team.name,
                    status=team.status,
                    entered_stage=team.entered_stage,
                    exit_stage=team.exit_stage,
                    target_models=[str(target) for target in declared["target_models"]],
                )
            )
    return AccountView(
        name=account.name,
        fullname=account.fullname or "",
        kind=account.kind,
        models=models,
        datasets=datasets,
        truncated=more_models or more_datasets,
        members=members,
        teams=teams,
    )


def settings_requests(session: Session, user: Actor, repo: Repo) -> list[dict[str, Any]]:
    """The repo's access requests, pending first (``repos.list_access_requests``: admins only)."""
    shown: list[dict[str, Any]] = []
    for status in ("pending", "accepted", "rejected"):
        for request, account in repos.list_access_requests(session, user, repos.key_of(repo), status)[:200]:
            shown.append(
                {
                    "user": account.name,
                    "status": request.status,
                    "fields": [(str(k), str(v)[:500]) for k, v in list((request.fields or {}).items())[:50]],
                    "created_at": request.created_at,
                }
            )
    return shown


def key(repo_type: str, namespace: str, name: str) -> RepoKey:
    return repos.parse_repo_id(repo_type, f"{namespace}/{name}")
