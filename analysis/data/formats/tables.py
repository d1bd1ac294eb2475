"""Tables (csv, parquet) -> embedding matrix, labels and metadata."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import polars as pl

from analysis.data.formats.common import (
    _INDEX_COLUMNS,
    _LABEL_COLUMNS,
    _check_budget,
    _err,
    _names_text,
    _Options,
    _Raw,
    _short,
    _Source,
    _wrong_format,
)
from analysis.data.formats.csv_text import _find_ragged_line, _ragged_error, _read_csv_table

ColumnChooser = Callable[[dict[str, Any]], "list[str] | None"]


def _leaf_count(arrow_type: Any) -> int:
    """Parquet leaf columns of one Arrow field (nested types store one leaf per primitive)."""
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        return sum(_leaf_count(arrow_type.field(i).type) for i in range(arrow_type.num_fields))
    if pa.types.is_map(arrow_type):
        return _leaf_count(arrow_type.key_type) + _leaf_count(arrow_type.item_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        return _leaf_count(arrow_type.value_type)
    return 1


def _declared_bytes(pf: Any, names: list[str] | None) -> int:
    """Uncompressed bytes of the chosen top-level columns (all when None), from the footer alone."""
    md = pf.metadata
    if names is None:
        return sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    wanted = set(names)
    leaves: list[int] = []  # leaf column indices of the wanted fields, in schema order
    position = 0
    for field in pf.schema_arrow:
        count = _leaf_count(field.type)
        if field.name in wanted:
            leaves.extend(range(position, position + count))
        position += count
    return sum(md.row_group(i).column(j).total_uncompressed_size
               for i in range(md.num_row_groups) for j in leaves)


def _read_parquet_table(src: _Source, choose: ColumnChooser | None = None) -> pl.DataFrame:
    """The table of a Parquet file, through polars' lazy scan: only the columns `choose` names are read.

    ``choose`` gets the file's schema (name -> polars dtype, from the footer)
    and returns the column names to read, or None for all of them; the
    memory budget is checked against those columns' declared size only.
    """
    if not src.head(4).startswith(b"PAR1"):
        raise _wrong_format(src, ".parquet", src.head())
    if not src.tail(4) == b"PAR1":
        raise _err(src.name, "is truncated: the Parquet footer is missing. Write the file again.")
    import pyarrow as pa
    import pyarrow.parquet as pq

    errors = (pl.exceptions.PolarsError, OSError, pa.ArrowException)
    try:
        pf = pq.ParquetFile(str(src.path) if src.path is not None else pa.BufferReader(src.data))
        pf.metadata  # noqa: B018 (reads the footer: a broken one fails here)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _err(src.name, f"is not a readable Parquet file ({exc}). Write it again.") from None
    try:
        with _parquet_source(src) as fh:
            scan = pl.scan_parquet(fh)
            schema = dict(scan.collect_schema())
            names = None if choose is None else choose(schema)
            try:
                declared = _declared_bytes(pf, names)
            except (pa.ArrowException, ValueError, IndexError) as exc:
                raise _err(src.name, f"is not a readable Parquet file ({exc}). Write it again.") from None
            _check_budget(src.name, int(declared), "the table")
            if names is not None:
                # By position: pl.col would read a name like "^a.*$" or "*" as a pattern.
                order = {name: i for i, name in enumerate(schema)}
                scan = scan.select(pl.nth(sorted(order[c] for c in names)))
            return scan.collect()
    except errors as exc:
        raise _err(
            src.name, f"could not be read ({str(exc).splitlines()[0]}). Write it again."
        ) from None


@contextmanager
def _parquet_source(src: _Source) -> Iterator[Any]:
    if src.path is not None:
        with open(src.path, "rb") as fh:  # a file object: polars would glob a str path
            yield fh
    else:
        yield io.BytesIO(src.data)  # type: ignore[arg-type]


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
    # One look at the schema and one with_columns: per-column df.schema[...] lookups and
    # with_columns calls each cost O(columns), so a 4,000-column table took a minute.
    parsed_columns = []
    for name, dtype in df.schema.items():
        if name in skip or dtype != pl.String:
            continue
        s = df.get_column(name)
        parsed = s.str.strip_chars().cast(pl.Float64, strict=False)
        present = s.is_not_null()
        ok = int(parsed.is_not_null().sum())
        bad_mask = present & parsed.is_null()
        n_bad = int(bad_mask.sum())
        if ok and not n_bad:
            parsed_columns.append(parsed.alias(name))
        elif ok and ok >= n_bad:
            rows = np.flatnonzero(bad_mask.to_numpy())[:3].tolist()
            values = ", ".join(repr(s[r]) for r in rows)
            raise _err(
                fname,
                f"column {name!r} is numeric but has text in {n_bad} cell(s) ({_row_text(rows, header_lines)}: "
                f"{values}). Fix those cells (write NaN for missing values and pass "
                f"nonfinite='drop'), or pass metadata_columns=[...] including {name!r} if it is text.",
            )
    return df.with_columns(parsed_columns) if parsed_columns else df


def _resolve_columns(df: pl.DataFrame, names: Sequence[str], fname: str, what: str) -> None:
    present = set(df.columns)
    missing = [c for c in names if c not in present]
    if missing:
        cols = _names_text(df.columns, 30)
        raise _err(
            fname, f"has no column {_short(missing[0])} (asked for as {what}). Its columns are: {cols}."
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
    meta_set = set(meta_named or [])
    skip = meta_set | ({label_col} if label_col else set())
    df = _numeric_strings(df, skip, fname, header_lines)
    schema = df.schema  # built once: df.schema rebuilds the whole mapping on every access

    def is_vector_column(c: str) -> bool:
        dt = schema[c]
        return isinstance(dt, pl.List | pl.Array) and _leaf_dtype(dt).is_numeric()

    # The embedding: named columns; else the only list/array column; else every numeric column.
    if emb_named:
        emb_cols = emb_named
    else:
        pool = [c for c in df.columns if c != label_col and c not in meta_set]
        vectors = [c for c in pool if is_vector_column(c)]
        if len(vectors) > 1:
            raise _err(
                fname,
                f"has several vector columns [{_names_text(vectors)}]. Pass embedding_column=... "
                "to choose one.",
            )
        if vectors:
            emb_cols = vectors
        else:
            numeric = [c for c in pool if schema[c].is_numeric()]
            ids = [c for c in numeric if c.strip().lower() in _INDEX_COLUMNS]
            if ids:
                notes.append(f"row-id column(s) {ids} kept as metadata, not used as dimensions")
            emb_cols = [c for c in numeric if c not in ids]
        if not emb_cols:
            cols = ", ".join(f"{_short(c)} ({schema[c]})" for c in df.columns[:20])
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
        bad = [c for c in emb_cols if not schema[c].is_numeric()]
        if bad:
            raise _err(
                fname,
                f"column {_short(bad[0])} ({schema[bad[0]]}) is not numeric and cannot be an "
                "embedding dimension. Choose numeric columns with embedding_column=[...].",
            )
        counts = df.select(pl.col(emb_cols)).null_count().row(0)  # one pass, not one lookup per column
        nulls = {c: k for c, k in zip(emb_cols, counts, strict=True) if k}
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
        arr = df.select(pl.col(emb_cols)).to_numpy(order="c")  # one expression, not one per name
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


def _parquet_columns(opts: _Options) -> ColumnChooser:
    """The columns `_table_to_raw` can use with these options: the rest of the file is never read.

    Without ``metadata_columns`` every unused column becomes metadata, so all
    are read. With it: the named embedding columns (or, unnamed, every column
    that could be one: numeric, text that may hold numbers, lists/arrays),
    the metadata and the label column (named, or every label-like name the
    automatic choice looks at). A name missing from the file reads everything,
    so that the error lists the file's real columns.
    """

    def choose(schema: dict[str, Any]) -> list[str] | None:
        if opts.metadata_columns is None:
            return None
        emb = opts.embedding_column
        named = [emb] if isinstance(emb, str) else list(emb or [])
        wanted = named + list(opts.metadata_columns)
        if opts.label_column is not None:
            wanted.append(opts.label_column)
        elif not opts.labels_given:
            wanted += [c for c in schema if c.lower() in _LABEL_COLUMNS]
        if any(c not in schema for c in wanted):
            return None
        if not named:
            wanted += [c for c, dt in schema.items()
                       if dt.is_numeric() or dt == pl.String or isinstance(dt, pl.List | pl.Array)]
        keep = set(wanted)
        return [c for c in schema if c in keep]

    return choose


def _read_parquet(src: _Source, opts: _Options) -> _Raw:
    return _table_to_raw(_read_parquet_table(src, _parquet_columns(opts)), src, opts, None, None)
