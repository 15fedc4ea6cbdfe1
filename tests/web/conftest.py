"""The demo site, loaded once per test session for the crawler and the accessibility tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from live_servers import LiveServer

from .demo_site import DemoSite, load_demo


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoSite, LiveServer]]:
    """What `baton demo` loads, in a fresh SQLite data folder, served by uvicorn on a free loopback port."""
    site = load_demo(tmp_path_factory.mktemp("demo") / "data")
    server = LiveServer(site.runtime)
    server.start()
    yield site, server
    server.stop()
    site.close()
