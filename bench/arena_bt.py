"""Bradley–Terry ratings with bootstrap intervals: Baton beside LMArena's reference, on the same votes.

Peer: ``fastchat.serve.monitor.elo_analysis`` from ``fschat`` on PyPI, the code published with
LMArena: ``compute_elo_mle_with_tie`` (scikit-learn's ``LogisticRegression`` on a one-hot design
of every vote, doubled so a tie counts half a win each way) called by ``get_bootstrap_result``,
which resamples the vote DataFrame with ``DataFrame.sample(frac=1.0, replace=True)`` each round.
Baton: ``baton.challenge.arena.bootstrap_ratings`` on the same votes as ``VoteArrays``.

Both get their input prepared once, outside the timings (a pandas DataFrame with model_a,
model_b, winner in {"model_a", "model_b", "tie", "tie (bothbad)"} for the peer; index arrays for
Baton; building them is reported separately). Per run, the peer does ``--peer-rounds`` bootstrap
rounds (it takes seconds per round) and Baton all ``--rounds``; the time per round is each run's
total divided by its rounds, and the runs alternate which goes first. Reported: medians over the
runs and their ratio; the largest difference between the two point estimates (ratings on all
votes) once both are centered on their mean; and how the bootstrap spreads compare.

    nice -n 10 .venv/bin/python bench/arena_bt.py --votes 1000000 --models 50 --rounds 1000 --peer-rounds 20 --runs 3

Needs the ``bench`` extra (``pip install -e '.[bench,ml]'``: fschat and what its import pulls in).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")  # the peer's bootstrap loop prints a progress bar otherwise

import _common as common
import numpy as np
from _arena import PEER_WINNER, simulate_votes

from baton.challenge.arena import VoteArrays, bootstrap_ratings, bootstrap_samples, fit_bradley_terry


@contextlib.contextmanager
def converged_logistic_regression() -> Iterator[None]:
    """Make scikit-learn's LogisticRegression default to tol=1e-10, max_iter=100000 for a while."""
    from sklearn.linear_model import LogisticRegression

    defaults = LogisticRegression.__init__.__kwdefaults__
    saved = dict(defaults)
    defaults.update(tol=1e-10, max_iter=100_000)
    try:
        yield
    finally:
        defaults.clear()
        defaults.update(saved)


def peer_objective(arrays: VoteArrays, ratings: dict[str, float]) -> float:
    """What the peer minimizes: 0.5 |w|^2 + the log-loss of every vote doubled, w = (R - 1000) / 400.

    Evaluated on the vote counts (a win is two wins, a tie one win each way), so it is exact.
    """
    r = np.array([ratings[name] for name in arrays.models])
    w = (r - 1000.0) / 400.0
    w = w - w.mean()  # the loss does not see a shift; the penalty is smallest at mean 0
    m = len(arrays.models)
    half = np.zeros((m, m))
    out = arrays.outcome
    np.add.at(half, (arrays.a[out == 0], arrays.b[out == 0]), 2.0)
    np.add.at(half, (arrays.b[out == 1], arrays.a[out == 1]), 2.0)
    ties = out >= 2
    np.add.at(half, (arrays.a[ties], arrays.b[ties]), 1.0)
    np.add.at(half, (arrays.b[ties], arrays.a[ties]), 1.0)
    logit = np.log(10.0) * (w[:, None] - w[None, :])
    return float(0.5 * w @ w + (half * np.logaddexp(0.0, -logit)).sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1000, help="Baton's bootstrap rounds per run")
    parser.add_argument("--peer-rounds", type=int, default=20, help="the peer's bootstrap rounds per run (>= 20)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()

    try:
        import pandas as pd
        from fastchat.serve.monitor.elo_analysis import compute_elo_mle_with_tie, get_bootstrap_result
    except ImportError as exc:
        print(f"the peer is not installed ({exc}); install the bench extra: pip install -e '.[bench,ml]'")
        return 2

    print(f"load average {common.load_average()}", file=sys.stderr)
    sim = simulate_votes(votes=args.votes, models=args.models, seed=args.seed)
    names = np.array(sim.models, dtype=object)

    started = time.perf_counter()
    battles = pd.DataFrame({"model_a": names[sim.a], "model_b": names[sim.b], "winner": PEER_WINNER[sim.outcome]})
    peer_prepare = time.perf_counter() - started
    started = time.perf_counter()
    arrays = VoteArrays.from_columns(
        battles["model_a"].to_numpy(),
        battles["model_b"].to_numpy(),
        np.array(["a", "b", "tie", "both_bad"])[sim.outcome],
    )
    baton_prepare = time.perf_counter() - started

    # Point estimates on all votes (also the untimed warm-up of both).
    started = time.perf_counter()
    peer_point = compute_elo_mle_with_tie(battles)
    peer_fit_s = time.perf_counter() - started
    started = time.perf_counter()
    baton_point = fit_bradley_terry(arrays)
    baton_fit_s = time.perf_counter() - started
    # The peer's own model again, with its optimizer run to convergence: scikit-learn's defaults
    # (tol=1e-4 on the mean loss, max_iter=100) stop L-BFGS before the optimum of the peer's own
    # objective; how far shows in the objective values below.
    started = time.perf_counter()
    with converged_logistic_regression():
        peer_converged = compute_elo_mle_with_tie(battles)
    peer_converged_s = time.perf_counter() - started
    models = list(sim.models)
    p = np.array([float(peer_point[name]) for name in models])
    pc = np.array([float(peer_converged[name]) for name in models])
    q = np.array([baton_point[name] for name in models])
    diff = (p - p.mean()) - (q - q.mean())
    diff_converged = (pc - pc.mean()) - (q - q.mean())
    objective = {
        "peer": peer_objective(arrays, dict(zip(models, p, strict=True))),
        "peer, converged": peer_objective(arrays, dict(zip(models, pc, strict=True))),
        "Baton": peer_objective(arrays, baton_point),
    }
    print(
        f"point estimates: peer {peer_fit_s:.2f} s, converged peer {peer_converged_s:.2f} s, "
        f"Baton {baton_fit_s:.3f} s; max |difference| after centering {np.abs(diff).max():.4f} "
        f"(converged peer {np.abs(diff_converged).max():.4f})",
        file=sys.stderr,
    )

    peer_per_round: list[float] = []
    baton_per_round: list[float] = []
    peer_samples: list[Any] = []
    baton_samples: np.ndarray | None = None
    for run in range(args.runs):
        order = ("peer", "baton") if run % 2 == 0 else ("baton", "peer")
        for who in order:
            if who == "peer":
                np.random.seed(args.seed + run)  # DataFrame.sample draws from numpy's global generator
                started = time.perf_counter()
                frame = get_bootstrap_result(battles, compute_elo_mle_with_tie, num_round=args.peer_rounds)
                elapsed = time.perf_counter() - started
                peer_per_round.append(elapsed / args.peer_rounds)
                peer_samples.append(frame)
            else:
                started = time.perf_counter()
                table = bootstrap_ratings(arrays, rounds=args.rounds, seed=args.seed + run)
                elapsed = time.perf_counter() - started
                baton_per_round.append(elapsed / args.rounds)
                assert len(table) == args.models
            print(
                f"run {run + 1}: {who} {elapsed:.2f} s for "
                f"{args.peer_rounds if who == 'peer' else args.rounds} rounds (load {common.load_average()})",
                file=sys.stderr,
            )

    # Bootstrap spread: per-model standard deviation over the rounds, peer (all its rounds) vs Baton.
    _models, _point, baton_samples = bootstrap_samples(arrays, rounds=args.rounds, seed=args.seed)
    index = {name: k for k, name in enumerate(_models)}
    peer_all = pd.concat(peer_samples, ignore_index=True)
    peer_sd = np.array([peer_all[name].std(ddof=1) for name in models])
    baton_sd = np.array([baton_samples[:, index[name]].std(ddof=1) for name in models])
    sd_ratio = baton_sd / peer_sd

    peer_med = common.median(peer_per_round)
    baton_med = common.median(baton_per_round)
    ratio = peer_med / baton_med
    rows = [
        [
            f"run {k + 1}",
            f"{peer_per_round[k]:.3f}",
            f"{baton_per_round[k] * 1000:.3f}",
            f"{peer_per_round[k] / baton_per_round[k]:.0f}",
        ]
        for k in range(args.runs)
    ]
    rows.append(["**median**", f"**{peer_med:.3f}**", f"**{baton_med * 1000:.3f}**", f"**{ratio:.0f}**"])
    print(
        f"\n{args.votes:,} votes, {args.models} models; peer {args.peer_rounds} rounds per run, "
        f"Baton {args.rounds} rounds per run\n"
    )
    print(common.markdown_table(["", "peer, s per round", "Baton, ms per round", "peer / Baton"], rows))
    print()
    print(
        common.markdown_table(
            ["check", "value"],
            [
                ["max abs difference of point ratings, both centered", f"{np.abs(diff).max():.4f}"],
                ["mean abs difference", f"{np.abs(diff).mean():.4f}"],
                ["max abs difference, peer converged (tol=1e-10)", f"{np.abs(diff_converged).max():.1e}"],
                *[
                    [f"peer's objective (penalized -log-likelihood) at the {who} ratings", f"{value:.4f}"]
                    for who, value in objective.items()
                ],
                [
                    "bootstrap SD, Baton / peer (median, min-max over models)",
                    f"{np.median(sd_ratio):.2f} ({sd_ratio.min():.2f}-{sd_ratio.max():.2f})",
                ],
                ["median bootstrap SD, Baton", f"{np.median(baton_sd):.2f}"],
                ["point estimate on all votes: peer s, Baton s", f"{peer_fit_s:.2f}, {baton_fit_s:.3f}"],
                ["input prepared once: peer DataFrame s, Baton arrays s", f"{peer_prepare:.2f}, {baton_prepare:.2f}"],
            ],
        )
    )
    if not args.no_json:
        path = common.write_results(
            "arena_bt",
            {
                "args": vars(args),
                "versions": common.package_versions("fschat", "scikit-learn", "pandas", "numpy", "scipy"),
                "peer_s_per_round": peer_per_round,
                "baton_s_per_round": baton_per_round,
                "ratio_of_medians": ratio,
                "max_abs_difference": float(np.abs(diff).max()),
                "mean_abs_difference": float(np.abs(diff).mean()),
                "max_abs_difference_converged_peer": float(np.abs(diff_converged).max()),
                "objective": objective,
                "peer_converged_fit_s": peer_converged_s,
                "sd_ratio_median": float(np.median(sd_ratio)),
                "peer_fit_s": peer_fit_s,
                "baton_fit_s": baton_fit_s,
                "prepare_s": {"peer": peer_prepare, "baton": baton_prepare},
            },
        )
        print(f"\nraw numbers: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
