"""The offline ledger check (``baton challenge verify``): a report of what is wrong, or a 4xx,
whatever the bundle holds. Bundles are well-formed chains of events with any payload (so the
decisions are recomputed from nonsense), damaged bundles, and plain text."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from baton.challenge import ledger
from baton.challenge.ledger import VerifyReport

from .support import FUZZ_HEAVY, json_values, nested_brackets, refused_or_parsed

KINDS = [
    "challenge.created", "team.entered", "release_plan.filed", "submission.made", "score.recorded",
    "review.recorded", "battle.created", "vote.recorded", "gate.checked", "gate.overridden", "seed.drawn",
    "decision.made", "appeal.filed", "appeal.answered", "decision.final", "challenge.ended", "release.action",
]  # fmt: skip
FIELDS = [
    "stage", "team", "name", "plan", "model", "task", "score", "stderr", "n", "criterion", "reviewer", "scores",
    "battle", "team_a", "team_b", "voter", "choice", "gate", "seed", "record", "appeal", "upheld", "spec",
    "head", "head_seq", "decided_at", "action", "repo",
]  # fmt: skip


def payloads() -> st.SearchStrategy[dict[str, Any]]:
    small = json_values(2)
    record = st.fixed_dictionaries({}, optional={"seed": small, "decided_at": small, "head": small, "head_seq": small})
    values = json_values(8) | record | st.sampled_from(["main", "s1", "team-a", "", 0, 1.5])
    return st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


def chains() -> st.SearchStrategy[str]:
    def build(events: list[tuple[str, dict[str, Any]]]) -> str:
        chain: list[ledger.Event] = []
        for kind, payload in events:
            chain.append(ledger.make_event(chain[-1] if chain else None, kind, "2026-01-01T00:00:00Z", payload))
        return ledger.export_bundle("fuzz", chain)

    return st.lists(st.tuples(st.sampled_from(KINDS), payloads()), max_size=8).map(build)


def damaged(bundle: str, line: int, replacement: str) -> str:
    lines = bundle.splitlines()
    lines[line % len(lines)] = replacement
    return "\n".join(lines) + "\n"


def bundles() -> st.SearchStrategy[str]:
    replacements = (
        json_values(6).map(json.dumps)
        | nested_brackets()
        | st.text(max_size=40)
        | st.just('{"event": {"seq": 1e400, "kind": 1, "payload": {}, "recorded_at": 0}, "hash": 1, "prev_hash": []}')
        | st.just('{"event": {"seq": ' + "9" * 5000 + "}}")
    )
    return chains() | st.builds(damaged, chains(), st.integers(0, 20), replacements) | st.text(max_size=300)


@FUZZ_HEAVY
@given(bundles())
def test_ledger_bundle_is_verified_or_refused(text: str) -> None:
    outcome = refused_or_parsed(ledger.verify_bundle, text)
    if isinstance(outcome, VerifyReport):
        assert outcome.ok == (not outcome.problems)
        json.dumps(outcome.to_json())  # the CLI prints it
