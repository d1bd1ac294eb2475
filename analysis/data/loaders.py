"""Safe loaders for a single embedding (DESIGN.md sections 2 and 5).

`load_embedding` reads one matrix of vectors, with optional labels and
per-sample metadata, from a path or from the bytes of an upload, and returns an
`Embedding`. `load_embedding_report` returns the same `Embedding` plus a
`LoadReport` that says what was done on the way (casts, pooling, dropped rows,
memory mapping), which the app and the CLI show to the user.

Safety rules, in force for every format:

- Nothing is ever unpickled or executed. ``.npy`` headers are parsed with
  numpy's literal-only header reader and object dtypes are refused before any
  data is read; ``.pt`` archives are checked from the zip directory first and
  then read with ``torch.load(weights_only=True)``; safetensors and parquet
  carry no code at all.
- Declared sizes (npy header, zip directory, safetensors header, parquet
  footer) are checked against `memory_budget_bytes()` before anything is
  allocated, and against the file's real size so a truncated file is a clear
  error rather than a crash.
- Every problem is a ``ValueError`` whose message starts with the file name and
  says what is wrong and how to fix it.

Choices worth knowing (each is also in the docstrings):

- Dtypes: bool/int/uint/float16/float64 are cast to float32 with
  ``dtype_policy="cast"`` (recorded in the report) or refused with
  ``"refuse"``. Big-endian float32 is byte-swapped to native order (a copy, but
  not a change of value, so it is allowed under either policy). bfloat16
  tensors (safetensors and .pt) are widened to float32 exactly (a cast all the
  same: ``"refuse"`` refuses them).
- CSV: a first row that holds only numbers (or empty cells) is data, not a
  header; headerless columns are named ``column_0``, ``column_1``, ... Empty
  cells are an error (they are not silently turned into NaN); write ``NaN`` in
  the cell and pass ``nonfinite="drop"`` to drop such rows instead.
- Tables: columns named ``label``, ``labels``, ``class`` or ``target`` are taken
  as labels when neither ``labels`` nor ``label_column`` is given (not ``y``,
  which is as often a coordinate); columns named ``id``, ``index``,
  ``Unnamed: 0`` or with an empty name are row ids, kept as metadata and never
  used as embedding dimensions.
- 3-D activations (n, tokens, d) need ``pooling``; "mean" averages every token
  (padding included: RepLens cannot know which tokens are padding).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import mmap
import os
import pickle
import struct
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import numpy as np
import polars as pl

from analysis.data.limits import UPLOAD_LIMIT_MB, format_bytes, memory_budget_bytes
from analysis.data.runs import _ST_DTYPES
from analysis.data.schema import Embedding, _check_labels, encode_labels

__all__ = [
    "SUPPORTED_FORMATS",
    "LABEL_FORMATS",
    "LoadReport",
    "load_embedding",
    "load_embedding_report",
    "require_classes",
]

#: Embedding file formats, extension -> description (what the app's uploader accepts).
SUPPORTED_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        ".npy": "NumPy array (numpy.save)",
        ".npz": "NumPy archive of arrays (numpy.savez / savez_compressed)",
        ".csv": "CSV table: numeric columns, optional label and metadata columns",
        ".parquet": "Parquet table: an embedding list column or numeric columns",
        ".safetensors": "safetensors file of tensors",
        ".pt": "PyTorch tensors or a dict/list of tensors (torch.save)",
        ".pth": "PyTorch tensors or a dict/list of tensors (torch.save)",
    }
)
#: Formats a separate labels file may have.
LABEL_FORMATS: Mapping[str, str] = MappingProxyType(
    {
        ".npy": "NumPy array of shape (n,) (codes or strings)",
        ".csv": "CSV with one column (optionally with a header)",
        ".txt": "text, one label per line",
        ".parquet": "Parquet with one column (or one named 'label')",
    }
)

POOLING_CHOICES = ("mean", "last", "flatten")
_MIB = 1024**2
_HEAD_BYTES = 64 * 1024
# numpy's own default; a longer header is either corrupt or a trap for literal_eval.
_NPY_MAX_HEADER = 10_000
# Same bound as runs.py: a longer safetensors header is not an embedding file.
_ST_MAX_HEADER = 100 * _MIB
# Deflate tops out near 1032:1, reached only by runs of one byte: a declared ratio above
# 1000:1 is a zip bomb (or all-zero data, useless as an embedding). Tiny members are
# exempt because their ratios mean nothing.
_MAX_ZIP_RATIO = 1000
_ZIP_RATIO_MIN_BYTES = _MIB
# Names that make a container entry (npz/safetensors/pt key) the labels.
_LABEL_KEYS = frozenset({"labels", "label", "y"})
# Names that make a table column the labels when no labels were asked for.
_LABEL_COLUMNS = frozenset({"label", "labels", "class", "target"})
# Row-id columns: metadata, never embedding dimensions.
_INDEX_COLUMNS = frozenset({"", "id", "index", "unnamed: 0"})
# safetensors dtypes we read; BF16 is kept as raw uint16 bits and widened later.
_ST_READ_DTYPES = {**_ST_DTYPES, "BF16": np.dtype("<u2")}


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class LoadReport:
    """What `load_embedding_report` did to turn a file into an `Embedding`.

    Attributes
    ----------
    source : str
        The file name shown in messages (the upload's name for bytes).
    format : str
        ``"npy"``, ``"npz"``, ``"csv"``, ``"parquet"``, ``"safetensors"`` or ``"pt"``.
    original_shape : tuple of int
        Shape of the array as stored (before pooling and dropping rows).
    original_dtype : str
        Its dtype as stored (``"bfloat16"`` for bfloat16 tensors).
    shape : tuple of int
        Shape of the returned ``Embedding.X``.
    cast_from : str or None
        The dtype converted to float32, or None when it already was float32.
    pooling : str or None
        The pooling applied to 3-D activations.
    dropped_nonfinite_rows : int
        Rows dropped because they held NaN/Inf (``nonfinite="drop"``).
    dropped_row_indices : tuple of int
        Their indices in the file, so that a separate per-row table (e.g.
        metadata uploaded beside the embedding) can drop the same rows.
    memory_mapped : bool
        Whether ``Embedding.X`` is a memory-mapped view of the file (no copy).
    key : str or None
        The array picked inside an npz/safetensors/pt container, or the
        embedding column of a table.
    labels_from : str or None
        Where the labels came from (a key, a column, a file, an array).
    metadata_columns : tuple of str
        The columns kept as ``Embedding.metadata``.
    notes : tuple of str
        Anything else the user should know (ignored keys, precision loss, ...).
    """

    source: str
    format: str
    original_shape: tuple[int, ...]
    original_dtype: str
    shape: tuple[int, ...]
    cast_from: str | None = None
    pooling: str | None = None
    dropped_nonfinite_rows: int = 0
    dropped_row_indices: tuple[int, ...] = ()
    memory_mapped: bool = False
    key: str | None = None
    labels_from: str | None = None
    metadata_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        for name in ("original_shape", "shape", "dropped_row_indices", "metadata_columns", "notes"):
            out[name] = list(out[name])
        return out


# --------------------------------------------------------------------------- sources


def _err(fname: str, message: str) -> ValueError:
    return ValueError(f"{fname}: {message}")


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

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        return open(self.path, "rb")  # type: ignore[arg-type]


def _open_source(source: Any, name: str | None, *, role: str = "source") -> _Source:
    """Turn a path, bytes or an upload object into a `_Source`, checking the basics."""
    if hasattr(source, "getvalue") and not isinstance(source, bytes | bytearray | memoryview):
        # Streamlit's UploadedFile and io.BytesIO: take their bytes and, if any, their name.
        name = name or getattr(source, "name", None)
        source = source.getvalue()
    if isinstance(source, bytes | bytearray | memoryview):
        if not name:
            raise ValueError(
                f"load_embedding: `{'labels_name' if role == 'labels' else 'name'}` (the uploaded "
                "file's name) is required when passing bytes, so the format can be told from its "
                "extension and messages can name the file."
            )
        display = Path(str(name)).name or str(name)
        size = memoryview(source).nbytes
        limit = UPLOAD_LIMIT_MB * _MIB
        if size > limit:
            raise _err(
                display,
                f"the upload is {format_bytes(size)}, above the {UPLOAD_LIMIT_MB} MB upload limit. "
                "Load it from a path with the `replens` CLI or the Python library instead.",
            )
        if size == 0:
            raise _err(display, "the file is empty (0 bytes). Upload the file again.")
        return _Source(name=display, ext=Path(display).suffix.lower(), size=size, data=source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        display = str(name) if name else path.name
        if not path.exists():
            raise _err(display, f"no such file ({path}). Check the path.")
        if path.is_dir():
            raise _err(display, f"{path} is a directory, not a file. Point to the file inside it.")
        size = path.stat().st_size
        if size == 0:
            raise _err(display, "the file is empty (0 bytes). Write it again.")
        return _Source(name=display, ext=path.suffix.lower(), size=size, path=path)
    raise TypeError(
        f"load_embedding: {role} must be a path (str or Path) or the bytes of an upload; "
        f"got {type(source).__name__}."
    )


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


@dataclass
class _NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int  # bytes from the start of the stream to the first data byte

    @property
    def count(self) -> int:
        count = 1
        for s in self.shape:
            count *= s
        return count

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize


def _read_npy_header(fh: BinaryIO, fname: str, what: str = "") -> _NpyHeader:
    """Parse a .npy header from `fh` (positioned at its start) without reading data.

    numpy's header readers evaluate only Python literals (never pickle), and the
    dtype they return is just a description, so an object dtype is seen and
    refused here before a byte of data is touched.
    """
    prefix = f"{what} " if what else ""
    start = fh.tell()
    try:
        version = np.lib.format.read_magic(fh)
    except (ValueError, EOFError):
        raise _err(
            fname,
            f"{prefix}does not start with the .npy magic bytes; it is not a .npy array "
            "(or is truncated). Save it again with numpy.save.",
        ) from None
    if version == (1, 0):
        reader = np.lib.format.read_array_header_1_0
    elif version == (2, 0):
        reader = np.lib.format.read_array_header_2_0
    else:
        raise _err(
            fname,
            f"{prefix}uses .npy format version {version[0]}.{version[1]}, which numpy writes only "
            "for structured arrays with non-Latin-1 field names. Save a plain numeric array.",
        )
    try:
        shape, fortran, dtype = reader(fh, max_header_size=_NPY_MAX_HEADER)
    except (ValueError, SyntaxError, TypeError, EOFError, OverflowError, KeyError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickle" in detail.lower():  # never relay numpy's hint to unpickle
            detail = "unreadable header"
        raise _err(
            fname,
            f"{prefix}has a corrupt or truncated .npy header ({detail}). Save the array again "
            "with numpy.save.",
        ) from None
    shape = tuple(int(s) for s in shape)
    return _NpyHeader(shape=shape, fortran=bool(fortran), dtype=dtype, offset=fh.tell() - start)


def _read_npy(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if not head.startswith(b"\x93NUMPY"):
        raise _wrong_format(src, ".npy", src.head())
    with src.open() as fh:
        hdr = _read_npy_header(fh, src.name)
    _check_array_declared(hdr.shape, hdr.dtype, src.name, opts.pooling)
    available = src.size - hdr.offset
    if available < hdr.nbytes:
        raise _err(
            src.name,
            f"the header declares shape {_shape_text(hdr.shape)} ({hdr.dtype}), "
            f"{hdr.nbytes} bytes of data, but only {available} bytes follow it: the file is "
            "truncated. Copy or save it again.",
        )
    if src.path is not None:
        try:
            # mmap_mode: the OS pages the data in on demand; nothing is copied.
            mapped = np.load(src.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise _err(src.name, f"could not be memory-mapped ({exc}).") from None
        return _Raw(array=np.asarray(mapped), original_dtype=str(hdr.dtype), memory_mapped=True)
    arr = np.frombuffer(src.data, dtype=hdr.dtype, count=hdr.count, offset=hdr.offset)  # type: ignore[arg-type]
    arr = arr.reshape(hdr.shape, order="F" if hdr.fortran else "C")
    return _Raw(array=arr, original_dtype=str(hdr.dtype))


# ---- containers (npz, safetensors, pt) share key selection


@dataclass
class _Entry:
    shape: tuple[int, ...]
    kind: str  # numpy dtype kind, 'f' for any float (bfloat16 included)
    dtype: str


def _listing(entries: Mapping[str, _Entry], limit: int = 20) -> str:
    items = [f"{k!r} {_shape_text(e.shape)} {e.dtype}" for k, e in list(entries.items())[:limit]]
    more = len(entries) - limit
    return ", ".join(items) + (f", and {more} more" if more > 0 else "")


def _pick_key(entries: Mapping[str, _Entry], key: str | None, fname: str) -> str:
    """Choose the embedding inside a container: `key`, or the only 2-D/3-D array."""
    if not entries:
        raise _err(fname, "holds no arrays. Save the embedding into it first.")
    if key is not None:
        if key not in entries:
            raise _err(fname, f"has no array named {key!r}. It holds: {_listing(entries)}.")
        return key

    def candidates(kinds: str) -> list[str]:
        return [
            k
            for k, e in entries.items()
            if len(e.shape) in (2, 3) and e.kind in kinds and k.lower() not in _LABEL_KEYS
        ]

    for kinds in ("f", "biu"):  # floats first: an int matrix beside them is codes, not vectors
        found = candidates(kinds)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise _err(
                fname,
                f"holds several arrays that could be the embedding: "
                f"{_listing({k: entries[k] for k in found})}. Pass key=... (e.g. key={found[0]!r}) "
                "to choose one.",
            )
    if len(entries) == 1:
        return next(iter(entries))  # its shape/dtype check gives the precise error
    raise _err(
        fname,
        f"holds no 2-D or 3-D numeric array to use as the embedding. It holds: "
        f"{_listing(entries)}. Pass key=... or save a (n_samples, n_features) float array.",
    )


def _find_label_key(
    entries: Mapping[str, _Entry], chosen: str, n: int, notes: list[str]
) -> str | None:
    """A key literally named labels/label/y whose length matches is used as the labels."""
    for k, e in entries.items():
        if k == chosen or k.lower() not in _LABEL_KEYS:
            continue
        if len(e.shape) == 1 or (len(e.shape) == 2 and e.shape[1] == 1):
            if e.shape[0] == n:
                return k
            notes.append(f"ignored {k!r}: it has {e.shape[0]} entries but there are {n} samples")
        else:
            notes.append(f"ignored {k!r} as labels: shape {_shape_text(e.shape)} is not (n,)")
    return None


def _ignored_note(entries: Mapping[str, Any], used: set[str]) -> list[str]:
    rest = [k for k in entries if k not in used]
    if not rest:
        return []
    shown = ", ".join(repr(k) for k in rest[:10]) + (" ..." if len(rest) > 10 else "")
    return [f"other arrays not loaded: {shown}"]


# ---- zip (npz, pt)


def _open_zip(src: _Source) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(src.path if src.path is not None else io.BytesIO(src.data))  # type: ignore[arg-type]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _err(
            src.name,
            f"is not a readable zip archive ({exc}); it is truncated or corrupt. Save it again.",
        ) from None


def _check_zip_directory(zf: zipfile.ZipFile, fname: str, *, compressed_ok: bool) -> None:
    """Check every member's declared size and compression before reading any of them."""
    budget = memory_budget_bytes()
    allowed = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED} if compressed_ok else {zipfile.ZIP_STORED}
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            raise _err(fname, f"member {info.filename!r} is encrypted; save the file unencrypted.")
        if info.compress_type not in allowed:
            if compressed_ok:
                raise _err(
                    fname,
                    f"member {info.filename!r} uses an unusual compression (method "
                    f"{info.compress_type}); save it again with numpy.savez or savez_compressed.",
                )
            raise _err(
                fname,
                f"member {info.filename!r} is compressed, but torch.save never compresses: this "
                "is not a plain torch.save archive. Save the tensors again with torch.save or "
                "use safetensors.",
            )
        if info.file_size > budget:
            raise _err(
                fname,
                f"member {info.filename!r} declares {format_bytes(info.file_size)} uncompressed, "
                f"above the memory budget of {format_bytes(budget)} (checked from the zip "
                "directory before reading). Save fewer rows, or raise REPLENS_MEMORY_BUDGET.",
            )
        if (
            info.compress_type != zipfile.ZIP_STORED
            and info.file_size >= _ZIP_RATIO_MIN_BYTES
            and info.file_size > _MAX_ZIP_RATIO * max(info.compress_size, 1)
        ):
            raise _err(
                fname,
                f"member {info.filename!r} declares {format_bytes(info.file_size)} from "
                f"{format_bytes(info.compress_size)} compressed, a ratio above "
                f"{_MAX_ZIP_RATIO}:1, the mark of a zip bomb (or of an array of nothing but "
                "zeros). Refusing to read it; save the data with numpy.savez (uncompressed).",
            )


def _zip_member_data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Absolute offset of a stored member's bytes, from its local file header."""
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(zipfile.sizeFileHeader)
    if len(local) < zipfile.sizeFileHeader or local[:4] != zipfile.stringFileHeader:
        raise ValueError("bad local file header")
    fields = struct.unpack(zipfile.structFileHeader, local)
    name_len = fields[zipfile._FH_FILENAME_LENGTH]
    extra_len = fields[zipfile._FH_EXTRA_FIELD_LENGTH]
    return info.header_offset + zipfile.sizeFileHeader + name_len + extra_len


def _read_zip_npy(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, hdr: _NpyHeader, src: _Source, what: str
) -> tuple[np.ndarray, bool]:
    """Read one npz member's array; memory-map it when stored uncompressed on disk."""
    shape_order = "F" if hdr.fortran else "C"
    if src.path is not None and info.compress_type == zipfile.ZIP_STORED:
        try:
            start = _zip_member_data_offset(src.path, info) + hdr.offset
        except (OSError, ValueError, struct.error):
            start = -1
        if 0 <= start and start + hdr.nbytes <= src.size:
            mapped = np.memmap(
                src.path,
                dtype=hdr.dtype,
                mode="r",
                offset=start,
                shape=hdr.shape,
                order=shape_order,
            )
            return np.asarray(mapped), True
    arr = np.empty(hdr.count, dtype=hdr.dtype)
    view = memoryview(arr).cast("B")
    got = 0
    try:
        with zf.open(info) as fh:
            fh.read(hdr.offset)  # skip the header parsed before
            while got < hdr.nbytes:
                k = fh.readinto(view[got:])
                if not k:
                    break
                got += k
            fh.read(1)  # reach the member's end so zipfile verifies its CRC
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _err(src.name, f"{what} is corrupt ({exc}). Save the file again.") from None
    if got < hdr.nbytes:
        raise _err(
            src.name,
            f"{what} declares {hdr.nbytes} bytes of data but holds {got}: it is truncated. "
            "Save the file again.",
        )
    return arr.reshape(hdr.shape, order=shape_order), False


def _read_npz(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if head.startswith(b"PK\x05\x06"):
        raise _err(src.name, "is an empty archive: it holds no arrays. Save the embedding into it.")
    if not head.startswith(b"PK\x03\x04"):
        raise _wrong_format(src, ".npz", src.head())
    notes: list[str] = []
    with _open_zip(src) as zf:
        _check_zip_directory(zf, src.name, compressed_ok=True)
        infos: dict[str, zipfile.ZipInfo] = {}
        headers: dict[str, _NpyHeader] = {}
        entries: dict[str, _Entry] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            if not info.filename.endswith(".npy"):
                notes.append(f"skipped {info.filename!r}: not a .npy member")
                continue
            k = info.filename[: -len(".npy")]
            try:
                with zf.open(info) as fh:
                    hdr = _read_npy_header(fh, src.name, f"array {k!r}")
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _err(
                    src.name, f"array {k!r} is corrupt ({exc}). Save the file again."
                ) from None
            if hdr.offset + hdr.nbytes > info.file_size:
                raise _err(
                    src.name,
                    f"array {k!r} declares shape {_shape_text(hdr.shape)} ({hdr.nbytes} bytes) "
                    f"but its member holds only {info.file_size - hdr.offset} bytes of data: the "
                    "file is truncated or corrupt. Save it again.",
                )
            infos[k], headers[k] = info, hdr
            entries[k] = _Entry(hdr.shape, hdr.dtype.kind, str(hdr.dtype))
        if not entries:
            raise _err(src.name, "holds no .npy arrays. Save the embedding with numpy.savez.")
        chosen = _pick_key(entries, opts.key, src.name)
        hdr = headers[chosen]
        what = f"array {chosen!r}"
        _check_array_declared(hdr.shape, hdr.dtype, src.name, opts.pooling, what)
        arr, mapped = _read_zip_npy(zf, infos[chosen], hdr, src, what)
        labels = labels_from = None
        label_key = (
            None if opts.labels_given else _find_label_key(entries, chosen, hdr.shape[0], notes)
        )
        if label_key is not None:
            lhdr = headers[label_key]
            _check_dtype(lhdr.dtype, src.name, f"labels {label_key!r}", strings_ok=True)
            labels, _ = _read_zip_npy(zf, infos[label_key], lhdr, src, f"labels {label_key!r}")
            labels = np.asarray(labels).reshape(-1)
            labels_from = f"{src.name}[{label_key!r}]"
        notes += _ignored_note(entries, {chosen, label_key} - {None})  # type: ignore[arg-type]
    return _Raw(
        array=arr,
        original_dtype=str(hdr.dtype),
        memory_mapped=mapped,
        key=chosen if len(entries) > 1 or opts.key else None,
        labels=labels,
        labels_from=labels_from,
        notes=notes,
    )


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


# ---- torch


def _pt_objects_error(fname: str) -> ValueError:
    return _err(
        fname,
        "contains Python objects other than tensors, which RepLens will not load because "
        "unpickling can run code. Save a dict of tensors (torch.save({'embedding': X, "
        "'labels': y}, path)) or use safetensors.",
    )


def _flatten_tensors(
    obj: Any, prefix: str, out: dict[str, Any], fname: str, depth: int = 0
) -> None:
    """Collect the tensors of a (nested) dict/list/tuple; anything else is refused."""
    import torch

    if depth > 32:
        raise _err(fname, "nests containers more than 32 levels deep; save a flat dict of tensors.")
    if isinstance(obj, torch.Tensor):
        out[prefix or "tensor"] = obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise _pt_objects_error(fname)
            _flatten_tensors(v, f"{prefix}/{k}" if prefix else str(k), out, fname, depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _flatten_tensors(v, f"{prefix}/{i}" if prefix else str(i), out, fname, depth + 1)
    elif obj is None or isinstance(obj, bool | int | float | str):
        pass  # plain values beside tensors (e.g. an epoch number) are harmless; not loaded
    else:
        raise _err(
            fname,
            f"contains a {type(obj).__name__} object, not only tensors. Save a dict of tensors "
            "(or use safetensors).",
        )


def _torch_kind(t: Any) -> tuple[str, str]:
    """(numpy-like kind, dtype text) of a tensor."""
    import torch

    text = str(t.dtype).removeprefix("torch.")
    if t.is_complex():
        return "c", text
    if t.dtype == torch.bool:
        return "b", text
    if t.is_floating_point():
        return "f", text
    return ("u" if text.startswith("uint") else "i"), text


def _tensor_to_numpy(t: Any, fname: str, what: str) -> tuple[np.ndarray, str | None]:
    """A tensor as a numpy array (shared memory when possible), bfloat16 widened."""
    import torch

    if t.layout != torch.strided:
        raise _err(fname, f"{what} is a sparse tensor ({t.layout}); save it dense (t.to_dense()).")
    if t.is_quantized:
        raise _err(fname, f"{what} is a quantized tensor; save it dequantized (t.dequantize()).")
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy(), "bfloat16"
    try:
        return t.numpy(), None
    except (TypeError, RuntimeError):
        raise _err(
            fname, f"{what} has dtype {t.dtype}, which numpy cannot hold; save it as float32."
        ) from None


def _read_pt(src: _Source, opts: _Options) -> _Raw:
    head = src.head(16)
    if not head.startswith(b"PK\x03\x04"):
        if len(head) >= 2 and head[0] == 0x80:
            raise _err(
                src.name,
                "is in PyTorch's legacy pickle format, which can only be read by unpickling (and "
                "that can run code). Re-save it with torch.save in the zip format (the default "
                "since PyTorch 1.6) or use safetensors.",
            )
        raise _wrong_format(src, ".pt", src.head())
    with _open_zip(src) as zf:
        names = zf.namelist()
        if any(
            n.endswith("/constants.pkl") or "/code/" in n or n.startswith("code/") for n in names
        ):
            raise _err(
                src.name,
                "is a TorchScript model, not tensors. Export the tensors you want (e.g. the "
                "activations) with safetensors or torch.save of a dict of tensors.",
            )
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise _err(
                src.name,
                "is a zip archive but not a torch.save file (no data.pkl). Save it with torch.save.",
            )
        _check_zip_directory(zf, src.name, compressed_ok=False)
        total = sum(i.file_size for i in zf.infolist())
        _check_budget(src.name, total, "the archive")
    import torch  # imported late: torch is slow to import and only .pt needs it

    try:
        if src.path is not None:
            # mmap=True maps tensor storages from the file instead of reading them.
            obj = torch.load(str(src.path), weights_only=True, map_location="cpu", mmap=True)
        else:
            obj = torch.load(io.BytesIO(src.data), weights_only=True, map_location="cpu")  # type: ignore[arg-type]
    except pickle.UnpicklingError:
        raise _pt_objects_error(src.name) from None
    except Exception as exc:  # torch raises RuntimeError & co. for corrupt archives
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in detail or "pickle" in detail.lower():
            raise _pt_objects_error(src.name) from None
        raise _err(
            src.name, f"could not be read as a torch.save archive ({detail[:200]}). Save it again."
        ) from None
    tensors: dict[str, Any] = {}
    _flatten_tensors(obj, "", tensors, src.name)
    entries = {
        k: _Entry(tuple(int(s) for s in t.shape), *_torch_kind(t)) for k, t in tensors.items()
    }
    chosen = _pick_key(entries, opts.key, src.name)
    entry = entries[chosen]
    what = f"tensor {chosen!r}"
    if entry.kind == "c":
        _check_dtype(np.dtype(np.complex64), src.name, what)
    _check_shape(entry.shape, src.name, opts.pooling, what)
    _check_budget(src.name, _pooled_nbytes(entry.shape, opts.pooling), f"{what} as float32")
    arr, cast_from = _tensor_to_numpy(tensors[chosen], src.name, what)
    _check_array_declared(arr.shape, arr.dtype, src.name, opts.pooling, what)
    notes: list[str] = []
    labels = labels_from = None
    label_key = (
        None if opts.labels_given else _find_label_key(entries, chosen, entry.shape[0], notes)
    )
    if label_key is not None:
        labels = _tensor_to_numpy(tensors[label_key], src.name, f"labels {label_key!r}")[0].reshape(
            -1
        )
        labels_from = f"{src.name}[{label_key!r}]"
    notes += _ignored_note(entries, {chosen, label_key} - {None})  # type: ignore[arg-type]
    return _Raw(
        array=arr,
        original_dtype=entry.dtype,
        memory_mapped=src.path is not None and cast_from is None,
        key=chosen if len(entries) > 1 or opts.key else None,
        cast_from=cast_from,
        labels=labels,
        labels_from=labels_from,
        notes=notes,
    )


# ---- tables (csv, parquet)


def _check_utf8(data: Any, fname: str) -> None:
    """Strict UTF-8, checked in chunks so a large file is never decoded whole."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    step = 16 * _MIB
    for start in range(0, len(view), step):
        chunk = view[start : start + step]
        try:
            decoder.decode(chunk, final=start + step >= len(view))
        except UnicodeDecodeError:
            # Decode the prefix in one go (error path only) to get the exact position.
            try:
                bytes(view[: start + step]).decode("utf-8")
                pos = start
            except UnicodeDecodeError as exc:
                pos = exc.start
            line = bytes(view[:pos]).count(b"\n") + 1
            raise _err(
                fname,
                f"is not valid UTF-8 text (first bad byte at line {line}). Re-save the file as "
                "UTF-8 (e.g. 'Save as CSV UTF-8' in a spreadsheet).",
            ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_record(text: str) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return []


def _find_ragged_line(data: Any) -> tuple[int, int, int] | None:
    """(line number, fields found, fields expected) of the first ragged row, or None.

    Only called once something is wrong: the Python csv module is slower than
    polars but reports line numbers, which polars does not.
    """
    stream = io.TextIOWrapper(io.BytesIO(bytes(data)), encoding="utf-8-sig", newline="")
    reader = csv.reader(stream)
    expected = None
    blank_at = None
    try:
        for row in reader:
            if not row:
                blank_at = blank_at or reader.line_num
                continue
            if blank_at is not None:  # a blank line followed by more data
                return blank_at, 0, expected or 0
            if expected is None:
                expected = len(row)
            elif len(row) != expected:
                return reader.line_num, len(row), expected
    except csv.Error:
        return None
    return None


def _ragged_error(fname: str, found: tuple[int, int, int]) -> ValueError:
    line, got, expected = found
    if got == 0:
        return _err(fname, f"line {line} is blank. Remove blank lines between the rows.")
    return _err(
        fname,
        f"line {line} has {got} fields but the first row has {expected}. Every row needs the "
        "same number of comma-separated values; fix or remove that line.",
    )


def _read_csv_table(src: _Source) -> tuple[pl.DataFrame, Any, int, list[str]]:
    """Parse a CSV upload/path; returns (df, text, header lines, notes)."""
    # Parsing needs at least as much memory as the text, so a CSV larger than the
    # budget is refused before it is read.
    _check_budget(src.name, src.size, "the CSV text")
    data = src.read_all()
    head = bytes(memoryview(data)[:_HEAD_BYTES])
    looks = _sniff(head, src.size)
    if b"\x00" in head or (looks is not None and not looks.startswith("a text")):
        raise _err(
            src.name,
            f"is not a CSV text file; its first bytes look like {looks or 'binary data'}. Give "
            "the file its right extension, or export the table as CSV.",
        )
    _check_utf8(data, src.name)
    if head.startswith(codecs.BOM_UTF8):
        data = memoryview(data)[len(codecs.BOM_UTF8) :]
    # Trailing blank lines would become rows of empty cells in polars.
    end = len(memoryview(data))
    raw = memoryview(data)
    while end > 0 and raw[end - 1] in b"\r\n \t":
        end -= 1
    if end == 0:
        raise _err(src.name, "holds only whitespace: there is no data. Write the table again.")
    body = bytes(raw[:end]) + b"\n"
    newline = body.find(b"\n")
    first = _first_record(body[:newline].decode("utf-8").rstrip("\r"))
    # A header is a first row with any non-empty, non-numeric cell; otherwise the row is data,
    # except pandas' integer column names (to_csv of a DataFrame built from an array):
    # "0,1,2,..." or ",0,1,2,..." (with the index column).
    cells = [cell.strip() for cell in first]
    names = cells[1:] if cells and cells[0] == "" else cells
    pandas_header = len(names) >= 2 and names in (
        [str(i) for i in range(len(names))],
        [str(i) for i in range(1, len(names) + 1)],
    )
    has_header = pandas_header or any(c and not _is_number(c) for c in cells)
    notes = []
    if pandas_header:
        notes.append(f"first row {','.join(cells[:4])},... read as column names (pandas style)")
    try:
        df = pl.read_csv(io.BytesIO(body), has_header=has_header, infer_schema_length=None)
    except pl.exceptions.NoDataError:
        raise _err(src.name, "has no data rows. Write the table again.") from None
    except pl.exceptions.PolarsError as exc:
        found = _find_ragged_line(body)
        if found is not None:
            raise _ragged_error(src.name, found) from None
        detail = str(exc).splitlines()[0]
        raise _err(
            src.name, f"could not be parsed as CSV ({detail}). Check the file's format."
        ) from None
    if not has_header:
        df.columns = [f"column_{i}" for i in range(df.width)]
    return df, body, 1 if has_header else 0, notes


def _read_parquet_table(src: _Source) -> pl.DataFrame:
    if not src.head(4).startswith(b"PAR1"):
        raise _wrong_format(src, ".parquet", src.head())
    if not src.tail(4) == b"PAR1":
        raise _err(src.name, "is truncated: the Parquet footer is missing. Write the file again.")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(str(src.path) if src.path is not None else pa.BufferReader(src.data))
        md = pf.metadata
        declared = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _err(src.name, f"is not a readable Parquet file ({exc}). Write it again.") from None
    _check_budget(src.name, int(declared), "the table")
    try:
        if src.path is not None:
            with open(src.path, "rb") as fh:  # a file object: polars would glob a str path
                return pl.read_parquet(fh)
        return pl.read_parquet(io.BytesIO(src.data))  # type: ignore[arg-type]
    except (pl.exceptions.PolarsError, OSError, pa.ArrowException) as exc:
        raise _err(
            src.name, f"could not be read ({str(exc).splitlines()[0]}). Write it again."
        ) from None


def _row_text(rows: Sequence[int], header_lines: int | None) -> str:
    if header_lines is None:
        return "rows " + ", ".join(str(r) for r in rows)
    return "lines " + ", ".join(str(r + 1 + header_lines) for r in rows)


def _numeric_strings(
    df: pl.DataFrame, skip: set[str], fname: str, header_lines: int | None
) -> pl.DataFrame:
    """Turn text columns that hold only numbers ("nan", "inf" included) into floats.

    A column where most cells are numbers but some are not is an error naming
    the bad cells: it is a numeric column with typos, not metadata.
    """
    for name in df.columns:
        s = df[name]
        if name in skip or s.dtype != pl.String:
            continue
        parsed = s.str.strip_chars().cast(pl.Float64, strict=False)
        present = s.is_not_null()
        ok = int(parsed.is_not_null().sum())
        bad_mask = present & parsed.is_null()
        n_bad = int(bad_mask.sum())
        if ok and not n_bad:
            df = df.with_columns(parsed.alias(name))
        elif ok and ok >= n_bad:
            rows = np.flatnonzero(bad_mask.to_numpy())[:3].tolist()
            values = ", ".join(repr(s[r]) for r in rows)
            raise _err(
                fname,
                f"column {name!r} is numeric but has text in {n_bad} cell(s) ({_row_text(rows, header_lines)}: "
                f"{values}). Fix those cells (write NaN for missing values and pass "
                f"nonfinite='drop'), or pass metadata_columns=[...] including {name!r} if it is text.",
            )
    return df


def _resolve_columns(df: pl.DataFrame, names: Sequence[str], fname: str, what: str) -> None:
    missing = [c for c in names if c not in df.columns]
    if missing:
        cols = ", ".join(repr(c) for c in df.columns[:30])
        raise _err(
            fname, f"has no column {missing[0]!r} (asked for as {what}). Its columns are: {cols}."
        )


def _list_column_matrix(s: pl.Series, fname: str) -> np.ndarray:
    """An embedding stored as one list/array column -> ndarray (n, d) or (n, t, d)."""
    name = s.name
    if s.null_count():
        rows = np.flatnonzero(s.is_null().to_numpy())[:3].tolist()
        raise _err(
            fname,
            f"column {name!r} has {s.null_count()} empty vector(s) (rows {rows}). Fill or drop those rows.",
        )
    if isinstance(s.dtype, pl.Array):
        arr = s.to_numpy()
    else:
        lengths = s.list.len().to_numpy()
        if lengths.size and (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise _err(
                fname,
                f"column {name!r} holds vectors of different lengths (row 0 has {lengths[0]}, row "
                f"{bad} has {lengths[bad]}). Every row needs a vector of the same length.",
            )
        flat = s.explode()
        if flat.null_count():
            raise _err(
                fname,
                f"column {name!r} has {flat.null_count()} empty value(s) inside its vectors. "
                "Fill them (NaN plus nonfinite='drop' drops those rows).",
            )
        if isinstance(flat.dtype, pl.List | pl.Array):
            raise _err(fname, f"column {name!r} holds nested lists; store one flat vector per row.")
        arr = flat.to_numpy().reshape(len(s), int(lengths[0]) if lengths.size else 0)
    return arr


def _table_to_raw(
    df: pl.DataFrame, src: _Source, opts: _Options, header_lines: int | None, body: Any
) -> _Raw:
    fname = src.name
    if df.height == 0:
        raise _err(fname, "has a header but no data rows. Add the rows.")
    notes: list[str] = []
    emb_opt = opts.embedding_column
    emb_named = [emb_opt] if isinstance(emb_opt, str) else list(emb_opt or [])
    meta_named = list(opts.metadata_columns) if opts.metadata_columns is not None else None
    _resolve_columns(df, emb_named, fname, "embedding_column")
    _resolve_columns(df, meta_named or [], fname, "metadata_columns")
    label_col = opts.label_column
    if label_col is not None:
        _resolve_columns(df, [label_col], fname, "label_column")
    elif not opts.labels_given:
        auto = [
            c
            for c in df.columns
            if c.lower() in _LABEL_COLUMNS and c not in emb_named and c not in (meta_named or [])
        ]
        if len(auto) == 1:
            label_col = auto[0]
            notes.append(
                f"labels taken from column {label_col!r} (pass label_column= to choose another)"
            )
        elif len(auto) > 1:
            notes.append(f"several label-like columns {auto}; none used (pass label_column=)")
    skip = set(meta_named or []) | ({label_col} if label_col else set())
    df = _numeric_strings(df, skip, fname, header_lines)

    def is_vector_column(c: str) -> bool:
        dt = df.schema[c]
        return isinstance(dt, pl.List | pl.Array) and _leaf_dtype(dt).is_numeric()

    # The embedding: named columns; else the only list/array column; else every numeric column.
    if emb_named:
        emb_cols = emb_named
    else:
        pool = [c for c in df.columns if c != label_col and c not in (meta_named or [])]
        vectors = [c for c in pool if is_vector_column(c)]
        if len(vectors) > 1:
            raise _err(
                fname,
                f"has several vector columns {vectors}. Pass embedding_column=... to choose one.",
            )
        if vectors:
            emb_cols = vectors
        else:
            numeric = [c for c in pool if df.schema[c].is_numeric()]
            ids = [c for c in numeric if c.strip().lower() in _INDEX_COLUMNS]
            if ids:
                notes.append(f"row-id column(s) {ids} kept as metadata, not used as dimensions")
            emb_cols = [c for c in numeric if c not in ids]
        if not emb_cols:
            cols = ", ".join(f"{c!r} ({df.schema[c]})" for c in df.columns[:20])
            seps = [sep for sep in (";", "\t", "|") if any(sep in c for c in df.columns)]
            hint = (
                f" The header contains {seps[0]!r}: RepLens reads comma-separated files; "
                "save it with commas."
                if seps
                else ""
            )
            raise _err(
                fname,
                f"has no numeric columns to use as the embedding (columns: {cols}). Store one "
                f"number per column, or one list column of vectors and pass embedding_column=.{hint}",
            )
    if len(emb_cols) == 1 and is_vector_column(emb_cols[0]):
        arr = _list_column_matrix(df[emb_cols[0]], fname)
        key = emb_cols[0]
    else:
        bad = [c for c in emb_cols if not df.schema[c].is_numeric()]
        if bad:
            raise _err(
                fname,
                f"column {bad[0]!r} ({df.schema[bad[0]]}) is not numeric and cannot be an "
                "embedding dimension. Choose numeric columns with embedding_column=[...].",
            )
        nulls = {c: df[c].null_count() for c in emb_cols if df[c].null_count()}
        if nulls:
            if body is not None:
                found = _find_ragged_line(body)
                if found is not None:
                    raise _ragged_error(fname, found)
            c, k = next(iter(nulls.items()))
            rows = np.flatnonzero(df[c].is_null().to_numpy())[:3].tolist()
            others = (
                f" ({len(nulls) - 1} more column(s) have empty cells)" if len(nulls) > 1 else ""
            )
            raise _err(
                fname,
                f"column {c!r} has {k} empty cell(s) ({_row_text(rows, header_lines)}){others}. "
                "Fill them, or write NaN in them and pass nonfinite='drop' to drop those rows.",
            )
        arr = df.select(emb_cols).to_numpy(order="c")
        key = None
    labels = labels_from = None
    if label_col is not None:
        s = df[label_col]
        if s.null_count():
            rows = np.flatnonzero(s.is_null().to_numpy())[:3].tolist()
            raise _err(
                fname,
                f"label column {label_col!r} has {s.null_count()} empty cell(s) "
                f"({_row_text(rows, header_lines)}). Give every row a label, or drop unlabelled rows.",
            )
        labels = (
            s.to_numpy()
            if s.dtype.is_numeric() or s.dtype == pl.Boolean
            else np.asarray(s.cast(pl.String).to_list(), dtype=object)
        )
        labels_from = f"column {label_col!r}"
    used = set(emb_cols) | ({label_col} if label_col else set())
    meta_cols = meta_named if meta_named is not None else [c for c in df.columns if c not in used]
    metadata = df.select(meta_cols) if meta_cols else None
    return _Raw(
        array=arr,
        original_dtype=str(arr.dtype),
        key=key,
        labels=labels,
        labels_from=labels_from,
        metadata=metadata,
        metadata_columns=tuple(meta_cols),
        notes=notes,
    )


def _leaf_dtype(dt: Any) -> Any:
    while isinstance(dt, pl.List | pl.Array):
        dt = dt.inner
    return dt


def _read_csv(src: _Source, opts: _Options) -> _Raw:
    df, body, header_lines, notes = _read_csv_table(src)
    raw = _table_to_raw(df, src, opts, header_lines, body)
    raw.notes[:0] = notes
    return raw


def _read_parquet(src: _Source, opts: _Options) -> _Raw:
    return _table_to_raw(_read_parquet_table(src), src, opts, None, None)


_READERS = {
    ".npy": _read_npy,
    ".npz": _read_npz,
    ".csv": _read_csv,
    ".parquet": _read_parquet,
    ".safetensors": _read_safetensors,
    ".pt": _read_pt,
    ".pth": _read_pt,
}
_CONTAINERS = {".npz", ".safetensors", ".pt", ".pth"}
_TABLES = {".csv", ".parquet"}


# --------------------------------------------------------------------------- labels


def _read_labels_source(source: Any, labels_name: str | None) -> tuple[np.ndarray, str]:
    """Read labels from a .npy/.csv/.txt/.parquet path or upload; returns (values, name)."""
    src = _open_source(source, labels_name, role="labels")
    fname = src.name
    if src.ext == ".npy":
        if not src.head(16).startswith(b"\x93NUMPY"):
            raise _wrong_format(src, ".npy", src.head())
        with src.open() as fh:
            hdr = _read_npy_header(fh, fname)
        _check_dtype(hdr.dtype, fname, "the labels", strings_ok=True)
        if not (len(hdr.shape) == 1 or (len(hdr.shape) == 2 and hdr.shape[1] == 1)):
            raise _err(
                fname,
                f"labels must have shape (n,); got {_shape_text(hdr.shape)}. Save one label per sample.",
            )
        _check_budget(fname, hdr.nbytes, "the labels")
        if src.size - hdr.offset < hdr.nbytes:
            raise _err(
                fname,
                "is truncated: the header declares more data than the file holds. Save it again.",
            )
        with src.open() as fh:
            fh.seek(hdr.offset)
            raw = fh.read(hdr.nbytes)
        return np.frombuffer(raw, dtype=hdr.dtype, count=hdr.count).reshape(-1), fname
    if src.ext == ".txt":
        data = src.read_all()
        _check_utf8(data, fname)
        text = bytes(data).decode("utf-8-sig")
        lines = [line.strip() for line in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        blank = [i + 1 for i, line in enumerate(lines) if not line]
        if blank:
            raise _err(
                fname,
                f"line {blank[0]} is empty ({len(blank)} empty line(s)). Give one label per line.",
            )
        try:
            return np.asarray([int(v) for v in lines], dtype=np.int64), fname
        except ValueError:
            return np.asarray(lines, dtype=object), fname
    if src.ext in (".csv", ".parquet"):
        if src.ext == ".csv":
            df = _read_labels_csv(src)
        else:
            df = _read_parquet_table(src)
        if df.width != 1:
            named = [c for c in df.columns if c.lower() in _LABEL_COLUMNS]
            if len(named) != 1:
                raise _err(
                    fname,
                    f"has {df.width} columns {df.columns[:10]}; a labels file needs one column "
                    "(or exactly one named 'label').",
                )
            df = df.select(named)
        s = df[df.columns[0]]
        if s.null_count():
            raise _err(fname, f"has {s.null_count()} empty label(s). Give every row a label.")
        if s.dtype.is_numeric() or s.dtype == pl.Boolean:
            return s.to_numpy(), fname
        return np.asarray(s.cast(pl.String).to_list(), dtype=object), fname
    formats = ", ".join(LABEL_FORMATS)
    raise _err(fname, f"labels files must be one of {formats}; got {src.ext or 'no extension'!r}.")


def _read_labels_csv(src: _Source) -> pl.DataFrame:
    data = src.read_all()
    head = bytes(memoryview(data)[:_HEAD_BYTES])
    if b"\x00" in head:
        raise _err(src.name, "is not a text file. Save the labels as CSV text.")
    _check_utf8(data, src.name)
    rows = bytes(data).decode("utf-8-sig").splitlines()[:2]
    first = _first_record(rows[0]) if rows else []
    second = _first_record(rows[1]) if len(rows) > 1 else []
    # One column: a header is a known label name, or text above a number.
    has_header = len(first) > 1 or (
        bool(first)
        and (
            first[0].strip().lower() in _LABEL_COLUMNS | {"y", "name"}
            or (not _is_number(first[0]) and bool(second) and _is_number(second[0]))
        )
    )
    try:
        df = pl.read_csv(io.BytesIO(bytes(data)), has_header=has_header, infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise _err(src.name, f"could not be parsed as CSV ({str(exc).splitlines()[0]}).") from None
    if df.height and df.row(-1) == (None,) * df.width:
        df = df.head(df.height - 1)
    return df


def _encode(
    values: Any, n: int, fname: str, what: str
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """Labels -> (int64 codes, names or None), with the file name in every error."""
    arr = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise _err(fname, f"{what} must be one label per sample, shape ({n},); got {arr.shape}.")
    if arr.shape[0] != n:
        raise _err(
            fname,
            f"{what} has {arr.shape[0]} entries but the embedding has {n} rows. Give exactly one "
            "label per row, in the same order.",
        )
    if arr.dtype.kind == "O":
        if not all(isinstance(v, str) for v in arr):
            raise _err(
                fname, f"{what} mixes types or holds empty values; give strings or integer codes."
            )
        arr = arr.astype(str)
    if arr.dtype.kind == "S":
        arr = arr.astype(str)
    if arr.dtype.kind == "U":
        codes, names = encode_labels(arr)
        return codes, names
    try:
        return _check_labels(arr, n, what=what), None
    except ValueError as exc:
        raise _err(fname, str(exc)) from None


# --------------------------------------------------------------------------- pipeline


def _nonfinite_rows(X: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(mask of rows with NaN/Inf, rows with NaN, rows with Inf), in row blocks."""
    n, d = X.shape
    bad = np.zeros(n, dtype=bool)
    nan_rows = inf_rows = 0
    step = max(1, (16 * _MIB) // max(d, 1))  # bounded temporaries even for huge files
    for start in range(0, n, step):
        block = X[start : start + step]
        has_nan = np.isnan(block).any(axis=1)
        has_inf = np.isinf(block).any(axis=1)
        nan_rows += int(has_nan.sum())
        inf_rows += int(has_inf.sum())
        bad[start : start + step] = has_nan | has_inf
    return bad, nan_rows, inf_rows


def _pool(arr: np.ndarray, pooling: str) -> np.ndarray:
    n, t, d = arr.shape
    if pooling == "mean":
        # float64 accumulation: float16/float32 sums over many tokens lose digits.
        return arr.mean(axis=1, dtype=np.float64)
    if pooling == "last":
        return arr[:, -1, :]
    return arr.reshape(n, t * d)  # "flatten": a view when the array is C-contiguous


def load_embedding_report(
    source: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    labels: Any = None,
    labels_name: str | None = None,
    label_column: str | None = None,
    embedding_column: str | Sequence[str] | None = None,
    metadata_columns: Sequence[str] | None = None,
    key: str | None = None,
    pooling: str | None = None,
    nonfinite: str = "raise",
    dtype_policy: str = "cast",
) -> tuple[Embedding, LoadReport]:
    """Load one embedding safely and report what was done to it.

    Parameters
    ----------
    source : str, os.PathLike or bytes
        A path, or the bytes of an upload (then `name` is required). Formats:
        see `SUPPORTED_FORMATS` (.npy, .npz, .csv, .parquet, .safetensors,
        .pt/.pth), told by the extension and checked against the file's magic
        bytes. Uploads above ``UPLOAD_LIMIT_MB`` are refused.
    name : str, optional
        The uploaded file's name (extension and messages); with a path, only
        the display name.
    labels : array-like, str, os.PathLike or bytes, optional
        Labels as an array of shape (n_samples,) (integer codes or strings,
        which are encoded, sorted, with `encode_labels`), or a labels file
        (.npy, .csv, .txt one label per line, .parquet one column; bytes need
        `labels_name`). Overrides labels found in the file.
    labels_name : str, optional
        The labels upload's file name, when `labels` is bytes.
    label_column : str, optional
        Table formats: the column holding the labels. Without it, a column
        named label/labels/class/target is used.
    embedding_column : str or sequence of str, optional
        Table formats: one list/array column holding the vectors, or the
        numeric columns to use. Default: the only vector column, else every
        numeric column except labels and row ids.
    metadata_columns : sequence of str, optional
        Table formats: the columns kept as ``Embedding.metadata`` (default: all
        columns that are neither embedding nor labels).
    key : str, optional
        Containers (.npz/.safetensors/.pt): the array to load when several
        could be the embedding. A 1-D entry named labels/label/y of matching
        length is used as labels automatically.
    pooling : {"mean", "last", "flatten"}, optional
        Required for 3-D activations (n_samples, tokens, n_features): average
        over tokens, take the last token, or concatenate the tokens. Ignored
        (with a note) for 2-D data.
    nonfinite : {"raise", "drop"}, default="raise"
        Rows with NaN/Inf raise a ValueError, or are dropped together with
        their labels and metadata (counted in the report).
    dtype_policy : {"cast", "refuse"}, default="cast"
        Non-float32 numbers (bool, ints, float16, bfloat16, float64) are cast
        to float32, or refused. Big-endian float32 is always byte-swapped.

    Returns
    -------
    embedding : Embedding
        ``X`` is float32 of shape (n_samples, n_features); for a float32 .npy
        (or stored .npz member / safetensors tensor / .pt tensor) read from a
        path it is a memory-mapped view of the file, not a copy.
    report : LoadReport

    Raises
    ------
    ValueError
        For any problem with the input; the message starts with the file name
        and says what is wrong and how to fix it. Nothing is unpickled.
    """
    if pooling is not None and pooling not in POOLING_CHOICES:
        raise ValueError(f"pooling must be one of {POOLING_CHOICES} or None; got {pooling!r}.")
    if nonfinite not in ("raise", "drop"):
        raise ValueError(f"nonfinite must be 'raise' or 'drop'; got {nonfinite!r}.")
    if dtype_policy not in ("cast", "refuse"):
        raise ValueError(f"dtype_policy must be 'cast' or 'refuse'; got {dtype_policy!r}.")
    src = _open_source(source, name)
    fname = src.name
    reader = _READERS.get(src.ext)
    if reader is None:
        hint = " Decompress it first." if src.ext in (".gz", ".zip", ".bz2", ".xz", ".zst") else ""
        raise _err(
            fname,
            f"unsupported file type {src.ext or '(no extension)'!r}. Supported formats: "
            f"{', '.join(SUPPORTED_FORMATS)}.{hint}",
        )
    if key is not None and src.ext not in _CONTAINERS:
        raise _err(fname, "key= only applies to .npz, .safetensors and .pt files; remove it.")
    table_opts = {
        "label_column": label_column,
        "embedding_column": embedding_column,
        "metadata_columns": metadata_columns,
    }
    for opt, value in table_opts.items():
        if value is not None and src.ext not in _TABLES:
            raise _err(fname, f"{opt}= only applies to .csv and .parquet tables; remove it.")
    if labels is not None and label_column is not None:
        raise _err(fname, "pass either labels= or label_column=, not both.")
    opts = _Options(
        key, pooling, label_column, embedding_column, metadata_columns, labels is not None
    )

    raw = reader(src, opts)
    notes = list(raw.notes)
    arr = raw.array
    original_shape = tuple(int(s) for s in arr.shape)
    _check_dtype(arr.dtype, fname)
    _check_shape(original_shape, fname, pooling)
    _check_budget(fname, _pooled_nbytes(original_shape, pooling), "the embedding as float32")
    original_dtype = raw.original_dtype
    n = original_shape[0]

    if (
        dtype_policy == "refuse"
        and raw.cast_from is None
        and arr.dtype.kind == "f"
        and arr.dtype.itemsize == 4
    ):
        pass  # float32 in either byte order: no value changes
    elif dtype_policy == "refuse":
        raise _err(
            fname,
            f"has dtype {original_dtype}, not float32, and dtype_policy='refuse'. Pass "
            "dtype_policy='cast' to convert it to float32, or save float32 data.",
        )
    # cast_from names the stored dtype whenever values were converted: a cast, a
    # byte swap, or bfloat16 widening (done by the reader, which sets raw.cast_from).
    cast_from = raw.cast_from
    if cast_from is None and not (arr.dtype == np.float32 and arr.dtype.isnative):
        cast_from = original_dtype
        if arr.dtype.kind == "f" and arr.dtype.itemsize == 4:
            notes.append("byte-swapped big-endian float32 to native byte order")
        elif arr.dtype.kind in "iu" and arr.dtype.itemsize >= 4:
            notes.append(f"cast {arr.dtype} to float32: integers above 2**24 lose precision")
    used_pooling = None
    if arr.ndim == 3:
        arr = _pool(arr, pooling)  # type: ignore[arg-type]
        used_pooling = pooling
        notes.append(f"pooled {_shape_text(original_shape)} with pooling={pooling!r}")
    elif pooling is not None:
        notes.append(f"pooling={pooling!r} ignored: the data is already 2-D")
    if not (arr.dtype == np.float32 and arr.dtype.isnative):
        # asarray: the copy is a plain ndarray, never a np.memmap subclass. Overflow to
        # Inf (float64 beyond float32's range) is reported by the NaN/Inf check below.
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.asarray(arr).astype(np.float32)
    X = arr

    codes = names = None
    labels_from = raw.labels_from
    if labels is not None:
        if isinstance(labels, str | os.PathLike | bytes | bytearray | memoryview) or hasattr(
            labels, "getvalue"
        ):
            values, labels_from = _read_labels_source(labels, labels_name)
        else:
            values, labels_from = labels, "array"
        if raw.labels is not None:
            notes.append(f"labels in the file ignored: labels= was given ({raw.labels_from})")
        codes, names = _encode(values, n, fname, f"labels ({labels_from})")
    elif raw.labels is not None:
        codes, names = _encode(raw.labels, n, fname, f"labels ({labels_from})")

    metadata = raw.metadata
    dropped = nan_rows = inf_rows = 0
    bad = np.zeros(0, dtype=bool)
    if raw.array.dtype.kind == "f":  # bool and int data cannot hold NaN/Inf: skip the pass
        bad, nan_rows, inf_rows = _nonfinite_rows(X)
        dropped = int(bad.sum())
    if dropped:
        if nonfinite == "raise":
            parts = []
            if nan_rows:
                parts.append(f"NaN in {nan_rows} row(s)")
            if inf_rows:
                parts.append(f"Inf in {inf_rows} row(s)")
            first = np.flatnonzero(bad)[:5].tolist()
            why = (
                " (values beyond the float32 range, about 3.4e38, become Inf when cast)"
                if cast_from and cast_from not in ("float16", "bfloat16")
                else ""
            )
            raise _err(
                fname,
                f"Input contains {' and '.join(parts)}: {dropped} of {n} rows, e.g. rows {first}"
                f"{why}. Pass nonfinite='drop' to drop those rows, or clean the data.",
            )
        keep = ~bad
        if int(keep.sum()) < 2:
            raise _err(
                fname,
                f"{dropped} of {n} rows contain NaN or Inf; fewer than 2 rows would remain. Clean the data.",
            )
        X = X[keep]
        codes = None if codes is None else codes[keep]
        metadata = None if metadata is None else metadata.filter(pl.Series(keep))
        notes.append(f"dropped {dropped} row(s) containing NaN or Inf")

    stem = Path(fname).stem
    emb_name = f"{stem}[{raw.key}]" if raw.key else stem
    try:
        emb = Embedding(X=X, labels=codes, label_names=names, metadata=metadata, name=emb_name)
    except ValueError as exc:
        raise _err(fname, str(exc)) from None
    memory_mapped = bool(raw.memory_mapped and emb.X is X and np.may_share_memory(X, raw.array))
    report = LoadReport(
        source=fname,
        format="pt" if src.ext == ".pth" else src.ext.lstrip("."),
        original_shape=original_shape,
        original_dtype=original_dtype,
        shape=tuple(int(s) for s in emb.X.shape),
        cast_from=cast_from,
        pooling=used_pooling,
        dropped_nonfinite_rows=dropped,
        dropped_row_indices=tuple(int(i) for i in np.flatnonzero(bad)) if dropped else (),
        memory_mapped=memory_mapped,
        key=raw.key,
        labels_from=labels_from,
        metadata_columns=raw.metadata_columns if metadata is not None else (),
        notes=tuple(notes),
    )
    return emb, report


def load_embedding(
    source: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    labels: Any = None,
    labels_name: str | None = None,
    label_column: str | None = None,
    embedding_column: str | Sequence[str] | None = None,
    metadata_columns: Sequence[str] | None = None,
    key: str | None = None,
    pooling: str | None = None,
    nonfinite: str = "raise",
    dtype_policy: str = "cast",
) -> Embedding:
    """Load one embedding safely from a file or an upload.

    The same as `load_embedding_report` (see it for every parameter), returning
    only the `Embedding`.

    Examples
    --------
    >>> emb = load_embedding("acts.npz", key="layer3", labels="labels.txt")  # doctest: +SKIP
    >>> emb = load_embedding(upload_bytes, name="emb.csv", label_column="class")  # doctest: +SKIP
    """
    emb, _ = load_embedding_report(
        source,
        name=name,
        labels=labels,
        labels_name=labels_name,
        label_column=label_column,
        embedding_column=embedding_column,
        metadata_columns=metadata_columns,
        key=key,
        pooling=pooling,
        nonfinite=nonfinite,
        dtype_policy=dtype_policy,
    )
    return emb


def require_classes(embedding: Embedding, *, min_classes: int = 2) -> None:
    """Raise a clear ValueError unless `embedding` has labels with >= `min_classes` classes.

    Loading allows unlabelled and single-class data; diagnostics that compare
    classes (neural collapse, class separation) call this first.
    """
    who = embedding.name or "embedding"
    if embedding.labels is None:
        raise ValueError(
            f"{who}: has no labels, and this diagnostic needs classes. Load labels with "
            "labels=... or label_column=..."
        )
    found = embedding.n_classes
    if found < min_classes:
        present = sorted({embedding.class_name(int(c)) for c in np.unique(embedding.labels)})
        raise ValueError(
            f"{who}: has {found} class(es) ({', '.join(present)}) but this diagnostic needs at "
            f"least {min_classes}. Load data with more classes (or check the label column)."
        )
