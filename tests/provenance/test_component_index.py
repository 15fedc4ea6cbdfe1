"""Issue 17, items 1-2: candidates per component, and the detection bar for a copied component.

A lightly retrained (5 % relative L2 per tensor) and hidden-unit-permuted copy of a foreign vision
tower, beside a language model of another width, shares no digest and no width with its source:
the component index must make the source a candidate, and the calibrated comparison must then
find the tower derived. Twenty independently initialised and trained towers of the same shape
must never be found derived of each other.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from fixture_models import VisionTower
from sqlalchemy import delete
from test_privacy import model_repo
from test_service import head

from baton.demo.challenge_demo import gpt2_state, model_files, vision_tower_state
from baton.provenance import components, service, synthetic
from baton.provenance.compare import compare
from baton.provenance.models import ComponentPrint
from baton.provenance.source import ArraySource

State = dict[str, np.ndarray]
BAR = 0.05  # relative L2 change per tensor the index and the test must see through


def retrained(state: State, seed: int, relative: float = BAR) -> State:
    """Every tensor moved by exactly ``relative`` of its L2 norm (what light retraining leaves)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in state.items():
        noise = rng.standard_normal(value.shape).astype(np.float32)
        out[name] = (value + noise * (relative * float(np.linalg.norm(value)) / float(np.linalg.norm(noise)))).astype(
            np.float32
        )
    return out


def disguised(tower: State, seed: int) -> State:
    """The bar of the issue: hidden units permuted, then every tensor changed by 5 % (relative L2)."""
    return retrained(synthetic.permute_hidden_units(tower, seed=seed), seed + 1)


def prints(state: State) -> dict[str, components.ComponentPrint]:
    return {item.component: item for item in components.component_prints(ArraySource(state))}


# --- the prints themselves (no database) ------------------------------------------------------


def test_prints_ignore_hidden_unit_permutation_and_prefix_and_keep_kinds_apart() -> None:
    model = gpt2_state(1, 32) | vision_tower_state(2)
    base = prints(model)
    assert {name: item.kind for name, item in base.items()} == {
        "transformer.wte": "module",
        "transformer.wpe": "module",
        "transformer.h.0": "block",
        "transformer.h.1": "block",
        "vision_tower": "tower",
    }
    assert all(item.vector.shape == (components.DIMENSIONS,) for item in base.values())
    permuted = prints(synthetic.permute_hidden_units(model, seed=5))
    for name, item in base.items():
        assert item.signature == permuted[name].signature
        assert components.distance(item, permuted[name]) < 1e-5
    # The same tower under another prefix (as a copier would rename it): same signature and vector.
    moved = prints(synthetic.rename_prefix(vision_tower_state(2), "vision_tower", "model.visual_encoder"))
    assert components.distance(moved["model.visual_encoder"], base["vision_tower"]) < 1e-6
    # Blocks of a language model of another width, and towers of another width, never match.
    other = prints(gpt2_state(1, 24) | vision_tower_state(2, width=24))
    assert other["transformer.h.0"].signature != base["transformer.h.0"].signature
    assert other["vision_tower"].signature != base["vision_tower"].signature
    assert base["transformer.h.0"].signature == base["transformer.h.1"].signature


def test_large_matrices_use_the_sketched_spectrum_and_sample_and_stay_permutation_invariant() -> None:
    rng = np.random.default_rng(3)
    # Above both limits (randomized SVD, sampled quantiles), with a spectrum worth estimating.
    low_rank = rng.standard_normal((600, 8)) @ (rng.standard_normal((8, 800)) * np.linspace(3, 1, 8)[:, None])
    matrix = (low_rank + rng.standard_normal((600, 800))).astype(np.float32)
    assert min(matrix.shape) > components.EXACT_SVD_LIMIT and matrix.size > components.SAMPLE_LIMIT
    exact = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)[: components.SINGULAR_VALUES]
    assert np.allclose(components._top_singular_values(matrix), exact, rtol=0.02)
    permuted = matrix[rng.permutation(600)][:, rng.permutation(800)]
    base, moved = components.tensor_features(matrix), components.tensor_features(permuted)
    assert base.shape == moved.shape and float(np.sqrt(np.mean((base - moved) ** 2))) < 0.01
    # A completely different matrix of the same shape is far away.
    other = components.tensor_features(rng.standard_normal((600, 800)).astype(np.float32))
    assert float(np.sqrt(np.mean((base - other) ** 2))) > 0.1


def test_the_index_finds_the_disguised_tower_first_among_many() -> None:
    towers = {owner: prints(vision_tower_state(100 + owner))["vision_tower"] for owner in range(40)}
    index = components.ComponentIndex(
        (owner, item.component, item.signature, item.vector.tobytes()) for owner, item in towers.items()
    )
    assert len(index) == 40
    query = prints(gpt2_state(9, 24) | disguised(vision_tower_state(117), seed=3))["vision_tower"]
    found = index.nearest([query])
    assert found and found[0].owner == 17 and found[0].distance <= components.MATCH_DISTANCE
    assert found[0].query == "vision_tower" and found[0].component == "vision_tower"
    assert index.nearest([query], exclude={17})[0].owner != 17


# --- twenty independently trained towers ------------------------------------------------------


def trained_tower(seed: int, steps: int = 25) -> State:
    """A tiny CLIP-style tower, initialised from ``seed`` and trained on random images."""
    torch.manual_seed(seed)
    tower = VisionTower()
    head_layer = torch.nn.Linear(32, 8)
    generator = torch.Generator().manual_seed(10_000 + seed)
    optimizer = torch.optim.AdamW([*tower.parameters(), *head_layer.parameters()], lr=3e-3)
    for _ in range(steps):
        images = torch.randn((16, 3, 16, 16), generator=generator)
        labels = torch.randint(0, 8, (16,), generator=generator)
        loss = torch.nn.functional.cross_entropy(head_layer(tower(images).mean(dim=1)), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {f"vision_tower.{name}": value.detach().numpy().copy() for name, value in tower.state_dict().items()}


@pytest.fixture(scope="module")
def independent_towers() -> list[State]:
    torch.set_num_threads(1)
    return [trained_tower(seed) for seed in range(20)]


def test_twenty_independent_trained_towers_are_never_derived_and_a_disguised_copy_is(
    independent_towers: list[State],
) -> None:
    found = [prints(tower)["vision_tower"] for tower in independent_towers]
    index = components.ComponentIndex(
        (owner, item.component, item.signature, item.vector.tobytes()) for owner, item in enumerate(found)
    )
    # Each tower against its nearest independent neighbour in the index (the one a scan would
    # compare first): the calibrated test must not call any of them derived.
    derived = []
    for owner, item in enumerate(found):
        nearest = index.nearest([item], exclude={owner}, max_distance=np.inf, neighbours=1)[0]
        result = compare(ArraySource(independent_towers[owner]), ArraySource(independent_towers[nearest.owner]))
        if result.verdict in ("derived", "copied"):
            derived.append((owner, nearest.owner, result.p_value))
    assert derived == []
    # A disguised copy of a trained tower: nearest to its source, within the match distance, derived.
    for source in (0, 7, 13):
        copy = disguised(independent_towers[source], seed=source)
        (nearest, *_) = index.nearest([prints(copy)["vision_tower"]])
        assert nearest.owner == source and nearest.distance <= components.MATCH_DISTANCE
        result = compare(ArraySource(copy), ArraySource(independent_towers[source]))
        statuses = {c.name: c.status for c in result.components}
        assert result.verdict == "derived" and statuses["vision_tower"] == "derived", result.p_value


@pytest.mark.integration
def test_twenty_independent_trained_towers_against_each_other_as_a_scan_would(
    independent_towers: list[State],
) -> None:
    """Every tower against the 19 others, at the scan's level (Bonferroni over 19 references).

    Before the stored-basis test drew more on borderline cases, tower 5 was `derived` of tower 0
    here (p = 5.1e-4 against alpha / 19 = 5.3e-4: a t tail from 20 draws, 6.3e-5 where 2,000
    draws give 1.5e-3).
    """
    alpha = 0.01 / 19
    derived = []
    for owner, tower in enumerate(independent_towers):
        for other, reference in enumerate(independent_towers):
            if other != owner:
                result = compare(ArraySource(tower), ArraySource(reference), alpha=alpha)
                if result.verdict in ("derived", "copied"):
                    derived.append((owner, other, result.p_value))
    assert derived == []


# --- in the hub: the case -------------------------------------------------------------

FOREIGN = "carol/foreign-vlm"


def vlm_files(state: State, width: int) -> dict[str, bytes]:
    return model_files(state, width, {"license": "apache-2.0"}, "vlm", "A tiny vision-language model.")


def hub(runtime: Any, *, private: bool) -> tuple[Any, str]:
    """The foreign model (tower + language model of width 32), fingerprinted; returns it and its head."""
    foreign_state = gpt2_state(40, 32) | vision_tower_state(41)
    foreign = model_repo(runtime, "carol", "foreign-vlm", vlm_files(foreign_state, 32), private=private)
    stranger = model_repo(runtime, "alice", "stranger", vlm_files(gpt2_state(42, 24), 24), private=False)
    for repo in (foreign, stranger):
        service.fingerprint_revision(runtime, repo, head(runtime, repo))
    return foreign, head(runtime, foreign)


def test_a_retrained_permuted_tower_beside_a_language_model_of_another_width_is_found(runtime: Any, users: Any) -> None:
    _foreign, foreign_oid = hub(runtime, private=False)
    team_state = gpt2_state(43, 24) | disguised(vision_tower_state(41), seed=44)
    team = model_repo(runtime, "bob", "team-vlm", vlm_files(team_state, 24), private=False)
    summary = service.scan_revision(runtime, team.id, head(runtime, team))
    (flag,) = [f for f in summary["flags"] if f["reference"] == f"{FOREIGN}@{foreign_oid}"]
    # Found through the index only: no shared digest, another residual width.
    assert flag["reason"] == "component"
    assert flag["verdict"] == "derived" and flag["relation"] == "copied_component"
    assert not [f for f in summary["flags"] if f["reference"].startswith("alice/stranger")]
    with runtime.database.session() as session:
        report = session.get(service.ProvenanceReport, flag["report_id"])
        assert report is not None
        statuses = {c["name"]: c["status"] for c in report.report["components"]}
        assert statuses["vision_tower"] == "derived"
        assert report.report["candidate"]["component"] == "vision_tower"
        assert report.report["candidate"]["distance"] <= components.MATCH_DISTANCE

    # The bit-exact copy of the tower is still caught, by its digests.
    exact = model_repo(
        runtime, "bob", "exact-vlm", vlm_files(gpt2_state(45, 24) | vision_tower_state(41), 24), private=False
    )
    summary = service.scan_revision(runtime, exact.id, head(runtime, exact))
    (flag,) = [f for f in summary["flags"] if f["reference"] == f"{FOREIGN}@{foreign_oid}"]
    assert flag["reason"] == "digest" and flag["verdict"] == "copied"


def test_a_revision_fingerprinted_before_the_index_gets_its_prints_when_fingerprinted_again(
    runtime: Any, users: Any
) -> None:
    repo = model_repo(
        runtime, "bob", "older", vlm_files(gpt2_state(50, 32) | vision_tower_state(51), 32), private=False
    )
    oid = head(runtime, repo)
    fingerprint = service.fingerprint_revision(runtime, repo, oid)
    with runtime.database.session(write=True) as session:
        stored = service.stored_prints(session, fingerprint)
        assert {item.component for item in stored} == {
            "transformer.wte",
            "transformer.wpe",
            "transformer.h.0",
            "transformer.h.1",
            "vision_tower",
        }
        session.execute(delete(ComponentPrint).where(ComponentPrint.fingerprint_id == fingerprint.id))
    again = service.fingerprint_revision(runtime, repo, oid)
    assert again.id == fingerprint.id
    with runtime.database.session() as session:
        restored = {item.component: item for item in service.stored_prints(session, again)}
    # The same prints, whether computed with the digests (one read) or from the checkpoint again.
    assert {name: item.signature for name, item in restored.items()} == {
        item.component: item.signature for item in stored
    }
    for item in stored:
        assert np.allclose(restored[item.component].vector, item.vector, atol=1e-6)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_private_foreign_tower_is_found_and_named_only_to_its_readers(
    client: TestClient, runtime: Any, users: Any
) -> None:
    _foreign, foreign_oid = hub(runtime, private=True)
    team_state = gpt2_state(46, 24) | disguised(vision_tower_state(41), seed=47)
    model_repo(runtime, "bob", "team-vlm", vlm_files(team_state, 24), private=False)
    team = model_repo(runtime, "bob", "team-vlm-2", vlm_files(team_state, 24), private=False)
    summary = service.scan_revision(runtime, team.id, head(runtime, team))
    (flag,) = [f for f in summary["flags"] if f["reference"] == f"{FOREIGN}@{foreign_oid}"]
    assert flag["reason"] == "component" and flag["verdict"] == "derived"

    # Anonymous and the team's owner: a pseudonym, a commitment, no name, no candidate details.
    for who in (None, "bob"):
        headers = users.headers(who) if who else {}
        listing = client.get("/api/models/bob/team-vlm-2/provenance", headers=headers)
        assert listing.status_code == 200
        assert not re.search(r"carol/|foreign-vlm|" + foreign_oid[:12], listing.text), listing.text
        (shown,) = [f for f in listing.json()["summary"]["flags"] if f["verdict"] == "derived"]
        assert shown["reference"].startswith("model-") and len(shown["commitment"]) == 64
        detail = client.get(f"/api/provenance/reports/{shown['report_id']}", headers=headers)
        assert (
            detail.status_code == 200
            and "carol/" not in detail.text
            and "candidate" in detail.json()["result"]["withheld"]
        )
    # The foreign repo's owner reads it all, the index's match included.
    listing = client.get("/api/models/bob/team-vlm-2/provenance", headers=users.headers("carol")).json()
    (shown,) = [f for f in listing["summary"]["flags"] if f["verdict"] == "derived"]
    assert shown["reference"] == f"{FOREIGN}@{foreign_oid}"
    detail = client.get(f"/api/provenance/reports/{shown['report_id']}", headers=users.headers("carol")).json()
    assert detail["result"]["candidate"]["reference_component"] == "vision_tower"
