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

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import polars as pl

from analysis.data.cleaning import _nonfinite_rows, _pool

# The format readers live in analysis.data.formats (one module per format); this
# module keeps the public API, the upload check and the shared pipeline.
from analysis.data.formats.common import (
    _MIB,
    _check_budget,
    _check_dtype,
    _check_shape,
    _err,
    _Options,
    _pooled_nbytes,
    _shape_text,
    _Source,
)
from analysis.data.formats.guard import _as_value_error
from analysis.data.formats.labels import _encode, _read_labels_file
from analysis.data.formats.npy import _read_npy
from analysis.data.formats.safetensors import _read_safetensors
from analysis.data.formats.tables import _read_csv, _read_parquet
from analysis.data.formats.torch_pt import _read_pt
from analysis.data.formats.zips import _read_npz
from analysis.data.limits import UPLOAD_LIMIT_MB, format_bytes
from analysis.data.load_report import LoadReport
from analysis.data.schema import Embedding

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


# --------------------------------------------------------------------------- sources

# _open_source stays here: it reads this module's UPLOAD_LIMIT_MB (which tests patch).


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


# --------------------------------------------------------------------------- readers

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
    if src.ext not in LABEL_FORMATS:
        formats = ", ".join(LABEL_FORMATS)
        raise _err(
            src.name,
            f"labels files must be one of {formats}; got {src.ext or 'no extension'!r}.",
        )
    with _as_value_error(src.name):
        return _read_labels_file(src), src.name


# --------------------------------------------------------------------------- pipeline


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

    with _as_value_error(fname):  # what a malformed file provokes underneath, as ValueError
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
