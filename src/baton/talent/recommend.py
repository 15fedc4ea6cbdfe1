"""Scores that help people and openings build ranked lists, explained in Korean and English.

The score of a (person, opening) pair is a weighted mean of four features, each in [0, 1]:

``skill``  (weight 0.55) how well the person's skills cover the opening's: for each wanted skill
           the best :meth:`~baton.talent.taxonomy.Taxonomy.coverage` by any held skill (same
           concept 1, a more specific one 0.9 per level, otherwise similarity through the
           hierarchy), required skills weighing twice as much as preferred ones;
``text``   (weight 0.25) BM25 similarity of the profile text (with desired roles) and the
           opening text, Korean-aware (:mod:`baton.talent.text`);
``place``  (weight 0.10) 1 when the opening's place is among the person's places or either side
           is open about it, else 0;
``start``  (weight 0.10) 1 when the person can start by the opening's start date (or either is
           open), falling linearly to 0 at 90 days late.

A feature with nothing to compare (an opening listing no skills, a blank text) drops out and the
others are re-weighted. Nothing else enters: the views carry no gender, age, nationality or any
other personal attribute (see :data:`FEATURES` and the test that pins it). Every
:class:`Recommendation` says it is automated and non-binding, and that a human review can be
requested.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from baton.talent.taxonomy import Taxonomy, UnknownSkillError, load_taxonomy
from baton.talent.text import BM25

FEATURES: tuple[str, ...] = ("skill", "text", "place", "start")
WEIGHTS: Mapping[str, float] = {"skill": 0.55, "text": 0.25, "place": 0.10, "start": 0.10}
REQUIRED_WEIGHT = 2.0
PREFERRED_WEIGHT = 1.0
MATCH_THRESHOLD = 0.6  # a wanted skill counts as matched at this coverage or above (same or more specific)
START_GRACE_DAYS = 90
MIN_SCORE = 0.05  # below this a pair is not put on anyone's list

NOTICE_EN = (
    "This recommendation was made automatically and is not binding. You may refuse automated "
    "recommendations and ask for a review by a person."
)
NOTICE_KO = "이 추천은 자동으로 생성되었으며 구속력이 없습니다. 자동 추천을 거부하고 사람의 검토를 요청할 수 있습니다."


@dataclass(frozen=True)
class ProfileView:
    """What ranking may see of a person: nothing about gender, age or nationality."""

    id: str
    team: str | None
    skills: tuple[str, ...]
    text: str
    places: tuple[str, ...]
    earliest_start: date | None
    desired_roles: tuple[str, ...]


@dataclass(frozen=True)
class OpeningView:
    id: str
    organization: str
    required_skills: tuple[str, ...]
    preferred_skills: tuple[str, ...]
    text: str
    place: str | None
    start: date | None
    capacity: int


@dataclass(frozen=True)
class MatchedSkill:
    person_code: str
    opening_code: str
    similarity: float
    required: bool


@dataclass
class Recommendation:
    person_id: str
    opening_id: str
    score: float
    skill_score: float
    text_score: float
    matched_skills: list[MatchedSkill]
    missing_required: list[str]
    rank: int
    explanation_ko: str
    explanation_en: str
    automated: bool = True
    place_score: float = 1.0
    start_score: float = 1.0
    of: int = 0  # length of the ranked list this rank is in
    perspective: Literal["person", "opening"] = "person"  # whose list: the person's or the opening's


@dataclass(frozen=True)
class TeamExposure:
    team: str | None
    people: int
    recommended_people: int
    exposures: float
    share_of_exposure: float
    share_of_people: float
    ratio: float
    flagged: bool = False  # ratio below the threshold: this team's people are being left behind


# -- features ------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _known(taxonomy: Taxonomy, codes: Iterable[str]) -> list[str]:
    """Canonical codes, duplicates and codes not in the taxonomy dropped (services validate on input)."""
    out: dict[str, None] = {}
    for code in codes:
        try:
            out[taxonomy.normalize(code)] = None
        except UnknownSkillError:
            continue
    return list(out)


def _wanted(taxonomy: Taxonomy, opening: OpeningView) -> list[tuple[str, bool]]:
    required = _known(taxonomy, opening.required_skills)
    wanted = [(c, True) for c in required]
    wanted += [(c, False) for c in _known(taxonomy, opening.preferred_skills) if c not in required]
    return wanted


def _start_score(person: ProfileView, opening: OpeningView) -> float:
    if opening.start is None or person.earliest_start is None:
        return 1.0
    late = (person.earliest_start - opening.start).days
    return 1.0 if late <= 0 else max(0.0, 1 - late / START_GRACE_DAYS)


def _person_doc(person: ProfileView) -> str:
    return "\n".join([person.text, *person.desired_roles])


class _Scorer:
    """Every pair's features at once, over one corpus of people and openings, so both sides see the same numbers.

    Skills: each opening gets a (distinct held code x wanted code) coverage table, gathered for all
    people with NumPy; text: one sparse product of unit BM25 vectors; place and start per pair.
    """

    def __init__(self, people: Sequence[ProfileView], openings: Sequence[OpeningView], taxonomy: Taxonomy) -> None:
        for kind, ids in (("person", [p.id for p in people]), ("opening", [o.id for o in openings])):
            if len(set(ids)) != len(ids):
                repeated = sorted({i for i in ids if ids.count(i) > 1})
                raise ValueError(f"each {kind} must appear once; repeated ids: {repeated}")
        self.taxonomy = taxonomy
        self.people = list(people)
        self.openings = list(openings)
        self.p_index = {p.id: i for i, p in enumerate(self.people)}
        self.o_index = {o.id: j for j, o in enumerate(self.openings)}
        n, m = len(self.people), len(self.openings)

        # text: cosine of unit BM25 vectors, all pairs in one sparse product
        p_docs = [f"p\x00{p.id}" for p in self.people]
        o_docs = [f"o\x00{o.id}" for o in self.openings]
        bm25 = BM25(
            dict(zip(p_docs, (_person_doc(p) for p in self.people), strict=True))
            | {d: o.text for d, o in zip(o_docs, self.openings, strict=True)}
        )
        p_text = np.array([bool(bm25.term_freqs[d]) for d in p_docs], dtype=bool)
        o_text = np.array([bool(bm25.term_freqs[d]) for d in o_docs], dtype=bool)
        if n and m:
            product = bm25.unit_matrix(p_docs) @ bm25.unit_matrix(o_docs).T
            self.text = np.clip(np.asarray(product.todense(), dtype=float), 0.0, 1.0)
        else:
            self.text = np.zeros((n, m))
        has_text = np.outer(p_text, o_text)

        # skills: best coverage of each wanted skill by any held one
        self.held = [_known(taxonomy, p.skills) for p in self.people]
        self.wanted = [_wanted(taxonomy, o) for o in self.openings]
        codes = sorted({c for held in self.held for c in held})
        code_index = {c: u for u, c in enumerate(codes)}
        width = max((len(h) for h in self.held), default=0)
        held_idx = np.full((n, max(width, 1)), len(codes), dtype=np.int64)  # padding: the all-zero row
        for i, held in enumerate(self.held):
            held_idx[i, : len(held)] = [code_index[c] for c in held]
        self.codes = codes
        self.best: list[np.ndarray] = []  # per opening: (people x wanted) best coverage
        self.best_code: list[np.ndarray] = []  # per opening: (people x wanted) index into codes
        skill = np.zeros((n, m))
        has_skill = np.zeros(m, dtype=bool)
        for j, wanted in enumerate(self.wanted):
            table = np.zeros((len(codes) + 1, len(wanted)))
            if codes and wanted:
                table[: len(codes)] = taxonomy.coverage_table(codes, [c for c, _r in wanted])
            gathered = table[held_idx]  # people x width x wanted
            self.best.append(gathered.max(axis=1) if len(wanted) else np.zeros((n, 0)))
            picked = gathered.argmax(axis=1) if len(wanted) else np.zeros((n, 0), dtype=np.int64)
            self.best_code.append(np.take_along_axis(held_idx, picked, axis=1) if len(wanted) else picked)
            if wanted:
                has_skill[j] = True
                weights = np.array([REQUIRED_WEIGHT if r else PREFERRED_WEIGHT for _c, r in wanted])
                skill[:, j] = self.best[j] @ weights / weights.sum()
        self.skill = skill

        # place and start
        places = [{_fold(x) for x in p.places} for p in self.people]
        self.place = np.ones((n, m))
        self.start = np.ones((n, m))
        for j, o in enumerate(self.openings):
            if o.place:
                wanted_place = _fold(o.place)
                for i, mine in enumerate(places):
                    if mine and wanted_place not in mine:
                        self.place[i, j] = 0.0
            if o.start is not None:
                for i, p in enumerate(self.people):
                    self.start[i, j] = _start_score(p, o)

        numerator = (
            WEIGHTS["skill"] * skill * has_skill[None, :]
            + WEIGHTS["text"] * self.text * has_text
            + WEIGHTS["place"] * self.place
            + WEIGHTS["start"] * self.start
        )
        denominator = (
            WEIGHTS["skill"] * has_skill[None, :] + WEIGHTS["text"] * has_text + WEIGHTS["place"] + WEIGHTS["start"]
        )
        self.score = np.round(numerator / denominator, 6)

    def pair(self, i: int, j: int) -> Recommendation:
        """The recommendation for person ``i`` and opening ``j`` (indices into the scorer's lists)."""
        matched: list[MatchedSkill] = []
        missing: list[str] = []
        best, best_code = self.best[j], self.best_code[j]
        for w, (code, required) in enumerate(self.wanted[j]):
            value = float(best[i, w])
            if value >= MATCH_THRESHOLD:
                matched.append(MatchedSkill(self.codes[int(best_code[i, w])], code, round(value, 4), required))
            elif required:
                missing.append(code)
        return Recommendation(
            person_id=self.people[i].id,
            opening_id=self.openings[j].id,
            score=float(self.score[i, j]),
            skill_score=round(float(self.skill[i, j]), 6),
            text_score=round(float(self.text[i, j]), 6),
            matched_skills=matched,
            missing_required=missing,
            rank=0,
            explanation_ko="",
            explanation_en="",
            place_score=float(self.place[i, j]),
            start_score=round(float(self.start[i, j]), 6),
        )


def _rank(recs: list[Recommendation], key: str, perspective: Literal["person", "opening"], taxonomy: Taxonomy) -> None:
    recs.sort(key=lambda r: (-r.score, getattr(r, key)))
    for i, rec in enumerate(recs, 1):
        rec.rank, rec.of, rec.perspective = i, len(recs), perspective
        rec.explanation_en, rec.explanation_ko = explain(rec, taxonomy)


def rank_openings_for(
    person: ProfileView, openings: Sequence[OpeningView], *, taxonomy: Taxonomy | None = None
) -> list[Recommendation]:
    """Every opening scored for ``person``, best first (ties by opening id), ranks from 1."""
    taxonomy = taxonomy or load_taxonomy()
    scorer = _Scorer([person], openings, taxonomy)
    recs = [scorer.pair(0, j) for j in range(len(openings))]
    _rank(recs, "opening_id", "person", taxonomy)
    return recs


def rank_people_for(
    opening: OpeningView, people: Sequence[ProfileView], *, taxonomy: Taxonomy | None = None
) -> list[Recommendation]:
    """Every person scored for ``opening``, best first (ties by person id), ranks from 1."""
    taxonomy = taxonomy or load_taxonomy()
    scorer = _Scorer(people, [opening], taxonomy)
    recs = [scorer.pair(i, 0) for i in range(len(people))]
    _rank(recs, "person_id", "opening", taxonomy)
    return recs


def score_all(
    people: Sequence[ProfileView], openings: Sequence[OpeningView], *, taxonomy: Taxonomy | None = None
) -> dict[tuple[str, str], Recommendation]:
    """Unranked recommendations for every (person, opening) pair, over one shared corpus."""
    taxonomy = taxonomy or load_taxonomy()
    scorer = _Scorer(people, openings, taxonomy)
    return {(p.id, o.id): scorer.pair(i, j) for i, p in enumerate(people) for j, o in enumerate(openings)}


def preference_lists(
    people: Sequence[ProfileView],
    openings: Sequence[OpeningView],
    *,
    length: int = 20,
    min_score: float = MIN_SCORE,
    taxonomy: Taxonomy | None = None,
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Suggested ranked lists for :func:`baton.talent.matching.deferred_acceptance`.

    Each person gets the ``length`` openings with the best scores, each opening the ``length``
    people with the best scores (pairs under ``min_score`` left out), both from the same pair
    scores. They are suggestions: each side may reorder or cut its list before matching.
    """
    if length < 1:
        raise ValueError("length must be at least 1")
    scorer = _Scorer(people, openings, taxonomy or load_taxonomy())
    score = scorer.score
    by_person: dict[str, list[str]] = {}
    for i, p in enumerate(scorer.people):
        row = score[i].tolist()
        chosen = sorted((j for j in range(len(row)) if row[j] >= min_score), key=lambda j: (-row[j], openings[j].id))
        by_person[p.id] = [openings[j].id for j in chosen[:length]]
    by_opening: dict[str, list[str]] = {}
    for j, o in enumerate(scorer.openings):
        column = score[:, j].tolist()
        chosen = sorted(
            (i for i in range(len(column)) if column[i] >= min_score), key=lambda i: (-column[i], people[i].id)
        )
        by_opening[o.id] = [people[i].id for i in chosen[:length]]
    return by_person, by_opening


# -- explanations --------------------------------------------------------------------------------


def _label(taxonomy: Taxonomy, code: str, lang: str) -> str:
    concept = taxonomy.concepts.get(code)
    return f"{concept.label(lang)} ({code})" if concept else code


def explain(rec: Recommendation, taxonomy: Taxonomy) -> tuple[str, str]:
    """(English, Korean) explanation: rank, matched and missing skills, other features, the notice."""
    en: list[str] = []
    ko: list[str] = []
    if rec.perspective == "person":
        en.append(f"Opening {rec.opening_id} is ranked {rec.rank} of {rec.of} for you (score {rec.score:.2f}).")
        ko.append(
            f"채용 공고 {rec.opening_id}은(는) 회원님께 {rec.of}건 중 {rec.rank}위로 추천되었습니다 "
            f"(점수 {rec.score:.2f})."
        )
    else:
        en.append(
            f"Candidate {rec.person_id} is ranked {rec.rank} of {rec.of} for opening {rec.opening_id} "
            f"(score {rec.score:.2f})."
        )
        ko.append(
            f"후보자 {rec.person_id}은(는) 채용 공고 {rec.opening_id}에 대해 {rec.of}명 중 {rec.rank}위입니다 "
            f"(점수 {rec.score:.2f})."
        )
    if rec.matched_skills:
        items_en, items_ko = [], []
        for m in rec.matched_skills:
            kind_en, kind_ko = ("required", "필수") if m.required else ("preferred", "우대")
            if m.person_code == m.opening_code:
                items_en.append(f"{_label(taxonomy, m.opening_code, 'en')} [{kind_en}]")
                items_ko.append(f"{_label(taxonomy, m.opening_code, 'ko')} [{kind_ko}]")
            else:
                items_en.append(
                    f"{_label(taxonomy, m.opening_code, 'en')} [{kind_en}] via "
                    f"{_label(taxonomy, m.person_code, 'en')} ({m.similarity:.0%})"
                )
                items_ko.append(
                    f"{_label(taxonomy, m.opening_code, 'ko')} [{kind_ko}] ← "
                    f"{_label(taxonomy, m.person_code, 'ko')} ({m.similarity:.0%})"
                )
        en.append("Matched skills: " + "; ".join(items_en) + ".")
        ko.append("일치한 기술: " + "; ".join(items_ko) + ".")
    else:
        en.append("No listed skill matched.")
        ko.append("일치한 기술이 없습니다.")
    if rec.missing_required:
        missing_en = "; ".join(_label(taxonomy, c, "en") for c in rec.missing_required)
        en.append(f"Missing required skills: {missing_en}.")
        ko.append("부족한 필수 기술: " + "; ".join(_label(taxonomy, c, "ko") for c in rec.missing_required) + ".")
    en.append(
        f"Skill fit {rec.skill_score:.0%}, text similarity {rec.text_score:.0%}, "
        f"place {'fits' if rec.place_score >= 1 else 'does not fit'}, "
        f"start date {'fits' if rec.start_score >= 1 else ('is late' if rec.start_score > 0 else 'does not fit')}."
    )
    ko.append(
        f"기술 적합도 {rec.skill_score:.0%}, 문서 유사도 {rec.text_score:.0%}, "
        f"근무지 {'일치' if rec.place_score >= 1 else '불일치'}, "
        f"시작일 {'가능' if rec.start_score >= 1 else ('늦음' if rec.start_score > 0 else '불가')}."
    )
    en.append(NOTICE_EN)
    ko.append(NOTICE_KO)
    return " ".join(en), " ".join(ko)


# -- fairness ------------------------------------------------------------------------------------


def exposure_report(
    recommendations: Iterable[Recommendation],
    team_of: Mapping[str, str | None],
    *,
    top_k: int = 10,
    flag_below: float = 0.8,
) -> list[TeamExposure]:
    """How often each former team's people are shown to openings, against their share of the pool.

    Counts recommendations ranked by openings (``perspective == "opening"``, as
    :func:`rank_people_for` makes them) within each opening's ``top_k``. A recommendation at
    rank r adds ``1 / log2(r + 1)`` exposure (rank 1 counts 1, rank 3 counts 0.5: people look at
    the top of a list). ``team_of`` maps every person in the pool to their former team (None for
    none), including people never recommended. ``ratio`` is the team's share of exposure over its
    share of people: 1 is proportional, and a team under ``flag_below`` (the four-fifths rule) is
    flagged. Teams come out worst ratio first.
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    people_in: dict[str | None, int] = {}
    for team in team_of.values():
        people_in[team] = people_in.get(team, 0) + 1
    exposure: dict[str | None, float] = dict.fromkeys(people_in, 0.0)
    shown: dict[str | None, set[str]] = {t: set() for t in people_in}
    for rec in recommendations:
        if rec.perspective != "opening" or rec.rank < 1 or rec.rank > top_k or rec.person_id not in team_of:
            continue
        team = team_of[rec.person_id]
        exposure[team] += 1 / math.log2(rec.rank + 1)
        shown[team].add(rec.person_id)
    total_people = sum(people_in.values())
    total_exposure = sum(exposure.values())
    report = []
    for team, people in people_in.items():
        share_exp = exposure[team] / total_exposure if total_exposure else 0.0
        share_people = people / total_people if total_people else 0.0
        ratio = share_exp / share_people if share_people else 0.0
        report.append(
            TeamExposure(
                team=team,
                people=people,
                recommended_people=len(shown[team]),
                exposures=round(exposure[team], 6),
                share_of_exposure=round(share_exp, 6),
                share_of_people=round(share_people, 6),
                ratio=round(ratio, 6),
                flagged=total_exposure > 0 and ratio < flag_below,
            )
        )
    report.sort(key=lambda t: (t.ratio, t.team or ""))
    return report
