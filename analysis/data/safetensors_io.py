"""The one safetensors reader: a validated header, then zero-copy tensor views.

Used by `analysis.data.runs` (RepLens runs) and by the embedding loader
(`analysis.data.formats.safetensors`). Parsing the 8-byte length and the JSON
header by hand (the format is that simple) lets us check every declared shape
against the real size before touching any tensor, and serve tensors as views of
an mmap or of uploaded bytes; safetensors' own numpy API copies.
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.data.limits import format_bytes, memory_budget_bytes

# safetensors dtype names -> numpy dtypes (little-endian by the format's definition).
# BF16 has no numpy dtype: it is served as its raw uint16 bits (see `bf16_to_float32`).
ST_DTYPES: dict[str, np.dtype] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),
}
# A longer header is not an embedding or run file (and would be a memory trap).
MAX_HEADER_BYTES = 100 * 1024**2


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header declares it; offsets are relative to the data start."""

    dtype_name: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def storage(self) -> np.dtype:
        return ST_DTYPES[self.dtype_name]


def parse_header(
    buf: Any, size: int, label: str, *, check_budget: bool = True
) -> tuple[dict[str, TensorEntry], dict[str, str], int]:
    """Validate the header held at the start of `buf` (bytes or an mmap of `size` bytes).

    Returns (tensors by name, the ``__metadata__`` strings, data start offset).
    Every message starts with `label` (the file name). With `check_budget`, a
    tensor declaring more bytes than the memory budget is refused here;
    callers that pool or cast check their own budget instead.
    """
    if size < 8:
        raise ValueError(f"{label}: file is empty or truncated (not a safetensors file).")
    (header_len,) = struct.unpack_from("<Q", buf, 0)
    if header_len > min(MAX_HEADER_BYTES, size - 8):
        raise ValueError(
            f"{label}: declares a {header_len}-byte header in a {size}-byte file; it is "
            "truncated or not a safetensors file. Save it again with safetensors."
        )
    try:
        header = json.loads(bytes(buf[8 : 8 + header_len]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{label}: the safetensors header is not valid JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise ValueError(f"{label}: the safetensors header is not a JSON object; the file is corrupt.")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{label}: the safetensors __metadata__ is not a JSON object; the file is corrupt.")
    data_start = 8 + header_len
    data_len = size - data_start
    tensors: dict[str, TensorEntry] = {}
    for name, info in header.items():
        try:
            dtype_name = str(info["dtype"])
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{label}: tensor {name!r} has a malformed header entry; the file is corrupt.") from None
        if dtype_name not in ST_DTYPES:
            raise ValueError(
                f"{label}: tensor {name!r} has dtype {dtype_name}, which RepLens does not read. Convert "
                f"it to float32 before saving (readable: {', '.join(sorted(ST_DTYPES))})."
            )
        # Python ints: an int64 product of a hostile shape can overflow to 0.
        expected = math.prod(shape) * ST_DTYPES[dtype_name].itemsize
        if check_budget and expected > memory_budget_bytes():
            raise ValueError(
                f"{label}: tensor {name!r} declares shape {list(shape)} ({format_bytes(expected)}), "
                f"over the memory budget of {format_bytes(memory_budget_bytes())}. "
                "Raise REPLENS_MEMORY_BUDGET if this is intended."
            )
        if any(s < 0 for s in shape) or end - begin != expected or not 0 <= begin <= end <= data_len:
            raise ValueError(
                f"{label}: tensor {name!r} declares shape {list(shape)} ({expected} bytes) but its data "
                f"range [{begin}, {end}) does not fit the {data_len}-byte body: the file is "
                "truncated or corrupt. Save it again."
            )
        tensors[str(name)] = TensorEntry(dtype_name, shape, begin, end)
    return tensors, meta, data_start


def tensor_view(buf: Any, entry: TensorEntry, data_start: int) -> np.ndarray:
    """A zero-copy view of one validated tensor (BF16 as raw uint16 bits)."""
    count = (entry.end - entry.begin) // entry.storage.itemsize
    arr = np.frombuffer(buf, dtype=entry.storage, count=count, offset=data_start + entry.begin)
    return arr.reshape(entry.shape)


def bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (uint16) to float32 exactly: bf16 is float32's top half."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def map_file(path: str | Path) -> tuple[Any, int]:
    """Memory-map a file read-only; returns (buffer, size). An empty file gives b""."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:  # mmap refuses empty files; parse_header reports them
        return b"", 0
    with open(path, "rb") as fh:
        # The mmap outlives the handle; arrays keep it alive through .base.
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), size
