"""Shared pieces of the format readers: errors, sources, sniffing and checks.

See `analysis.data.loaders` for the safety rules these checks enforce.
"""

from __future__ import annotations

import codecs
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import polars as pl

from analysis.data.limits import format_bytes, memory_budget_bytes

_MIB = 1024**2
_HEAD_BYTES = 64 * 1024


# Names that make a container entry (npz/safetensors/pt key) the labels.
_LABEL_KEYS = frozenset({"labels", "label", "y"})
# Names that make a table column the labels when no labels were asked for.
_LABEL_COLUMNS = frozenset({"label", "labels", "class", "target"})
# Row-id columns: metadata, never embedding dimensions.
_INDEX_COLUMNS = frozenset({"", "id", "index", "unnamed: 0"})


# --------------------------------------------------------------------------- sources


def _err(fname: str, message: str) -> ValueError:
    return ValueError(f"{fname}: {message}")


def _short(name: object, limit: int = 80) -> str:
    """repr of a name from a file, cut short: a hostile file can hold 64 KB member names."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _names_text(names: Sequence[object], limit: int = 5) -> str:
    """The first few names and how many more: an archive can hold thousands of members."""
    names = list(names)
    shown = ", ".join(_short(n) for n in names[:limit])
    more = len(names) - limit
    return shown + (f" ... and {more} more" if more > 0 else "") if names else "none"


@dataclass
class _Source:
    """A file to read: a path on disk, or the bytes of an upload."""

    name: str
    ext: str
    size: int
    path: Path | None = None
    data: bytes | bytearray | memoryview | None = None

    def head(self, n: int = _HEAD_BYTES) -> bytes:
        if self.data is not None:
            return bytes(self.data[:n])
        with open(self.path, "rb") as fh:  # type: ignore[arg-type]
            return fh.read(n)

    def tail(self, n: int) -> bytes:
        if self.data is not None:
            return bytes(self.data[max(0, self.size - n) :])
        with open(self.path, "rb") as fh:  # type: ignore[arg-type]
            fh.seek(max(0, self.size - n))
            return fh.read(n)

    def read_all(self) -> bytes | bytearray | memoryview:
        if self.data is not None:
            return self.data
        return self.path.read_bytes()  # type: ignore[union-attr]

    def read_at(self, offset: int, n: int) -> bytes:
        if self.data is not None:
            return bytes(memoryview(self.data)[offset : offset + n])
        with open(self.path, "rb") as fh:  # type: ignore[arg-type]
            fh.seek(offset)
            return fh.read(n)

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        return open(self.path, "rb")  # type: ignore[arg-type]


def _sniff(head: bytes, size: int) -> str | None:
    """Name what the first bytes of a file look like, for 'wrong format' messages."""
    if head.startswith(b"\x93NUMPY"):
        return "a .npy array"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "a zip archive (.npz or .pt)"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle (e.g. a legacy torch.save file)"
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= size - 8:
            return "a safetensors file"
    if b"\x00" not in head:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            return "a text file (e.g. CSV)"
        except UnicodeDecodeError:
            pass
    return None


def _wrong_format(src: _Source, expected: str, head: bytes) -> ValueError:
    looks = _sniff(head, src.size)
    what = (
        f"its first bytes look like {looks}"
        if looks
        else "its first bytes match no supported format (it may be corrupt or truncated)"
    )
    return _err(
        src.name,
        f"is not a valid {expected} file; {what}. Give the file its right extension, "
        "or save the data again in the format its name says.",
    )


# --------------------------------------------------------------------------- checks


def _check_budget(fname: str, nbytes: int, what: str) -> None:
    budget = memory_budget_bytes()
    if nbytes > budget:
        raise _err(
            fname,
            f"{what} declares {format_bytes(nbytes)}, above the memory budget of "
            f"{format_bytes(budget)}. Load a subset of the rows, or raise the budget with the "
            "REPLENS_MEMORY_BUDGET environment variable (e.g. REPLENS_MEMORY_BUDGET=16GB).",
        )


def _check_dtype(dtype: np.dtype, fname: str, what: str = "", *, strings_ok: bool = False) -> None:
    """Refuse dtypes that are not plain numbers (strings allowed for labels only)."""
    kind = dtype.kind
    if kind in "biuf" and dtype.names is None and dtype.shape == ():
        return
    if strings_ok and kind in "US":
        return
    prefix = f"{what} " if what else ""
    if kind == "O":
        raise _err(
            fname,
            f"{prefix}holds Python objects (dtype object). Reading them would mean unpickling, "
            "which can run arbitrary code, so RepLens never does. Save a plain numeric array "
            "instead, e.g. np.save(path, np.asarray(X, dtype=np.float32)).",
        )
    if kind == "V" or dtype.names is not None or dtype.shape != ():
        raise _err(
            fname,
            f"{prefix}has a structured (record) dtype {dtype}. Save a plain numeric array of "
            "shape (n_samples, n_features) instead.",
        )
    if kind == "c":
        raise _err(
            fname,
            f"{prefix}holds complex numbers ({dtype}). Convert to real values first "
            "(e.g. np.abs(X) or np.concatenate([X.real, X.imag], axis=1)).",
        )
    if kind in "US":
        raise _err(
            fname,
            f"{prefix}holds strings ({dtype}), not numbers. The embedding must be numeric; "
            "pass text as labels or metadata.",
        )
    if kind in "Mm":
        raise _err(fname, f"{prefix}holds dates or times ({dtype}), not vectors.")
    raise _err(fname, f"{prefix}has the unsupported dtype {dtype}; save float32 numbers.")


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_shape(shape: Sequence[int], fname: str, pooling: str | None, what: str = "") -> None:
    """Refuse shapes that are not (n, d) or (n, tokens, d) with n >= 2 and d >= 1."""
    shape = tuple(int(s) for s in shape)
    prefix = f"{what} " if what else "the array "
    text = _shape_text(shape)
    if any(s < 0 for s in shape):
        raise _err(fname, f"{prefix}declares the impossible shape {text}; the file is corrupt.")
    if len(shape) == 0:
        raise _err(
            fname,
            f"{prefix}is a single number (0-d), not a matrix. Save an array of shape "
            "(n_samples, n_features).",
        )
    if len(shape) == 1:
        raise _err(
            fname,
            f"{prefix}is 1-D with shape {text}. An embedding is 2-D (n_samples, n_features): "
            "for one feature per sample reshape it with X.reshape(-1, 1); if these are "
            "labels, pass them with labels=.",
        )
    if len(shape) > 3:
        raise _err(
            fname,
            f"{prefix}is {len(shape)}-D with shape {text}. RepLens reads (n_samples, "
            "n_features) or (n_samples, tokens, n_features); reshape or select the "
            "activations you want first.",
        )
    if len(shape) == 3 and pooling is None:
        raise _err(
            fname,
            f"{prefix}holds 3-D activations of shape {text} (samples, tokens, features). "
            "Choose how to reduce the token axis: pooling='mean' (average of the tokens), "
            "pooling='last' (the last token) or pooling='flatten' (concatenate the tokens "
            f"into {shape[1]} x {shape[2]} = {shape[1] * shape[2]} features).",
        )
    if shape[0] < 2:
        raise _err(
            fname,
            f"{prefix}has shape {text}: {shape[0]} sample(s). At least 2 samples (rows) are "
            "needed; check that the array is (n_samples, n_features) and not transposed.",
        )
    if any(s < 1 for s in shape[1:]):
        raise _err(
            fname, f"{prefix}has shape {text}: no features. Each row needs at least one value."
        )


def _pooled_nbytes(shape: Sequence[int], pooling: str | None) -> int:
    """Bytes of the float32 matrix that pooling `shape` produces."""
    n = int(shape[0])
    if len(shape) == 3:
        d = int(shape[1]) * int(shape[2]) if pooling == "flatten" else int(shape[2])
    else:
        d = int(np.prod([int(s) for s in shape[1:]], dtype=object)) if len(shape) > 1 else 1
    return n * d * 4


def _check_array_declared(
    shape: Sequence[int], dtype: np.dtype, fname: str, pooling: str | None, what: str = ""
) -> None:
    """Shape, dtype and budget checks on a declared array, before anything is read."""
    _check_dtype(dtype, fname, what)
    _check_shape(shape, fname, pooling, what)
    count = 1
    for s in shape:
        count *= int(s)  # Python ints: an absurd shape cannot overflow into a small number
    label = what or "the array"
    _check_budget(fname, count * dtype.itemsize, f"{label} of shape {_shape_text(shape)} ({dtype})")
    _check_budget(fname, _pooled_nbytes(shape, pooling), f"{label} as float32")


# --------------------------------------------------------------------------- readers


@dataclass
class _Raw:
    """What a format reader found, before the shared pipeline casts and checks it."""

    array: Any  # ndarray of 2 or 3 dims
    original_dtype: str
    memory_mapped: bool = False
    key: str | None = None
    cast_from: str | None = None  # set by readers that already widened (bfloat16)
    labels: Any = None
    labels_from: str | None = None
    metadata: pl.DataFrame | None = None
    metadata_columns: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


@dataclass
class _Options:
    key: str | None
    pooling: str | None
    label_column: str | None
    embedding_column: str | Sequence[str] | None
    metadata_columns: Sequence[str] | None
    labels_given: bool
