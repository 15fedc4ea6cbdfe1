"""LFS PUT bodies streamed over a real socket: errors on either side end both, nothing half-stored.

The server receives a body on its event loop and hands it, batch by batch, to a worker thread
that hashes and writes it. These tests send bodies of many batches to a real uvicorn server, so
that the client is still sending when the storing side fails, and the client hangs up while the
storing side waits for more.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from baton.core.runtime import Runtime
from baton.hub.upload_api import BRIDGE_CHUNK

from .hub_support import leftover_temporaries

# Several batches, so that each side has to wait for the other at least once.
BODY_SIZE = 6 * BRIDGE_CHUNK
PIECE = 256 * 1024


def upload_href(server_url: str, token: str, content: bytes) -> str:
    created = httpx.post(
        f"{server_url}/api/repos/create",
        json={"name": "stream", "type": "model"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert created.status_code in (200, 409), created.text
    answer = httpx.post(
        f"{server_url}/bob/stream.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": [{"oid": hashlib.sha256(content).hexdigest(), "size": len(content)}],
            "hash_algo": "sha256",
        },
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    actions = answer.json()["objects"][0]["actions"]
    assert "chunk_size" not in actions["upload"].get("header", {}), "expected a single-PUT link"
    return str(actions["upload"]["href"])


def pieces(content: bytes) -> Iterator[bytes]:
    for start in range(0, len(content), PIECE):
        yield content[start : start + PIECE]


def wait_for_no_temporaries(runtime: Runtime, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while leftover_temporaries(runtime):
        assert time.monotonic() < deadline, f"temporary files left behind: {leftover_temporaries(runtime)}"
        time.sleep(0.05)


def test_streamed_upload_is_stored_whole(live_server, users, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    content = os.urandom(BODY_SIZE + 12345)  # an uneven tail after the last full batch
    href = upload_href(live_server.url, users["bob"], content)
    put = httpx.put(href, content=pieces(content), headers={"Content-Length": str(len(content))}, timeout=60)
    assert put.status_code == 200, put.text
    oid = hashlib.sha256(content).hexdigest()
    assert b"".join(runtime.store.open_range(oid)) == content
    assert leftover_temporaries(runtime) == []


def test_storing_side_failure_stops_the_receiving(  # type: ignore[no-untyped-def]
    live_server, users, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(BODY_SIZE)
    href = upload_href(live_server.url, users["bob"], content)
    # Lowered after the link was given: the store refuses once the body passes the limit, while
    # the client is still sending.
    monkeypatch.setattr(runtime.settings, "max_file_size", 2 * BRIDGE_CHUNK)
    try:
        put = httpx.put(href, content=pieces(content), headers={"Content-Length": str(len(content))}, timeout=60)
    except httpx.TransportError:
        put = None  # the server may answer and close before the client has sent everything
    if put is not None:
        assert put.status_code == 413, put.text
        assert put.headers["X-Error-Code"] == "QuotaExceeded"
    oid = hashlib.sha256(content).hexdigest()
    assert not runtime.store.exists(oid)
    wait_for_no_temporaries(runtime)
    # The server goes on serving, and the same bytes go through once the limit allows them.
    monkeypatch.setattr(runtime.settings, "max_file_size", 10 * BODY_SIZE)
    again = httpx.put(href, content=pieces(content), headers={"Content-Length": str(len(content))}, timeout=60)
    assert again.status_code == 200, again.text
    assert runtime.store.exists(oid)


def test_client_that_hangs_up_leaves_nothing(live_server, users, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    content = os.urandom(BODY_SIZE)
    href = urlsplit(upload_href(live_server.url, users["bob"], content))
    oid = hashlib.sha256(content).hexdigest()
    with socket.create_connection((href.hostname, href.port), timeout=30) as connection:
        connection.sendall(
            f"PUT {href.path}?{href.query} HTTP/1.1\r\nHost: {href.netloc}\r\n"
            f"Content-Length: {len(content)}\r\n\r\n".encode()
        )
        connection.sendall(content[: len(content) // 2])  # half the body, then hang up
    wait_for_no_temporaries(runtime)
    assert not runtime.store.exists(oid)
    put = httpx.put(
        f"{href.scheme}://{href.netloc}{href.path}?{href.query}",
        content=pieces(content),
        headers={"Content-Length": str(len(content))},
        timeout=60,
    )
    assert put.status_code == 200, put.text
    assert b"".join(runtime.store.open_range(oid)) == content
