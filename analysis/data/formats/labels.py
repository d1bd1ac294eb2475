"""Separate labels files (csv) and label encoding with the file name in errors."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import polars as pl

from analysis.data.formats.common import _HEAD_BYTES, _LABEL_COLUMNS, _err, _Source
from analysis.data.formats.csv_text import _check_utf8, _first_record, _is_number
from analysis.data.schema import _check_labels, encode_labels


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
