"""License compatibility of a derivative (fine-tune, merge, distillation, quantization) with its bases.

Pure functions, no database. Each license id (the SPDX-like ids of the Hub's model cards) maps to
a small set of terms; the rules, applied to every base along the lineage (transitively):

- **No derivatives** (``-nd-``): any derivative conflicts.
- **Non-commercial** (``-nc-``): the derivative must be non-commercial too; declaring a license
  that allows commercial use over a non-commercial base is a conflict.
- **Share-alike** (``-sa-``, GPL, AGPL): the derivative must carry the same license (the
  compatible set of each is listed below); two share-alike bases under different licenses
  cannot both be satisfied.
- **Custom terms** (``llama2``, ``llama3``, ``llama3.1``, ``llama3.2``, ``llama3.3``, ``llama4``,
  ``gemma``, the OpenRAIL family): the derivative must carry the same terms, i.e. declare the
  same license id (any OpenRAIL-M variant for an OpenRAIL-M base); notes say what else they ask.
- **Permissive** (Apache-2.0, MIT, BSD, CC-BY, CC0, ...): anything goes; notes recall the
  attribution the derivative must keep.
- **Unknown**: a missing license, one Baton does not know, or ``other`` on a base cannot be
  checked, so it is a conflict an operator must resolve; ``other`` on the derivative is accepted
  over permissive bases (with a note) and is a conflict over restrictive ones.

``effective`` is the license whose terms the derivative must carry: its own when everything is
satisfied, otherwise the most restrictive base's (several joined by " + " when no single license
can carry them all). This is a mechanical check of the declared ids, not legal advice; a
conflict holds a release until an operator resolves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from baton.core.errors import BadRequestError


class LicenseInputError(BadRequestError):
    code = "InvalidLicenseInput"
    default_hint = "Pass bases as a mapping of repo id to license id (or None), e.g. {'org/base': 'apache-2.0'}."


@dataclass(frozen=True)
class LicenseTerms:
    id: str
    family: str  # permissive | attribution | copyleft | custom | nc | other
    commercial: bool
    derivatives: bool
    share_alike: frozenset[str] = frozenset()  # licenses a derivative may carry, when share-alike
    same_terms: frozenset[str] = frozenset()  # licenses a derivative may carry, when custom terms
    rank: int = 0  # restrictiveness, for ``effective``
    note: str = ""


def _t(
    id_: str,
    family: str,
    rank: int,
    *,
    commercial: bool = True,
    derivatives: bool = True,
    share_alike: Iterable[str] = (),
    same_terms: Iterable[str] = (),
    note: str = "",
) -> LicenseTerms:
    return LicenseTerms(id_, family, commercial, derivatives, frozenset(share_alike), frozenset(same_terms), rank, note)


_OPENRAIL_M = ("openrail", "creativeml-openrail-m", "bigscience-openrail-m", "openrail++", "bigscience-bloom-rail-1.0")
_RAIL_NOTE = "OpenRAIL: the use restrictions must be passed on to every user of the derivative"
_LLAMA_NOTE = (
    '{name}: ship a copy of the license and the acceptable use policy, display "Built with Llama" and '
    "start the model's name with \"Llama\"; products over 700 million monthly users need Meta's permission"
)

KNOWN: dict[str, LicenseTerms] = {
    t.id: t
    for t in [
        # permissive
        _t("apache-2.0", "permissive", 1, note="keep the license text and the NOTICE file of {base}"),
        _t("mit", "permissive", 0, note="keep the copyright notice and license text of {base}"),
        _t("bsd-2-clause", "permissive", 0, note="keep the copyright notice of {base}"),
        _t("bsd-3-clause", "permissive", 0, note="keep the copyright notice of {base}; no endorsement"),
        _t("bsd-3-clause-clear", "permissive", 0, note="keep the copyright notice of {base}"),
        _t("isc", "permissive", 0, note="keep the copyright notice of {base}"),
        _t("bsl-1.0", "permissive", 0, note="keep the license text of {base}"),
        _t("zlib", "permissive", 0),
        _t("cc0-1.0", "permissive", 0),
        _t("unlicense", "permissive", 0),
        _t("wtfpl", "permissive", 0),
        _t("pddl", "permissive", 0),
        _t("cc-by-2.0", "attribution", 2, note="credit {base} (CC BY)"),
        _t("cc-by-3.0", "attribution", 2, note="credit {base} (CC BY)"),
        _t("cc-by-4.0", "attribution", 2, note="credit {base} (CC BY)"),
        _t("odc-by", "attribution", 2, note="credit {base} (ODC-By)"),
        _t("cdla-permissive-2.0", "attribution", 2, note="keep the CDLA text of {base}"),
        # share-alike / copyleft
        _t("mpl-2.0", "copyleft", 3, share_alike={"mpl-2.0", "gpl-3.0", "lgpl-3.0", "agpl-3.0"}),
        _t("lgpl-3.0", "copyleft", 3, share_alike={"lgpl-3.0", "gpl-3.0", "agpl-3.0"}),
        _t("gpl-2.0", "copyleft", 4, share_alike={"gpl-2.0"}),
        _t("gpl-3.0", "copyleft", 4, share_alike={"gpl-3.0", "agpl-3.0"}),
        _t("agpl-3.0", "copyleft", 5, share_alike={"agpl-3.0"}),
        _t("cc-by-sa-3.0", "copyleft", 4, share_alike={"cc-by-sa-3.0", "cc-by-sa-4.0"}),
        _t("cc-by-sa-4.0", "copyleft", 4, share_alike={"cc-by-sa-4.0", "gpl-3.0"}),
        _t("odbl", "copyleft", 4, share_alike={"odbl"}),
        # custom terms
        *[_t(x, "custom", 6, same_terms=_OPENRAIL_M, note=_RAIL_NOTE) for x in _OPENRAIL_M],
        _t("llama2", "custom", 7, same_terms={"llama2"}, note=_LLAMA_NOTE.format(name="Llama 2")),
        _t("llama3", "custom", 7, same_terms={"llama3"}, note=_LLAMA_NOTE.format(name="Llama 3")),
        _t("llama3.1", "custom", 7, same_terms={"llama3.1"}, note=_LLAMA_NOTE.format(name="Llama 3.1")),
        _t("llama3.2", "custom", 7, same_terms={"llama3.2"}, note=_LLAMA_NOTE.format(name="Llama 3.2")),
        _t("llama3.3", "custom", 7, same_terms={"llama3.3"}, note=_LLAMA_NOTE.format(name="Llama 3.3")),
        _t("llama4", "custom", 7, same_terms={"llama4"}, note=_LLAMA_NOTE.format(name="Llama 4")),
        _t(
            "gemma",
            "custom",
            7,
            same_terms={"gemma"},
            note="Gemma: pass on the Gemma terms and the prohibited use policy, and say the model was modified",
        ),
        # non-commercial
        _t("cc-by-nc-2.0", "nc", 8, commercial=False),
        _t("cc-by-nc-3.0", "nc", 8, commercial=False),
        _t("cc-by-nc-4.0", "nc", 8, commercial=False),
        _t("cc-by-nc-sa-2.0", "nc", 9, commercial=False, share_alike={"cc-by-nc-sa-2.0", "cc-by-nc-sa-4.0"}),
        _t("cc-by-nc-sa-3.0", "nc", 9, commercial=False, share_alike={"cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0"}),
        _t("cc-by-nc-sa-4.0", "nc", 9, commercial=False, share_alike={"cc-by-nc-sa-4.0"}),
        # no derivatives
        _t("cc-by-nd-4.0", "nd", 10, derivatives=False),
        _t("cc-by-nc-nd-3.0", "nd", 11, commercial=False, derivatives=False),
        _t("cc-by-nc-nd-4.0", "nd", 11, commercial=False, derivatives=False),
    ]
}

_ALIASES = {
    "apache2": "apache-2.0",
    "apache-2": "apache-2.0",
    "apache2.0": "apache-2.0",
    "apache-license-2.0": "apache-2.0",
    "cc0": "cc0-1.0",
    "llama-2": "llama2",
    "llama-3": "llama3",
    "llama-3.1": "llama3.1",
    "llama-3.2": "llama3.2",
    "llama-3.3": "llama3.3",
    "llama-4": "llama4",
    "openrail-m": "openrail",
    "gpl-3.0-only": "gpl-3.0",
    "gpl-3.0-or-later": "gpl-3.0",
    "agpl-3.0-only": "agpl-3.0",
}


def normalize_license(value: str | None) -> str | None:
    """The canonical lower-case id (``"Apache 2.0"`` → ``"apache-2.0"``), None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise LicenseInputError(f"a license id must be a string, got {type(value).__name__}")
    text = value.strip().lower()
    if not text:
        return None
    text = re.sub(r"[\s_]+", "-", text)
    text = re.sub(r"^llama(\d)-(\d)$", r"llama\1.\2", text)  # llama3_1 -> llama3.1
    return _ALIASES.get(text, text)


def terms_of(value: str | None) -> LicenseTerms | None:
    """The terms Baton knows for a license id, None for a missing, ``other`` or unknown id."""
    key = normalize_license(value)
    return KNOWN.get(key) if key else None


@dataclass
class LicenseCheck:
    ok: bool
    effective: str  # the license whose terms the derivative must carry
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _label(value: str | None) -> str:
    return repr(value) if value else "no license"


def _satisfies(declared: LicenseTerms, base_repo: str, base: LicenseTerms, declared_id: str) -> list[str]:
    """Conflicts of a known declared license with one known base."""
    problems: list[str] = []
    if not base.derivatives:
        problems.append(
            f"base {base_repo} is licensed {base.id}, which allows no derivatives: the derivative cannot be "
            f"released under {declared_id} or any other license"
        )
        return problems
    if not base.commercial and declared.commercial:
        problems.append(
            f"base {base_repo} is licensed {base.id} (non-commercial), but the derivative declares {declared_id}, "
            "which allows commercial use; a derivative of a non-commercial base must be non-commercial"
        )
    if base.share_alike and declared.id not in base.share_alike:
        allowed = ", ".join(sorted(base.share_alike))
        problems.append(
            f"base {base_repo} is licensed {base.id} (share-alike): the derivative must carry {allowed}, "
            f"not {declared_id}"
        )
    if base.same_terms and declared.id not in base.same_terms:
        problems.append(
            f"base {base_repo} is licensed {base.id}, whose terms the derivative must carry; "
            f"it declares {declared_id} instead"
        )
    return problems


def _bases(bases: Mapping[str, str | None] | Iterable[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    items = list(bases.items()) if isinstance(bases, Mapping) else list(bases)
    result = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and item[0]):
            raise LicenseInputError(f"each base must be (repo id, license id or None), got {item!r}")
        if item[1] is not None and not isinstance(item[1], str):
            raise LicenseInputError(f"the license of base {item[0]} must be a string or None, got {item[1]!r}")
        result.append((item[0], item[1]))
    return result


def check_derivative_license(
    license: str | None, bases: Mapping[str, str | None] | Iterable[tuple[str, str | None]]
) -> LicenseCheck:
    """Check the license a derivative declares against all of its bases (direct and transitive).

    ``bases`` maps each base repo id to the license id its card declares (None when it declares
    none); a sequence of ``(repo id, license)`` pairs works too.
    """
    base_list = _bases(bases)
    declared_id = normalize_license(license)
    declared = KNOWN.get(declared_id) if declared_id else None
    conflicts: list[str] = []
    notes: list[str] = []

    if declared_id is None:
        conflicts.append("the derivative declares no license: unknown license, an operator must resolve")
    elif declared is None and declared_id != "other":
        conflicts.append(
            f"the derivative declares {license!r}, a license Baton does not know: unknown license, "
            "an operator must resolve"
        )

    known_bases: list[tuple[str, LicenseTerms]] = []
    for repo, value in base_list:
        base_id = normalize_license(value)
        terms = KNOWN.get(base_id) if base_id else None
        if base_id is None:
            conflicts.append(f"base {repo} declares no license: unknown license, an operator must resolve")
        elif base_id == "other":
            conflicts.append(
                f"base {repo} declares license 'other' (custom terms Baton cannot read): "
                "unknown license, an operator must resolve"
            )
        elif terms is None:
            conflicts.append(
                f"base {repo} declares {value!r}, a license Baton does not know: unknown license, "
                "an operator must resolve"
            )
        else:
            known_bases.append((repo, terms))
            if terms.note:
                notes.append(terms.note.format(base=repo) if "{base}" in terms.note else f"{repo}: {terms.note}")

    restrictive = [(repo, t) for repo, t in known_bases if t.family not in ("permissive", "attribution")]
    if declared is not None:
        for repo, terms in known_bases:
            conflicts.extend(_satisfies(declared, repo, terms, declared.id))
    elif declared_id == "other":
        if restrictive:
            for repo, terms in restrictive:
                conflicts.append(
                    f"base {repo} is licensed {terms.id}; the derivative declares 'other', which Baton cannot "
                    f"check carries those terms: an operator must resolve"
                )
        else:
            notes.append("the derivative declares 'other': its terms must still keep the bases' attribution")

    # Bases whose requirements no single license can meet (e.g. two share-alike licenses, llama + gemma).
    exact = [(repo, t) for repo, t in known_bases if (t.share_alike or t.same_terms) and t.derivatives]
    if len(exact) > 1:
        allowed = [t.share_alike | t.same_terms for _repo, t in exact]
        common = frozenset.intersection(*allowed)
        if any(not t.commercial for _r, t in known_bases):
            common = frozenset(x for x in common if x in KNOWN and not KNOWN[x].commercial)
        if not common:
            names = ", ".join(f"{repo} ({t.id})" for repo, t in exact)
            conflicts.append(f"the bases {names} each require their own license; no license satisfies all of them")

    conflicts = list(dict.fromkeys(conflicts))
    notes = list(dict.fromkeys(notes))
    ok = not conflicts
    effective = _effective(declared_id, declared, known_bases, ok)
    return LicenseCheck(ok=ok, effective=effective, conflicts=conflicts, notes=notes)


def _effective(
    declared_id: str | None, declared: LicenseTerms | None, known_bases: list[tuple[str, LicenseTerms]], ok: bool
) -> str:
    """The declared license when it satisfies everything; otherwise what the known bases require."""
    if ok and declared_id:
        return declared_id
    terms = list({t.id: t for _repo, t in known_bases}.values())
    if not terms:
        return declared_id or "unknown"
    exact = sorted((t for t in terms if t.share_alike or t.same_terms or not t.derivatives), key=lambda t: -t.rank)
    others = [t for t in terms if t not in exact]
    parts = list(exact)
    if others:
        top = max(others, key=lambda t: t.rank)
        weak = top.family in ("permissive", "attribution")
        implied = any(weak or (not top.commercial and not e.commercial) for e in parts)
        if not implied:
            parts.append(top)
    return " + ".join(t.id for t in parts)


def check_lineage(license: str | None, lineage_chain: Sequence[tuple[str, str | None]]) -> LicenseCheck:
    """Check a derivative against a chain of ancestors, nearest first: ``[(parent, lic), (grandparent, lic)]``.

    Terms are transitive: the derivative must satisfy every ancestor, not only its parent (a parent
    that wrongly declares MIT over a non-commercial base does not free its own derivatives). Each
    hop of the chain is checked too; an ancestor that conflicts with its own base is reported in
    ``notes`` (it is that ancestor's problem, already covered by the transitive check).
    For lineages with several bases per step, pass every ancestor to :func:`check_derivative_license`.
    """
    chain = _bases(lineage_chain)
    result = check_derivative_license(license, dict(chain))
    for k in range(len(chain) - 1):
        child, child_license = chain[k]
        hop = check_derivative_license(child_license, dict(chain[k + 1 :]))
        for conflict in hop.conflicts:
            note = f"upstream: {child} ({_label(child_license)}): {conflict}"
            if note not in result.notes:
                result.notes.append(note)
    return result
