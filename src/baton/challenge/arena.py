"""Arena statistics: Bradley–Terry ratings from pairwise votes, bootstrap intervals, contrarian voters.

Pure functions, no database. Votes are aggregated into counts first, so that nothing loops over
individual votes in Python once they are in a :class:`VoteArrays`:

- :func:`fit_bradley_terry` fits the Bradley–Terry model by maximum likelihood (Newton's method on
  the models' log-strengths, a few iterations on an ``m x m`` table of wins). A tie and a "both
  bad" vote count as half a win for each side, as LMArena does. Ratings are on the Elo-like scale
  ``P(a beats b) = 1 / (1 + base ** ((R_b - R_a) / scale))`` and centered so their mean is
  ``initial``.
- :func:`bootstrap_ratings` resamples the votes with replacement ``rounds`` times. The fit only
  depends on how many votes fall into each cell ``(pair, winner-or-tie)``, and the cell counts of
  ``n`` votes drawn with replacement from ``n`` votes follow ``Multinomial(n, counts / n)``
  exactly, so each round draws one multinomial over the (at most ``3 * m * (m - 1) / 2``) cells
  instead of ``n`` vote indices: the same distribution, a tiny fraction of the work. The rounds
  are then fitted together, batched. Cells are ordered by model name, so the result depends on
  the multiset of votes and the seed only, not on the order the votes were recorded in.
- :func:`contrarian_voters` tests each voter's decisive votes against the probabilities the
  ratings predict (an exact Poisson-binomial tail), with Holm's correction over voters.
- :func:`reveals_identity` finds answers that name a model, team or organization, so that such
  answers can be kept out of blind battles.

The fit carries a weak Gaussian prior on the ratings (``regularization``, default 0.25 on
``((R - initial) / scale) ** 2``). It is exactly what LMArena's reference does without saying so
(scikit-learn's ``LogisticRegression`` with its default ``C=1`` on doubled rows); it keeps every
rating finite when a model wins no vote at all or the comparison graph falls apart in a bootstrap
round, and with hundreds of votes per model it moves ratings by hundredths of a point.
``regularization=0`` gives the plain maximum-likelihood estimate when it exists.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from baton.core.errors import BadRequestError
from baton.core.multiple_testing import holm

OUTCOMES = ("a", "b", "tie", "both_bad")
_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}
_A, _B, _TIE, _BOTH_BAD = range(4)

# Batch size of the bootstrap fit: at most this many float64 entries in one (rounds, m, m) array.
_BATCH_ENTRIES = 4_000_000
# Voters with at most this many tested votes get their p-values from one batched recursion.
_BATCH_TRIALS = 300


class ArenaInputError(BadRequestError):
    """Votes or ratings that cannot be used as given."""

    code = "InvalidVote"
    default_hint = "A vote names two different models and one outcome of 'a', 'b', 'tie' or 'both_bad'."


class NotInBattleError(ArenaInputError):
    code = "NotInBattle"
    default_hint = "Vote for one of the two models you were shown (or 'a', 'b', 'tie', 'both_bad')."


class RatingsDoNotExistError(ArenaInputError):
    code = "RatingsDoNotExist"
    default_hint = "Use regularization > 0 (the default), or collect votes so that every model wins and loses some."


@dataclass(frozen=True)
class Vote:
    """One vote on one battle: ``outcome`` is "a", "b", "tie" or "both_bad"."""

    model_a: str
    model_b: str
    outcome: str
    voter: str = ""

    def __post_init__(self) -> None:
        _check_vote(self.model_a, self.model_b, self.outcome)


def _check_vote(model_a: str, model_b: str, outcome: str) -> None:
    if not isinstance(model_a, str) or not isinstance(model_b, str) or not model_a or not model_b:
        raise ArenaInputError(f"a vote needs two model names, got {model_a!r} and {model_b!r}")
    if model_a == model_b:
        raise ArenaInputError(f"a battle needs two different models, got {model_a!r} twice")
    if outcome not in _OUTCOME_CODE:
        raise ArenaInputError(f"unknown vote outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")


def parse_vote(model_a: str, model_b: str, choice: str, voter: str = "") -> Vote:
    """A :class:`Vote` from what a voter chose: an outcome, or the name of one of the two models.

    Raises :class:`NotInBattleError` when ``choice`` names a model that was not in the battle.
    """
    if choice in _OUTCOME_CODE:
        return Vote(model_a, model_b, choice, voter)
    if choice == model_a:
        return Vote(model_a, model_b, "a", voter)
    if choice == model_b:
        return Vote(model_a, model_b, "b", voter)
    raise NotInBattleError(f"the vote is for {choice!r}, which is not in this battle ({model_a!r} vs {model_b!r})")


@dataclass(frozen=True, eq=False)
class VoteArrays:
    """Votes as index arrays: ``models[a[k]]`` vs ``models[b[k]]`` with outcome code ``outcome[k]``.

    Outcome codes index :data:`OUTCOMES` (0 "a", 1 "b", 2 "tie", 3 "both_bad"). ``voter[k]``
    indexes ``voters``; it may be empty when voters are not known.
    """

    models: tuple[str, ...]
    a: NDArray[np.int32]
    b: NDArray[np.int32]
    outcome: NDArray[np.int8]
    voters: tuple[str, ...] = ()
    voter: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def __post_init__(self) -> None:
        n = len(self.a)
        if len(self.b) != n or len(self.outcome) != n:
            raise ArenaInputError("the vote arrays a, b and outcome must have the same length")
        if len(self.voter) not in (0, n):
            raise ArenaInputError("the voter array must be empty or as long as the votes")
        if len(set(self.models)) != len(self.models):
            raise ArenaInputError("model names must be unique")
        if n == 0:
            return
        m = len(self.models)
        for name, arr in (("a", self.a), ("b", self.b)):
            if int(arr.min()) < 0 or int(arr.max()) >= m:
                raise ArenaInputError(f"index array {name} refers to a model outside the {m} models given")
        same = np.flatnonzero(self.a == self.b)
        if same.size:
            k = int(same[0])
            twice = self.models[self.a[k]]
            raise ArenaInputError(f"vote {k}: a battle needs two different models, got {twice!r} twice")
        if int(self.outcome.min()) < 0 or int(self.outcome.max()) >= len(OUTCOMES):
            raise ArenaInputError(f"outcome codes must be 0..{len(OUTCOMES) - 1} ({', '.join(OUTCOMES)})")
        if len(self.voter) and (int(self.voter.min()) < 0 or int(self.voter.max()) >= len(self.voters)):
            raise ArenaInputError("the voter array refers to a voter outside the voters given")

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def from_columns(
        cls,
        model_a: Sequence[str] | NDArray[Any],
        model_b: Sequence[str] | NDArray[Any],
        outcome: Sequence[str] | NDArray[Any],
        voter: Sequence[str] | NDArray[Any] | None = None,
    ) -> VoteArrays:
        """Vectorized conversion from columns of names (e.g. a CSV or a DataFrame's columns)."""
        col_a = _as_list(model_a)
        col_b = _as_list(model_b)
        col_o = _as_list(outcome)
        n = len(col_a)
        if not (n == len(col_b) == len(col_o)):
            raise ArenaInputError("the columns model_a, model_b and outcome must have the same length")
        if n == 0:
            return cls((), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int8))
        # Dictionary lookups: several times faster than np.unique on strings.
        names = sorted(set(col_a) | set(col_b), key=str)
        if any(not isinstance(x, str) or not x for x in names):
            raise ArenaInputError("a vote needs two model names; some model names are empty or not text")
        index = {name: k for k, name in enumerate(names)}
        unknown = set(col_o) - _OUTCOME_CODE.keys()
        if unknown:
            first = sorted(map(str, unknown))[0]
            raise ArenaInputError(f"unknown vote outcome {first!r}; expected one of {', '.join(OUTCOMES)}")
        voters: tuple[str, ...] = ()
        voter_idx = np.zeros(0, dtype=np.int32)
        if voter is not None:
            col_v = [str(v) for v in _as_list(voter)]
            if len(col_v) != n:
                raise ArenaInputError("the voter column must be as long as the votes")
            voters = tuple(sorted(set(col_v)))
            voter_index = {name: k for k, name in enumerate(voters)}
            voter_idx = np.fromiter((voter_index[v] for v in col_v), dtype=np.int32, count=n)
        return cls(
            models=tuple(names),
            a=np.fromiter((index[x] for x in col_a), dtype=np.int32, count=n),
            b=np.fromiter((index[x] for x in col_b), dtype=np.int32, count=n),
            outcome=np.fromiter((_OUTCOME_CODE[x] for x in col_o), dtype=np.int8, count=n),
            voters=voters,
            voter=voter_idx,
        )


def _as_list(column: Sequence[Any] | NDArray[Any]) -> list[Any]:
    values: list[Any] = column.tolist() if isinstance(column, np.ndarray) else list(column)
    return values


def to_arrays(votes: Sequence[Vote] | VoteArrays) -> VoteArrays:
    """Convert votes to :class:`VoteArrays` (returned as is when they already are)."""
    if isinstance(votes, VoteArrays):
        return votes
    for k, vote in enumerate(votes):
        if not isinstance(vote, Vote):
            raise ArenaInputError(f"item {k} is a {type(vote).__name__}, not a Vote")
    return VoteArrays.from_columns(
        [v.model_a for v in votes],
        [v.model_b for v in votes],
        [v.outcome for v in votes],
        [v.voter for v in votes],
    )


# --- aggregation --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Cells:
    """Votes reduced to counts per (unordered pair, i wins / j wins / tie), models in name order."""

    models: tuple[str, ...]
    i: NDArray[np.intp]  # first model of the pair (lower index)
    j: NDArray[np.intp]
    kind: NDArray[np.intp]  # 0: i wins, 1: j wins, 2: tie or both bad
    count: NDArray[np.int64]
    total: int


def _cells(arrays: VoteArrays) -> _Cells:
    if len(arrays) == 0:
        raise ArenaInputError("no votes to rate; at least one vote is needed")
    order = np.argsort(np.array(arrays.models, dtype=object))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    present = np.zeros(len(order), dtype=bool)
    a = rank[arrays.a]
    b = rank[arrays.b]
    present[a] = True
    present[b] = True
    # Keep only models that appear in a vote, renumbered in name order.
    new_index = np.cumsum(present) - 1
    models_sorted = [arrays.models[k] for k in order]
    models = tuple(name for name, keep in zip(models_sorted, present, strict=True) if keep)
    a = new_index[a]
    b = new_index[b]
    m = len(models)
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    out = arrays.outcome.astype(np.intp)
    winner_is_a = out == _A
    winner_is_b = out == _B
    # kind 0: lo wins, 1: hi wins, 2: tie.
    kind = np.full(len(out), 2, dtype=np.intp)
    kind[(winner_is_a & (a == lo)) | (winner_is_b & (b == lo))] = 0
    kind[(winner_is_a & (a == hi)) | (winner_is_b & (b == hi))] = 1
    key = (lo * m + hi) * 3 + kind
    counts = np.bincount(key, minlength=m * m * 3)
    nz = np.flatnonzero(counts)
    pair, kinds = np.divmod(nz, 3)
    ii, jj = np.divmod(pair, m)
    return _Cells(models, ii, jj, kinds, counts[nz].astype(np.int64), len(out))


def _wins(cells: _Cells, counts: NDArray[Any]) -> NDArray[np.float64]:
    """Half-win tables W[r, i, j] (i's wins over j, ties counting half) for rows of cell counts."""
    counts = np.atleast_2d(counts).astype(np.float64)
    rounds = counts.shape[0]
    m = len(cells.models)
    w = np.zeros((rounds, m * m), dtype=np.float64)
    ij = cells.i * m + cells.j
    ji = cells.j * m + cells.i
    for kind, (target, weight) in enumerate(((ij, 1.0), (ji, 1.0), (None, 0.5))):
        sel = cells.kind == kind
        if not sel.any():
            continue
        if target is None:
            half = counts[:, sel] * weight
            w[:, ij[sel]] += half
            w[:, ji[sel]] += half
        else:
            w[:, target[sel]] += counts[:, sel] * weight
    return w.reshape(rounds, m, m)


# --- fitting ------------------------------------------------------------------------------------


def _objective(theta: NDArray[np.float64], wins: NDArray[np.float64], lam: float) -> NDArray[np.float64]:
    diff = theta[:, :, None] - theta[:, None, :]
    # -sum W_ij log sigmoid(theta_i - theta_j) + lam/2 |theta|^2
    nll = np.einsum("rij,rij->r", wins, np.logaddexp(0.0, -diff))
    result: NDArray[np.float64] = nll + 0.5 * lam * np.einsum("ri,ri->r", theta, theta)
    return result


def _newton(
    wins: NDArray[np.float64], theta0: NDArray[np.float64], lam: float, tol: float, max_iter: int = 100
) -> NDArray[np.float64]:
    """Minimize the penalized negative log-likelihood for each row of ``wins`` (batched Newton)."""
    rounds, m, _ = wins.shape
    theta = theta0.copy()
    games = wins + wins.transpose(0, 2, 1)
    ones = np.full((m, m), 1.0 / m) if lam == 0.0 else None
    active = np.arange(rounds)
    f_old = _objective(theta, wins, lam)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        w = wins[active]
        g_games = games[active]
        diff = th[:, :, None] - th[:, None, :]
        p = 0.5 * (1.0 + np.tanh(0.5 * diff))  # sigmoid, overflow-free
        grad = -(w - g_games * p).sum(axis=2) + lam * th
        curv = g_games * p * (1.0 - p)
        hess = -curv
        idx = np.arange(m)
        hess[:, idx, idx] = curv.sum(axis=2) + lam
        if ones is not None:
            hess = hess + ones
        try:
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(h, g, rcond=None)[0] for h, g in zip(hess, grad, strict=True)])
        # Backtracking: halve the step where the objective did not decrease.
        t = np.ones(len(active))
        f_cur = f_old[active]
        new = th - step
        f_new = _objective(new, w, lam)
        for _half in range(40):
            bad = ~(f_new <= f_cur + 1e-12 * np.abs(f_cur))
            if not bad.any():
                break
            t[bad] *= 0.5
            new[bad] = th[bad] - t[bad, None] * step[bad]
            f_new[bad] = _objective(new[bad], w[bad], lam)
        theta[active] = new
        f_old[active] = f_new
        moved = np.abs(t[:, None] * step).max(axis=1)
        active = active[moved > tol]
    else:
        if active.size:
            raise RatingsDoNotExistError(
                "the Bradley–Terry fit did not converge: some model wins (or loses) every vote it is in, "
                "or the models do not all connect through votes"
            )
    return theta


def _check_mle_exists(wins: NDArray[np.float64], models: Sequence[str]) -> None:
    """Without a prior the ratings exist iff every model beats, through a chain of wins, every other."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    for table in wins:
        count, labels = connected_components(csr_matrix(table > 0), directed=True, connection="strong")
        if count > 1:
            sizes = np.bincount(labels)
            odd = [models[int(k)] for k in np.flatnonzero(labels != int(np.argmax(sizes)))][:3]
            raise RatingsDoNotExistError(
                "the maximum-likelihood ratings do not exist: not every model both wins and loses against the "
                f"rest through a chain of votes (e.g. {', '.join(repr(x) for x in odd)})"
            )


def _check_scale(scale: float, base: float, regularization: float) -> None:
    if not (scale > 0 and math.isfinite(scale)):
        raise ArenaInputError(f"scale must be a positive number, got {scale}")
    if not (base > 1 and math.isfinite(base)):
        raise ArenaInputError(f"base must be a number greater than 1, got {base}")
    if not (regularization >= 0 and math.isfinite(regularization)):
        raise ArenaInputError(f"regularization must be >= 0, got {regularization}")


def _lam(scale: float, base: float, regularization: float) -> float:
    # Penalty regularization * ((R - initial) / scale)^2 with R - initial = theta * scale / ln(base):
    # regularization * theta^2 / ln(base)^2 = lam / 2 * theta^2.
    return 2.0 * regularization / math.log(base) ** 2


def _to_ratings(theta: NDArray[np.float64], scale: float, base: float, initial: float) -> NDArray[np.float64]:
    r = theta * (scale / math.log(base))
    centered: NDArray[np.float64] = r - r.mean(axis=-1, keepdims=True) + initial
    return centered


def _fit_cells(
    cells: _Cells, scale: float, base: float, initial: float, regularization: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    lam = _lam(scale, base, regularization)
    wins = _wins(cells, cells.count)
    m = len(cells.models)
    tol = 1e-9 * math.log(base) / scale * 1000  # 1e-6 rating points on the default scale
    if lam == 0.0:
        _check_mle_exists(wins, cells.models)
    theta = _newton(wins, np.zeros((1, m)), lam, tol)
    return theta[0], _to_ratings(theta, scale, base, initial)[0]


def fit_bradley_terry(
    votes: Sequence[Vote] | VoteArrays,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    regularization: float = 0.25,
) -> dict[str, float]:
    """Bradley–Terry ratings of every model that appears in ``votes``, mean ``initial``.

    Ties and "both bad" count as half a win for each side. Returned in descending rating order.
    """
    _check_scale(scale, base, regularization)
    cells = _cells(to_arrays(votes))
    _theta, ratings = _fit_cells(cells, scale, base, initial, regularization)
    order = np.argsort(-ratings, kind="stable")
    return {cells.models[k]: float(ratings[k]) for k in order}


# --- bootstrap ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingRow:
    model: str
    rating: float  # point estimate on all votes
    lower: float  # 2.5th percentile over the bootstrap rounds
    upper: float  # 97.5th percentile
    rank: int  # 1 + number of models with a higher point estimate
    rank_ub: int  # 1 + number of models whose lower bound is above this model's upper bound (LMArena)
    votes: int  # votes the model appears in


@dataclass(frozen=True)
class RatingTable:
    """Ratings with bootstrap intervals, best first, and how they were computed."""

    rows: tuple[RatingRow, ...]
    seed: int
    rounds: int
    votes: int
    scale: float
    base: float
    initial: float
    regularization: float

    def __getitem__(self, model: str) -> RatingRow:
        for row in self.rows:
            if row.model == model:
                return row
        raise KeyError(model)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def models(self) -> list[str]:
        return [row.model for row in self.rows]

    @property
    def ratings(self) -> dict[str, float]:
        return {row.model: row.rating for row in self.rows}

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rounds": self.rounds,
            "votes": self.votes,
            "scale": self.scale,
            "base": self.base,
            "initial": self.initial,
            "regularization": self.regularization,
            "rows": [
                {
                    "model": r.model,
                    "rating": r.rating,
                    "lower": r.lower,
                    "upper": r.upper,
                    "rank": r.rank,
                    "rank_ub": r.rank_ub,
                    "votes": r.votes,
                }
                for r in self.rows
            ],
        }


def bootstrap_samples(
    votes: Sequence[Vote] | VoteArrays,
    *,
    rounds: int = 1000,
    seed: int,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    regularization: float = 0.25,
) -> tuple[tuple[str, ...], NDArray[np.float64], NDArray[np.float64]]:
    """``(models, point ratings, ratings per round)``; the last has shape ``(rounds, len(models))``.

    Models are in name order. Deterministic for a given ``seed`` and multiset of votes.
    """
    _check_scale(scale, base, regularization)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ArenaInputError(f"rounds must be a positive integer, got {rounds!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ArenaInputError(f"seed must be a non-negative integer, got {seed!r}")
    cells = _cells(to_arrays(votes))
    theta, point = _fit_cells(cells, scale, base, initial, regularization)
    m = len(cells.models)
    lam = _lam(scale, base, regularization)
    tol = 1e-9 * math.log(base) / scale * 1000
    rng = np.random.Generator(np.random.PCG64(seed))
    pvals = cells.count / cells.total
    batch = max(1, min(rounds, _BATCH_ENTRIES // max(1, m * m)))
    out = np.empty((rounds, m), dtype=np.float64)
    done = 0
    while done < rounds:
        size = min(batch, rounds - done)
        counts = rng.multinomial(cells.total, pvals, size=size)
        wins = _wins(cells, counts)
        if lam == 0.0:
            _check_mle_exists(wins, cells.models)
        th = _newton(wins, np.repeat(theta[None, :], size, axis=0), lam, tol)
        out[done : done + size] = _to_ratings(th, scale, base, initial)
        done += size
    return cells.models, point, out


def bootstrap_ratings(
    votes: Sequence[Vote] | VoteArrays,
    *,
    rounds: int = 1000,
    seed: int,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    regularization: float = 0.25,
) -> RatingTable:
    """Point ratings on all votes with 95% percentile intervals over ``rounds`` bootstrap resamples."""
    arrays = to_arrays(votes)
    models, point, samples = bootstrap_samples(
        arrays, rounds=rounds, seed=seed, scale=scale, base=base, initial=initial, regularization=regularization
    )
    lower = np.percentile(samples, 2.5, axis=0)
    upper = np.percentile(samples, 97.5, axis=0)
    index = {name: k for k, name in enumerate(arrays.models)}
    per_model = np.bincount(arrays.a, minlength=len(arrays.models)) + np.bincount(
        arrays.b, minlength=len(arrays.models)
    )
    eps = 1e-9
    rows = []
    for k, name in enumerate(models):
        rank = 1 + int(np.count_nonzero(point > point[k] + eps))
        rank_ub = 1 + int(np.count_nonzero(lower > upper[k] + eps))
        rows.append(
            RatingRow(
                model=name,
                rating=float(point[k]),
                lower=float(lower[k]),
                upper=float(upper[k]),
                rank=rank,
                rank_ub=rank_ub,
                votes=int(per_model[index[name]]),
            )
        )
    rows.sort(key=lambda r: (r.rank, r.model))
    return RatingTable(
        rows=tuple(rows),
        seed=seed,
        rounds=rounds,
        votes=len(arrays),
        scale=scale,
        base=base,
        initial=initial,
        regularization=regularization,
    )


# --- contrarian voters --------------------------------------------------------------------------


@dataclass(frozen=True)
class VoterFinding:
    voter: str
    votes: int  # all of the voter's votes
    decisive: int  # votes for "a" or "b" between two rated models of different rating (the ones tested)
    disagreements: int  # decisive votes for the model with the lower rating
    expected: float  # disagreements expected from a voter who votes as the ratings predict
    p_value: float  # P(at least this many disagreements) under that voter, exact Poisson-binomial tail
    adjusted_p: float  # Holm-adjusted over all tested voters
    flagged: bool  # adjusted_p <= alpha


def _binomial_pmf(n: int, p: float) -> NDArray[np.float64]:
    from scipy.special import gammaln

    k = np.arange(n + 1, dtype=np.float64)
    p = min(max(p, 1e-300), 1.0 - 1e-16)
    log_pmf = gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0) + k * math.log(p) + (n - k) * math.log1p(-p)
    pmf: NDArray[np.float64] = np.exp(log_pmf)
    return pmf


def _poisson_binomial_sf(counts: NDArray[np.int64], probs: NDArray[np.float64], observed: int) -> float:
    """P(X >= observed) for X the sum of Binomial(counts[k], probs[k])."""
    if observed <= 0:
        return 1.0
    pmf = np.ones(1)
    for n_k, p_k in zip(counts.tolist(), probs.tolist(), strict=True):
        pmf = np.convolve(pmf, _binomial_pmf(int(n_k), float(p_k)))
    tail = float(pmf[observed:].sum())
    return min(1.0, max(0.0, tail))


def _poisson_binomial_sf_batch(trials: list[NDArray[np.float64]], observed: NDArray[np.int64]) -> NDArray[np.float64]:
    """P(X_i >= observed_i) for many small Poisson-binomials at once (one row of Bernoulli trials each)."""
    count = len(trials)
    length = max(len(t) for t in trials)
    q = np.zeros((count, length))
    for row, values in enumerate(trials):
        q[row, : len(values)] = values  # padding with probability 0 changes nothing
    pmf = np.zeros((count, length + 1))
    pmf[:, 0] = 1.0
    for t in range(length):
        qt = q[:, t : t + 1]
        shifted = pmf[:, :-1] * qt
        pmf *= 1.0 - qt
        pmf[:, 1:] += shifted
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    result: NDArray[np.float64] = np.clip(tail[np.arange(count), observed], 0.0, 1.0)
    return result


def _normal_sf(expected: float, variance: float, skew_num: float, observed: int) -> float:
    """Refined normal approximation (with skewness) of a Poisson-binomial tail, for very large counts."""
    from scipy.stats import norm

    if variance <= 0:
        return 1.0 if observed <= expected else 0.0
    sd = math.sqrt(variance)
    x = (observed - 0.5 - expected) / sd
    gamma = skew_num / sd**3
    value = float(norm.sf(x) + gamma * (x * x - 1.0) * norm.pdf(x) / 6.0)
    return min(1.0, max(0.0, value))


def contrarian_voters(
    votes: Sequence[Vote] | VoteArrays,
    ratings: Mapping[str, float] | RatingTable,
    *,
    alpha: float = 0.01,
    min_votes: int = 10,
    scale: float = 400.0,
    base: float = 10.0,
    exact_limit: int = 20_000,
) -> list[VoterFinding]:
    """Voters whose decisive votes go against the ratings more often than chance allows.

    For each decisive vote (``a`` or ``b``) between two models of different rating, the ratings
    predict the probability ``q`` that a voter who judges like the crowd picks the lower-rated
    model. A voter's number of such picks is then a sum of Bernoulli(``q``) draws; the one-sided
    p-value is its exact Poisson-binomial upper tail (votes on the same pair share ``q``, so the
    tail is a convolution of binomials; voters with more than ``exact_limit`` tested votes use a
    normal approximation with a skewness correction). Voters with fewer than ``min_votes`` tested
    votes are not tested and not returned. Holm's step-down correction controls the family-wise
    error over the tested voters: a voter is flagged when the adjusted p-value is at most
    ``alpha``. Returned sorted by p-value.
    """
    if not (0 < alpha < 1):
        raise ArenaInputError(f"alpha must be between 0 and 1, got {alpha}")
    if min_votes < 1:
        raise ArenaInputError(f"min_votes must be at least 1, got {min_votes}")
    _check_scale(scale, base, 0.0)
    arrays = to_arrays(votes)
    rating_map = ratings.ratings if isinstance(ratings, RatingTable) else dict(ratings)
    if len(arrays) == 0:
        return []
    if len(arrays.voter) == 0:
        raise ArenaInputError("the votes carry no voters; pass Vote objects with voter set, or a voter column")
    missing = [name for name in arrays.models if name not in rating_map]
    if missing:
        raise ArenaInputError(f"no rating for model {missing[0]!r}; rate every model that appears in the votes")
    r = np.array([float(rating_map[name]) for name in arrays.models])
    all_votes = np.bincount(arrays.voter, minlength=len(arrays.voters))
    ra = r[arrays.a]
    rb = r[arrays.b]
    decisive = ((arrays.outcome == _A) | (arrays.outcome == _B)) & (ra != rb)
    idx = np.flatnonzero(decisive)
    voter = arrays.voter[idx]
    # q: predicted probability of picking the lower-rated model.
    gap = np.abs(ra[idx] - rb[idx])
    q = 1.0 / (1.0 + np.power(base, gap / scale))
    picked_a = arrays.outcome[idx] == _A
    disagree = np.where(picked_a, ra[idx] < rb[idx], rb[idx] < ra[idx])
    nv = len(arrays.voters)
    n_tested = np.bincount(voter, minlength=nv)
    n_disagree = np.bincount(voter, weights=disagree, minlength=nv).astype(np.int64)
    expected = np.bincount(voter, weights=q, minlength=nv)
    variance = np.bincount(voter, weights=q * (1 - q), minlength=nv)
    skew = np.bincount(voter, weights=q * (1 - q) * (1 - 2 * q), minlength=nv)
    # Group each voter's votes by pair: the same pair has the same q.
    m = len(arrays.models)
    lo = np.minimum(arrays.a[idx], arrays.b[idx]).astype(np.int64)
    hi = np.maximum(arrays.a[idx], arrays.b[idx]).astype(np.int64)
    key = (voter.astype(np.int64) * m + lo) * m + hi
    uniq, first, group_n = np.unique(key, return_index=True, return_counts=True)
    group_voter = uniq // (m * m)
    group_q = q[first]
    starts = np.searchsorted(group_voter, np.arange(nv))
    ends = np.searchsorted(group_voter, np.arange(nv), side="right")

    tested = np.flatnonzero(n_tested >= min_votes)
    p_values = np.ones(len(tested))
    # Voters with few votes (the usual case, with per-voter limits): one batched recursion over
    # their Bernoulli trials, voters of similar size together. Others: a convolution of
    # binomials per voter; beyond exact_limit votes, the normal approximation.
    small = [t for t, v in enumerate(tested.tolist()) if n_tested[v] <= _BATCH_TRIALS]
    small.sort(key=lambda t: int(n_tested[tested[t]]))
    for begin in range(0, len(small), 1024):
        rows = small[begin : begin + 1024]
        trials = []
        for t in rows:
            s, e = int(starts[tested[t]]), int(ends[tested[t]])
            trials.append(np.repeat(group_q[s:e], group_n[s:e]))
        p_values[rows] = _poisson_binomial_sf_batch(trials, n_disagree[tested[rows]])
    for t, v in enumerate(tested.tolist()):
        if n_tested[v] <= _BATCH_TRIALS:
            continue
        if n_tested[v] <= exact_limit:
            s, e = int(starts[v]), int(ends[v])
            p_values[t] = _poisson_binomial_sf(group_n[s:e], group_q[s:e], int(n_disagree[v]))
        else:
            p_values[t] = _normal_sf(float(expected[v]), float(variance[v]), float(skew[v]), int(n_disagree[v]))
    adjusted = holm(p_values)
    findings = [
        VoterFinding(
            voter=arrays.voters[v],
            votes=int(all_votes[v]),
            decisive=int(n_tested[v]),
            disagreements=int(n_disagree[v]),
            expected=float(expected[v]),
            p_value=float(p_values[t]),
            adjusted_p=float(adjusted[t]),
            flagged=bool(adjusted[t] <= alpha),
        )
        for t, v in enumerate(tested.tolist())
    ]
    findings.sort(key=lambda f: (f.p_value, f.voter))
    return findings


# --- identity leaks -----------------------------------------------------------------------------

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_TOKEN = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]+|[a-z]+|[0-9]+|[^\s\-_./·:]")
_ASCII_WORD = re.compile(r"[0-9a-z]")


def _normalize(text: str) -> str:
    # NFKC folds full-width forms and compatibility characters; NFC alone would keep them apart.
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    return unicodedata.normalize("NFC", text.casefold())


@functools.lru_cache(maxsize=4096)
def _identity_pattern(identity: str) -> re.Pattern[str] | None:
    # Tokens: runs of Hangul, of ASCII letters, of digits; anything else one character at a time.
    # Any separator (or none) may stand between two tokens: "한빛AI" matches "한빛 AI", "tiny-gpt2" "Tiny GPT 2".
    parts = _TOKEN.findall(_normalize(identity))
    if sum(ch.isalnum() for ch in "".join(parts)) < 2:
        return None
    body = r"[\s\-_./·:]*".join(re.escape(p) for p in parts)
    # ASCII letters/digits at an edge must not continue a longer word ("gpt" is not in "chatgpt");
    # Hangul edges need no boundary, since Korean particles attach to the name ("한빛AI가").
    before = r"(?<![0-9a-z])" if _ASCII_WORD.match(parts[0][0]) else ""
    after = r"(?![0-9a-z])" if _ASCII_WORD.match(parts[-1][-1]) else ""
    return re.compile(before + body + after)


def reveals_identity(answer: str, identities: Iterable[str]) -> str | None:
    """The first identity (model, team, organization, alias) that ``answer`` names, else None.

    Case-, width- and separator-insensitive ("Tiny GPT", "ｔｉｎｙ－ｇｐｔ" and "tiny_gpt" all
    reveal "tiny-gpt"), after Unicode normalization and removal of invisible characters.
    Identities with fewer than two letters or digits are ignored (they would match everywhere).
    When several match, the one that appears first in the answer wins (the longest on a tie).
    """
    text = _normalize(answer)
    best: tuple[int, int, str] | None = None
    for identity in identities:
        if not isinstance(identity, str):
            continue
        pattern = _identity_pattern(identity)
        if pattern is None:
            continue
        found = pattern.search(text)
        if found is None:
            continue
        candidate = (found.start(), -(found.end() - found.start()), identity)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return best[2] if best is not None else None
