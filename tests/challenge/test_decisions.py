"""Who advances: gates first, then points, then the tie-break rules in order, then a seeded draw."""

from __future__ import annotations

from baton.challenge.decisions import Candidate, rank


def candidate(
    team: str, composite: float, *, review: float = 0.0, submitted: str | None = "2026-01-01", gate: str | None = None
) -> Candidate:
    return Candidate(team, composite, {"review": review}, {"benchmarks": composite - review}, submitted, gate)


def test_points_decide_and_a_failed_gate_eliminates_regardless_of_points() -> None:
    result = rank(
        [candidate("a", 90.2), candidate("b", 79.7), candidate("c", 85.0, gate="independence"), candidate("d", 60)],
        advance=2,
        rules=["draw"],
        seed=1,
    )
    assert result.advance == ["a", "b"]
    assert result.order == ["a", "b", "d", "c"]
    assert result.eliminated_by == {"d": "rank", "c": "gate:independence"}
    assert result.tie_breaks == []


def test_tie_broken_by_the_first_rule_that_separates() -> None:
    teams = [candidate("a", 80, review=30), candidate("b", 80, review=32), candidate("c", 70)]
    result = rank(teams, advance=1, rules=["criterion:review", "draw"], seed=1)
    assert result.advance == ["b"]
    assert result.tie_breaks == [{"teams": ["a", "b"], "rule": "criterion:review", "order": ["b", "a"]}]


def test_earliest_submission_then_seeded_draw() -> None:
    teams = [candidate("a", 80, submitted="2026-01-03"), candidate("b", 80, submitted="2026-01-02")]
    assert rank(teams, advance=1, rules=["criterion:review", "earliest_submission"], seed=1).advance == ["b"]
    same = [candidate("a", 80), candidate("b", 80), candidate("c", 80)]
    first = rank(same, advance=1, rules=["draw"], seed=42)
    assert first.order == rank(list(reversed(same)), advance=1, rules=["draw"], seed=42).order
    assert first.tie_breaks[0]["rule"] == "draw"
    orders = {tuple(rank(same, advance=1, rules=["draw"], seed=seed).order) for seed in range(20)}
    assert len(orders) > 1  # the seed, not the input order, decides


def test_equal_to_published_precision_counts_as_a_tie() -> None:
    teams = [candidate("a", 80.0000001, review=1), candidate("b", 80.0, review=2)]
    assert rank(teams, advance=1, rules=["criterion:review"], seed=0).advance == ["b"]


def test_programme_stage_one_eliminate_the_lowest_and_every_gate_failure_without_refill() -> None:
    """Five teams; the 2nd on points fails the independence gate and the 5th is lowest: three go on,
    and the 5th does not take the freed slot (the programme left it to the repechage)."""
    teams = [
        candidate("a", 90),
        candidate("b", 85, gate="independence"),
        candidate("c", 80),
        candidate("d", 75),
        candidate("e", 70),
    ]
    result = rank(teams, rules=["draw"], seed=1, eliminate_lowest=1, advance_up_to=4)
    assert result.advance == ["a", "c", "d"]
    assert result.points_order == ["a", "b", "c", "d", "e"]
    assert result.order == ["a", "c", "d", "e", "b"]
    assert result.eliminated_by == {"b": "gate:independence", "e": "lowest"}
    # The older `advance: 4` refills the slot from the ranking: the 5th goes on.
    assert rank(teams, advance=4, rules=["draw"], seed=1).advance == ["a", "c", "d", "e"]
    # `advance_up_to: 4` alone: the first four on points are the slots; the 5th is beyond them.
    alone = rank(teams, rules=["draw"], seed=1, advance_up_to=4)
    assert alone.advance == ["a", "c", "d"]
    assert alone.eliminated_by == {"b": "gate:independence", "e": "rank"}


def test_a_gate_failure_among_the_lowest_counts_as_one_of_them() -> None:
    """`eliminate_lowest: 1` takes the last place on points; when a gate failure holds it, nobody else goes."""
    teams = [candidate("a", 90), candidate("b", 85), candidate("c", 80), candidate("d", 60, gate="independence")]
    result = rank(teams, rules=["draw"], seed=1, eliminate_lowest=1)
    assert result.advance == ["a", "b", "c"]
    assert result.eliminated_by == {"d": "gate:independence"}
    two = rank(teams, rules=["draw"], seed=1, eliminate_lowest=2)
    assert two.advance == ["a", "b"] and two.eliminated_by == {"c": "lowest", "d": "gate:independence"}


def test_ties_are_broken_across_gate_failures_for_the_points_rank() -> None:
    teams = [candidate("a", 80, review=30, gate="independence"), candidate("b", 80, review=32), candidate("c", 70)]
    result = rank(teams, rules=["criterion:review", "draw"], seed=1, eliminate_lowest=1)
    assert result.points_order == ["b", "a", "c"]
    assert result.tie_breaks == [{"teams": ["a", "b"], "rule": "criterion:review", "order": ["b", "a"]}]
    assert result.advance == ["b"] and result.eliminated_by == {"a": "gate:independence", "c": "lowest"}
