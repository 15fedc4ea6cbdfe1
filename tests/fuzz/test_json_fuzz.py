"""Bounded JSON and NDJSON commit payloads: a result or a 4xx, whatever the bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from baton.core import boundedjson
from baton.core.errors import BadRequestError
from baton.evaluation.tasks import parse_rows
from baton.hub.commits import CommitHeader, parse_ndjson_operations
from baton.hub.hf_api import ndjson_lines

from .support import FUZZ, json_values, nested_brackets, refused_or_parsed


@FUZZ
@given(st.one_of(st.text(max_size=300), nested_brackets(), json_values().map(json.dumps)))
def test_bounded_json_agrees_with_json_or_refuses(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except (ValueError, RecursionError):
        expected = ValueError
    try:
        parsed: Any = boundedjson.loads(text)
    except ValueError:
        parsed = ValueError
    if boundedjson.nesting_depth(text) <= boundedjson.MAX_DEPTH:
        assert parsed == expected
    else:
        assert parsed is ValueError


def operation_lines() -> st.SearchStrategy[bytes]:
    """Lines shaped like the Hub's commit operations, with values of every type in every field."""
    values = json_values(max_leaves=6)
    fields = st.dictionaries(
        st.sampled_from(["path", "content", "encoding", "oid", "size", "algo", "summary", "parentCommit"]),
        values | st.just("") | st.just("a.txt") | st.just("aGVsbG8=") | st.just("sha256") | st.integers(),
        max_size=5,
    )
    line = st.fixed_dictionaries(
        {"key": st.sampled_from(["header", "file", "lfsFile", "deletedFile", "deletedFolder", "other"]) | values},
        optional={"value": fields | values},
    )
    return line.map(lambda value: json.dumps(value).encode())


@FUZZ
@given(
    st.lists(
        operation_lines() | st.binary(max_size=60) | nested_brackets().map(str.encode),
        max_size=6,
    )
)
def test_ndjson_commit_payload_is_parsed_or_refused(lines: list[bytes]) -> None:
    def parse(body: bytes) -> Any:
        return parse_ndjson_operations(ndjson_lines(body, max_line_bytes=100_000))

    outcome = refused_or_parsed(parse, b"\n".join(lines))
    if not isinstance(outcome, BadRequestError):
        header, operations = outcome
        assert isinstance(header, CommitHeader) and len(operations) <= len(lines)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        nested_brackets().map(str.encode),
        st.lists(json_values(8).map(json.dumps), max_size=5).map(lambda lines: "\n".join(lines).encode()),
    ),
    st.sampled_from(["csv", "tsv", "jsonl", "json"]),
)
def test_task_data_rows_are_read_or_refused(content: bytes, file_format: Any) -> None:
    outcome = refused_or_parsed(parse_rows, content, file_format, "data")
    if not isinstance(outcome, BadRequestError):
        assert all(isinstance(row.values, dict) for row in outcome)
