"""CSV text: UTF-8 checks, header detection and ragged-row messages."""

from __future__ import annotations

import codecs
import csv
import io
from typing import Any

import polars as pl

from analysis.data.formats.common import _HEAD_BYTES, _MIB, _check_budget, _err, _sniff, _Source

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
    body = b"".join((raw[:end], b"\n"))  # one copy of the text, not two
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
