"""Glue for the Explore page: colour choices, hover text, and reading a selection."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from analysis.data import Embedding
from analysis.views.regions import points_in_box, points_in_polygon
from analysis.views import ColorSpec

NONE, LABEL, NORM = "none", "label", "vector norm"
# A metadata column with at most this many distinct values is coloured as categories.
MAX_CATEGORIES = 40
HIDDEN_COLUMNS = {"id"}


def colour_options(emb: Embedding) -> list[str]:
    options = [LABEL] if emb.labels is not None else []
    if emb.metadata is not None:
        options += [c for c in emb.metadata.columns if c not in HIDDEN_COLUMNS]
    return [*options, NORM, NONE]


def colour_spec(emb: Embedding, choice: str, norms: np.ndarray) -> ColorSpec:
    if choice == LABEL and emb.labels is not None:
        n_codes = int(emb.labels.max()) + 1
        names = tuple(emb.class_name(c) for c in range(n_codes))
        return ColorSpec(kind="category", values=emb.labels, names=names, title="label")
    if choice == NORM:
        return ColorSpec(kind="continuous", values=norms, title="‖x‖₂")
    if emb.metadata is not None and choice in emb.metadata.columns:
        column = emb.metadata[choice]
        if column.dtype.is_numeric() and column.n_unique() > MAX_CATEGORIES:
            return ColorSpec(kind="continuous", values=column.cast(pl.Float32).to_numpy(), title=choice)
        text = column.cast(pl.Utf8).fill_null("(missing)")
        uniques = sorted(text.unique().to_list())
        if len(uniques) <= MAX_CATEGORIES:
            lookup = {v: i for i, v in enumerate(uniques)}
            codes = np.fromiter((lookup[v] for v in text.to_list()), dtype=np.int64, count=len(text))
            return ColorSpec(kind="category", values=codes, names=tuple(uniques), title=choice)
    return ColorSpec()


def row_ids(emb: Embedding) -> np.ndarray:
    """The id shown to users: the metadata "id" column if present, else the row number."""
    if emb.metadata is not None and "id" in emb.metadata.columns:
        return emb.metadata["id"].to_numpy()
    return np.arange(emb.n_samples)


def hover_text(emb: Embedding, rows: np.ndarray, *, max_columns: int = 4) -> list[str]:
    """One escaped hover label per drawn row: id, label and a few metadata fields."""
    ids = row_ids(emb)[rows]
    parts: list[list[str]] = [[f"<b>id {int(i)}</b>"] for i in ids]
    if emb.labels is not None:
        for lines, code in zip(parts, emb.labels[rows], strict=True):
            lines.append(f"label: {html.escape(emb.class_name(int(code)))}")
    if emb.metadata is not None:
        columns = [c for c in emb.metadata.columns if c not in HIDDEN_COLUMNS][:max_columns]
        for column in columns:
            values = emb.metadata[column].gather(rows).cast(pl.Utf8).fill_null("").to_list()
            for lines, value in zip(parts, values, strict=True):
                lines.append(f"{html.escape(column)}: {html.escape(value[:80])}")
    return ["<br>".join(lines) for lines in parts]


def selected_rows(selection: Mapping[str, Any] | None, coords: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Rows inside any drawn lasso/box (against all rows), and a single clicked row.

    Returns (rows, clicked): `clicked` is the row id of a single clicked point
    when no region was drawn, else None.
    """
    if not selection:
        return np.empty(0, dtype=np.int64), None
    mask = np.zeros(coords.shape[0], dtype=bool)
    regions = 0
    for lasso in selection.get("lasso") or []:
        mask |= points_in_polygon(coords, lasso["x"], lasso["y"])
        regions += 1
    for box in selection.get("box") or []:
        mask |= points_in_box(coords, box["x"], box["y"])
        regions += 1
    if regions:
        return np.flatnonzero(mask), None
    points = selection.get("points") or []
    rows = sorted({int(p["customdata"]) for p in points if "customdata" in p and np.isscalar(p["customdata"])})
    clicked = rows[0] if len(rows) == 1 else None
    return np.asarray(rows, dtype=np.int64), clicked


def rows_table(emb: Embedding, rows: np.ndarray, extra: Mapping[str, np.ndarray] | None = None) -> pl.DataFrame:
    """A table of the given rows: id, label, any extra columns, then metadata."""
    rows = np.asarray(rows, dtype=np.int64)
    columns: dict[str, Any] = {"id": row_ids(emb)[rows]}
    if emb.labels is not None:
        columns["label"] = [emb.class_name(int(c)) for c in emb.labels[rows]]
    for name, values in (extra or {}).items():
        columns[name] = values
    table = pl.DataFrame(columns)
    if emb.metadata is not None:
        meta = emb.metadata.drop([c for c in emb.metadata.columns if c in columns]).gather(rows)
        table = pl.concat([table, meta], how="horizontal")
    return table
