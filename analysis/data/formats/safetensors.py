"""safetensors files: a JSON header checked against the file, then raw tensors."""

from __future__ import annotations

import json
import mmap
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.data.formats.common import (
    _MIB,
    _check_array_declared,
    _err,
    _Options,
    _Raw,
    _Source,
    _wrong_format,
)
from analysis.data.formats.containers import _Entry, _find_label_key, _ignored_note, _pick_key
from analysis.data.runs import _ST_DTYPES

# Same bound as runs.py: a longer safetensors header is not an embedding file.
_ST_MAX_HEADER = 100 * _MIB


# safetensors dtypes we read; BF16 is kept as raw uint16 bits and widened later.
_ST_READ_DTYPES = {**_ST_DTYPES, "BF16": np.dtype("<u2")}


# ---- safetensors


@dataclass
class _StTensor:
    dtype_name: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _parse_safetensors(buf: Any, size: int, fname: str) -> tuple[dict[str, _StTensor], dict, int]:
    """Parse and validate a safetensors header held in `buf` (bytes or an mmap).

    The same checks as `analysis.data.runs.read_safetensors_header`, on a buffer
    rather than a path (uploads arrive as bytes) and with BF16 accepted.
    """
    if size < 8:
        raise _err(fname, "is truncated: shorter than the 8-byte safetensors header length.")
    (header_len,) = struct.unpack_from("<Q", buf, 0)
    if header_len > min(_ST_MAX_HEADER, size - 8):
        raise _err(
            fname,
            f"declares a {header_len}-byte header in a {size}-byte file: it is truncated or not "
            "a safetensors file. Save it again with safetensors.",
        )
    try:
        header = json.loads(bytes(buf[8 : 8 + header_len]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _err(fname, f"the safetensors header is not valid JSON ({exc}).") from None
    if not isinstance(header, dict):
        raise _err(fname, "the safetensors header is not a JSON object; the file is corrupt.")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise _err(fname, "the safetensors __metadata__ is not a JSON object; the file is corrupt.")
    data_start = 8 + header_len
    data_len = size - data_start
    tensors: dict[str, _StTensor] = {}
    for tname, info in header.items():
        try:
            dtype_name = str(info["dtype"])
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise _err(
                fname, f"tensor {tname!r} has a malformed header entry; the file is corrupt."
            ) from None
        if dtype_name not in _ST_READ_DTYPES:
            raise _err(
                fname,
                f"tensor {tname!r} has dtype {dtype_name}, which RepLens does not read. Convert "
                f"it to float32 before saving (readable: {', '.join(sorted(_ST_READ_DTYPES))}).",
            )
        count = 1
        for s in shape:
            count *= s  # Python ints: no overflow
        expected = count * _ST_READ_DTYPES[dtype_name].itemsize
        if (
            any(s < 0 for s in shape)
            or end - begin != expected
            or not 0 <= begin <= end <= data_len
        ):
            raise _err(
                fname,
                f"tensor {tname!r} declares shape {list(shape)} ({expected} bytes) but its data "
                f"range [{begin}, {end}) does not fit the {data_len}-byte body: the file is "
                "truncated or corrupt. Save it again.",
            )
        tensors[str(tname)] = _StTensor(dtype_name, shape, begin, end)
    return tensors, meta, data_start


def _st_array(buf: Any, t: _StTensor, data_start: int) -> np.ndarray:
    dtype = _ST_READ_DTYPES[t.dtype_name]
    count = (t.end - t.begin) // dtype.itemsize
    return np.frombuffer(buf, dtype=dtype, count=count, offset=data_start + t.begin).reshape(
        t.shape
    )


def _bf16_to_float32(bits: np.ndarray) -> np.ndarray:
    """Widen raw bfloat16 bits (uint16) to float32 exactly: bf16 is float32's top half."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _st_dtype_label(t: _StTensor) -> str:
    return (
        "bfloat16"
        if t.dtype_name == "BF16"
        else str(_ST_READ_DTYPES[t.dtype_name].newbyteorder("="))
    )


def _read_safetensors(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if len(head) < 9 or head[8:9] != b"{":
        raise _wrong_format(src, ".safetensors", src.head())
    if src.path is not None:
        with open(src.path, "rb") as fh:
            # The mmap outlives the handle; arrays keep it alive through .base.
            buf: Any = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        mapped = True
    else:
        buf, mapped = src.data, False
    tensors, meta, data_start = _parse_safetensors(buf, src.size, src.name)
    if "replens" in meta:
        raise _err(
            src.name,
            "is a RepLens run (several layers and checkpoints), not a single embedding. Load it "
            "with analysis.data.load_run (the app and the `replens` CLI detect runs by themselves).",
        )
    entries = {
        k: _Entry(
            t.shape,
            "f" if t.dtype_name == "BF16" else _ST_READ_DTYPES[t.dtype_name].kind,
            _st_dtype_label(t),
        )
        for k, t in tensors.items()
    }
    chosen = _pick_key(entries, opts.key, src.name)
    t = tensors[chosen]
    what = f"tensor {chosen!r}"
    storage = _ST_READ_DTYPES[t.dtype_name]
    _check_array_declared(
        t.shape,
        np.dtype(np.float32) if t.dtype_name == "BF16" else storage,
        src.name,
        opts.pooling,
        what,
    )
    arr = _st_array(buf, t, data_start)
    cast_from = None
    if t.dtype_name == "BF16":
        arr, cast_from, mapped = _bf16_to_float32(arr), "bfloat16", False
    notes: list[str] = []
    labels = labels_from = None
    label_key = None if opts.labels_given else _find_label_key(entries, chosen, t.shape[0], notes)
    if label_key is not None:
        lt = tensors[label_key]
        labels = _st_array(buf, lt, data_start).reshape(-1)
        if lt.dtype_name == "BF16":
            labels = _bf16_to_float32(labels)
        labels_from = f"{src.name}[{label_key!r}]"
    notes += _ignored_note(entries, {chosen, label_key} - {None})  # type: ignore[arg-type]
    return _Raw(
        array=arr,
        original_dtype=_st_dtype_label(t),
        memory_mapped=mapped,
        key=chosen if len(entries) > 1 or opts.key else None,
        cast_from=cast_from,
        labels=labels,
        labels_from=labels_from,
        notes=notes,
    )
