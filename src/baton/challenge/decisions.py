"""Who advances: gates first, then the composite's point estimate, then the tie-break rules.

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


def rank(candidates: Sequence[Candidate], *, advance: int, rules: Sequence[str], seed: int) -> Ranking:
    draw = random.Random(seed)
    log: list[dict[str, Any]] = []
    passing = [c for c in candidates if c.failed_gate is None]
    failing = sorted(
        (c for c in candidates if c.failed_gate is not None), key=lambda c: (-rounded(c.composite), c.team)
    )
    by_points: dict[float, list[Candidate]] = {}
    for candidate in passing:
        by_points.setdefault(rounded(candidate.composite), []).append(candidate)
    ordered: list[Candidate] = []
    for points in sorted(by_points, reverse=True):
        group = by_points[points]
        ordered.extend(group if len(group) == 1 else _order_tied(group, rules, draw, log))
    advancing = [c.team for c in ordered[:advance]]
    eliminated_by = {c.team: "rank" for c in ordered[advance:]}
    eliminated_by.update({c.team: f"gate:{c.failed_gate}" for c in failing})
    order = [c.team for c in ordered] + [c.team for c in failing]
    return Ranking(
        order=order,
        advance=advancing,
        eliminated=[team for team in order if team not in advancing],
        eliminated_by=eliminated_by,
        tie_breaks=log,
    )
