"""Bradley–Terry ratings, bootstrap intervals, contrarian voters and identity leaks (pure, no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baton.challenge import arena
from baton.challenge.arena import (
    OUTCOMES,
    ArenaInputError,
    NotInBattleError,
    RatingsDoNotExistError,
    Vote,
    VoteArrays,
    bootstrap_ratings,
    bootstrap_samples,
    contrarian_voters,
    fit_bradley_terry,
    parse_vote,
    reveals_identity,
    to_arrays,
)
from baton.core.errors import BadRequestError


def simulate(
    rng: np.random.Generator,
    strengths: dict[str, float],
    n: int,
    *,
    tie_rate: float = 0.0,
    voters: int = 0,
) -> VoteArrays:
    """n battles between random pairs; the winner drawn from the Bradley–Terry probabilities."""
    names = tuple(strengths)
    true = np.array([strengths[k] for k in names])
    m = len(names)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p_a = 1.0 / (1.0 + 10.0 ** ((true[b] - true[a]) / 400.0))
    outcome = np.where(rng.random(n) < p_a, 0, 1)
    if tie_rate:
        tie = rng.random(n) < tie_rate
        outcome[tie] = rng.choice([2, 3], size=int(tie.sum()))
    voter_names: tuple[str, ...] = ()
    voter = np.zeros(0, dtype=np.int32)
    if voters:
        voter_names = tuple(f"v{k:04d}" for k in range(voters))
        voter = rng.integers(0, voters, n).astype(np.int32)
    return VoteArrays(names, a.astype(np.int32), b.astype(np.int32), outcome.astype(np.int8), voter_names, voter)


def centered(strengths: dict[str, float]) -> dict[str, float]:
    mean = sum(strengths.values()) / len(strengths)
    return {k: v - mean + 1000.0 for k, v in strengths.items()}


STRENGTHS = {"alpha": 1300.0, "bravo": 1150.0, "charlie": 1000.0, "delta": 950.0, "echo": 800.0, "foxtrot": 700.0}


def test_recovers_known_strengths_from_simulated_votes() -> None:
    rng = np.random.default_rng(7)
    votes = simulate(rng, STRENGTHS, 30_000)
    ratings = fit_bradley_terry(votes)
    truth = centered(STRENGTHS)
    assert list(ratings) == sorted(truth, key=lambda k: -truth[k])  # best first
    assert abs(sum(ratings.values()) / len(ratings) - 1000.0) < 1e-6
    # ~10,000 votes per model: standard errors about 3-4 points.
    for name, value in ratings.items():
        assert abs(value - truth[name]) < 20.0, (name, value, truth[name])


def test_score_equations_hold_without_regularization() -> None:
    """At the maximum-likelihood estimate each model's expected (half-)wins equal its observed ones."""
    rng = np.random.default_rng(3)
    votes = simulate(rng, STRENGTHS, 5_000, tie_rate=0.2)
    ratings = fit_bradley_terry(votes, regularization=0.0)
    r = np.array([ratings[name] for name in votes.models])
    p_a = 1.0 / (1.0 + 10.0 ** ((r[votes.b] - r[votes.a]) / 400.0))
    score_a = np.select([votes.outcome == 0, votes.outcome == 1], [1.0, 0.0], 0.5)
    observed = np.bincount(votes.a, score_a, len(r)) + np.bincount(votes.b, 1 - score_a, len(r))
    expected = np.bincount(votes.a, p_a, len(r)) + np.bincount(votes.b, 1 - p_a, len(r))
    np.testing.assert_allclose(observed, expected, atol=1e-4)


def test_ties_and_both_bad_count_half_a_win_each() -> None:
    votes = [Vote("x", "y", "a")] * 3 + [Vote("x", "y", "b")] + [Vote("x", "y", "tie"), Vote("y", "x", "both_bad")]
    ratings = fit_bradley_terry(votes, regularization=0.0)
    # x: 3 + 1 = 4 half-wins, y: 1 + 1 = 2, so P(x beats y) = 2/3.
    assert ratings["x"] - ratings["y"] == pytest.approx(400.0 * math.log10(2.0), abs=1e-6)
    assert (ratings["x"] + ratings["y"]) / 2 == pytest.approx(1000.0)
    # A tie is a tie whatever its kind and whichever side was shown first.
    swapped = [Vote("y", "x", "b")] * 3 + [Vote("y", "x", "a")] + [Vote("y", "x", "both_bad"), Vote("x", "y", "tie")]
    again = fit_bradley_terry(swapped, regularization=0.0)
    assert again["x"] == pytest.approx(ratings["x"], abs=1e-6)
    only_ties = fit_bradley_terry([Vote("x", "y", "tie"), Vote("y", "z", "both_bad"), Vote("x", "z", "tie")])
    assert all(v == pytest.approx(1000.0, abs=1e-6) for v in only_ties.values())


def test_scale_base_and_initial() -> None:
    votes = [Vote("x", "y", "a")] * 9 + [Vote("x", "y", "b")]
    ratings = fit_bradley_terry(votes, scale=1.0, base=math.e, initial=0.0, regularization=0.0)
    assert ratings["x"] - ratings["y"] == pytest.approx(math.log(9.0), abs=1e-7)
    assert ratings["x"] + ratings["y"] == pytest.approx(0.0, abs=1e-9)


def test_a_model_that_never_wins() -> None:
    votes = [Vote("x", "y", "a")] * 5 + [Vote("y", "z", "a")] * 3 + [Vote("z", "y", "a")] * 2
    with pytest.raises(RatingsDoNotExistError) as caught:
        fit_bradley_terry(votes, regularization=0.0)
    assert "regularization" in caught.value.hint
    ratings = fit_bradley_terry(votes)  # the default weak prior keeps every rating finite
    assert all(math.isfinite(v) for v in ratings.values())
    assert ratings["x"] > ratings["y"] > ratings["z"] or ratings["x"] > ratings["z"]
    assert min(ratings, key=lambda k: ratings[k]) in {"y", "z"}


def test_bootstrap_is_deterministic_for_a_seed_and_ignores_vote_order() -> None:
    rng = np.random.default_rng(11)
    votes = simulate(rng, STRENGTHS, 3_000, tie_rate=0.1, voters=30)
    first = bootstrap_ratings(votes, rounds=200, seed=42)
    assert first == bootstrap_ratings(votes, rounds=200, seed=42)
    other = bootstrap_ratings(votes, rounds=200, seed=43)
    assert [r.lower for r in other.rows] != [r.lower for r in first.rows]
    assert [r.rating for r in other.rows] == [r.rating for r in first.rows]
    perm = rng.permutation(len(votes))
    shuffled = VoteArrays(
        tuple(reversed(votes.models)),
        (len(votes.models) - 1 - votes.a[perm]).astype(np.int32),
        (len(votes.models) - 1 - votes.b[perm]).astype(np.int32),
        votes.outcome[perm],
    )
    again = bootstrap_ratings(shuffled, rounds=200, seed=42)
    for x, y in zip(first.rows, again.rows, strict=True):
        assert x.model == y.model
        assert x.lower == pytest.approx(y.lower, abs=1e-6)
        assert x.upper == pytest.approx(y.upper, abs=1e-6)
    for row in first.rows:
        assert row.lower < row.rating < row.upper
    assert [r.rank for r in first.rows] == list(range(1, len(STRENGTHS) + 1))
    assert first["alpha"].rank == 1 and first["alpha"].rank_ub == 1
    assert sum(r.votes for r in first.rows) == 2 * len(votes)
    assert first.to_json()["seed"] == 42


def test_cell_multinomial_matches_resampling_votes() -> None:
    """The bootstrap spread equals the one from resampling individual votes with replacement."""
    rng = np.random.default_rng(5)
    small = {"alpha": 1100.0, "bravo": 1000.0, "charlie": 900.0}
    votes = simulate(rng, small, 1_200, tie_rate=0.25)
    models, _point, samples = bootstrap_samples(votes, rounds=400, seed=1)
    naive = []
    for _ in range(400):
        idx = rng.integers(0, len(votes), len(votes))
        sub = VoteArrays(votes.models, votes.a[idx], votes.b[idx], votes.outcome[idx])
        fitted = fit_bradley_terry(sub)
        naive.append([fitted[name] for name in models])
    sd_cells = samples.std(axis=0)
    sd_naive = np.array(naive).std(axis=0)
    # Monte-Carlo error of a standard deviation from 400 draws is about 3.5%.
    assert np.all(np.abs(sd_cells / sd_naive - 1.0) < 0.2), (sd_cells, sd_naive)


def test_intervals_cover_the_true_rating_in_most_repeats() -> None:
    rng = np.random.default_rng(2026)
    strengths = {"alpha": 1150.0, "bravo": 1050.0, "charlie": 1000.0, "delta": 800.0}
    truth = centered(strengths)
    covered = total = 0
    for repeat in range(40):
        votes = simulate(rng, strengths, 1_500, tie_rate=0.0)
        table = bootstrap_ratings(votes, rounds=200, seed=repeat)
        for row in table.rows:
            total += 1
            covered += row.lower <= truth[row.model] <= row.upper
    assert covered / total >= 0.88, covered / total


def _contrarian_population(
    rng: np.random.Generator, honest: int, reverse: int, random_: int, per_voter: int
) -> tuple[VoteArrays, set[str]]:
    strengths = {"m1": 1300.0, "m2": 1150.0, "m3": 1000.0, "m4": 900.0, "m5": 700.0}
    names = tuple(strengths)
    true = np.array(list(strengths.values()))
    rows_a, rows_b, rows_o, rows_v = [], [], [], []
    bad: set[str] = set()
    voters = [f"h{k}" for k in range(honest)] + [f"r{k}" for k in range(reverse)] + [f"x{k}" for k in range(random_)]
    for v, voter in enumerate(voters):
        a = rng.integers(0, 5, per_voter)
        b = (a + rng.integers(1, 5, per_voter)) % 5
        p_a = 1.0 / (1.0 + 10.0 ** ((true[b] - true[a]) / 400.0))
        if voter.startswith("r"):
            p_a = 1.0 - p_a
            bad.add(voter)
        elif voter.startswith("x"):
            p_a = np.full(per_voter, 0.5)
            bad.add(voter)
        outcome = np.where(rng.random(per_voter) < p_a, 0, 1)
        outcome[rng.random(per_voter) < 0.1] = 2
        rows_a.append(a)
        rows_b.append(b)
        rows_o.append(outcome)
        rows_v.append(np.full(per_voter, v))
    votes = VoteArrays(
        names,
        np.concatenate(rows_a).astype(np.int32),
        np.concatenate(rows_b).astype(np.int32),
        np.concatenate(rows_o).astype(np.int8),
        tuple(voters),
        np.concatenate(rows_v).astype(np.int32),
    )
    return votes, bad


def test_contrarian_voters_are_detected() -> None:
    rng = np.random.default_rng(99)
    votes, bad = _contrarian_population(rng, honest=150, reverse=3, random_=3, per_voter=80)
    ratings = fit_bradley_terry(votes)
    findings = contrarian_voters(votes, ratings)
    flagged = {f.voter for f in findings if f.flagged}
    assert flagged == bad
    assert len(findings) == 156
    worst = findings[0]
    assert worst.voter.startswith("r") and worst.disagreements > worst.expected
    assert worst.p_value <= worst.adjusted_p <= 1.0
    honest = [f for f in findings if f.voter.startswith("h")]
    assert all(0.0 < f.p_value <= 1.0 and f.adjusted_p >= f.p_value for f in honest)
    # A table works as well as a dict, and too few votes means not tested.
    table = bootstrap_ratings(votes, rounds=20, seed=0)
    assert {f.voter for f in contrarian_voters(votes, table) if f.flagged} == bad
    assert contrarian_voters(votes, ratings, min_votes=1_000) == []


def test_honest_voters_false_positive_rate() -> None:
    """2,000 simulated honest voters in five arenas: none flagged, and the raw p-values are valid."""
    flagged = tested = low = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        votes, bad = _contrarian_population(rng, honest=400, reverse=0, random_=0, per_voter=30)
        assert not bad
        findings = contrarian_voters(votes, fit_bradley_terry(votes))
        tested += len(findings)
        flagged += sum(f.flagged for f in findings)
        low += sum(f.p_value <= 0.05 for f in findings)
    assert tested == 2_000
    assert flagged == 0
    # At most about 5% of honest voters have a raw tail probability below 0.05.
    assert low / tested <= 0.07, low / tested


def test_poisson_binomial_tail_matches_brute_force() -> None:
    counts = np.array([2, 1, 3])
    probs = np.array([0.1, 0.4, 0.25])
    bernoullis = np.repeat(probs, counts)
    pmf = np.array([1.0])
    for q in bernoullis:
        pmf = np.convolve(pmf, [1 - q, q])
    for observed in range(len(bernoullis) + 1):
        assert arena._poisson_binomial_sf(counts, probs, observed) == pytest.approx(pmf[observed:].sum())
    observed_all = np.arange(len(bernoullis) + 1)
    batch = arena._poisson_binomial_sf_batch([bernoullis] * len(observed_all), observed_all)
    np.testing.assert_allclose(batch, [pmf[k:].sum() for k in observed_all], rtol=1e-12)


def test_contrarian_p_values_agree_between_the_batched_and_per_voter_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    votes, _bad = _contrarian_population(rng, honest=30, reverse=2, random_=2, per_voter=60)
    ratings = fit_bradley_terry(votes)
    batched = contrarian_voters(votes, ratings)
    monkeypatch.setattr(arena, "_BATCH_TRIALS", 0)
    per_voter = contrarian_voters(votes, ratings)
    assert [f.voter for f in batched] == [f.voter for f in per_voter]
    for x, y in zip(batched, per_voter, strict=True):
        assert x.p_value == pytest.approx(y.p_value, rel=1e-9, abs=1e-300)
        assert x.flagged == y.flagged
    # The normal approximation for very large voters lands close to the exact tail.
    approx = contrarian_voters(votes, ratings, exact_limit=1)
    for x, y in zip(sorted(batched, key=lambda f: f.voter), sorted(approx, key=lambda f: f.voter), strict=True):
        assert x.flagged == y.flagged
        if x.p_value > 1e-3:
            assert abs(x.p_value - y.p_value) < 0.05


def test_bad_votes_are_refused_with_clear_errors() -> None:
    with pytest.raises(ArenaInputError, match="two different models"):
        Vote("x", "x", "a")
    with pytest.raises(ArenaInputError, match="unknown vote outcome 'draw'"):
        Vote("x", "y", "draw")
    with pytest.raises(ArenaInputError, match="two model names"):
        Vote("", "y", "a")
    with pytest.raises(NotInBattleError, match="'z', which is not in this battle") as caught:
        parse_vote("x", "y", "z")
    assert isinstance(caught.value, BadRequestError) and caught.value.status_code == 400
    assert "two models you were shown" in caught.value.hint
    assert parse_vote("x", "y", "y", voter="v") == Vote("x", "y", "b", "v")
    assert parse_vote("x", "y", "both_bad").outcome == "both_bad"
    with pytest.raises(ArenaInputError, match="unknown vote outcome 'model_a'"):
        VoteArrays.from_columns(["x"], ["y"], ["model_a"])
    with pytest.raises(ArenaInputError, match="two different models"):
        VoteArrays.from_columns(["x", "y"], ["y", "y"], ["a", "b"])
    with pytest.raises(ArenaInputError, match="outside"):
        VoteArrays(("x", "y"), np.array([0], np.int32), np.array([2], np.int32), np.array([0], np.int8))
    with pytest.raises(ArenaInputError, match="no votes"):
        fit_bradley_terry([])
    with pytest.raises(ArenaInputError, match="seed"):
        bootstrap_ratings([Vote("x", "y", "a")], seed=-1)
    with pytest.raises(ArenaInputError, match="not a Vote"):
        to_arrays([("x", "y", "a")])  # type: ignore[list-item]
    with pytest.raises(ArenaInputError, match="no rating for model 'y'"):
        contrarian_voters([Vote("x", "y", "a", "v")], {"x": 1000.0})


def test_from_columns_matches_vote_objects() -> None:
    votes = [Vote("b", "a", "a", "v1"), Vote("a", "c", "tie", "v2"), Vote("c", "b", "both_bad", "v1")]
    arrays = to_arrays(votes)
    assert arrays.models == ("a", "b", "c") and arrays.voters == ("v1", "v2")
    assert [OUTCOMES[k] for k in arrays.outcome] == ["a", "tie", "both_bad"]
    assert [arrays.models[k] for k in arrays.a] == ["b", "a", "c"]
    assert fit_bradley_terry(votes) == fit_bradley_terry(arrays)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("저는 한빛AI가 만든 언어 모델입니다.", "한빛AI"),
        ("저는 한빛 AI에서 개발했습니다", "한빛AI"),
        ("I am tiny-gpt, a helpful assistant.", "tiny-gpt"),
        ("I AM TINY GPT.", "tiny-gpt"),
        ("ｔｉｎｙ＿ｇｐｔ here", "tiny-gpt"),
        ("As Tiny\u200bGPT, I think", "tiny-gpt"),
        ("Made by the Blue Whale team", "Blue Whale"),
        ("저는 ＨＡＮＢＩＴ 연구소 소속입니다", "hanbit"),
        ("I use GPT-style attention, like chatgpt.", None),
        ("The tinygpts were extinct.", None),
        ("오늘 날씨는 맑습니다.", None),
    ],
)
def test_reveals_identity(answer: str, expected: str | None) -> None:
    identities = ["tiny-gpt", "한빛AI", "Blue Whale", "hanbit", "x", ""]
    assert reveals_identity(answer, identities) == expected


def test_reveals_identity_picks_the_first_mention() -> None:
    text = "hanbit built me; I am tiny-gpt"
    assert reveals_identity(text, ["tiny-gpt", "hanbit"]) == "hanbit"
    assert reveals_identity("I am tiny-gpt-2", ["tiny-gpt", "tiny-gpt-2"]) == "tiny-gpt-2"
