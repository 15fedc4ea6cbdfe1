"""One tiny Llama and its fp32 ONNX export for the whole variants test session (exporting takes seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from variant_fixtures import make_tiny_llama

from baton.variants import produce


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Llama (hidden 64, 2 layers) fitted 30 steps to the corpus, with a BOS-adding tokenizer."""
    return make_tiny_llama(tmp_path_factory.mktemp("variants-base") / "llama", steps=30)


@pytest.fixture(scope="session")
def tiny_llama_onnx(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return produce.export_onnx(tiny_llama, tmp_path_factory.mktemp("variants-onnx") / "fp32")
