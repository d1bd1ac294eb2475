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
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.data.limits import format_bytes, memory_budget_bytes


def _short(value: Any, limit: int = 80) -> str:
    """repr cut short: names and values from a hostile header can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"

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


# A safetensors header nests three levels ({name: {"shape": [...]}}); JSON nested far
# deeper is hostile (json.loads recurses once per level and raises RecursionError).
_MAX_DEPTH = 4
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
# About 10 values per tensor: 10 million is a million tensors; 128 bytes bounds what
# json.loads builds per value (a key string, a dict slot, an int, a list slot).
_MAX_VALUES = 10_000_000
_BYTES_PER_VALUE = 128


def _check_structure(raw: bytes, label: str) -> None:
    """Refuse JSON nested deeper than `_MAX_DEPTH`, or of more values than the budget
    allows json.loads to build, before json.loads sees it.

    The strings are dropped (in C, linear) and the separators counted: each value costs
    json.loads up to ~`_BYTES_PER_VALUE` of Python objects (a 100 MB header of "0," is
    50 million of them). Then everything but brackets is deleted and each pass removes
    the innermost pairs, so `_MAX_DEPTH` passes empty any header nested that deep or
    less. Unbalanced brackets are left to json.loads.
    """
    bare = _JSON_STRING.sub(b"", raw)
    values = bare.count(b",") + bare.count(b":") + 1
    # Never below 100,000 values (~13 MB of objects): a tiny budget still reads 10,000 tensors.
    limit = min(_MAX_VALUES, max(memory_budget_bytes() // _BYTES_PER_VALUE, 100_000))
    if values > limit:
        raise ValueError(
            f"{label}: the safetensors header holds about {values:,} JSON values, more than "
            f"the {limit:,} RepLens parses (a header needs about 10 per tensor); the file is "
            "corrupt or hostile. Save it again with safetensors."
        )
    skeleton = bare.translate(None, _NOT_BRACKET)
    del bare
    for _ in range(_MAX_DEPTH):
        skeleton, removed = _INNERMOST.subn(b"", skeleton)
        if not skeleton or not removed:
            return
    raise ValueError(
        f"{label}: the safetensors header nests its JSON more than {_MAX_DEPTH} levels deep "
        "(a valid header nests 3); the file is corrupt or hostile. Save it again with safetensors."
    )


def _count(value: Any) -> bool:
    """A JSON non-negative integer (not a bool, a float such as 2.5 or 2.0, or a string)."""
    return type(value) is int and value >= 0


def _entry(name: str, info: Any, label: str) -> tuple[str, tuple[int, ...], int, int]:
    """(dtype name, shape, begin, end) of one header entry, each checked for its type."""
    what = f"{label}: tensor {_short(name)}"
    if not isinstance(info, dict):
        raise ValueError(f"{what} has a malformed header entry (not a JSON object); the file is corrupt.")
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in info]
    if missing:
        raise ValueError(f"{what} has a malformed header entry (no {missing[0]!r}); the file is corrupt.")
    dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype_name, str):
        raise ValueError(f"{what} has a malformed dtype {_short(dtype_name)}; the file is corrupt.")
    if not isinstance(shape, list) or not all(_count(s) for s in shape):
        raise ValueError(
            f"{what} declares the shape {_short(shape)}: a shape is a list of whole numbers "
            ">= 0 (no fractions, booleans or negatives). The file is corrupt; save it again."
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(o) for o in offsets)):
        raise ValueError(
            f"{what} declares the data_offsets {_short(offsets)}: they must be two whole "
            "numbers >= 0, [begin, end). The file is corrupt; save it again."
        )
    return dtype_name, tuple(shape), offsets[0], offsets[1]


def parse_header(
    buf: Any, size: int, label: str, *, check_budget: bool = True
) -> tuple[dict[str, TensorEntry], dict[str, str], int]:
    """Validate the header held at the start of `buf` (bytes or an mmap of `size` bytes).

    Returns (tensors by name, the ``__metadata__`` strings, data start offset).
    Every message starts with `label` (the file name). With `check_budget`, a
    tensor declaring more bytes than the memory budget is refused here;
    callers that pool or cast check their own budget instead. Everything a
    malformed header can hold (JSON nested thousands deep, fractional or
    negative shapes, offsets that overlap, disagree with the shape or run past
    the file, metadata that is not strings) is a ValueError naming the tensor.
    """
    if size < 8:
        raise ValueError(f"{label}: file is empty or truncated (not a safetensors file).")
    (header_len,) = struct.unpack_from("<Q", buf, 0)
    if header_len > min(MAX_HEADER_BYTES, size - 8):
        raise ValueError(
            f"{label}: declares a {header_len}-byte header in a {size}-byte file; it is "
            "truncated or not a safetensors file. Save it again with safetensors."
        )
    raw = bytes(buf[8 : 8 + header_len])
    _check_structure(raw, label)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{label}: the safetensors header is not valid JSON ({exc}).") from None
    except RecursionError:  # unreachable after _check_structure; kept as the last line of defence
        raise ValueError(f"{label}: the safetensors header nests too deeply; the file is corrupt.") from None
    del raw
    if not isinstance(header, dict):
        raise ValueError(f"{label}: the safetensors header is not a JSON object; the file is corrupt.")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{label}: the safetensors __metadata__ is not a JSON object; the file is corrupt.")
    for key, value in meta.items():
        if not isinstance(value, str):
            raise ValueError(
                f"{label}: the safetensors __metadata__ entry {_short(key)} is not a string "
                "(safetensors metadata maps strings to strings); the file is corrupt."
            )
    data_start = 8 + header_len
    data_len = size - data_start
    tensors: dict[str, TensorEntry] = {}
    for name, info in header.items():
        dtype_name, shape, begin, end = _entry(name, info, label)
        what = f"{label}: tensor {_short(name)}"
        if dtype_name not in ST_DTYPES:
            raise ValueError(
                f"{what} has dtype {dtype_name[:40]}, which RepLens does not read. Convert "
                f"it to float32 before saving (readable: {', '.join(sorted(ST_DTYPES))})."
            )
        # Python ints: an int64 product of a hostile shape can overflow to 0.
        expected = math.prod(shape) * ST_DTYPES[dtype_name].itemsize
        if check_budget and expected > memory_budget_bytes():
            raise ValueError(
                f"{what} declares shape {list(shape)} ({format_bytes(expected)}), "
                f"over the memory budget of {format_bytes(memory_budget_bytes())}. "
                "Raise REPLENS_MEMORY_BUDGET if this is intended."
            )
        if not begin <= end <= data_len:
            raise ValueError(
                f"{what} declares shape {list(shape)} ({expected} bytes) but its data "
                f"range [{begin}, {end}) does not fit the {data_len}-byte body: the file is "
                "truncated or corrupt. Save it again."
            )
        if end - begin != expected:
            raise ValueError(
                f"{what} declares shape {list(shape)} ({expected} bytes) of {dtype_name}, but its "
                f"data_offsets [{begin}, {end}) span {end - begin} bytes: the header is corrupt. "
                "Save the file again."
            )
        tensors[name] = TensorEntry(dtype_name, shape, begin, end)
    _check_disjoint(tensors, label)
    return tensors, meta, data_start


def _check_disjoint(tensors: dict[str, TensorEntry], label: str) -> None:
    """Refuse tensors whose byte ranges overlap (one write would show through another)."""
    spans = sorted((e.begin, e.end, name) for name, e in tensors.items() if e.end > e.begin)
    for (_, prev_end, prev), (begin, _, name) in zip(spans, spans[1:], strict=False):
        if begin < prev_end:
            raise ValueError(
                f"{label}: tensors {_short(prev)} and {_short(name)} share bytes (their "
                f"data_offsets overlap at {begin}); each tensor needs its own range. The file "
                "is corrupt or hostile; save it again with safetensors."
            )


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
