"""The variants API, page and plot: visibility, the SVG's shape and labels, Korean and English."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import httpx
import pytest

from baton.accounts import service as accounts
from baton.core.runtime import Runtime
from baton.hub import cards, commits, repos
from baton.variants.models import VariantMeasurement
from baton.web import variants_view

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SVG = "{http://www.w3.org/2000/svg}"


def _repo(runtime: Runtime, owner: str, repo_id: str, card: dict[str, object], *, private: bool = False) -> int:
    with runtime.database.session(write=True) as session:
        actor = accounts.actor_for(accounts.get_account(session, owner))
        repo, _ = repos.create_repo(session, actor, repos.parse_repo_id("model", repo_id), private=private)
        commits.initial_commit(session, runtime.store, actor, repo)
        readme = cards.render_card(card, f"# {repo_id}\n").encode()
        commits.commit_files(session, runtime.store, runtime.settings, actor, repo, {"README.md": readme}, title="Card")
        return repo.id


def _variant(runtime: Runtime, owner: str, repo_id: str, base: str, *, private: bool = False, **numbers: float) -> int:
    card = {
        "license": "apache-2.0",
        "base_model": base,
        "base_model_relation": "quantized",
        "variant": {"kind": "quantized", "method": "torchao-int8-weight-only", "runtime": "transformers"},
    }
    repo_pk = _repo(runtime, owner, repo_id, card, private=private)
    accuracy, difference = numbers.get("accuracy", 0.60), numbers.get("difference", -0.02)
    with runtime.database.session(write=True) as session:
        session.add(
            VariantMeasurement(
                repo_pk=repo_pk,
                commit="a" * 40,
                base_repo=base,
                base_commit="b" * 40,
                kind="quantized",
                method="torchao-int8-weight-only",
                runtime="transformers",
                runtime_version="5.25.0",
                status="ok",
                task="tiny_sums",
                items_hash="c" * 64,
                n_items=200,
                base_accuracy=accuracy - difference,
                variant_accuracy=accuracy,
                difference=difference,
                difference_low=difference - 0.03,
                difference_high=difference + 0.03,
                file_size=int(numbers.get("size", 140_000_000)),
                base_file_size=500_000_000,
                peak_memory=900_000_000,
                tokens_per_second=numbers.get("tps", 3000.0),
                items_per_second=20.0,
                latency_median_ms=12.5,
                latency_p95_ms=20.0,
                manifest={
                    "base": {"tokens_per_second": 1500.0, "peak_memory_bytes": 1_500_000_000},
                    "speedup": 2.0,
                    "machine": {"cpu": "Test CPU", "logical_cores": 2, "os": "Linux", "python": "3.12"},
                    "accuracy_retained": {"method": "paired bootstrap, percentile"},
                },
                finished_at=datetime(2026, 6, 1, tzinfo=UTC),
            )
        )
    return repo_pk


def test_api_lists_visible_variants_and_hides_private_ones(
    runtime: Runtime, users: dict[str, str], client: httpx.Client
) -> None:
    _repo(runtime, "alice", "lab/base-lm", {"license": "apache-2.0"})
    _variant(runtime, "alice", "lab/base-lm-int8", "lab/base-lm")
    _variant(runtime, "alice", "lab/base-lm-secret-int4", "lab/base-lm", private=True, size=90_000_000)
    _repo(runtime, "alice", "lab/tuned", {"base_model": "lab/base-lm", "base_model_relation": "finetune"})

    anonymous = client.get("/api/variants/lab/base-lm").json()
    assert [v["id"] for v in anonymous["variants"]] == ["lab/base-lm-int8"]  # not the fine-tune, not the private one
    shown = anonymous["variants"][0]["measurement"]
    assert shown["accuracy_retained"]["difference"] == pytest.approx(-0.02)
    assert shown["accuracy_retained"]["ci95"] == [pytest.approx(-0.05), pytest.approx(0.01)]
    assert shown["file_size"] == 140_000_000 and shown["machine"]["logical_cores"] == 2
    assert anonymous["base"]["file_size"] == 500_000_000
    member = client.get("/api/variants/lab/base-lm", headers={"Authorization": f"Bearer {users['bob']}"}).json()
    assert {v["id"] for v in member["variants"]} == {"lab/base-lm-int8", "lab/base-lm-secret-int4"}
    outsider = client.get("/api/variants/lab/base-lm", headers={"Authorization": f"Bearer {users['carol']}"}).json()
    assert [v["id"] for v in outsider["variants"]] == ["lab/base-lm-int8"]


def test_api_hides_a_private_base_entirely(runtime: Runtime, users: dict[str, str], client: httpx.Client) -> None:
    _repo(runtime, "alice", "lab/hidden-lm", {"license": "apache-2.0"}, private=True)
    _variant(runtime, "alice", "lab/hidden-lm-int8", "lab/hidden-lm", private=True)
    missing = client.get("/api/variants/lab/no-such-model")
    hidden = client.get("/api/variants/lab/hidden-lm")
    assert hidden.status_code == missing.status_code == 404
    assert "hidden-lm-int8" not in hidden.text
    assert (
        client.get("/api/variants/lab/hidden-lm", headers={"Authorization": f"Bearer {users['carol']}"}).status_code
        == 404
    )
    owner = client.get("/api/variants/lab/hidden-lm", headers={"Authorization": f"Bearer {users['alice']}"})
    assert [v["id"] for v in owner.json()["variants"]] == ["lab/hidden-lm-int8"]


def _points() -> list[variants_view.PlotPoint]:
    return [
        variants_view.PlotPoint("gaon-tech/gaon-lm", 500_000_000, 0.62, base=True),
        variants_view.PlotPoint("gaon-tech/gaon-lm-int8", 140_000_000, 0.61, 0.58, 0.64),
        variants_view.PlotPoint(
            "gaon-tech/gaon-lm-onnx-int8-with-a-very-long-name-indeed", 498_000_000, 0.615, 0.6, 0.63
        ),
        variants_view.PlotPoint("gaon-tech/gaon-lm-int4", 139_000_000, 0.61, 0.57, 0.65),
    ]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_plot_parses_and_its_labels_fit(lang: str) -> None:
    svg = variants_view.quality_size_svg(_points(), lang)
    assert svg is not None
    root = ET.fromstring(str(svg))
    width, height = float(root.get("width") or 0), float(root.get("height") or 0)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "quality-size-title quality-size-desc"
    assert root.find(f"{SVG}title") is not None and "gaon-lm-int8" in (root.findtext(f"{SVG}desc") or "")
    labels = [node for node in root.iter(f"{SVG}text") if "label" in (node.get("class") or "").split()]
    assert len(labels) == 4 and len(root.findall(f".//{SVG}circle")) == 4
    extents = []
    for node in labels:
        text, x, y = node.text or "", float(node.get("x") or 0), float(node.get("y") or 0)
        size = variants_view.text_width(text)
        left, right = (x, x + size) if node.get("text-anchor") == "start" else (x - size, x)
        assert left >= 0 and right <= width and 0 < y <= height, (text, left, right, y)
        extents.append((left, right, y))
    for index, (left, right, y) in enumerate(extents):  # no two labels overlap
        for other_left, other_right, other_y in extents[index + 1 :]:
            assert abs(y - other_y) >= variants_view.LABEL_GAP or right <= other_left or other_right <= left
    axis = "파일 크기(MB)" if lang == "ko" else "File size (MB)"
    assert axis in str(svg)
    assert variants_view.quality_size_svg([], lang) is None


@pytest.mark.parametrize(
    ("lang", "heading", "retained"), [("en", "Variants", "Accuracy retained"), ("ko", "경량 변형", "정확도 유지")]
)
def test_variants_page_renders(
    runtime: Runtime, users: dict[str, str], client: httpx.Client, lang: str, heading: str, retained: str
) -> None:
    _repo(runtime, "alice", "lab/base-lm", {"license": "apache-2.0"})
    _variant(runtime, "alice", "lab/base-lm-int8", "lab/base-lm")
    _variant(runtime, "alice", "lab/base-lm-secret", "lab/base-lm", private=True)
    page = client.get(f"/lab/base-lm/variants?lang={lang}", headers=BROWSER)
    assert page.status_code == 200
    html = page.text
    assert heading in html and retained in html
    assert 'id="quality-size"' in html and "<svg" in html and "lab/base-lm-int8" in html
    assert "-0.020" in html and "[-0.050, +0.010]" in html and "140.00 MB" in html
    assert "lab/base-lm-secret" not in html
    empty = client.get(f"/lab/base-lm-int8/variants?lang={lang}", headers=BROWSER)
    assert empty.status_code == 200 and 'id="no-variants"' in empty.text
