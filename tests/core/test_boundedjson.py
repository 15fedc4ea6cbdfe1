"""Untrusted JSON: nesting is measured before parsing, so depth never reaches the parser's recursion."""

from __future__ import annotations

import json

import pytest

from baton.core import boundedjson
from baton.core.boundedjson import JsonTooDeepError, nesting_depth
from baton.core.errors import BadRequestError
from baton.core.jsonlines import json_object_lines


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[[", "]]", "{"]', 1),  # brackets inside strings do not count
        ('["a\\"[[[", [2]]', 2),  # nor after an escaped quote
        ('["a\\\\", [[3]]]', 3),  # an escaped backslash ends the string
        ('"unclosed [[[[', 0),
        ('[[["\\', 3),
        ("]]][[", 0),  # closers first: never deeper than the top
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(text: str, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_deep_nesting_is_refused_before_parsing() -> None:
    with pytest.raises(JsonTooDeepError) as caught:
        boundedjson.loads("[" * 100_000 + "]" * 100_000)  # json.loads alone: RecursionError
    assert "nest 100000 levels deep; at most 64" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert boundedjson.loads("[" * 64 + "]" * 64) == json.loads("[" * 64 + "]" * 64)
    with pytest.raises(JsonTooDeepError):
        boundedjson.loads("[" * 65 + "]" * 65)


def test_bytes_must_be_utf8() -> None:
    assert boundedjson.loads(b'{"name": "\xeb\xaa\xa8\xeb\x8d\xb8"}') == {"name": "모델"}
    with pytest.raises(UnicodeDecodeError):
        boundedjson.loads(b'{"a": "\xff"}')


def test_many_quotes_do_not_make_the_scan_quadratic() -> None:
    # An unclosed string followed by a million escaped quotes: a pattern that can fail would be
    # retried at each of them. The scan substitutes once; the result shows it read to the end.
    assert nesting_depth('["' + '\\"' * 1_000_000 + "[[[") == 1
    assert nesting_depth("[" + '"' * 1_000_001) == 1


def test_json_lines_name_the_line_of_each_problem() -> None:
    def read(*lines: bytes) -> list[dict[str, object]]:
        found = json_object_lines(lines, lambda number: f"payload line {number}", BadRequestError, max_line_bytes=100)
        return [value for _number, value in found]

    assert read(b'{"a": 1}', b"", b'{"b": [2]}') == [{"a": 1}, {"b": [2]}]
    for lines, expected in [
        ((b'{"a": 1}', b"[" * 70 + b"]" * 30), "payload line 2: arrays and objects nest 70 levels deep"),
        ((b'{"a": "\xff"}',), "payload line 1: not UTF-8 text (byte 7 of the line)"),
        ((b"{",), "payload line 1: not JSON"),
        ((b"[1]",), "payload line 1: expected a JSON object, found list"),
        ((b"x" * 101,), "payload line 1: the line is 101 bytes; at most 100"),
    ]:
        with pytest.raises(BadRequestError) as caught:
            read(*lines)
        assert caught.value.message.startswith(expected), caught.value.message
        assert caught.value.status_code == 400


def test_task_data_nested_too_deep_is_refused() -> None:
    from baton.evaluation.tasks import TaskDataError, parse_rows

    with pytest.raises(TaskDataError) as caught:
        parse_rows(("[" * 10_000 + "]" * 10_000).encode(), "json", "items.json")  # before: RecursionError
    assert caught.value.message.startswith("items.json: not readable as JSON (arrays and objects nest 10000")
