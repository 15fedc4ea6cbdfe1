"""Simulated arena votes for the arena benchmarks: models with known strengths, pairwise votes.

The votes look like an arena's: random pairs of distinct models, the winner drawn from the
Bradley–Terry probabilities of the true ratings, a share of ties and "both bad" votes, and the
side each model is shown on at random. Everything is drawn from one seeded generator, so the
same arguments give the same votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Outcome codes as in baton.challenge.arena.OUTCOMES; the peer's strings in the same order.
PEER_WINNER = np.array(["model_a", "model_b", "tie", "tie (bothbad)"], dtype=object)


@dataclass(frozen=True)
class SimulatedVotes:
    models: tuple[str, ...]
    true_ratings: NDArray[np.float64]
    a: NDArray[np.int32]
    b: NDArray[np.int32]
    outcome: NDArray[np.int8]


def simulate_votes(
    *,
    votes: int,
    models: int,
    seed: int = 2026,
    spread: float = 150.0,
    tie_share: float = 0.15,
    both_bad_share: float = 0.05,
) -> SimulatedVotes:
    rng = np.random.default_rng(seed)
    names = tuple(f"team-{k:02d}/model" for k in range(models))
    true = 1000.0 + rng.normal(0.0, spread, models)
    a = rng.integers(0, models, votes)
    b = (a + rng.integers(1, models, votes)) % models
    p_a = 1.0 / (1.0 + 10.0 ** ((true[b] - true[a]) / 400.0))
    outcome = np.where(rng.random(votes) < p_a, 0, 1)
    u = rng.random(votes)
    outcome[u < tie_share] = 2
    outcome[(u >= tie_share) & (u < tie_share + both_bad_share)] = 3
    return SimulatedVotes(names, true, a.astype(np.int32), b.astype(np.int32), outcome.astype(np.int8))
