"""Deeply nested JSON in what users send is a 4xx that says so, never a RecursionError (a 500).

Issue 12, item 8: a safetensors header or an NDJSON commit line nested thousands of levels deep
used to reach json.loads, whose recursion gave up with RecursionError.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.numpy import save_file

from baton.challenge import ledger
from baton.core.errors import BadRequestError
from baton.core.runtime import Runtime
from baton.provenance.reader import LocalCheckpoint

from .hub_support import headers_with_repo

DEEP = "[" * 50_000 + "]" * 50_000


def post_commit(client: TestClient, headers: dict[str, str], *lines: bytes) -> Any:
    header = json.dumps({"key": "header", "value": {"summary": "nested"}}).encode()
    return client.post(
        "/api/models/bob/nested/commit/main",
        content=b"\n".join([header, *lines]),
        headers=headers | {"Content-Type": "application/x-ndjson"},
    )


def inline_file(path: str, content: bytes) -> bytes:
    value = {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}
    return json.dumps({"key": "file", "value": value}).encode()


@pytest.fixture
def bob(client: TestClient, users: Any) -> dict[str, str]:
    return headers_with_repo(client, users, "bob", "nested")


def test_deep_ndjson_line_is_a_400(client: TestClient, bob: dict[str, str]) -> None:
    line = json.dumps({"key": "file", "value": {"path": "a.txt", "content": "", "x": "PLACE"}})
    response = post_commit(client, bob, line.replace('"PLACE"', DEEP).encode())
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"].startswith("Commit payload line 2: arrays and objects nest 50002 levels deep")
    assert "64" in body["hint"]


def test_ndjson_line_that_is_not_utf8_is_a_400(client: TestClient, bob: dict[str, str]) -> None:
    response = post_commit(client, bob, b'{"key": "file", "value": {"path": "\xff"}}')
    assert response.status_code == 400, response.text
    assert "line 2: not UTF-8 text" in response.json()["message"]


def test_ndjson_line_longer_than_an_inline_file_can_be_is_a_413(
    client: TestClient, runtime: Runtime, bob: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "max_regular_file_size", 1000)
    fits = post_commit(client, bob, inline_file("a.txt", b"a" * 1000))
    assert fits.status_code == 200, fits.text
    response = post_commit(client, bob, b'{"key": "header", "value": {"x": "' + b"y" * 70_000 + b'"}}')
    assert response.status_code == 413, response.text
    assert "line 2: the line is 70037 bytes; at most 66869" in response.json()["message"]
    assert "LFS" in response.json()["hint"]


def deep_safetensors() -> bytes:
    header = ('{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "x": ' + DEEP + "}").encode()
    return struct.pack("<Q", len(header)) + header + bytes(4)


def test_deep_safetensors_header_is_a_400(client: TestClient, bob: dict[str, str]) -> None:
    response = post_commit(client, bob, inline_file("model.safetensors", deep_safetensors()))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "InvalidSafetensors"
    assert "model.safetensors" in body["message"] and "50001 levels deep" in body["message"]


def test_deep_config_beside_local_weights_is_a_bad_request(tmp_path: Path) -> None:
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text('{"a": ' + DEEP + "}")
    with pytest.raises(BadRequestError) as caught:
        LocalCheckpoint(tmp_path).config()
    assert caught.value.code == "InvalidConfig"
    assert "nest 50001 levels deep" in caught.value.message


def test_deep_line_in_a_ledger_bundle_is_a_problem_of_that_line() -> None:
    event = ledger.make_event(None, "challenge.created", "2026-01-01T00:00:00Z", {"name": "x"})
    bundle = ledger.export_bundle("x", [event]) + '{"event": ' + DEEP + "}\n"
    report = ledger.verify_bundle(bundle)
    assert not report.ok
    assert [(problem.line, problem.what.split(";")[0]) for problem in report.problems] == [
        (3, "not readable (arrays and objects nest 50001 levels deep")
    ]


def test_ledger_line_with_a_number_too_large_for_an_integer_is_a_problem_of_that_line() -> None:
    # Found by the fuzz suite: int(1e400) raised OverflowError out of the bundle reader.
    event = ledger.make_event(None, "challenge.created", "2026-01-01T00:00:00Z", {"name": "x"})
    line = '{"event": {"seq": 1e400, "kind": "k", "payload": {}, "recorded_at": ""}, "hash": "h", "prev_hash": "p"}'
    report = ledger.verify_bundle(ledger.export_bundle("x", [event]) + line + "\n")
    assert [(problem.line, "malformed field" in problem.what) for problem in report.problems] == [(3, True)]
