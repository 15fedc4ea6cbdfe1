"""The skill taxonomy: the ACM Computing Classification System (2012), with Korean labels.

Source and terms
    "ACM Computing Classification System (2012)", © ACM, published for free use in classifying
    computing work. The SKOS RDF/XML export ships in ``baton/talent/data/acm-ccs-2012.skos.xml``
    (see ``data/README.md`` there). The Korean labels in ``data/ko-labels.tsv`` are Baton's own.

Code scheme
    A skill code is the CCS concept id, the digits of the SKOS ``rdf:about="#10010257"``:
    ``"10010257"`` is *Machine learning*. That is the canonical form stored and returned
    everywhere. On input :meth:`Taxonomy.normalize` also accepts ``"#10010257"``, the full
    concept URI ending in ``#10010257``, and a dotted path from a top concept down,
    ``"10010147.10010257"`` (*Computing methodologies* → *Machine learning*), checked link by
    link; the path form is what a UI may show, the stored code is the last segment.

The CCS is a poly-hierarchy: a concept may have several broader concepts (about a hundred do).
Parsing uses expat directly with every entity declaration other than small internal ones
refused (no external or unparsed entities, no parameter entities): the same guard defusedxml
puts in place.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import itertools
import re
import threading
import unicodedata
import xml.parsers.expat
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NoReturn

from baton.core.errors import BadRequestError

ATTRIBUTION = "ACM Computing Classification System (2012)"
SKOS_FILE = "acm-ccs-2012.skos.xml"
KO_LABELS_FILE = "ko-labels.tsv"

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_SEP = "\x1f"  # namespace separator handed to expat: never appears in names

# Similarity through the hierarchy: each step up or down multiplies by DECAY; concepts linked
# by skos:related (across branches too) are at least RELATED_SIMILARITY alike.
DECAY = 0.5
RELATED_SIMILARITY = 0.4
# Coverage of a wanted skill by a more specific one held: SPECIFIC_COVERAGE per level down.
SPECIFIC_COVERAGE = 0.9

Lang = Literal["en", "ko"]


class UnknownSkillError(BadRequestError):
    code = "UnknownSkill"
    default_hint = (
        "Use ACM CCS 2012 concept ids such as '10010257' (Machine learning); search the skill taxonomy "
        "by words in English or Korean (e.g. 'machine learning', '기계 학습') to find a concept's id."
    )


class TaxonomyFileError(BadRequestError):
    """The SKOS file (or the Korean labels) is malformed or tries something unsafe."""

    code = "InvalidTaxonomy"
    default_hint = "Ship the SKOS RDF/XML file as published (no external entities) and one 'code<TAB>label' per line."


@dataclass(frozen=True, slots=True)
class Concept:
    """One CCS concept. ``code`` is the CCS id (see the module docstring)."""

    code: str
    label_en: str
    label_ko: str | None
    broader: tuple[str, ...]
    narrower: tuple[str, ...]
    alt_labels: tuple[str, ...]
    related: tuple[str, ...] = ()
    alt_labels_ko: tuple[str, ...] = ()
    scope_note: str | None = None

    def label(self, lang: str = "en") -> str:
        """The label in ``lang`` ("ko" falls back to English where no Korean label exists)."""
        if lang == "ko" and self.label_ko:
            return self.label_ko
        return self.label_en

    @property
    def is_top(self) -> bool:
        return not self.broader


def fold(text: str) -> str:
    """Search key: NFKC (full-width → ASCII, compatibility jamo), case-folded, punctuation as spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return unicodedata.normalize("NFC", " ".join(text.split()))


@dataclass(slots=True)
class _Entry:
    key: str  # folded label
    compact: str  # folded label without spaces
    lang: Lang
    preferred: bool


@dataclass
class Taxonomy:
    """The parsed taxonomy. Build it with :func:`load_taxonomy` (parsed once, then shared)."""

    concepts: Mapping[str, Concept]
    top_concepts: tuple[str, ...]
    title: str = ATTRIBUTION
    _up: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)
    _index: list[tuple[str, _Entry]] = field(default_factory=list, repr=False)
    _depth: dict[str, int] = field(default_factory=dict, repr=False)
    _tops: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for code in self.concepts:
            self._up[code] = up = self._distances_up(code)
            self._depth[code] = 1 + min(d for c, d in up.items() if not self.concepts[c].broader)
            self._tops[code] = frozenset(c for c in up if not self.concepts[c].broader)
        for code, concept in self.concepts.items():
            labels: list[tuple[str, Lang, bool]] = [(concept.label_en, "en", True)]
            labels += [(a, "en", False) for a in concept.alt_labels]
            if concept.label_ko:
                labels.append((concept.label_ko, "ko", True))
            labels += [(a, "ko", False) for a in concept.alt_labels_ko]
            for text, lang, preferred in labels:
                key = fold(text)
                if key:
                    self._index.append((code, _Entry(key, key.replace(" ", ""), lang, preferred)))

    # -- lookup ---------------------------------------------------------------------------------

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self.concepts

    def __len__(self) -> int:
        return len(self.concepts)

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    def normalize(self, code: str) -> str:
        """The canonical code for ``code`` in any accepted form; :class:`UnknownSkillError` if none."""
        if not isinstance(code, str):
            raise UnknownSkillError(f"A skill code must be a string, not {type(code).__name__}.")
        raw = code.strip()
        text = raw.rsplit("#", 1)[-1] if "#" in raw else raw
        if "." in text:
            steps = text.split(".")
            for step in steps:
                if step not in self.concepts:
                    raise UnknownSkillError(f"Unknown skill code {raw!r}: {step!r} is not an ACM CCS 2012 concept.")
            for parent, child in itertools.pairwise(steps):
                if child not in self.concepts[parent].narrower:
                    raise UnknownSkillError(
                        f"Skill path {raw!r} is broken: {child!r} ({self.concepts[child].label_en}) is not "
                        f"directly under {parent!r} ({self.concepts[parent].label_en})."
                    )
            return steps[-1]
        if text not in self.concepts:
            raise UnknownSkillError(f"Unknown skill code {raw!r}: not an ACM CCS 2012 concept id.")
        return text

    def get(self, code: str) -> Concept:
        """The concept for ``code``; :class:`UnknownSkillError` (HTTP 400) naming it if unknown."""
        return self.concepts[self.normalize(code)]

    def validate(self, codes: Iterable[str]) -> list[str]:
        """Canonical codes for ``codes``, in order, duplicates dropped.

        Raises one :class:`UnknownSkillError` naming *every* unknown code, so that a form can
        show them all at once; nothing is returned in part.
        """
        if isinstance(codes, str):
            codes = [codes]
        out: list[str] = []
        seen: set[str] = set()
        bad: list[str] = []
        for code in codes:
            try:
                canonical = self.normalize(code)
            except UnknownSkillError:
                bad.append(repr(code))
                continue
            if canonical not in seen:
                seen.add(canonical)
                out.append(canonical)
        if bad:
            noun = "code" if len(bad) == 1 else "codes"
            raise UnknownSkillError(f"Unknown skill {noun} {', '.join(bad)}: not in the ACM CCS 2012 taxonomy.")
        return out

    # -- search ---------------------------------------------------------------------------------

    def search(self, text: str, *, lang: str | None = None, limit: int = 20) -> list[Concept]:
        """Concepts whose English or Korean labels (preferred or alternative) match ``text``.

        Case-, width- and spacing-insensitive ("자연어처리" finds "자연어 처리", "ＧＰＵ" finds
        "GPU"); ``lang`` limits the labels searched to "en" or "ko". Best first: exact label,
        label starting with the text, a word starting with it, then the text anywhere (every
        word of the text must appear); preferred labels before alternative ones, broader
        concepts before narrower ones. A concept code (any accepted form) finds that concept.
        """
        if lang not in (None, "en", "ko"):
            raise BadRequestError(f"Unknown search language {lang!r}.", hint="Use lang 'en' or 'ko', or leave it out.")
        if limit <= 0:
            return []
        query = fold(text)
        if not query:
            return []
        try:
            return [self.get(text)]
        except UnknownSkillError:
            pass
        words = query.split()
        compact = query.replace(" ", "")
        # Korean is often written with or without spaces ("언어모델", "언어 모델"): match it unspaced too
        hangul = any("\uac00" <= ch <= "\ud7a3" for ch in compact)
        best: dict[str, tuple[int, int, int, int, str]] = {}
        for code, entry in self._index:
            if lang is not None and entry.lang != lang:
                continue
            if entry.key == query or entry.compact == compact:
                tier = 0
            elif entry.key.startswith(query) or entry.compact.startswith(compact):
                tier = 1
            elif any(w.startswith(words[0]) for w in entry.key.split()) and all(w in entry.key for w in words):
                tier = 2
            elif all(w in entry.key for w in words) or (hangul and compact in entry.compact):
                tier = 3
            else:
                continue
            rank = (tier, 0 if entry.preferred else 1, self._depth[code], len(entry.key), code)
            if code not in best or rank < best[code]:
                best[code] = rank
        ordered = sorted(best, key=best.__getitem__)
        return [self.concepts[c] for c in ordered[:limit]]

    # -- hierarchy ------------------------------------------------------------------------------

    def _distances_up(self, code: str) -> dict[str, int]:
        """{ancestor or self: fewest broader-steps to it}, through every broader path."""
        dist = {code: 0}
        queue = deque([code])
        while queue:
            current = queue.popleft()
            for parent in self.concepts[current].broader:
                if parent not in dist:
                    dist[parent] = dist[current] + 1
                    queue.append(parent)
        return dist

    def ancestors(self, code: str) -> list[str]:
        """Every broader concept of ``code`` (all paths), nearest first, ending at top concepts."""
        code = self.normalize(code)
        up = self._up[code]
        return sorted((c for c in up if c != code), key=lambda c: (up[c], c))

    def descendants(self, code: str) -> list[str]:
        """Every narrower concept of ``code`` (all paths), nearest first."""
        code = self.normalize(code)
        dist = {code: 0}
        queue = deque([code])
        while queue:
            current = queue.popleft()
            for child in self.concepts[current].narrower:
                if child not in dist:
                    dist[child] = dist[current] + 1
                    queue.append(child)
        return sorted((c for c in dist if c != code), key=lambda c: (dist[c], c))

    def depth(self, code: str) -> int:
        """1 for a top concept, else 1 + the fewest steps up to one."""
        return self._depth[self.normalize(code)]

    def path(self, code: str) -> str:
        """The dotted path (shortest, then smallest codes) from a top concept down to ``code``."""
        steps = [self.normalize(code)]
        while self.concepts[steps[-1]].broader:
            steps.append(min(self.concepts[steps[-1]].broader, key=lambda p: (self._depth[p], p)))
        return ".".join(reversed(steps))

    def distance(self, a: str, b: str) -> int | None:
        """Fewest broader/narrower steps between ``a`` and ``b`` through a common ancestor; None if none."""
        return self._distance(self.normalize(a), self.normalize(b))

    def _distance(self, a: str, b: str) -> int | None:
        ua, ub = self._up[a], self._up[b]
        if len(ub) < len(ua):
            ua, ub = ub, ua
        common = [ua[c] + ub[c] for c in ua if c in ub]
        return min(common) if common else None

    def similarity(self, a: str, b: str) -> float:
        """How alike two skills are, in [0, 1], symmetric.

        1 for the same concept; ``DECAY ** steps`` through the nearest common ancestor otherwise
        (parent/child 0.5, siblings 0.25, ...); 0 for concepts under different top concepts.
        Concepts the CCS links with ``skos:related`` score at least ``RELATED_SIMILARITY``.
        """
        return self._similarity(self.normalize(a), self.normalize(b))

    def _similarity(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        steps = self._distance(a, b)
        score = 0.0 if steps is None else DECAY**steps
        if b in self.concepts[a].related or a in self.concepts[b].related:
            score = max(score, RELATED_SIMILARITY)
        return score

    def coverage(self, have: str, want: str) -> float:
        """How well a held skill ``have`` meets a wanted skill ``want``, in [0, 1]; not symmetric.

        A more specific skill under the wanted one meets it almost fully
        (``SPECIFIC_COVERAGE ** levels``: a *Neural networks* researcher covers *Machine
        learning* at 0.81); otherwise it is :meth:`similarity`.
        """
        return self._coverage(self.normalize(have), self.normalize(want))

    def _coverage(self, have: str, want: str) -> float:
        up = self._up[have]
        if want in up and want != have:
            return max(SPECIFIC_COVERAGE ** up[want], self._similarity(have, want))
        return self._similarity(have, want)

    def coverage_table(self, haves: Sequence[str], wants: Sequence[str]) -> list[list[float]]:
        """``table[i][w] = coverage(haves[i], wants[w])`` for many codes at once (codes checked once).

        Pairs under different top concepts and not linked by ``skos:related`` are 0 without a walk.
        """
        have_codes = [self.normalize(c) for c in haves]
        want_codes = [self.normalize(c) for c in wants]
        tops = {c: self._tops[c] for c in (*have_codes, *want_codes)}
        table = [[0.0] * len(want_codes) for _ in have_codes]
        for w, want in enumerate(want_codes):
            related = set(self.concepts[want].related)
            for i, have in enumerate(have_codes):
                if tops[have] & tops[want] or have in related or want in self.concepts[have].related:
                    table[i][w] = self._coverage(have, want)
        return table


# -- loading ------------------------------------------------------------------------------------


def _resource(name: str) -> bytes:
    return importlib.resources.files("baton.talent").joinpath("data", name).read_bytes()


def _refuse(what: str) -> NoReturn:
    raise TaxonomyFileError(f"The SKOS file declares {what}; refusing to parse it.")


def parse_skos(data: bytes) -> tuple[dict[str, dict[str, object]], list[str], str]:
    """Parse SKOS RDF/XML bytes into raw concept records, top concept ids and the scheme title.

    Safe against entity tricks: external, unparsed and parameter entities are refused; at most
    64 small internal entities (the CCS declares namespace abbreviations) are allowed, and
    expat's own amplification guard stays on.
    """
    parser = xml.parsers.expat.ParserCreate(namespace_separator=_SEP)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    entity_count = 0

    def entity_decl(
        name: str,
        is_parameter: int,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        nonlocal entity_count
        entity_count += 1
        if is_parameter:
            _refuse(f"a parameter entity {name!r}")
        if value is None or system_id is not None or public_id is not None or notation is not None:
            _refuse(f"an external entity {name!r}")
        if entity_count > 64 or len(value) > 1024 or "&" in value:
            _refuse(f"too many or too large internal entities ({name!r})")

    def unparsed(*args: object) -> None:
        _refuse("an unparsed entity")

    def external_ref(*args: object) -> int:
        _refuse("a reference to an external entity")

    parser.EntityDeclHandler = entity_decl
    parser.UnparsedEntityDeclHandler = unparsed
    parser.ExternalEntityRefHandler = external_ref

    concepts: dict[str, dict[str, object]] = {}
    tops: list[str] = []
    title = ""
    current: dict[str, object] | None = None
    text_tag: str | None = None
    text_lang: str | None = None
    buffer: list[str] = []
    in_scheme = False

    def ref(value: str) -> str:
        return value.rsplit("#", 1)[-1]

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal current, text_tag, text_lang, in_scheme
        ns, _, local = tag.rpartition(_SEP)
        if ns == _SKOS and local == "Concept":
            about = attrs.get(_RDF + _SEP + "about", "")
            code = ref(about)
            if not code.isdigit():
                raise TaxonomyFileError(f"Concept with unexpected id {about!r}.")
            current = {"code": code, "pref": {}, "alt": [], "broader": [], "narrower": [], "related": []}
            concepts[code] = current
            return
        if ns == _SKOS and local == "ConceptScheme":
            in_scheme = True
            return
        resource = attrs.get(_RDF + _SEP + "resource")
        if in_scheme and ns == _SKOS and local == "hasTopConcept" and resource:
            tops.append(ref(resource))
        if current is not None and ns == _SKOS and local in ("broader", "narrower", "related") and resource:
            links = current[local]
            assert isinstance(links, list)
            links.append(ref(resource))
        if (ns == _SKOS and local in ("prefLabel", "altLabel", "scopeNote")) or local == "title":
            text_tag = local
            text_lang = attrs.get("http://www.w3.org/XML/1998/namespace" + _SEP + "lang", "en")
            buffer.clear()

    def end(tag: str) -> None:
        nonlocal current, text_tag, title, in_scheme
        local = tag.rpartition(_SEP)[2]
        if text_tag is not None and local == text_tag:
            value = unicodedata.normalize("NFC", " ".join("".join(buffer).split()))
            if current is None:
                if local == "title" and in_scheme:
                    title = value
            elif local == "prefLabel":
                pref = current["pref"]
                assert isinstance(pref, dict)
                pref[text_lang or "en"] = value
            elif local == "altLabel" and value:
                alt = current["alt"]
                assert isinstance(alt, list)
                alt.append(value)
            elif local == "scopeNote":
                current["scope"] = value
            text_tag = None
        elif local == "Concept":
            current = None
        elif local == "ConceptScheme":
            in_scheme = False

    def chars(data: str) -> None:
        if text_tag is not None:
            buffer.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise TaxonomyFileError(f"The SKOS file is not well-formed XML: {exc}.") from exc
    return concepts, tops, title


def parse_ko_labels(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``code<TAB>label[<TAB>alt|alt...]`` lines ('#' starts a comment) → {code: (label, alts)}."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    reader = csv.reader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    for lineno, row in enumerate(reader, 1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2 or not row[1].strip():
            raise TaxonomyFileError(f"{KO_LABELS_FILE} line {lineno}: expected 'code<TAB>label', got {row!r}.")
        code = row[0].strip()
        label = unicodedata.normalize("NFC", row[1].strip())
        alts = tuple(
            unicodedata.normalize("NFC", a.strip()) for a in (row[2].split("|") if len(row) > 2 else []) if a.strip()
        )
        if code in out:
            raise TaxonomyFileError(f"{KO_LABELS_FILE} line {lineno}: code {code} is labelled twice.")
        out[code] = (label, alts)
    return out


def build_taxonomy(skos: bytes, ko_labels: str = "") -> Taxonomy:
    """A :class:`Taxonomy` from SKOS bytes and the Korean label table (checked against the SKOS)."""
    raw, tops, title = parse_skos(skos)
    ko = parse_ko_labels(ko_labels)
    unknown = sorted(set(ko) - set(raw))
    if unknown:
        raise TaxonomyFileError(f"{KO_LABELS_FILE} labels codes not in the taxonomy: {', '.join(unknown[:10])}.")
    # Links are kept symmetric: a broader link implies the narrower one and vice versa.
    broader: dict[str, list[str]] = {c: [] for c in raw}
    narrower: dict[str, list[str]] = {c: [] for c in raw}
    for code, record in raw.items():
        for parent in record["broader"]:  # type: ignore[attr-defined]
            if parent in raw and parent not in broader[code]:
                broader[code].append(parent)
                if code not in narrower[parent]:
                    narrower[parent].append(code)
        for child in record["narrower"]:  # type: ignore[attr-defined]
            if child in raw and child not in narrower[code]:
                narrower[code].append(child)
                if code not in broader[child]:
                    broader[child].append(code)
    concepts: dict[str, Concept] = {}
    for code, record in raw.items():
        pref = record["pref"]
        assert isinstance(pref, dict)
        label_en = pref.get("en") or next(iter(pref.values()), None)
        if not label_en:
            raise TaxonomyFileError(f"Concept {code} has no prefLabel.")
        label_ko, alts_ko = ko.get(code, (pref.get("ko"), ()))
        alts = record["alt"]
        assert isinstance(alts, list)
        related = record["related"]
        assert isinstance(related, list)
        scope = record.get("scope")
        concepts[code] = Concept(
            code=code,
            label_en=label_en,
            label_ko=label_ko,
            broader=tuple(broader[code]),
            narrower=tuple(narrower[code]),
            alt_labels=tuple(dict.fromkeys(a for a in alts if a.casefold() != label_en.casefold())),
            related=tuple(r for r in related if r in raw and r != code),
            alt_labels_ko=alts_ko,
            scope_note=scope if isinstance(scope, str) else None,
        )
    top = tuple(c for c in tops if c in concepts and not concepts[c].broader) or tuple(
        c for c, concept in concepts.items() if not concept.broader
    )
    _check_acyclic(concepts)
    return Taxonomy(concepts=concepts, top_concepts=top, title=title or ATTRIBUTION)


def _check_acyclic(concepts: Mapping[str, Concept]) -> None:
    state: dict[str, int] = {}
    for root in concepts:
        if root in state:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(concepts[root].broader))]
        state[root] = 1
        while stack:
            node, parents = stack[-1]
            parent = next(parents, None)
            if parent is None:
                state[node] = 2
                stack.pop()
            elif state.get(parent) == 1:
                raise TaxonomyFileError(f"The broader links form a cycle through concept {parent}.")
            elif parent not in state:
                state[parent] = 1
                stack.append((parent, iter(concepts[parent].broader)))


_lock = threading.Lock()
_cached: Taxonomy | None = None


def load_taxonomy() -> Taxonomy:
    """The shipped taxonomy, parsed on first use and shared afterwards (thread-safe)."""
    global _cached
    if _cached is None:
        with _lock:
            if _cached is None:
                _cached = build_taxonomy(_resource(SKOS_FILE), _resource(KO_LABELS_FILE).decode("utf-8"))
    return _cached
