"""Pair scores, ranked lists, explanations, the feature set and the exposure report."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import pytest

from baton.talent import recommend as rec
from baton.talent.matching import deferred_acceptance
from baton.talent.recommend import (
    OpeningView,
    ProfileView,
    exposure_report,
    preference_lists,
    rank_openings_for,
    rank_people_for,
)
from baton.talent.taxonomy import load_taxonomy

ML, NN, AI, CV, NLP = "10010257", "10010294", "10010178", "10010224", "10010179"
PAR, SEC, CRYPTO, HCI = "10010169", "10002978", "10002979", "10003121"


def person(pid: str, skills: tuple[str, ...], text: str = "", team: str | None = "t1", **kw: object) -> ProfileView:
    fields = {"places": (), "earliest_start": None, "desired_roles": ()} | kw
    return ProfileView(id=pid, team=team, skills=skills, text=text, **fields)  # type: ignore[arg-type]


def opening(
    oid: str, required: tuple[str, ...], preferred: tuple[str, ...] = (), text: str = "", **kw: object
) -> OpeningView:
    fields = {"organization": "lab", "place": None, "start": None, "capacity": 1} | kw
    return OpeningView(id=oid, required_skills=required, preferred_skills=preferred, text=text, **fields)  # type: ignore[arg-type]


def test_feature_set_has_no_protected_attributes() -> None:
    assert rec.FEATURES == ("skill", "text", "place", "start")
    assert set(rec.WEIGHTS) == set(rec.FEATURES) and sum(rec.WEIGHTS.values()) == pytest.approx(1.0)
    view_fields = {f.name for f in dataclasses.fields(ProfileView)} | {f.name for f in dataclasses.fields(OpeningView)}
    assert view_fields == {
        "id", "team", "skills", "text", "places", "earliest_start", "desired_roles",
        "organization", "required_skills", "preferred_skills", "place", "start", "capacity",
    }  # fmt: skip
    forbidden = ("gender", "sex", "age", "birth", "nationality", "citizenship", "religion", "marital", "military")
    assert not [f for f in view_fields if any(word in f for word in forbidden)]


def test_team_does_not_change_scores() -> None:
    o = opening("o", (ML,), text="기계 학습 연구원")
    a = person("a", (NN,), "딥러닝 연구", team="eliminated-team")
    b = dataclasses.replace(a, id="b", team="winning-team")
    ranked = rank_people_for(o, [a, b])
    assert ranked[0].score == ranked[1].score
    assert [r.person_id for r in ranked] == ["a", "b"]  # tie broken by id, not by team


def test_skill_overlap_through_the_taxonomy_required_weighs_more() -> None:
    o = opening("o", required=(ML,), preferred=(SEC,))
    exact = rank_people_for(o, [person("exact", (ML,))])[0]
    specific = rank_people_for(o, [person("specific", (NN,))])[0]
    general = rank_people_for(o, [person("general", (AI,))])[0]
    preferred_only = rank_people_for(o, [person("pref", (SEC,))])[0]
    unrelated = rank_people_for(o, [person("none", (HCI,))])[0]
    assert exact.skill_score == pytest.approx(2 / 3)  # required met fully, preferred not at all
    assert exact.skill_score > specific.skill_score > general.skill_score > unrelated.skill_score
    assert preferred_only.skill_score == pytest.approx(1 / 3)  # preferred alone counts half as much
    assert exact.skill_score > preferred_only.skill_score
    assert specific.matched_skills == [rec.MatchedSkill(NN, ML, pytest.approx(0.81), True)]  # type: ignore[arg-type]
    assert general.missing_required == [ML] and general.matched_skills == []
    assert unrelated.missing_required == [ML]


def test_text_similarity_in_korean_separates_fields() -> None:
    o = opening("o", (), text="한국어 대규모 언어 모델 사전학습과 평가 연구원을 모집합니다")
    nlp = person("nlp", (), "대규모 언어 모델 사전학습, 한국어 평가 데이터 구축")
    cv = person("cv", (), "자율주행 객체 검출과 영상 분할")
    ranked = rank_people_for(o, [cv, nlp])
    assert [r.person_id for r in ranked] == ["nlp", "cv"]
    assert ranked[0].text_score > 0.2 and ranked[1].text_score == 0.0
    assert ranked[0].skill_score == 0.0  # no skills listed: the feature drops out, text decides


def test_place_and_start_fit() -> None:
    o = opening("o", (ML,), place="대전", start=date(2027, 3, 1))
    fits = person("fits", (ML,), places=("서울", "ＤＡＥＪＥＯＮ", "대전"), earliest_start=date(2027, 2, 1))
    late = person("late", (ML,), places=("대전",), earliest_start=date(2027, 4, 15))
    far = person("far", (ML,), places=("부산",), earliest_start=date(2027, 3, 1))
    anywhere = person("anywhere", (ML,))
    by_id = {r.person_id: r for r in rank_people_for(o, [fits, late, far, anywhere])}
    assert by_id["fits"].place_score == 1.0 and by_id["fits"].start_score == 1.0
    assert by_id["late"].start_score == pytest.approx(1 - 45 / 90)
    assert by_id["far"].place_score == 0.0
    assert by_id["anywhere"].score == by_id["fits"].score
    assert by_id["fits"].score > by_id["late"].score and by_id["fits"].score > by_id["far"].score


def test_ranks_and_both_directions_agree_on_pair_scores() -> None:
    people = [person("a", (ML,), "기계 학습"), person("b", (CV,), "컴퓨터 비전"), person("c", (SEC,), "보안")]
    openings = [opening("o1", (ML,), text="기계 학습"), opening("o2", (CV,), text="비전 연구"), opening("o3", (PAR,))]
    for_a = rank_openings_for(people[0], openings)
    assert [r.rank for r in for_a] == [1, 2, 3] and for_a[0].opening_id == "o1"
    assert all(r.perspective == "person" and r.of == 3 and r.automated for r in for_a)
    for_o1 = rank_people_for(openings[0], people)
    assert for_o1[0].person_id == "a" and all(r.perspective == "opening" for r in for_o1)
    assert [r.score for r in for_o1] == sorted((r.score for r in for_o1), reverse=True)


def test_explanations_in_korean_and_english() -> None:
    o = opening("o7", required=(ML, CRYPTO), preferred=(NLP,))
    r = rank_openings_for(person("p", (NN, NLP)), [o])[0]
    en, ko = r.explanation_en, r.explanation_ko
    assert "ranked 1 of 1" in en and "1건 중 1위" in ko
    assert "Machine learning (10010257)" in en and "Neural networks (10010294)" in en
    assert "기계 학습 (10010257)" in ko and "신경망 (10010294)" in ko and "자연어 처리" in ko
    assert "Missing required skills: Cryptography (10002979)" in en and "부족한 필수 기술: 암호학 (10002979)" in ko
    assert "automatically" in en and "not binding" in en and "review by a person" in en
    assert "자동으로" in ko and "구속력이 없습니다" in ko and "사람의 검토" in ko
    by_opening = rank_people_for(o, [person("p", (NN,))])[0]
    assert "Candidate p is ranked 1 of 1 for opening o7" in by_opening.explanation_en


def test_preference_lists_feed_the_matching() -> None:
    people = [person(f"p{i}", (ML,) if i % 2 else (CV,), "연구") for i in range(6)]
    openings = [opening("ml", (ML,), capacity=2), opening("cv", (CV,), capacity=2), opening("sec", (SEC,))]
    by_person, by_opening = preference_lists(people, openings, length=2)
    assert all(len(v) <= 2 for v in by_person.values()) and all(len(v) <= 2 for v in by_opening.values())
    assert by_person["p1"][0] == "ml" and by_person["p0"][0] == "cv"
    assert "sec" not in by_opening or all(p in by_opening["sec"] for p in by_opening["sec"])
    result = deferred_acceptance(by_person, by_opening, {o.id: o.capacity for o in openings})
    assert result.stable
    assert all(result.assignment[p] in (None, "ml") for p in ("p1", "p3", "p5"))
    with pytest.raises(ValueError):
        preference_lists(people, openings, length=0)


def test_unknown_or_dotted_codes_in_views() -> None:
    o = opening("o", required=("10010147.10010257", "not-a-code"))
    r = rank_people_for(o, [person("p", ("#10010257",))])[0]
    assert r.matched_skills and r.matched_skills[0].opening_code == ML
    assert r.missing_required == []


def test_exposure_report_flags_teams_left_behind() -> None:
    openings = [opening(f"o{i}", (ML,)) for i in range(3)]
    team_of: dict[str, str | None] = {}
    people = []
    for i in range(4):  # team "strong": ML people, always on top
        people.append(person(f"s{i}", (ML,), team="strong"))
        team_of[f"s{i}"] = "strong"
    for i in range(4):  # team "other": unrelated skills, at the bottom of every list
        people.append(person(f"x{i}", (CRYPTO,), team="other"))
        team_of[f"x{i}"] = "other"
    team_of["solo"] = None  # in the pool, never ranked (e.g. refused automated recommendation)
    recs = [r for o in openings for r in rank_people_for(o, people)]
    report = {t.team: t for t in exposure_report(recs, team_of, top_k=4)}
    strong, other, solo = report["strong"], report["other"], report[None]
    assert strong.people == 4 and strong.recommended_people == 4
    assert other.recommended_people == 0 and other.exposures == 0 and other.flagged
    assert solo.people == 1 and solo.flagged
    assert strong.share_of_exposure == pytest.approx(1.0) and strong.ratio == pytest.approx(1 / (4 / 9))
    assert strong.exposures == pytest.approx(3 * sum(1 / math.log2(r + 1) for r in range(1, 5)))
    # worst ratio first, and rankings from the person's side do not count as exposure
    assert exposure_report(recs, team_of, top_k=4)[0].ratio == 0.0
    person_side = rank_openings_for(people[0], openings)
    assert all(t.exposures == 0 for t in exposure_report(person_side, team_of))
    # with a wide enough window everyone is seen
    wide = {t.team: t for t in exposure_report(recs, team_of, top_k=8)}
    assert wide["other"].recommended_people == 4 and wide["other"].exposures > 0
    with pytest.raises(ValueError):
        exposure_report(recs, team_of, top_k=0)


def test_uses_the_shipped_taxonomy_by_default() -> None:
    tx = load_taxonomy()
    r = rank_openings_for(person("p", (ML,)), [opening("o", (ML,))], taxonomy=tx)[0]
    assert r.skill_score == 1.0 and r.matched_skills[0].similarity == 1.0


def test_repeated_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="repeated ids"):
        rank_people_for(opening("o", (ML,)), [person("p", (ML,)), person("p", (CV,))])
    with pytest.raises(ValueError, match="repeated ids"):
        preference_lists([person("p", (ML,))], [opening("o", (ML,)), opening("o", (CV,))])


def test_vectorized_scores_agree_with_a_pair_by_pair_computation() -> None:
    import random

    tx = load_taxonomy()
    rng = random.Random(5)
    pool = [c.code for c in tx if c.label_ko]
    people = [person(f"p{i}", tuple(rng.sample(pool, rng.randint(0, 4))), team=None) for i in range(12)]
    openings = [
        opening(f"o{j}", tuple(rng.sample(pool, rng.randint(0, 2))), tuple(rng.sample(pool, rng.randint(0, 2))))
        for j in range(6)
    ]
    pairs = rec.score_all(people, openings)
    for p in people:
        for o in openings:
            r = pairs[p.id, o.id]
            wanted = [(c, True) for c in o.required_skills]
            wanted += [(c, False) for c in o.preferred_skills if c not in o.required_skills]
            best = [max((tx.coverage(h, c) for h in p.skills), default=0.0) for c, _ in wanted]
            weights = [rec.REQUIRED_WEIGHT if req else rec.PREFERRED_WEIGHT for _, req in wanted]
            expected = sum(w * b for w, b in zip(weights, best, strict=True)) / sum(weights) if wanted else 0.0
            assert r.skill_score == pytest.approx(expected, abs=1e-6)
            matched = {m.opening_code: m for m in r.matched_skills}
            for (code, req), value in zip(wanted, best, strict=True):
                if value >= rec.MATCH_THRESHOLD:
                    assert matched[code].similarity == pytest.approx(value, abs=1e-4)
                    assert tx.coverage(matched[code].person_code, code) == pytest.approx(value)
                    assert matched[code].required == req
                else:
                    assert code not in matched and (code in r.missing_required) == req
            # no text anywhere: the score is skill, place and start re-weighted
            if wanted:
                assert r.score == pytest.approx((0.55 * expected + 0.2) / 0.75, abs=1e-6)
            else:
                assert r.score == 1.0
    # the suggested lists follow the same scores
    by_person, by_opening = preference_lists(people, openings, length=3)
    for p in people:
        ranked = sorted(
            (o.id for o in openings if pairs[p.id, o.id].score >= rec.MIN_SCORE),
            key=lambda oid: (-pairs[p.id, oid].score, oid),
        )
        assert by_person[p.id] == ranked[:3]
    for o in openings:
        ranked = sorted(
            (p.id for p in people if pairs[p.id, o.id].score >= rec.MIN_SCORE),
            key=lambda pid: (-pairs[pid, o.id].score, pid),
        )
        assert by_opening[o.id] == ranked[:3]
