"""Who advances: gates first, then the composite's point estimate, then the tie-break rules, under
the stage's advancement rule (``advance: N``, or ``eliminate_lowest`` / ``advance_up_to``).

Intervals are published beside the point estimates but do not decide: the programme's rules rank
by points. Teams whose composite points are equal (to the published precision) are ordered by the
stage's tie-break rules in turn: ``criterion:<id>`` (more points on that criterion),
``group:<name>`` (more points on the group), ``earliest_submission`` and finally ``draw`` (a seeded
shuffle, recorded). Pure functions only.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from baton.challenge.scoring import rounded


@dataclass
class Candidate:
    team: str
    composite: float
    criterion_points: Mapping[str, float]
    group_points: Mapping[str, float]
    submitted_at: str | None  # ISO time of the team's current submission (None: never submitted)
    failed_gate: str | None = None  # the first gate the team failed, if any


@dataclass
class Ranking:
    order: list[str]  # best first, gate failures last
    advance: list[str]
    eliminated: list[str]
    eliminated_by: dict[str, str]
    tie_breaks: list[dict[str, Any]] = field(default_factory=list)
    points_order: list[str] = field(default_factory=list)  # every team by points, gate failures in place


def _key_for(rule: str, candidate: Candidate) -> tuple[float | str, ...] | None:
    kind, _, name = rule.partition(":")
    if kind == "criterion":
        return (-rounded(candidate.criterion_points.get(name, 0.0)),)
    if kind == "group":
        return (-rounded(candidate.group_points.get(name, 0.0)),)
    if rule == "earliest_submission":
        # Never submitted sorts last.
        return (0, candidate.submitted_at) if candidate.submitted_at else (1, "")
    return None


def _order_tied(
    tied: list[Candidate], rules: Sequence[str], draw: random.Random, log: list[dict[str, Any]]
) -> list[Candidate]:
    """Order candidates with equal composites by the rules in turn; logs every rule that separated some."""
    groups: list[list[Candidate]] = [sorted(tied, key=lambda c: c.team)]
    for rule in rules:
        next_groups: list[list[Candidate]] = []
        for group in groups:
            if len(group) == 1:
                next_groups.append(group)
                continue
            if rule == "draw":
                shuffled = list(group)
                draw.shuffle(shuffled)
                log.append({"teams": [c.team for c in group], "rule": "draw", "order": [c.team for c in shuffled]})
                next_groups.extend([candidate] for candidate in shuffled)
                continue
            keyed = sorted(group, key=lambda c: (_key_for(rule, c), c.team))
            buckets: list[list[Candidate]] = []
            for candidate in keyed:
                if buckets and _key_for(rule, buckets[-1][0]) == _key_for(rule, candidate):
                    buckets[-1].append(candidate)
                else:
                    buckets.append([candidate])
            if len(buckets) > 1:
                log.append(
                    {
                        "teams": [c.team for c in group],
                        "rule": rule,
                        "order": [c.team for bucket in buckets for c in bucket],
                    }
                )
            next_groups.extend(buckets)
        groups = next_groups
    return [candidate for group in groups for candidate in group]


def rank(
    candidates: Sequence[Candidate],
    *,
    advance: int | None = None,
    rules: Sequence[str],
    seed: int,
    eliminate_lowest: int = 0,
    advance_up_to: int | None = None,
) -> Ranking:
    """Order every candidate by points (tie-breaks applied to all of them, gate failures included),
    then say who goes on.

    ``advance`` N (the older form): the first N of the gate passers in that order; a gate failure's
    slot goes to the next passer. Otherwise the rule form: the ``eliminate_lowest`` K last in the
    points order are eliminated (``lowest``; a gate failure among them is named by its gate and
    counts as one of the K), every gate failure is eliminated, and of the rest those placed beyond
    ``advance_up_to`` on points are eliminated (``rank``): a slot freed by a gate failure is not
    refilled.
    """
    draw = random.Random(seed)
    log: list[dict[str, Any]] = []
    by_points: dict[float, list[Candidate]] = {}
    for candidate in candidates:
        by_points.setdefault(rounded(candidate.composite), []).append(candidate)
    ordered: list[Candidate] = []
    for points in sorted(by_points, reverse=True):
        group = by_points[points]
        ordered.extend(group if len(group) == 1 else _order_tied(group, rules, draw, log))
    passing = [c for c in ordered if c.failed_gate is None]
    failing = [c for c in ordered if c.failed_gate is not None]
    eliminated_by: dict[str, str] = {}
    if advance is not None:
        advancing = [c.team for c in passing[:advance]]
        eliminated_by.update({c.team: "rank" for c in passing[advance:]})
    else:
        advancing = []
        cut = len(ordered) - eliminate_lowest
        for position, candidate in enumerate(ordered, start=1):
            if candidate.failed_gate is not None:
                continue
            if position > cut:
                eliminated_by[candidate.team] = "lowest"
            elif advance_up_to is not None and position > advance_up_to:
                eliminated_by[candidate.team] = "rank"
            else:
                advancing.append(candidate.team)
    eliminated_by.update({c.team: f"gate:{c.failed_gate}" for c in failing})
    order = [c.team for c in passing] + [c.team for c in failing]
    return Ranking(
        order=order,
        advance=advancing,
        eliminated=[team for team in order if team not in advancing],
        eliminated_by=eliminated_by,
        tie_breaks=log,
        points_order=[c.team for c in ordered],
    )
