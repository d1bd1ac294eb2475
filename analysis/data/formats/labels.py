"""Separate labels files (csv) and label encoding with the file name in errors."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import polars as pl

from analysis.data.formats.common import (
    _HEAD_BYTES,
    _LABEL_COLUMNS,
    _check_budget,
    _check_dtype,
    _err,
    _shape_text,
    _Source,
    _wrong_format,
)
from analysis.data.formats.csv_text import _check_utf8, _first_record, _is_number
from analysis.data.formats.npy import _read_npy_header
from analysis.data.formats.tables import _read_parquet_table
from analysis.data.schema import _check_labels, encode_labels

_INT64 = (-(2**63), 2**63 - 1)
# Text that spells a missing value: str(np.nan) and pandas' writers put "nan"/"NaN" in a
# column of labels that had gaps. Such a cell is a missing label, never a class name.
_MISSING_TEXT = frozenset({"nan", "+nan", "-nan"})


def _read_labels_file(src: _Source) -> np.ndarray:
    """The labels of a .npy/.csv/.txt/.parquet file (the extension is checked by the caller)."""
    fname = src.name
    if src.ext != ".npy":  # text and tables are read whole: bound them like an embedding CSV
        _check_budget(fname, src.size, "the labels file")
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
        return np.frombuffer(raw, dtype=hdr.dtype, count=hdr.count).reshape(-1)
    if src.ext == ".txt":
        return _read_labels_txt(src)
    df = _read_labels_csv(src) if src.ext == ".csv" else _read_parquet_table(src)
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
        return s.to_numpy()
    return np.asarray(s.cast(pl.String).to_list(), dtype=object)


def _read_labels_txt(src: _Source) -> np.ndarray:
    """One label per line: integer codes when every line is an integer, else names."""
    fname = src.name
    data = src.read_all()
    _check_utf8(data, fname)
    # Each line becomes a Python string (~60 bytes however short): bound them up front.
    n_lines = bytes(data).count(b"\n") + 1
    _check_budget(fname, src.size + 64 * n_lines, f"the labels file ({n_lines:,} lines as text)")
    lines = [line.strip() for line in bytes(data).decode("utf-8-sig").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    blank = [i + 1 for i, line in enumerate(lines) if not line]
    if blank:
        raise _err(
            fname,
            f"line {blank[0]} is empty ({len(blank)} empty line(s)). Give one label per line.",
        )
    try:
        values = [int(v) for v in lines]
    except ValueError:
        return np.asarray(lines, dtype=object)
    big = next((i for i, v in enumerate(values) if not _INT64[0] <= v <= _INT64[1]), None)
    if big is not None:
        raise _err(
            fname,
            f"line {big + 1} holds the integer {lines[big][:40]}, beyond the int64 range of "
            "class codes. Number the classes 0, 1, 2, ... or write their names instead.",
        )
    return np.asarray(values, dtype=np.int64)


def _read_labels_csv(src: _Source) -> pl.DataFrame:
    data = src.read_all()
    head = bytes(memoryview(data)[:_HEAD_BYTES])
    if b"\x00" in head:
        raise _err(src.name, "is not a text file. Save the labels as CSV text.")
    _check_utf8(data, src.name)
    # The first two lines tell a header: decode the head only, not the whole file.
    rows = head.decode("utf-8-sig", errors="ignore").splitlines()[:2]
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
        missing = np.flatnonzero(np.isin(np.char.lower(np.char.strip(arr)), list(_MISSING_TEXT)))
        if missing.size:
            rows = ", ".join(str(int(r)) for r in missing[:5])
            raise _err(
                fname,
                f"{what} holds the text {str(arr[missing[0]])!r} in {missing.size} row(s) (rows "
                f"{rows}, counting data rows from 0): a missing label written as text, not a "
                "class. Give those rows their label, or drop them before loading.",
            )
        codes, names = encode_labels(arr)
        return codes, names
    try:
        return _check_labels(arr, n, what=what), None
    except ValueError as exc:
        raise _err(fname, str(exc)) from None
