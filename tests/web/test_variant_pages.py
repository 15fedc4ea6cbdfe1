"""Variants on the pages (issue 19): the model page's variant block, and the kind filter of /models."""

from __future__ import annotations

import json
from typing import Any

from baton.core.runtime import Runtime

from .repo_support import ENGLISH, browser, make_repo

KOREAN = {"Accept": ENGLISH["Accept"], "Accept-Language": "ko"}
CONFIG = json.dumps({"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "vocab_size": 128}).encode()


def variant_card(base: str, kind: str = "quantized", method: str = "torchao-int8-weight-only") -> bytes:
    runtime = "onnxruntime" if kind == "onnx" else "transformers"
    bits = "  bits: 8\n" if "int8" in method else ""
    return (
        f"---\nbase_model: {base}\nlicense: apache-2.0\nvariant:\n  kind: {kind}\n  method: {method}\n"
        f"  runtime: {runtime}\n{bits}---\n\n# A variant\n"
    ).encode()


def world(runtime: Runtime) -> None:
    make_repo(runtime, "lab/base", {"config.json": CONFIG})
    make_repo(runtime, "lab/hidden", {"config.json": CONFIG}, private=True)
    make_repo(runtime, "lab/base-int8", {"README.md": variant_card("lab/base"), "config.json": CONFIG})
    make_repo(runtime, "lab/hidden-int8", {"README.md": variant_card("lab/hidden"), "config.json": CONFIG})
    onnx = variant_card("lab/base", "onnx", "onnx-export")
    make_repo(runtime, "lab/base-onnx", {"README.md": onnx, "config.json": CONFIG})


def test_the_model_page_shows_the_variant_and_links_a_base_only_to_who_may_see_it(runtime: Runtime, users: Any) -> None:
    world(runtime)
    anonymous, member = browser(runtime), browser(runtime, "bob")
    page = anonymous.get("/lab/base-int8", headers=ENGLISH).text
    assert 'id="variant"' in page and 'data-kind="quantized"' in page
    assert '<dd id="variant-method"><code>torchao-int8-weight-only</code></dd>' in page
    assert '<dd id="variant-runtime"><code>transformers</code></dd>' in page
    assert '<dd id="variant-bits">8</dd>' in page
    assert '<dd id="variant-base"><a href="/lab/base">lab/base</a></dd>' in page
    korean = anonymous.get("/lab/base-int8", headers=KOREAN).text
    assert "다른 모델의 변형" in korean and '<dd id="variant-kind">양자화</dd>' in korean
    onnx = anonymous.get("/lab/base-onnx", headers=ENGLISH).text
    assert '<dd id="variant-kind">ONNX graph</dd>' in onnx and 'id="variant-bits"' not in onnx
    # The private base is named (the card says it) but not linked for who may not see it.
    hidden = anonymous.get("/lab/hidden-int8", headers=ENGLISH).text
    assert '<dd id="variant-base">lab/hidden</dd>' in hidden and 'href="/lab/hidden"' not in hidden
    assert '<a href="/lab/hidden">lab/hidden</a>' in member.get("/lab/hidden-int8", headers=ENGLISH).text
    assert 'id="variant"' not in anonymous.get("/lab/base", headers=ENGLISH).text


def test_models_filter_by_variant_kind(runtime: Runtime, users: Any) -> None:
    world(runtime)
    anonymous = browser(runtime)
    page = anonymous.get("/models", headers=ENGLISH).text
    assert '<option value="quantized">variant: quantized (2)</option>' in page
    assert '<option value="onnx">variant: ONNX graph (1)</option>' in page
    assert '<option value="onnx">변형: ONNX 그래프 (1)</option>' in anonymous.get("/models", headers=KOREAN).text
    onnx = anonymous.get("/models?kind=onnx", headers=ENGLISH).text
    assert 'data-repo="lab/base-onnx"' in onnx and 'data-repo="lab/base-int8"' not in onnx
    quantized = anonymous.get("/models?kind=quantized", headers=ENGLISH).text
    assert 'data-repo="lab/base-int8"' in quantized and 'data-repo="lab/hidden-int8"' in quantized
    assert 'data-repo="lab/base"' not in quantized
