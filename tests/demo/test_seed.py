"""The demo data the README's first command loads."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baton.core import jobs
from baton.core.runtime import Runtime
from baton.demo.seed import seed_demo


def test_demo_seed_loads_once_and_is_served(runtime: Runtime, client: TestClient) -> None:
    result = seed_demo(runtime)
    assert result.created and set(result.tokens) == {"operator", "minji"}
    assert seed_demo(runtime).created is False  # idempotent, and no new tokens
    minji = {"Authorization": f"Bearer {result.tokens['minji']}"}

    models = {item["id"]: item for item in client.get("/api/models").json()}
    assert set(models) == {"hanbit-ai/tiny-gpt", "hanbit-ai/tiny-gpt-chat", "hanbit-ai/tiny-gpt-gated"}
    assert models["hanbit-ai/tiny-gpt-gated"]["gated"] == "manual"
    assert client.get("/api/models/minji/private-notes").status_code == 404
    assert client.get("/api/models/minji/private-notes", headers=minji).json()["private"] is True
    assert [d["id"] for d in client.get("/api/datasets").json()] == ["hanbit-ai/tiny-ko-qa"]
    assert client.get("/datasets/hanbit-ai/tiny-ko-qa/resolve/main/data/train.csv").text.startswith("question,answer")
    assert client.get("/hanbit-ai/tiny-gpt-gated/resolve/main/config.json").status_code == 401
    lineage = client.get("/api/models/hanbit-ai/tiny-gpt/lineage").json()
    assert [child["id"] for child in lineage["derivatives"]] == ["hanbit-ai/tiny-gpt-chat"]
    with runtime.database.session() as session:
        queued = jobs.list_jobs(session, kind="provenance.scan")
    assert len(queued) == 3
