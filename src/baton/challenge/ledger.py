"""The challenge ledger: a hash-chained, append-only log of every input and every decision.

Each event is ``{"kind", "payload", "recorded_at", "seq"}``; its hash is
``sha256(prev_hash + "\\n" + canonical_json(event))`` and the first event's ``prev_hash`` is 64
zeros. Canonical JSON sorts keys, uses no spaces, keeps non-ASCII text as is and refuses NaN, so
anyone can recompute the chain from an exported bundle with a few lines of code. This module is
pure: no database, no clock.

Bundle format (JSON lines, each line canonical JSON): a header line ``{"bundle":
"baton-challenge-ledger", "challenge", "events", "format": 1, "head"}``, then one line per event,
``{"event": {...}, "hash": ..., "prev_hash": ...}``. Because the line is canonical, the event's
text inside it is exactly the text that was hashed, and verification hashes it as read.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baton.core import boundedjson

GENESIS = "0" * 64
# How deep a bundle line may nest: events hold flat records; this bounds the JSON parser's recursion.
MAX_DEPTH = boundedjson.MAX_DEPTH
BUNDLE_NAME = "baton-challenge-ledger"
BUNDLE_FORMAT = 1


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """The one serialization hashes are computed over (finite numbers only: NaN has no JSON form)."""
    try:
        return _ENCODER.encode(value)
    except ValueError as error:
        raise ValueError("the ledger stores finite numbers only (no NaN or infinity)") from error


def event_body(seq: int, kind: str, recorded_at: str, payload_json: str) -> str:
    """The canonical text of an event from its canonical payload text (keys in sorted order)."""
    return (
        '{"kind":'
        + json.dumps(kind, ensure_ascii=False)
        + ',"payload":'
        + payload_json
        + ',"recorded_at":'
        + json.dumps(recorded_at, ensure_ascii=False)
        + ',"seq":'
        + str(int(seq))
        + "}"
    )


def hash_body(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


def event_hash(prev_hash: str, seq: int, kind: str, recorded_at: str, payload: dict[str, Any]) -> str:
    return hash_body(
        prev_hash, canonical_json({"seq": seq, "kind": kind, "recorded_at": recorded_at, "payload": payload})
    )


@dataclass(slots=True)
class Event:
    seq: int
    kind: str
    recorded_at: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    # The event's text as read (a bundle line, or built from the database's canonical payload);
    # when present, the chain check hashes it as is instead of serializing the payload again.
    body: str | None = field(default=None, compare=False, repr=False)

    def canonical_body(self) -> str:
        if self.body is not None:
            return self.body
        return canonical_json(
            {"seq": self.seq, "kind": self.kind, "recorded_at": self.recorded_at, "payload": self.payload}
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "recorded_at": self.recorded_at,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def make_event(prev: Event | None, kind: str, recorded_at: str, payload: dict[str, Any]) -> Event:
    """The event that follows ``prev`` (None for the first)."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.hash
    # Round-trip through canonical JSON so the stored payload is exactly what was hashed.
    payload_json = canonical_json(payload)
    body = event_body(seq, kind, recorded_at, payload_json)
    return Event(seq, kind, recorded_at, json.loads(payload_json), prev_hash, hash_body(prev_hash, body), body)


@dataclass
class Problem:
    seq: int | None
    line: int | None
    what: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        return f"{', '.join(where) or 'ledger'}: {self.what}"


@dataclass
class VerifyReport:
    challenge: str
    events: int = 0
    head: str | None = None  # the last hash of the chain as read
    published_head: str | None = None
    head_seq: int | None = None  # where the published head sits in the chain
    decisions_checked: int = 0
    commitments: int = 0  # sealed names and battles the ledger commits to
    commitments_opened: int = 0  # of which a matching opening was checked (revealed, or given beside)
    problems: list[Problem] = field(default_factory=list)
    # What is odd but does not break the chain: timestamps that go backwards (a clock set back, or
    # events recorded with an explicit earlier time).
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def commitments_sealed(self) -> int:
        """Commitments no opening was given for (private repos, battles of a stage still voting)."""
        return self.commitments - self.commitments_opened

    def to_json(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge,
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "published_head": self.published_head,
            "head_seq": self.head_seq,
            "decisions_checked": self.decisions_checked,
            "commitments": {
                "total": self.commitments,
                "opened": self.commitments_opened,
                "sealed": self.commitments_sealed,
            },
            "problems": [{"seq": p.seq, "line": p.line, "what": p.what} for p in self.problems],
            "warnings": [{"seq": p.seq, "line": p.line, "what": p.what} for p in self.warnings],
        }


def check_times(events: Sequence[Event], *, lines: Sequence[int | None] | None = None) -> list[Problem]:
    """Every event recorded at a time before the event ahead of it in the chain."""
    found: list[Problem] = []
    previous: tuple[datetime, str] | None = None
    for index, event in enumerate(events):
        try:
            moment = datetime.fromisoformat(event.recorded_at)
        except (TypeError, ValueError):
            continue  # the chain check reports what is malformed
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if previous is not None and moment < previous[0]:
            line = lines[index] if lines is not None else None
            found.append(
                Problem(
                    event.seq,
                    line,
                    f"recorded at {event.recorded_at}, before the event ahead of it ({previous[1]}): "
                    "the ledger's timestamps go backwards",
                )
            )
        previous = (moment, event.recorded_at)
    return found


def check_chain(events: Sequence[Event], *, lines: Sequence[int | None] | None = None) -> list[Problem]:
    """Every break in the chain: a seq out of order, a prev_hash that does not link, a hash that does not match."""
    problems: list[Problem] = []
    previous_hash = GENESIS
    for index, event in enumerate(events):
        line = lines[index] if lines is not None else None
        if event.seq != index + 1:
            problems.append(Problem(event.seq, line, f"sequence number {event.seq} where {index + 1} was expected"))
        if event.prev_hash != previous_hash:
            problems.append(
                Problem(
                    event.seq,
                    line,
                    "prev_hash does not match the previous event's hash (a line was removed, "
                    "inserted or altered before it)",
                )
            )
        try:
            expected = hash_body(event.prev_hash, event.canonical_body())
        except ValueError as error:
            problems.append(Problem(event.seq, line, str(error)))
            expected = ""
        if expected != event.hash:
            problems.append(
                Problem(event.seq, line, f"content does not match its hash (kind '{event.kind}'): the line was altered")
            )
        previous_hash = event.hash
    return problems


def export_lines(challenge: str, events: Sequence[Event]) -> Iterable[str]:
    head = events[-1].hash if events else GENESIS
    header = {
        "bundle": BUNDLE_NAME,
        "format": BUNDLE_FORMAT,
        "challenge": challenge,
        "events": len(events),
        "head": head,
    }
    yield canonical_json(header)
    for event in events:
        # Equal to canonical_json({"event": ..., "hash": ..., "prev_hash": ...}), without re-serializing.
        yield (
            '{"event":' + event.canonical_body() + ',"hash":"' + event.hash + '","prev_hash":"' + event.prev_hash + '"}'
        )


_LINE_HEAD = '{"event":'
_LINE_TAIL = len(',"hash":"') + 64 + len('","prev_hash":"') + 64 + len('"}')


def _body_of(raw: str, record: dict[str, Any]) -> str | None:
    """The event's text inside a bundle line when the line is laid out canonically, else None."""
    if raw.startswith(_LINE_HEAD) and len(raw) > len(_LINE_HEAD) + _LINE_TAIL:
        tail = raw[-_LINE_TAIL:]
        if tail == f',"hash":"{record.get("hash")}","prev_hash":"{record.get("prev_hash")}"}}':
            return raw[len(_LINE_HEAD) : -_LINE_TAIL]
    return None


def _event_from(record: dict[str, Any], raw: str) -> Event:
    inner = record["event"]
    if not isinstance(inner, dict) or not isinstance(inner["payload"], dict):
        raise TypeError("event and payload must be objects")
    return Event(
        seq=int(inner["seq"]),
        kind=str(inner["kind"]),
        recorded_at=str(inner["recorded_at"]),
        payload=inner["payload"],
        prev_hash=str(record["prev_hash"]),
        hash=str(record["hash"]),
        body=_body_of(raw, record),
    )


def export_bundle(challenge: str, events: Sequence[Event]) -> str:
    return "\n".join(export_lines(challenge, events)) + "\n"


def _parse_all(raw_lines: list[str]) -> tuple[dict[str, Any], list[Event], list[int | None], list[Problem]] | None:
    """One ``json.loads`` over the whole bundle when it is well formed (the common case); None otherwise."""
    numbered = [(number, raw) for number, raw in enumerate(raw_lines, start=1) if raw and not raw.isspace()]
    try:
        # One more level than a line may have: the array around the lines.
        records = boundedjson.loads("[" + ",".join(raw for _number, raw in numbered) + "]", max_depth=MAX_DEPTH + 1)
    except ValueError:  # not JSON, too deep, a number too long to read: the line-by-line pass says where
        return None
    if not records or not isinstance(records[0], dict) or records[0].get("bundle") != BUNDLE_NAME:
        return None
    events: list[Event] = []
    try:
        for (_number, raw), record in zip(numbered[1:], records[1:], strict=True):
            if record.get("bundle") == BUNDLE_NAME:
                return None
            events.append(_event_from(record, raw))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return None
    return records[0], events, [number for number, _raw in numbered[1:]], []


def parse_bundle(text: str) -> tuple[dict[str, Any], list[Event], list[int | None], list[Problem]]:
    """Header, events, their line numbers, and problems met while reading (unparseable lines)."""
    # Hundreds of thousands of small dicts make the cyclic garbage collector rescan everything
    # again and again; nothing read here forms cycles, so it is paused while reading.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse_bundle(text)
    finally:
        if collecting:
            gc.enable()


def _parse_bundle(text: str) -> tuple[dict[str, Any], list[Event], list[int | None], list[Problem]]:
    problems: list[Problem] = []
    events: list[Event] = []
    lines: list[int | None] = []
    header: dict[str, Any] = {}
    raw_lines = text.splitlines()
    fast = _parse_all(raw_lines)
    if fast is not None:
        return fast
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            record = boundedjson.loads(raw, max_depth=MAX_DEPTH)
        except json.JSONDecodeError as error:
            problems.append(Problem(None, number, f"not valid JSON ({error.msg})"))
            continue
        except ValueError as error:  # nested too deep, or a number too long to read
            problems.append(Problem(None, number, f"not readable ({error})"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(None, number, "not a JSON object"))
            continue
        if record.get("bundle") == BUNDLE_NAME:
            header = record
            continue
        try:
            event = _event_from(record, raw)
        except (KeyError, TypeError, ValueError, OverflowError) as error:  # OverflowError: a seq of 1e400
            inner = record.get("event")
            seq = inner.get("seq") if isinstance(inner, dict) else None
            problems.append(
                Problem(
                    seq if isinstance(seq, int) else None,
                    number,
                    f"missing or malformed field {error}",
                )
            )
            continue
        events.append(event)
        lines.append(number)
    if not header:
        problems.insert(0, Problem(None, 1, f"no '{BUNDLE_NAME}' header line: this is not a Baton ledger bundle"))
    return header, events, lines, problems


def verify_events(
    challenge: str,
    events: Sequence[Event],
    *,
    published_head: str | None = None,
    lines: Sequence[int | None] | None = None,
    recompute_decisions: bool = True,
    openings: Sequence[dict[str, Any]] = (),
) -> VerifyReport:
    """Check the chain, the published head, every commitment's opening (revealed in the ledger, or
    among ``openings`` given beside it), and (by default) recompute every decision from its inputs."""
    collecting = gc.isenabled()
    gc.disable()  # see parse_bundle: many small objects, no cycles
    try:
        return _verify_events(challenge, events, published_head, lines, recompute_decisions, openings)
    finally:
        if collecting:
            gc.enable()


def _verify_events(
    challenge: str,
    events: Sequence[Event],
    published_head: str | None,
    lines: Sequence[int | None] | None,
    recompute_decisions: bool,
    openings: Sequence[dict[str, Any]],
) -> VerifyReport:
    report = VerifyReport(challenge=challenge, events=len(events), published_head=published_head)
    report.problems.extend(check_chain(events, lines=lines))
    report.warnings.extend(check_times(events, lines=lines))
    report.head = events[-1].hash if events else GENESIS
    if published_head is not None:
        positions = [index for index, event in enumerate(events) if event.hash == published_head]
        if not positions:
            report.problems.append(
                Problem(
                    None,
                    None,
                    f"the published head {published_head[:16]}… is not in this ledger: the ledger "
                    "differs from the one the head was published for",
                )
            )
        else:
            report.head_seq = events[positions[0]].seq
    from baton.challenge.recompute import check_commitments, check_decisions

    line_of = {event.seq: (lines[index] if lines is not None else None) for index, event in enumerate(events)}
    sealing = check_commitments(events, openings)
    report.commitments, report.commitments_opened = sealing.total, sealing.opened
    for seq, what in sealing.problems:
        report.problems.append(Problem(seq, None if seq is None else line_of.get(seq), what))
    if recompute_decisions:
        checked, differences = check_decisions(events)
        report.decisions_checked = checked
        for seq, what in differences:
            report.problems.append(Problem(seq, line_of.get(seq), what))
    return report


def verify_bundle(
    text: str,
    published_head: str | None = None,
    *,
    recompute_decisions: bool = True,
    openings: Sequence[dict[str, Any]] = (),
) -> VerifyReport:
    """Verify an exported bundle without any database (``openings``: see ``parse_openings``)."""
    header, events, lines, problems = parse_bundle(text)
    report = verify_events(
        str(header.get("challenge", "?")),
        events,
        published_head=published_head,
        lines=lines,
        recompute_decisions=recompute_decisions and not problems,
        openings=openings,
    )
    report.problems[:0] = problems
    if header and header.get("events") not in (None, len(events)):
        report.problems.append(
            Problem(
                None, None, f"the header announces {header.get('events')} events but the bundle holds {len(events)}"
            )
        )
    return report


# --- openings beside the ledger -------------------------------------------------------------------
#
# Openings of repos still private at finality are not in the public ledger; operators export them
# as one JSON document, {"bundle": "baton-challenge-openings", "challenge", "format": 1, "openings":
# [{"commitment", "value", "salt", ...}]}, and `verify --openings FILE` checks them like revealed ones.

OPENINGS_NAME = "baton-challenge-openings"


def export_openings(challenge: str, openings: Sequence[dict[str, Any]]) -> str:
    document = {"bundle": OPENINGS_NAME, "format": BUNDLE_FORMAT, "challenge": challenge, "openings": list(openings)}
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def parse_openings(text: str) -> list[dict[str, Any]]:
    """The openings of an exported openings document; ValueError when it is not one."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg})") from None
    if not isinstance(document, dict) or document.get("bundle") != OPENINGS_NAME:
        raise ValueError(f"no '{OPENINGS_NAME}' header: this is not a Baton openings file")
    openings = document.get("openings")
    if not isinstance(openings, list) or not all(isinstance(item, dict) for item in openings):
        raise ValueError("'openings' must be a list of objects")
    return openings
