"""Safetensors headers: a checked header or a 4xx, whatever the bytes."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from baton.hub.scanning import SAFETENSORS_DTYPE_BITS, SafetensorsHeader, scan_file, validate_safetensors_header

from .support import FUZZ, json_values, nested_brackets, refused_or_parsed

DTYPES = st.sampled_from([*SAFETENSORS_DTYPE_BITS, "f32", "", "F128"])
COUNTS = st.integers(min_value=0, max_value=64) | st.integers(min_value=-5, max_value=2**66) | json_values(3)


def tensor_entries() -> st.SearchStrategy[dict[str, Any]]:
    entry = st.fixed_dictionaries(
        {},
        optional={
            "dtype": DTYPES | json_values(3),
            "shape": st.lists(COUNTS, max_size=3) | json_values(3),
            "data_offsets": st.lists(COUNTS, min_size=0, max_size=3),
        },
    )
    metadata = st.dictionaries(st.text(max_size=5), st.text(max_size=5) | json_values(3), max_size=3)
    return st.dictionaries(st.text(max_size=8), entry, max_size=4).flatmap(
        lambda tensors: st.one_of(st.just(tensors), metadata.map(lambda meta: {**tensors, "__metadata__": meta}))
    )


def files() -> st.SearchStrategy[bytes]:
    """A length prefix (right or wrong), a header (plausible, any JSON, deep, or junk), data."""

    def build(header: bytes, length_error: int, data: bytes) -> bytes:
        return struct.pack("<Q", max(0, len(header) + length_error)) + header + data

    headers = (
        tensor_entries().map(lambda value: json.dumps(value).encode())
        | json_values().map(lambda value: json.dumps(value).encode())
        | nested_brackets().map(lambda text: ('{"a":' + text + "}").encode())
        | st.binary(max_size=80)
    )
    errors = st.sampled_from([0, 0, 0, 1, -1, 2**40]) | st.integers(min_value=-10, max_value=10)
    return st.builds(build, headers, errors, st.binary(max_size=64) | st.just(b"\0" * 16))


@FUZZ
@given(files() | st.binary(max_size=200))
def test_safetensors_header_is_checked_or_refused(data: bytes) -> None:
    outcome = refused_or_parsed(validate_safetensors_header, io.BytesIO(data), len(data), "model.safetensors")
    if isinstance(outcome, SafetensorsHeader):
        covered = sum(end - start for start, end in (t.data_offsets for t in outcome.tensors.values()))
        assert covered == len(data) - outcome.data_start


@FUZZ
@given(files())
def test_safetensors_by_name_or_content_is_scanned_or_refused(data: bytes) -> None:
    for name in ("model.safetensors", "model.bin"):
        refused_or_parsed(scan_file, io.BytesIO(data), name, len(data))
