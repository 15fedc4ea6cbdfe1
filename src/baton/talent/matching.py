"""Applicant-proposing deferred acceptance with capacities, groups, and blocking-pair reports.

:func:`deferred_acceptance` takes both sides' ranked lists (best first) and each opening's
number of places, and returns a *non-binding* matching:

* Without groups it is the Gale–Shapley / Roth "hospitals/residents" algorithm with applicants
  proposing: the result is stable (no applicant and opening would both rather have each other),
  the best stable matching for every applicant, and no applicant can do better by ranking
  untruthfully (strategy-proof for applicants). Only mutually acceptable pairs are matched: an
  opening that did not rank an applicant never takes them, and vice versa.
* Groups (couples, small teams of researchers) who want to move together are handled with a
  Roth–Peranson style heuristic, because with groups a stable matching may not exist at all:

  - a group's joint options are the openings every member ranked and every member is
    acceptable to, with room for the whole group (``together="opening"``, the default), or,
    with ``organization_of`` given, one opening per member within one organization
    (``together="organization"``); options are ordered by the members' summed ranks;
  - the group proposes to its options in order; an opening takes the members only if it would
    keep all of them (each compared one by one against its holders, as for anyone else);
    the group is held all-or-nothing;
  - when one member is displaced, the whole group is withdrawn and proposes to its next
    option; the places it frees are offered again: after the queue empties, every applicant
    (and group) that now forms a blocking pair re-enters at the best opening it blocks with,
    for at most ``repair_rounds`` rounds;
  - a group that exhausts its options stays unmatched, unless ``dissolve_unmatched_groups``
    lets its members then apply on their own.

  Whatever happens, :func:`find_blocking_pairs` checks the final matching and every blocking
  pair (and every joint option a group would rather take and could get) is reported in the
  result; with no groups the list is always empty.

The work is done on integer indices: each applicant's list carries the rank the opening gives
them (so a proposal is judged with one comparison), each opening keeps its holders in a heap
keyed by that rank (the worst is evicted in O(log capacity)), and free applicants wait on a
stack. 10,000 applicants with lists of 20 take a fraction of a second (bench/talent_matching.py).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from baton.core.errors import BadRequestError

MAX_GROUP_OPTIONS = 200


class MatchingInputError(BadRequestError):
    code = "InvalidPreferences"
    default_hint = (
        "Rank only openings and applicants that exist (each at most once), give every opening a "
        "capacity of 0 or more, and put each applicant in at most one group of two or more."
    )


@dataclass(frozen=True)
class GroupOutcome:
    """What happened to one group. ``assigned[i]`` is the opening of ``members[i]`` (or None)."""

    members: tuple[str, ...]
    assigned: tuple[str | None, ...]
    together: bool
    option_rank: int | None  # 1-based position of the option obtained among the group's joint options
    options: int  # how many joint options the group had
    dissolved: bool  # the members applied on their own after the joint options ran out
    blocking_options: tuple[tuple[str, ...], ...] = ()  # better joint options that would take the group now


@dataclass
class MatchResult:
    assignment: dict[str, str | None]
    by_opening: dict[str, list[str]]  # each opening's applicants, in the opening's order
    blocking_pairs: list[tuple[str, str]]  # (applicant, opening); empty when stable
    unmatched: list[str]
    group_outcomes: list[GroupOutcome] = field(default_factory=list)
    proposals: int = 0
    repair_rounds: int = 0

    @property
    def stable(self) -> bool:
        return not self.blocking_pairs


# -- input ---------------------------------------------------------------------------------------


def _examples(items: Sequence[str], n: int = 10) -> str:
    shown = ", ".join(repr(x) for x in items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")


@dataclass
class _Problem:
    apps: list[str]
    opens: list[str]
    a_index: dict[str, int]
    o_index: dict[str, int]
    cap: list[int]
    plist: list[list[int]]  # applicant a's mutually acceptable openings, best first
    prank: list[list[int]]  # prank[a][k] = the rank (0 = best) that opening plist[a][k] gives a
    _ppos: list[dict[int, int]] | None = None

    @property
    def ppos(self) -> list[dict[int, int]]:
        """ppos[a][o] = position of o in plist[a] (built on first use: only groups and checks need it)."""
        if self._ppos is None:
            self._ppos = [{o: k for k, o in enumerate(row)} for row in self.plist]
        return self._ppos

    def rank_at(self, o: int, a: int) -> int:
        """The rank opening o gives applicant a (they must be mutually acceptable)."""
        return self.prank[a][self.ppos[a][o]]


def _codes(
    prefs_by: Mapping[str, Sequence[str]], ids: list[str], index: dict[str, int], side: str, other: str
) -> list[list[int]]:
    for owner in ids:
        if isinstance(prefs_by[owner], str):
            raise MatchingInputError(f"Preferences of {side} {owner!r} must be a list of {other} ids, not a string.")
    try:
        return [[index[x] for x in prefs_by[owner]] for owner in ids]
    except (KeyError, TypeError):
        unknown = _examples(sorted({str(x) for owner in ids for x in prefs_by[owner] if x not in index}))
        raise MatchingInputError(f"{side.capitalize()} preferences name unknown {other}s {unknown}.") from None


def _flatten(codes: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, item, position in the owner's list) for every entry, as int64 arrays."""
    lengths = np.fromiter((len(c) for c in codes), dtype=np.int64, count=len(codes))
    total = int(lengths.sum())
    items = np.fromiter(itertools.chain.from_iterable(codes), dtype=np.int64, count=total)
    owners = np.repeat(np.arange(len(codes), dtype=np.int64), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owners, items, np.arange(total, dtype=np.int64) - starts


def _index(
    applicant_prefs: Mapping[str, Sequence[str]],
    opening_prefs: Mapping[str, Sequence[str]],
    capacities: Mapping[str, int],
) -> _Problem:
    """Integer indices for the two sides, checking every name; errors name the culprits.

    Both sides' lists are flattened into arrays; each applicant's entries find the rank the opening
    gives them with one sorted search (keys ``opening * n_applicants + applicant``).
    """
    apps = list(applicant_prefs)
    opens = list(opening_prefs)
    a_index = {a: i for i, a in enumerate(apps)}
    o_index = {o: i for i, o in enumerate(opens)}

    extra_caps = [o for o in capacities if o not in o_index]
    if extra_caps:
        raise MatchingInputError(f"Capacities name unknown openings {_examples(extra_caps)}.")
    missing_caps = [o for o in opens if o not in capacities]
    if missing_caps:
        raise MatchingInputError(f"Openings {_examples(missing_caps)} have no capacity.")
    cap: list[int] = []
    for o in opens:
        c = capacities[o]
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise MatchingInputError(f"Capacity of opening {o!r} must be a whole number >= 0, not {c!r}.")
        cap.append(c)

    n_apps = max(len(apps), 1)
    n_opens = max(len(opens), 1)
    o_owner, o_item, o_rank = _flatten(_codes(opening_prefs, opens, a_index, "opening", "applicant"))
    o_keys = o_owner * n_apps + o_item
    order = np.argsort(o_keys, kind="stable")
    o_keys, o_rank = o_keys[order], o_rank[order]
    twice = np.flatnonzero(o_keys[1:] == o_keys[:-1])
    if twice.size:
        key = int(o_keys[twice[0]])
        raise MatchingInputError(f"Opening {opens[key // n_apps]!r} ranks applicant {apps[key % n_apps]!r} twice.")

    a_owner, a_item, _ = _flatten(_codes(applicant_prefs, apps, o_index, "applicant", "opening"))
    a_keys = np.sort(a_owner * n_opens + a_item)
    twice = np.flatnonzero(a_keys[1:] == a_keys[:-1])
    if twice.size:
        key = int(a_keys[twice[0]])
        raise MatchingInputError(f"Applicant {apps[key // n_opens]!r} ranks opening {opens[key % n_opens]!r} twice.")

    # the rank each opening gives each applicant who ranked it (-1: the opening did not rank them)
    query = a_item * n_apps + a_owner
    found_at = np.minimum(np.searchsorted(o_keys, query), max(len(o_keys) - 1, 0))
    if len(o_keys):
        found = o_keys[found_at] == query
        ranks = np.where(found, o_rank[found_at], -1)
    else:
        found = np.zeros(len(query), dtype=bool)
        ranks = np.full(len(query), -1, dtype=np.int64)
    caps = np.asarray(cap, dtype=np.int64)
    keep = found & (caps[a_item] > 0) if len(cap) else found  # mutually acceptable, with room at all
    counts = np.bincount(a_owner[keep], minlength=len(apps)).tolist()
    items = a_item[keep].tolist()
    kept_ranks = ranks[keep].tolist()
    plist: list[list[int]] = []
    prank: list[list[int]] = []
    start = 0
    for n in counts:
        plist.append(items[start : start + n])
        prank.append(kept_ranks[start : start + n])
        start += n
    return _Problem(apps, opens, a_index, o_index, cap, plist, prank)


# -- the algorithm -------------------------------------------------------------------------------


@dataclass
class _Group:
    members: list[int]
    options: list[tuple[int, ...]]  # one opening per member
    ptr: int = 0
    current: int | None = None  # index into options while held
    dissolved: bool = False


class _Solver:
    def __init__(self, p: _Problem, groups: list[_Group], dissolve: bool) -> None:
        self.p = p
        self.groups = groups
        self.dissolve = dissolve
        self.group_of = [-1] * len(p.apps)
        for g, group in enumerate(groups):
            for m in group.members:
                self.group_of[m] = g
        self.held: list[list[tuple[int, int]]] = [[] for _ in p.opens]  # heaps of (-rank, applicant)
        self.match = [-1] * len(p.apps)
        self.pos = [-1] * len(p.apps)  # position of the current match in the applicant's own list
        self.ptr = [0] * len(p.apps)
        self.proposals = 0

    # individuals: the classic loop, kept tight
    def run_individuals(self, free: list[int]) -> list[int]:
        """Propose for the free individuals; return group ids withdrawn on the way."""
        p = self.p
        plist, prank, cap, held = p.plist, p.prank, p.cap, self.held
        match, pos, ptr, group_of = self.match, self.pos, self.ptr, self.group_of
        withdrawn: list[int] = []
        proposals = 0
        while free:
            a = free.pop()
            row = plist[a]
            ranks = prank[a]
            k = ptr[a]
            n = len(row)
            while k < n:
                o = row[k]
                r = ranks[k]
                k += 1
                proposals += 1
                h = held[o]
                if len(h) < cap[o]:
                    heapq.heappush(h, (-r, a))
                    match[a] = o
                    pos[a] = k - 1
                    break
                if -h[0][0] > r:
                    b = heapq.heapreplace(h, (-r, a))[1]
                    match[a] = o
                    pos[a] = k - 1
                    match[b] = -1
                    if group_of[b] >= 0 and not self.groups[group_of[b]].dissolved:
                        withdrawn.append(group_of[b])
                    else:
                        free.append(b)
                    break
            ptr[a] = k
        self.proposals += proposals
        return withdrawn

    def _remove(self, a: int) -> None:
        o = self.match[a]
        if o >= 0:
            h = self.held[o]
            h.remove((-self.p.prank[a][self.pos[a]], a))
            heapq.heapify(h)
            self.match[a] = -1

    def withdraw(self, g: int) -> None:
        group = self.groups[g]
        for m in group.members:
            self._remove(m)
        group.current = None

    def _accepts(self, option: tuple[int, ...], members: list[int], ignore: frozenset[int] = frozenset()) -> bool:
        """Would every opening of ``option`` keep its members of the group, given current holders?"""
        by_opening: dict[int, list[int]] = {}
        for m, o in zip(members, option, strict=True):
            by_opening.setdefault(o, []).append(self.p.rank_at(o, m))
        for o, ranks in by_opening.items():
            worst = max(ranks)
            better = sum(1 for neg, a in self.held[o] if -neg < worst and a not in ignore)
            if better + len(ranks) > self.p.cap[o]:
                return False
        return True

    def propose_group(self, g: int, free: list[int]) -> list[int]:
        """Group g proposes down its options; returns groups displaced; appends freed individuals."""
        group = self.groups[g]
        displaced: list[int] = []
        while group.ptr < len(group.options):
            option = group.options[group.ptr]
            group.ptr += 1
            self.proposals += 1
            if not self._accepts(option, group.members):
                continue
            group.current = group.ptr - 1
            touched: set[int] = set()
            for m, o in zip(group.members, option, strict=True):
                heapq.heappush(self.held[o], (-self.p.rank_at(o, m), m))
                self.match[m] = o
                self.pos[m] = self.p.ppos[m][o]
                touched.add(o)
            for o in touched:
                h = self.held[o]
                while len(h) > self.p.cap[o]:
                    b = heapq.heappop(h)[1]
                    self.match[b] = -1
                    gb = self.group_of[b]
                    if gb >= 0 and not self.groups[gb].dissolved:
                        displaced.append(gb)
                    else:
                        free.append(b)
            return displaced
        if self.dissolve:
            group.dissolved = True
            free.extend(group.members)
        return displaced

    def run(self, free: list[int], group_queue: list[int]) -> None:
        while free or group_queue:
            for g in self.run_individuals(free):
                group = self.groups[g]
                if group.current is not None:
                    self.withdraw(g)
                    group_queue.append(g)
            while group_queue and not free:
                g = group_queue.pop()
                group = self.groups[g]
                if group.current is not None or group.dissolved:
                    continue
                for gd in self.propose_group(g, free):
                    if self.groups[gd].current is not None:
                        self.withdraw(gd)
                        group_queue.append(gd)

    # stability ---------------------------------------------------------------------------------

    def individual_blocking(self, a: int) -> list[int]:
        """Openings a would rather have than its match and that would take a (best first)."""
        row, ranks = self.p.plist[a], self.p.prank[a]
        stop = self.pos[a] if self.match[a] >= 0 else len(row)
        held, cap = self.held, self.p.cap
        return [row[k] for k in range(stop) if len(held[row[k]]) < cap[row[k]] or -held[row[k]][0][0] > ranks[k]]

    def group_blocking(self, g: int) -> list[int]:
        """Indices of joint options better than the group's current one that would take it now."""
        group = self.groups[g]
        stop = group.current if group.current is not None else len(group.options)
        members = frozenset(group.members)
        return [
            i for i, option in enumerate(group.options[:stop]) if self._accepts(option, group.members, ignore=members)
        ]

    def is_individual(self, a: int) -> bool:
        g = self.group_of[a]
        return g < 0 or self.groups[g].dissolved

    def repair(self, rounds: int) -> int:
        """Let blocking applicants and groups re-enter until none is left or ``rounds`` run out."""
        done = 0
        while done < rounds:
            free: list[int] = []
            for a in range(len(self.p.apps)):
                if self.is_individual(a):
                    better = self.individual_blocking(a)
                    if better:
                        self._remove(a)
                        self.ptr[a] = self.p.ppos[a][better[0]]
                        free.append(a)
            queue: list[int] = []
            for g, group in enumerate(self.groups):
                if not group.dissolved:
                    better_options = self.group_blocking(g)
                    if better_options:
                        self.withdraw(g)
                        group.ptr = better_options[0]
                        queue.append(g)
            if not free and not queue:
                break
            done += 1
            free.reverse()
            self.run(free, queue)
        return done


def _group_options(
    p: _Problem,
    members: list[int],
    together: Literal["opening", "organization"],
    organization_of: Mapping[str, str] | None,
) -> list[tuple[int, ...]]:
    if together == "opening":
        common = set(p.plist[members[0]]).intersection(*(p.plist[m] for m in members[1:]))
        viable = [o for o in common if p.cap[o] >= len(members)]
        viable.sort(key=lambda o: (sum(p.ppos[m][o] for m in members), max(p.ppos[m][o] for m in members), o))
        return [tuple(o for _ in members) for o in viable[:MAX_GROUP_OPTIONS]]
    assert organization_of is not None
    org = [organization_of[o] for o in p.opens]
    per_org: dict[str, list[list[int]]] = {}
    for i, m in enumerate(members):
        for o in p.plist[m]:
            per_org.setdefault(org[o], [[] for _ in members])[i].append(o)
    options: list[tuple[int, ...]] = []
    for lists in per_org.values():
        if any(not lst for lst in lists):
            continue
        # keep the product small: the first few choices of each member inside this organization
        width = max(1, int(MAX_GROUP_OPTIONS ** (1 / len(members))))
        for combo in itertools.product(*(lst[:width] for lst in lists)):
            counts: dict[int, int] = {}
            for o in combo:
                counts[o] = counts.get(o, 0) + 1
            if all(p.cap[o] >= c for o, c in counts.items()):
                options.append(combo)
    options.sort(key=lambda c: (sum(p.ppos[m][o] for m, o in zip(members, c, strict=True)), c))
    return options[:MAX_GROUP_OPTIONS]


def deferred_acceptance(
    applicant_prefs: Mapping[str, Sequence[str]],
    opening_prefs: Mapping[str, Sequence[str]],
    capacities: Mapping[str, int],
    *,
    groups: Sequence[Sequence[str]] = (),
    together: Literal["opening", "organization"] = "opening",
    organization_of: Mapping[str, str] | None = None,
    dissolve_unmatched_groups: bool = False,
    repair_rounds: int = 50,
) -> MatchResult:
    """Match applicants to openings; see the module docstring for the rules and guarantees.

    ``applicant_prefs[a]`` ranks openings best first, ``opening_prefs[o]`` ranks applicants best
    first, ``capacities[o]`` is the number of places (every opening needs one). Preferences that
    name unknown ids, rank someone twice, or capacities that are negative raise
    :class:`MatchingInputError` (HTTP 400) naming them.
    """
    p = _index(applicant_prefs, opening_prefs, capacities)
    if together not in ("opening", "organization"):
        raise MatchingInputError(f"together must be 'opening' or 'organization', not {together!r}.")
    if together == "organization":
        if organization_of is None:
            raise MatchingInputError("together='organization' needs organization_of (opening id -> organization).")
        missing = [o for o in p.opens if o not in organization_of]
        if missing:
            raise MatchingInputError(f"organization_of has no organization for openings {_examples(missing)}.")
    group_list: list[_Group] = []
    grouped: set[int] = set()
    for members_ids in groups:
        if isinstance(members_ids, str) or len(members_ids) < 2:
            raise MatchingInputError(f"A group needs two or more applicant ids, got {members_ids!r}.")
        members: list[int] = []
        for a in members_ids:
            i = p.a_index.get(a)
            if i is None:
                raise MatchingInputError(f"Group {list(members_ids)!r} names unknown applicant {a!r}.")
            if i in grouped:
                raise MatchingInputError(f"Applicant {a!r} is in more than one group (or twice in one).")
            grouped.add(i)
            members.append(i)
        group_list.append(_Group(members, _group_options(p, members, together, organization_of)))

    solver = _Solver(p, group_list, dissolve_unmatched_groups)
    free = [a for a in range(len(p.apps) - 1, -1, -1) if a not in grouped]
    queue = list(range(len(group_list) - 1, -1, -1))
    solver.run(free, queue)
    rounds = solver.repair(repair_rounds) if group_list else 0
    return _result(solver, rounds)


def _result(solver: _Solver, rounds: int) -> MatchResult:
    p = solver.p
    assignment = {a: (p.opens[o] if o >= 0 else None) for a, o in zip(p.apps, solver.match, strict=True)}
    by_opening = {
        o: [p.apps[a] for _, a in sorted(solver.held[j], key=lambda item: -item[0])] for j, o in enumerate(p.opens)
    }
    blocking: list[tuple[str, str]] = []
    for a in range(len(p.apps)):
        if solver.is_individual(a):
            blocking.extend((p.apps[a], p.opens[o]) for o in solver.individual_blocking(a))
    outcomes: list[GroupOutcome] = []
    for g, group in enumerate(solver.groups):
        better = [] if group.dissolved else solver.group_blocking(g)
        for i in better:
            blocking.extend((p.apps[m], p.opens[o]) for m, o in zip(group.members, group.options[i], strict=True))
        assigned = tuple(p.opens[solver.match[m]] if solver.match[m] >= 0 else None for m in group.members)
        outcomes.append(
            GroupOutcome(
                members=tuple(p.apps[m] for m in group.members),
                assigned=assigned,
                together=group.current is not None and not group.dissolved,
                option_rank=group.current + 1 if group.current is not None and not group.dissolved else None,
                options=len(group.options),
                dissolved=group.dissolved,
                blocking_options=tuple(tuple(p.opens[o] for o in group.options[i]) for i in better),
            )
        )
    unmatched = [a for a, o in assignment.items() if o is None]
    return MatchResult(assignment, by_opening, blocking, unmatched, outcomes, solver.proposals, rounds)


def find_blocking_pairs(
    applicant_prefs: Mapping[str, Sequence[str]],
    opening_prefs: Mapping[str, Sequence[str]],
    capacities: Mapping[str, int],
    assignment: Mapping[str, str | None],
) -> list[tuple[str, str]]:
    """Every (applicant, opening) pair that blocks ``assignment``, checked from scratch.

    A pair blocks when both ranked each other, the applicant is unmatched or ranks the opening
    above its match, and the opening has a free place or ranks the applicant above one of the
    applicants it holds. An assignment that pairs anyone with an opening that did not accept them,
    or overfills an opening, raises :class:`MatchingInputError`.
    """
    p = _index(applicant_prefs, opening_prefs, capacities)
    solver = _Solver(p, [], False)
    unknown = [a for a in assignment if a not in p.a_index]
    if unknown:
        raise MatchingInputError(f"The assignment names unknown applicants {_examples(unknown)}.")
    for a, o in assignment.items():
        if o is None:
            continue
        j = p.o_index.get(o)
        ai = p.a_index[a]
        if j is None or j not in p.ppos[ai]:
            raise MatchingInputError(f"Applicant {a!r} is assigned to {o!r}, not a mutually acceptable opening.")
        heapq.heappush(solver.held[j], (-p.rank_at(j, ai), ai))
        solver.match[ai] = j
        solver.pos[ai] = p.ppos[ai][j]
    over = [p.opens[j] for j in range(len(p.opens)) if len(solver.held[j]) > p.cap[j]]
    if over:
        raise MatchingInputError(f"The assignment overfills openings {_examples(over)}.")
    return [(p.apps[a], p.opens[o]) for a in range(len(p.apps)) for o in solver.individual_blocking(a)]
