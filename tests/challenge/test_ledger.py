"""The hash chain: canonical events, chain checks, bundles, and tampering reported by seq and line."""

from __future__ import annotations

import itertools
import json

import pytest

from baton.challenge import ledger


def chain(count: int = 5) -> list[ledger.Event]:
    events: list[ledger.Event] = []
    for index in range(count):
        previous = events[-1] if events else None
        events.append(
            ledger.make_event(
                previous,
                "reviewer.assigned",  # a record-only kind: nothing to recompute
                f"2026-01-0{index + 1}T00:00:00+00:00",
                {"team": f"t{index}", "score": 0.5 + index / 10, "이름": "한빛"},
            )
        )
    return events


def test_chain_links_and_hash_is_reproducible_by_hand() -> None:
    events = chain()
    assert events[0].prev_hash == ledger.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    import hashlib

    first = events[0]
    body = json.dumps(
        {"seq": 1, "kind": first.kind, "recorded_at": first.recorded_at, "payload": first.payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert first.hash == hashlib.sha256((ledger.GENESIS + "\n" + body).encode()).hexdigest()
    # A bundle line is canonical JSON; the event inside it is the hashed text.
    line = ledger.export_bundle("c", events).splitlines()[1]
    assert line == ledger.canonical_json({"event": json.loads(body), "hash": first.hash, "prev_hash": ledger.GENESIS})


def test_a_reformatted_but_equal_line_still_verifies() -> None:
    events = chain(3)
    lines = ledger.export_bundle("c", events).splitlines()
    lines[2] = json.dumps(json.loads(lines[2]), indent=None)  # spaces after separators: not canonical
    assert ledger.verify_bundle("\n".join(lines), events[-1].hash).ok
    assert ledger.check_chain(events) == []


def test_bundle_round_trip_verifies_against_published_head() -> None:
    events = chain()
    text = ledger.export_bundle("c", events)
    report = ledger.verify_bundle(text, events[2].hash)
    assert report.ok and report.head_seq == 3 and report.events == 5


def test_altered_line_removed_line_and_unknown_head_are_reported() -> None:
    events = chain()
    lines = ledger.export_bundle("c", events).splitlines()
    altered = list(lines)
    altered[3] = altered[3].replace('"team":"t2"', '"team":"t9"')
    assert altered[3] != lines[3]
    report = ledger.verify_bundle("\n".join(altered), events[-1].hash)
    assert [(p.seq, p.line) for p in report.problems if "altered" in p.what] == [(3, 4)]
    # Re-hashing the altered line only moves the break to the next line.
    record = json.loads(altered[3])
    event = record["event"]
    record["hash"] = ledger.event_hash(record["prev_hash"], 3, event["kind"], event["recorded_at"], event["payload"])
    altered[3] = ledger.canonical_json(record)
    report = ledger.verify_bundle("\n".join(altered), events[-1].hash)
    assert any(p.seq == 4 and "prev_hash" in p.what for p in report.problems)
    removed = lines[:2] + lines[3:]
    report = ledger.verify_bundle("\n".join(removed), events[-1].hash)
    assert any("sequence number 3 where 2" in p.what for p in report.problems)
    assert any("header announces 5 events" in p.what for p in report.problems)
    report = ledger.verify_bundle("\n".join(lines), "f" * 64)
    assert any("published head" in p.what for p in report.problems)


def test_garbage_and_non_finite_numbers() -> None:
    report = ledger.verify_bundle('{"bundle":"baton-challenge-ledger","format":1}\nnot json\n')
    assert any(p.line == 2 and "not valid JSON" in p.what for p in report.problems)
    report = ledger.verify_bundle('{"event": {"seq": 1}}\n')
    assert any("not a Baton ledger bundle" in p.what for p in report.problems)
    with pytest.raises(ValueError, match="finite"):
        ledger.make_event(None, "x", "t", {"score": float("nan")})


def test_timestamps_that_go_backwards_are_reported_without_breaking_the_chain() -> None:
    times = ["2026-01-01T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-02T00:00:00+00:00"]
    events: list[ledger.Event] = []
    for moment in times:
        events.append(ledger.make_event(events[-1] if events else None, "reviewer.assigned", moment, {"team": "t"}))
    report = ledger.verify_bundle(ledger.export_bundle("c", events), events[-1].hash)
    assert report.ok  # the chain is intact; the time is odd, and said
    (warning,) = report.warnings
    assert warning.seq == 3 and warning.line == 4 and "go backwards" in warning.what
    assert "2026-01-03T00:00:00+00:00" in warning.what
    assert report.to_json()["warnings"][0]["seq"] == 3
    assert ledger.verify_bundle(ledger.export_bundle("c", chain()), None).warnings == []
