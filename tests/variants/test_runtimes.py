"""Runtimes are plug-ins: a package registering the entry point group baton.runtimes adds one."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.core.errors import ConfigurationError
from baton.variants import runtimes
from baton.variants.runtimes import UnknownRuntimeError, VariantRuntime, get_runtime, runtime_names

PLUGIN = """
from pathlib import Path

IMPORTED = True


class NpuRuntime:
    name = "vendor-npu"
    kinds = ("compiled",)

    def version(self):
        return "1.0"

    def check(self, folder):
        blob = Path(folder) / "model.npu"
        if not blob.is_file():
            raise FileNotFoundError("model.npu is missing")
        return {"file": "model.npu", "bytes": blob.stat().st_size}

    def backend(self, folder, **options):
        raise NotImplementedError


def factory():
    return NpuRuntime()


def wrong():
    return object()
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution (a dist-info on sys.path) with two entries in baton.runtimes."""
    (tmp_path / "vendor_npu_runtime.py").write_text(PLUGIN)
    info = tmp_path / "vendor_npu_runtime-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vendor-npu-runtime\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[baton.runtimes]\nvendor-npu = vendor_npu_runtime:factory\nbroken = vendor_npu_runtime:wrong\n"
        "transformers = vendor_npu_runtime:factory\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("vendor_npu_runtime", None)


def test_built_ins_run_their_kinds() -> None:
    assert {"transformers", "onnxruntime"} <= set(runtime_names())
    onnx = get_runtime("onnxruntime")
    assert isinstance(onnx, VariantRuntime) and onnx.kinds == ("onnx",)
    assert "quantized" in get_runtime("transformers").kinds
    assert get_runtime("onnxruntime").version().count(".") >= 1


def test_an_unknown_runtime_names_the_choices() -> None:
    with pytest.raises(UnknownRuntimeError, match="Did you mean 'onnxruntime'") as raised:
        get_runtime("onnxruntim")
    assert "baton.runtimes" in raised.value.hint and "transformers" in raised.value.hint


def test_a_plugin_adds_a_runtime_without_changing_baton(plugin: Path, tmp_path: Path) -> None:
    assert "vendor-npu" in runtime_names()
    assert "vendor_npu_runtime" not in sys.modules  # listing names imports nothing
    npu = get_runtime("vendor-npu")
    assert npu.name == "vendor-npu" and npu.kinds == ("compiled",) and npu.version() == "1.0"
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "model.npu").write_bytes(b"\x01" * 10)
    assert npu.check(artifact) == {"file": "model.npu", "bytes": 10}
    # A plug-in cannot replace a built-in, and one returning something else is refused clearly.
    assert isinstance(get_runtime("transformers"), runtimes.TransformersRuntime)
    with pytest.raises(ConfigurationError, match="not a runtime named 'broken'"):
        get_runtime("broken")
