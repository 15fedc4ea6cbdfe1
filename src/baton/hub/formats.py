"""What a file is, from its first bytes: the formats the hub names in scan results.

Pure functions over the head of a file (``HEAD_BYTES`` of it). Nothing here decides whether a
file is safe: ``baton.hub.scanning`` walks pickles, archives and compressed streams wherever they
hide, and only then asks this module to name what it found. A name is a claim about the layout of
the first bytes, nothing more; files that match no signature are "text" or "unknown binary".
"""

from __future__ import annotations

import bz2
import lzma
import struct
import zlib
from typing import Final, NamedTuple

HEAD_BYTES: Final = 512

NAMES: Final[dict[str, str]] = {
    "pickle": "Python pickle",
    "torch-zip": "PyTorch checkpoint (zip)",
    "torch-legacy": "PyTorch checkpoint (legacy pickle)",
    "numpy": "NumPy array (.npy)",
    "numpy-object": "NumPy object array (.npy, holds a pickle)",
    "npz": "NumPy archive (.npz)",
    "zip": "zip archive",
    "tar": "tar archive",
    "safetensors": "safetensors",
    "gguf": "GGUF",
    "ggml": "legacy GGML (llama.cpp before GGUF)",
    "ctranslate2": "CTranslate2 model",
    "onnx": "ONNX model",
    "megatron-index": "Megatron indexed dataset index",
    "hdf5": "HDF5",
    "text": "text",
    "empty": "empty file",
    "unknown": "unknown binary",
}

COMPRESSION_NAMES: Final[dict[str, str]] = {
    "gzip": "gzip",
    "bz2": "bzip2",
    "xz": "xz",
    "lzma": "lzma",
    "zlib": "zlib",
    "joblib-zlib": "joblib zlib",
    "lz4": "LZ4",
    "zstd": "Zstandard",
}

_GGML_MAGICS: Final = {b"lmgg": "ggml", b"fmgg": "ggmf", b"tjgg": "ggjt", b"algg": "ggla"}  # uint32 LE
_MEGATRON_INDEX_MAGIC: Final = b"MMIDIDX\x00\x00"
_HDF5_MAGIC: Final = b"\x89HDF\r\n\x1a\n"
_NPY_MAGIC: Final = b"\x93NUMPY"
# ONNX files are protobuf ModelProto messages; writers put ir_version (field 1) first, then one of
# producer_name, producer_version, domain, model_version, doc_string, graph or opset_import.
_ONNX_SECOND_TAGS: Final = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42})
# Offset of joblib's zlib stream in its pre-0.10 files: "ZF", then the length in hex padded to 19.
JOBLIB_ZLIB_OFFSET: Final = 21
_LARGEST_SAFETENSORS_HEADER: Final = 100_000_000  # the safetensors library's limit


class Found(NamedTuple):
    format: str  # a key of NAMES
    detail: str = ""  # e.g. "version 3", shown after the name


def is_npy(head: bytes) -> bool:
    return head.startswith(_NPY_MAGIC)


def is_zip(head: bytes) -> bool:
    """What torch.load and numpy.load take for a zip: a local header or an empty archive first."""
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))


def is_pickle_header(head: bytes) -> bool:
    """Whether the bytes open with PROTO 2-5, the header pickles have had since protocol 2 (or
    with the PROTO byte alone, cut short after it).

    Protocols 0 and 1 write no header; unpicklers refuse protocols above 5."""
    return head[:1] == b"\x80" and (len(head) == 1 or 2 <= head[1] <= 5)


def compression(head: bytes) -> tuple[str, int] | None:
    """The compression a loader would undo (joblib.load does, by these magic bytes) and the
    offset of the compressed stream; None when the head matches none.

    A match is only a candidate: the caller checks that the stream really decompresses."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip", 0
    if head.startswith(b"BZh"):
        return "bz2", 0
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz", 0
    if head.startswith(b"\x5d\x00"):  # lzma's "alone" format, as joblib writes and detects it
        return "lzma", 0
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4", 0
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd", 0
    if head.startswith(b"ZF"):
        offset = JOBLIB_ZLIB_OFFSET + (head[JOBLIB_ZLIB_OFFSET : JOBLIB_ZLIB_OFFSET + 1] == b" ")
        if _is_zlib_header(head[offset : offset + 2]):
            return "joblib-zlib", offset
    if _is_zlib_header(head[:2]):
        return "zlib", 0
    return None


def _is_zlib_header(pair: bytes) -> bool:
    # RFC 1950: deflate with a window of at most 32 KiB, and a check value over the two bytes.
    return len(pair) == 2 and pair[0] & 0x0F == 8 and pair[0] >> 4 <= 7 and int.from_bytes(pair, "big") % 31 == 0


def decompresses(kind: str, stream_head: bytes) -> bool:
    """Whether ``stream_head`` (the first bytes of a candidate stream) starts a valid stream of
    ``kind``: a text file that happens to begin with 'x' or 'BZh' is not compressed."""
    decompressor: zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor
    if kind == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif kind in ("zlib", "joblib-zlib"):
        decompressor = zlib.decompressobj()
    elif kind == "bz2":
        decompressor = bz2.BZ2Decompressor()
    elif kind in ("xz", "lzma"):
        decompressor = lzma.LZMADecompressor(lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE)
    else:
        return True  # lz4 and zstd are not undone here; their magic numbers are long enough
    try:
        decompressor.decompress(stream_head, 1)
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
        return False
    return True


def identify(head: bytes, size: int | None) -> Found:
    """Name a file that holds no pickle, archive or compressed stream, from its head (``size``:
    of the whole file, None when unknown, as for a decompressed stream)."""
    if not head:
        return Found("empty")
    if head.startswith(b"GGUF") and len(head) >= 8:
        return Found("gguf", f"version {struct.unpack_from('<I', head, 4)[0]}")
    if head[:4] in _GGML_MAGICS:
        return Found("ggml", _GGML_MAGICS[head[:4]])
    if head.startswith(_MEGATRON_INDEX_MAGIC):
        return Found("megatron-index")
    if head.startswith(_HDF5_MAGIC):
        return Found("hdf5")
    spec = _ctranslate2_spec(head)
    if spec is not None:
        return Found("ctranslate2", spec)
    if _looks_like_onnx(head):
        return Found("onnx")
    if looks_like_safetensors(head, size):
        return Found("safetensors")
    if _looks_like_text(head):
        return Found("text")
    return Found("unknown")


def looks_like_safetensors(head: bytes, size: int | None) -> bool:
    """An 8-byte little-endian header length that fits the file, then a JSON object."""
    if len(head) < 9 or head[8:9] != b"{":
        return False
    header_size: int = struct.unpack_from("<Q", head)[0]
    return header_size <= (size - 8 if size is not None else _LARGEST_SAFETENSORS_HEADER)


def _ctranslate2_spec(head: bytes) -> str | None:
    """The model spec a CTranslate2 ``model.bin`` names after its binary version.

    Layout (version 2 and later): uint32 binary version, uint16 length of the spec name
    including its NUL, the name, NUL, uint32 spec revision, uint32 number of variables."""
    if len(head) < 6:
        return None
    version, name_length = struct.unpack_from("<IH", head)
    if not 2 <= version <= 32 or not 2 <= name_length <= 128 or len(head) < 6 + name_length + 4:
        return None
    name = head[6 : 6 + name_length]
    if name[-1] != 0 or not name[:-1].isascii() or not name[:-1].replace(b"_", b"").isalnum():
        return None
    return f"{name[:-1].decode('ascii')}, binary version {version}"


def _looks_like_onnx(head: bytes) -> bool:
    if head[:1] != b"\x08":
        return False
    index, ir_version, shift = 1, 0, 0
    while index < len(head) and index < 6:
        byte = head[index]
        ir_version |= (byte & 0x7F) << shift
        shift += 7
        index += 1
        if not byte & 0x80:
            break
    return 1 <= ir_version <= 64 and index < len(head) and head[index] in _ONNX_SECOND_TAGS


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head may end inside a multi-byte character.
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True
