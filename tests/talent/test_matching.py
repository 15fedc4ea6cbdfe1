"""Deferred acceptance: hand-checked instances, random instances against the `matching` package, groups, bad input."""

from __future__ import annotations

import random
import warnings

import pytest

from baton.core.errors import BadRequestError
from baton.talent.matching import (
    MatchingInputError,
    MatchResult,
    deferred_acceptance,
    find_blocking_pairs,
)

# -- hand-computed instances --------------------------------------------------------------------


def test_textbook_instance_applicant_optimal() -> None:
    # Two stable matchings exist: {a:x, b:y} (best for applicants) and {a:y, b:x} (best for openings).
    result = deferred_acceptance(
        {"a": ["x", "y"], "b": ["y", "x"]},
        {"x": ["b", "a"], "y": ["a", "b"]},
        {"x": 1, "y": 1},
    )
    assert result.assignment == {"a": "x", "b": "y"}
    assert result.blocking_pairs == [] and result.stable
    assert result.unmatched == []


def test_capacities_and_rejection_chain() -> None:
    # x (1 place) prefers c > a > b; y (2 places) prefers a > b > c.
    # Proposals: a→x held, b→x: x keeps a, b→y held; c→x: x takes c, drops a; a→y held (y: a, b).
    result = deferred_acceptance(
        {"a": ["x", "y"], "b": ["x", "y"], "c": ["x"]},
        {"x": ["c", "a", "b"], "y": ["a", "b", "c"]},
        {"x": 1, "y": 2},
    )
    assert result.assignment == {"a": "y", "b": "y", "c": "x"}
    assert result.by_opening == {"x": ["c"], "y": ["a", "b"]}  # in the opening's own order
    assert result.stable


def test_only_mutually_acceptable_pairs_are_matched() -> None:
    # x did not rank b, so b is never placed at x even though x has room; z has no place at all.
    result = deferred_acceptance(
        {"a": ["x"], "b": ["x", "z"], "c": []},
        {"x": ["a"], "z": ["b"]},
        {"x": 2, "z": 0},
    )
    assert result.assignment == {"a": "x", "b": None, "c": None}
    assert result.unmatched == ["b", "c"]
    assert result.stable


def test_truthful_ranking_is_best_for_the_applicant() -> None:
    """Strategy-proofness on a small instance: no permutation of a's list gets a a better opening."""
    import itertools

    applicants = {"a": ["x", "y", "z"], "b": ["x", "z", "y"], "c": ["y", "x", "z"]}
    openings = {"x": ["b", "a", "c"], "y": ["a", "c", "b"], "z": ["c", "a", "b"]}
    caps = {"x": 1, "y": 1, "z": 1}
    truth = applicants["a"]
    honest = deferred_acceptance(applicants, openings, caps).assignment["a"]
    honest_rank = truth.index(honest) if honest else len(truth)
    for k in range(len(truth) + 1):
        for lie in itertools.permutations(truth, k):
            got = deferred_acceptance({**applicants, "a": list(lie)}, openings, caps).assignment["a"]
            assert (truth.index(got) if got else len(truth)) >= honest_rank


# -- random instances against the `matching` package ---------------------------------------------


def random_instance(
    rng: random.Random, n_app: int, n_open: int, length: int, max_cap: int, partial: bool
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
    opens = [f"o{i}" for i in range(n_open)]
    applicants = {f"a{i}": rng.sample(opens, rng.randint(1, min(length, n_open))) for i in range(n_app)}
    ranked_by: dict[str, list[str]] = {o: [] for o in opens}
    for a, prefs in applicants.items():
        for o in prefs:
            ranked_by[o].append(a)
    openings: dict[str, list[str]] = {}
    for o, who in ranked_by.items():
        order = rng.sample(who, len(who))
        if partial:  # openings may leave some applicants out (they find them unacceptable)
            order = [a for a in order if rng.random() < 0.8]
        openings[o] = order
    caps = {o: rng.randint(1, max_cap) for o in opens}
    return applicants, openings, caps


def reference_solution(
    applicants: dict[str, list[str]], openings: dict[str, list[str]], caps: dict[str, int]
) -> dict[str, str]:
    from matching.games import HospitalResident

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns about the pairs it cleans away (not mutually acceptable)
        game = HospitalResident.create_from_dictionaries(applicants, openings, caps, clean=True)
        solution = game.solve(optimal="resident")
        assert game.check_validity() and game.check_stability()
    return {r.name: h.name for h, residents in solution.items() for r in residents}


@pytest.mark.parametrize("seed", range(40))
def test_random_instances_equal_resident_optimal_reference(seed: int) -> None:
    rng = random.Random(seed)
    applicants, openings, caps = random_instance(
        rng, rng.randint(1, 60), rng.randint(1, 12), rng.randint(1, 6), rng.randint(1, 5), partial=seed % 2 == 1
    )
    result = deferred_acceptance(applicants, openings, caps)
    assert {a: o for a, o in result.assignment.items() if o is not None} == reference_solution(
        applicants, openings, caps
    )
    assert result.blocking_pairs == []
    assert find_blocking_pairs(applicants, openings, caps, result.assignment) == []
    for o, held in result.by_opening.items():
        assert len(held) <= caps[o]
        assert all(a in openings[o] and o in applicants[a] for a in held)


def test_blocking_pairs_are_found_in_an_unstable_assignment() -> None:
    applicants = {"a": ["x", "y"], "b": ["x", "y"]}
    openings = {"x": ["a", "b"], "y": ["a", "b"]}
    caps = {"x": 1, "y": 1}
    assert find_blocking_pairs(applicants, openings, caps, {"a": "y", "b": "x"}) == [("a", "x")]
    assert find_blocking_pairs(applicants, openings, caps, {"a": None, "b": None}) == [
        ("a", "x"),
        ("a", "y"),
        ("b", "x"),
        ("b", "y"),
    ]
    with pytest.raises(MatchingInputError, match="overfills"):
        find_blocking_pairs(applicants, openings, caps, {"a": "x", "b": "x"})
    with pytest.raises(MatchingInputError, match="not a mutually acceptable"):
        find_blocking_pairs({"a": ["x"]}, {"x": []}, {"x": 1}, {"a": "x"})


def test_every_random_result_checks_out_from_scratch() -> None:
    rng = random.Random(7)
    applicants, openings, caps = random_instance(rng, 400, 40, 8, 6, partial=True)
    result = deferred_acceptance(applicants, openings, caps)
    assert find_blocking_pairs(applicants, openings, caps, result.assignment) == []
    # moving any one matched applicant to a worse opening would leave it blocking
    moved = next(a for a, o in result.assignment.items() if o is not None)
    broken = dict(result.assignment)
    broken[moved] = None
    assert (moved, result.assignment[moved]) in find_blocking_pairs(applicants, openings, caps, broken)


# -- groups --------------------------------------------------------------------------------------


def group_outcome(result: MatchResult, member: str) -> object:
    return next(g for g in result.group_outcomes if member in g.members)


def test_couple_gets_the_best_opening_with_room_for_both() -> None:
    # x has 1 place: the couple cannot both go there; y has 2: they go to y together.
    applicants = {"p": ["x", "y"], "q": ["x", "y"], "r": ["x"]}
    openings = {"x": ["p", "q", "r"], "y": ["p", "q"]}
    caps = {"x": 1, "y": 2}
    result = deferred_acceptance(applicants, openings, caps, groups=[["p", "q"]])
    assert result.assignment == {"p": "y", "q": "y", "r": "x"}
    outcome = group_outcome(result, "p")
    assert outcome.together and outcome.assigned == ("y", "y") and outcome.option_rank == 1  # type: ignore[attr-defined]
    assert outcome.options == 1  # type: ignore[attr-defined]  # only y has room for two
    # p alone would rather have x and x would rather have p than r: reported, not hidden
    assert result.blocking_pairs == []  # p moved as a group: individual deviations do not count


def _group_stable_assignments(
    applicants: dict[str, list[str]],
    openings: dict[str, list[str]],
    caps: dict[str, int],
    group: tuple[str, str],
) -> list[dict[str, str | None]]:
    """Brute force: every assignment (couple together at one opening or both out) with no blocking pair or option."""
    import itertools

    names = list(applicants)
    choices = [[*applicants[a], None] for a in names]
    stable = []
    for combo in itertools.product(*choices):
        m = dict(zip(names, combo, strict=True))
        p, q = group
        if m[p] != m[q]:
            continue
        held = {o: [a for a in names if m[a] == o] for o in openings}
        if any(len(held[o]) > caps[o] or any(a not in openings[o] for a in held[o]) for o in openings):
            continue

        def prefers(a: str, o: str, m: dict[str, str | None] = m) -> bool:
            cur = m[a]
            return o in applicants[a] and (cur is None or applicants[a].index(o) < applicants[a].index(cur))

        def takes(o: str, newcomers: list[str], held: dict[str, list[str]] = held) -> bool:
            if any(a not in openings[o] for a in newcomers):
                return False
            others = [a for a in held[o] if a not in newcomers]
            worst = max(openings[o].index(a) for a in newcomers)
            return sum(1 for a in others if openings[o].index(a) < worst) + len(newcomers) <= caps[o]

        blocked = any(prefers(a, o) and takes(o, [a]) for a in names if a not in group for o in openings)
        blocked = blocked or any(prefers(p, o) and prefers(q, o) and takes(o, [p, q]) for o in openings)
        if not blocked:
            stable.append(m)
    return stable


def test_without_a_stable_matching_the_heuristic_stops_and_reports_the_blocking_pairs() -> None:
    # The couple (p, q) takes x's two places and pushes r out; r goes to y and pushes s out; s goes
    # to x, which prefers s to q: the couple is withdrawn together and takes w. Then r would rather
    # be at x (room again), and once r is back at x the couple would rather be at x again: a cycle.
    # Brute force confirms no stable matching exists; the heuristic stops after its repair rounds
    # and reports what blocks, checked from scratch.
    applicants = {"p": ["x", "w"], "q": ["x", "w"], "r": ["x", "y"], "s": ["y", "x"]}
    openings = {"x": ["p", "s", "q", "r"], "y": ["r", "s"], "w": ["p", "q"]}
    caps = {"x": 2, "y": 1, "w": 2}
    assert _group_stable_assignments(applicants, openings, caps, ("p", "q")) == []
    result = deferred_acceptance(applicants, openings, caps, groups=[["p", "q"]], repair_rounds=5)
    assert result.repair_rounds == 5
    assert not result.stable
    outcome = result.group_outcomes[0]
    assert outcome.together and result.assignment["p"] == result.assignment["q"]
    singles = [(a, o) for a, o in result.blocking_pairs if a not in ("p", "q")]
    rechecked = find_blocking_pairs(applicants, openings, caps, result.assignment)
    assert singles == [(a, o) for a, o in rechecked if a in ("r", "s")]
    couple = [(a, o) for a, o in result.blocking_pairs if a in ("p", "q")]
    members = outcome.members
    assert couple == [(m, o) for option in outcome.blocking_options for m, o in zip(members, option, strict=True)]
    assert singles or couple


def test_when_a_stable_matching_exists_the_couple_finds_one() -> None:
    # x prefers q to s here: once the couple holds x nobody can displace it, and s settles elsewhere.
    applicants = {"p": ["x", "w"], "q": ["x", "w"], "r": ["x", "y"], "s": ["y", "x"]}
    openings = {"x": ["p", "q", "s", "r"], "y": ["r", "s"], "w": ["p", "q"]}
    caps = {"x": 2, "y": 1, "w": 2}
    stable = _group_stable_assignments(applicants, openings, caps, ("p", "q"))
    result = deferred_acceptance(applicants, openings, caps, groups=[["p", "q"]])
    assert result.stable and result.assignment in stable
    assert result.assignment == {"p": "x", "q": "x", "r": "y", "s": None}


def test_group_with_no_joint_option_stays_unmatched_or_dissolves() -> None:
    applicants = {"p": ["x"], "q": ["y"]}
    openings = {"x": ["p"], "y": ["q"]}
    caps = {"x": 1, "y": 1}
    kept = deferred_acceptance(applicants, openings, caps, groups=[("p", "q")])
    assert kept.assignment == {"p": None, "q": None}
    assert kept.group_outcomes[0].options == 0 and not kept.group_outcomes[0].together
    alone = deferred_acceptance(applicants, openings, caps, groups=[("p", "q")], dissolve_unmatched_groups=True)
    assert alone.assignment == {"p": "x", "q": "y"}
    assert alone.group_outcomes[0].dissolved


def test_group_together_in_one_organization() -> None:
    # Same organization, different openings: each member gets an opening of "lab".
    applicants = {"p": ["x1", "z"], "q": ["x2", "z"]}
    openings = {"x1": ["p"], "x2": ["q"], "z": ["p", "q"]}
    caps = {"x1": 1, "x2": 1, "z": 1}
    org = {"x1": "lab", "x2": "lab", "z": "other"}
    result = deferred_acceptance(
        applicants, openings, caps, groups=[["p", "q"]], together="organization", organization_of=org
    )
    assert result.assignment == {"p": "x1", "q": "x2"}
    with pytest.raises(MatchingInputError, match="organization_of"):
        deferred_acceptance(applicants, openings, caps, groups=[["p", "q"]], together="organization")


def test_random_instances_with_groups_report_every_blocking_pair() -> None:
    for seed in range(15):
        rng = random.Random(1000 + seed)
        applicants, openings, caps = random_instance(rng, 80, 10, 5, 4, partial=False)
        names = list(applicants)
        rng.shuffle(names)
        groups = [names[i : i + 2] for i in range(0, 12, 2)]
        result = deferred_acceptance(applicants, openings, caps, groups=groups)
        grouped = {a for g in groups for a in g}
        # nobody over capacity, every pair mutually acceptable, groups together or not at all
        for o, held in result.by_opening.items():
            assert len(held) <= caps[o]
            assert all(a in openings[o] and o in applicants[a] for a in held)
        for outcome in result.group_outcomes:
            assert outcome.together == (outcome.assigned[0] is not None)
            assert len(set(outcome.assigned)) == 1
        # the reported individual blocking pairs are exactly those a from-scratch check finds
        singles = [(a, o) for a, o in result.blocking_pairs if a not in grouped]
        from_scratch = [
            (a, o) for a, o in find_blocking_pairs(applicants, openings, caps, result.assignment) if a not in grouped
        ]
        assert singles == from_scratch


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("applicants", "openings", "caps", "groups", "message"),
    [
        ({"a": ["x", "nowhere"]}, {"x": ["a"]}, {"x": 1}, [], "unknown openings 'nowhere'"),
        ({"a": ["x"]}, {"x": ["a", "ghost"]}, {"x": 1}, [], "unknown applicants 'ghost'"),
        ({"a": ["x", "x"]}, {"x": ["a"]}, {"x": 1}, [], "ranks opening 'x' twice"),
        ({"a": ["x"]}, {"x": ["a", "a"]}, {"x": 1}, [], "ranks applicant 'a' twice"),
        ({"a": ["x"]}, {"x": ["a"]}, {}, [], "have no capacity"),
        ({"a": ["x"]}, {"x": ["a"]}, {"x": 1, "y": 2}, [], "unknown openings 'y'"),
        ({"a": ["x"]}, {"x": ["a"]}, {"x": -1}, [], "whole number"),
        ({"a": ["x"]}, {"x": ["a"]}, {"x": 1.5}, [], "whole number"),
        ({"a": "x"}, {"x": ["a"]}, {"x": 1}, [], "not a string"),
        ({"a": ["x"], "b": ["x"]}, {"x": ["a", "b"]}, {"x": 2}, [["a"]], "two or more"),
        ({"a": ["x"], "b": ["x"]}, {"x": ["a", "b"]}, {"x": 2}, [["a", "zed"]], "unknown applicant 'zed'"),
        ({"a": ["x"], "b": ["x"]}, {"x": ["a", "b"]}, {"x": 2}, [["a", "b"], ["b", "a"]], "more than one group"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    applicants: dict[str, object],
    openings: dict[str, object],
    caps: dict[str, object],
    groups: list[list[str]],
    message: str,
) -> None:
    with pytest.raises(MatchingInputError, match=message) as info:
        deferred_acceptance(applicants, openings, caps, groups=groups)  # type: ignore[arg-type]
    assert isinstance(info.value, BadRequestError) and info.value.status_code == 400
    assert info.value.hint


def test_many_unknown_names_are_summarized() -> None:
    applicants = {"a": [f"o{i}" for i in range(30)]}
    with pytest.raises(MatchingInputError, match="and 20 more"):
        deferred_acceptance(applicants, {}, {})
