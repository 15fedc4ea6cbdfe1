"""A real uvicorn server in a thread, on a free loopback port, for tests that need a live server.

Kept out of conftest.py: test modules import it by name (``from live_servers import LiveServer``), and
the name ``conftest`` is shared by several folders' conftest.py files, so importing from it finds
whichever one pytest loaded last.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from baton.app import create_app
from baton.core.runtime import Runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(self, runtime: Runtime) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(runtime=runtime), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("The test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
