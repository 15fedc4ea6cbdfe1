"""Records written by the first decision engine still verify after an upgrade (and tampering still shows)."""

from __future__ import annotations

import copy
from typing import Any

from baton.challenge import ledger, recompute, service
from baton.challenge.service._common import events_of
from baton.core.runtime import Runtime

from .ce_support import AFTER_DEADLINE, feed_inputs, make_world, submit_all


def _as_written_by_engine_1(record: dict[str, Any]) -> dict[str, Any]:
    """A decision record in the shape the first engine wrote (before advancement rules and target sources)."""
    old = {key: value for key, value in record.items() if key not in ("engine", "kind", "advancement")}
    old["teams"] = [{k: v for k, v in row.items() if k not in ("points_rank", "entry")} for row in record["teams"]]
    return old


def _rechained(events: list[ledger.Event], edit: Any) -> list[ledger.Event]:
    """The same ledger with ``edit`` applied to each decision record, the hash chain rebuilt after it."""
    out: list[ledger.Event] = []
    for event in events:
        payload = copy.deepcopy(event.payload)
        if event.kind == "decision.made":
            payload["record"] = edit(payload["record"])
        out.append(ledger.make_event(out[-1] if out else None, event.kind, event.recorded_at, payload))
    return out


def test_an_engine_1_record_verifies_and_a_changed_one_does_not(runtime: Runtime) -> None:
    world = make_world(runtime)
    models = submit_all(world)
    feed_inputs(world, models)
    with runtime.database.session(write=True) as session:
        record = service.decide(session, runtime, world.slug, "stage-1", operator=world.op(session), now=AFTER_DEADLINE)
        events = events_of(session, service.get_challenge(session, world.slug))
    assert record["engine"] == recompute.ENGINE and "points_rank" in record["teams"][0]

    old = _rechained(events, _as_written_by_engine_1)
    checked, problems = recompute.check_decisions(old)
    assert (checked, problems) == (1, [])

    def tampered(record: dict[str, Any]) -> dict[str, Any]:
        changed = _as_written_by_engine_1(record)
        changed["teams"][0]["composite"] += 1.0
        return changed

    checked, problems = recompute.check_decisions(_rechained(events, tampered))
    assert checked == 1 and any("composite" in text for _seq, text in problems)
    # A record of today's shape missing a key of today's shape is still a difference.
    without_rank = _rechained(
        events, lambda r: r | {"teams": [{**r["teams"][0], "points_rank": None}, *r["teams"][1:]]}
    )
    assert recompute.check_decisions(without_rank)[1]
