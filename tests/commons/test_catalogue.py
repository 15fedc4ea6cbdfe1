"""The commons catalogue: per team and asset, release state, downloads, what was built on it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from baton.commons import catalogue, release
from baton.commons.release import PlannedRepo
from baton.core.runtime import Runtime
from baton.hub import repos
from commons.release_fixtures import EXIT, NOW, get, make_repo, weights
from conftest import Tokens


def _release_team(runtime: Runtime) -> None:
    make_repo(runtime, "model", "lab/base", {"model.safetensors": weights(0)}, card={"license": "apache-2.0"})
    make_repo(runtime, "dataset", "lab/contacts", {"contacts.csv": "name,phone\n김민지,010-2345-6789\n".encode()})
    release.execute_plan(
        runtime,
        EXIT,
        [
            PlannedRepo("model", "lab/base", license="apache-2.0"),
            PlannedRepo("dataset", "lab/contacts", asset_kind="dataset", license="cc-by-4.0"),
        ],
        now=NOW,
    )
    # The ecosystem builds on the released model: a direct fine-tune, a quantized one of that, and a
    # private derivative that outsiders must not see.
    card = {"license": "apache-2.0", "base_model": "lab/base", "base_model_relation": "finetune"}
    make_repo(
        runtime, "model", "carol/base-chat", {"model.safetensors": weights(1)}, card=card, private=False, author="carol"
    )
    make_repo(
        runtime,
        "model",
        "carol/base-chat-q4",
        {"model.safetensors": weights(2)},
        card={"base_model": "carol/base-chat", "base_model_relation": "quantized"},
        private=False,
        author="carol",
    )
    make_repo(runtime, "model", "lab/secret-tune", {"model.safetensors": weights(3)}, card=card)
    with runtime.database.session(write=True) as session:
        base = get(session, "model", "lab/base")
        for path in ("model.safetensors", "model.safetensors", "config.json", "README.md"):
            repos.count_download(session, base.id, path)


def test_catalogue_counts_downloads_lineage_and_release_state(runtime: Runtime, users: Tokens) -> None:
    _release_team(runtime)
    with runtime.database.session() as session:
        data = catalogue.catalogue(session, None)
    (team,) = data["teams"]
    assert team["team"] == "team-lab" and team["stage"] == "stage-1" and team["reason"] == "eliminated"
    model, dataset = team["assets"]
    assert model["state"] == "released" and model["downloads"] == 3  # README.md is not a download
    assert model["file_downloads"]["model.safetensors"] == 2
    assert [child["id"] for child in model["built_on_it"]] == ["carol/base-chat"]
    assert model["built_on_it_total"] == 2  # the quantized grandchild, not the private one
    assert {d["id"]: d["depth"] for d in model["descendants"]} == {"carol/base-chat": 1, "carol/base-chat-q4": 2}
    assert dataset["state"] == "held" and dataset["notes"] and "personal data" in dataset["notes"][0]
    assert dataset["downloads"] is None  # still private: nothing about it beyond its state
    assert "findings" not in dataset
    assert team["totals"] == {
        "assets": 2,
        "released": 1,
        "held": 1,
        "embargoed": 0,
        "downloads": 3,
        "built_on_it": 2,
        "evaluations": 0,
    }


def test_an_operator_sees_private_derivatives_and_held_files(runtime: Runtime, users: Tokens) -> None:
    _release_team(runtime)
    from baton.accounts import service as accounts

    with runtime.database.session() as session:
        alice = accounts.act_as(session, "alice")
        data = catalogue.catalogue(session, alice, challenge="demo-2026")
        model, dataset = data["teams"][0]["assets"]
        assert model["built_on_it_total"] == 3  # lab/secret-tune is visible to an admin
        assert dataset["downloads"] == 0
        assert catalogue.catalogue(session, alice, challenge="another")["teams"] == []


def test_catalogue_over_http(runtime: Runtime, users: Tokens, client: TestClient) -> None:
    _release_team(runtime)
    data = client.get("/api/commons").json()
    assert data["totals"]["released"] == 1 and data["totals"]["held"] == 1
    page = client.get("/commons?lang=en")
    assert page.status_code == 200 and "lab/base" in page.text and "carol/base-chat" in page.text
    assert "personal data" in page.text
