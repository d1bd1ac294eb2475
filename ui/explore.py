"""Explore page glue: the cached panel calls (`analysis.panels.explore`), colours, hover text, selections.

Each computation is one cached call keyed by the selection's `key` plus its
options (the selection itself passes unhashed): a projection per (selection,
method, dimensions), one neighbour graph per (selection, metric) that every
click and k slice (or, above `GRAPH_MAX_ROWS` rows, one search per clicked
row), one animation per (selection at every step, method), built on request from the projection on
screen (issue 18).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
import streamlit as st

from analysis.data import Embedding, Selection
from analysis.panels import explore as panel
from analysis.panels import explore_points as points
from analysis.views import ColorSpec
from analysis.views.regions import points_in_box, points_in_polygon
from ui import cache
from ui.cache import RESULTS_TTL
from ui.state import View
from ui.widgets import progress_bar

HIDDEN_COLUMNS = panel.HIDDEN_COLUMNS
CLUSTERS = panel.CLUSTERS
LARGEST_K = panel.LARGEST_K
method_options = panel.method_options
colour_options = panel.colour_options


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _search(data_key: str, query: str, column: str, _selection: Selection) -> np.ndarray:
    return points.search_rows(_selection, query, column)


def search(view: View, query: str, column: str) -> np.ndarray:
    """Rows matching a search (`explore_points.search_rows`), once per (selection, query, column)."""
    return _search(view.data_key, query, column, view.selection)


def colour_spec(emb: Embedding | Selection, choice: str, norms: np.ndarray | None = None,
                clustering: panel.Clusters | None = None) -> ColorSpec:
    """The views' ColorSpec of `panel.colouring` (the same fields)."""
    c = panel.colouring(emb, choice, norms, clustering)
    return ColorSpec(kind=c.kind, values=c.values, names=c.names, title=c.title)


# ------------------------------------------------------------------------------------ cached panel calls
def projection(view: View, method: str, n_components: int) -> panel.Projection:
    """The selection projected (`cache.projection`: shared with the Hubness page's PCA of the same rows)."""
    sel = view.selection
    return cache.projection(sel.key, sel.X, panel.METHODS.get(method, method), n_components, sel.labels)


def layout(view: View, method: str, n_components: int) -> panel.ExploreLayout:
    """What the scatter draws: up to `MAX_DRAWN_POINTS` rows the shared projection of every row, all
    drawn; above, `cache.explore_layout` (a subsample over a density image of every row)."""
    sel = view.selection
    if panel.subsampled(sel.n_samples):
        return cache.explore_layout(sel, method, n_components)
    return panel.explore_layout(sel, method=method, n_components=n_components,
                                projection=projection(view, method, n_components))


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _norms(data_key: str, _selection: Selection) -> np.ndarray:
    return panel.row_norms(_selection.X)


def norms(view: View) -> np.ndarray:
    return _norms(view.data_key, view.selection)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Finding clusters (HDBSCAN)…")
def _clusters(data_key: str, min_cluster_size: int | None, _selection: Selection) -> panel.Clusters:
    return points.clusters(_selection, min_cluster_size=min_cluster_size)


def clusters(view: View, min_cluster_size: int | None = None) -> panel.Clusters:
    """HDBSCAN clusters of the selection's rows, once per (selection, smallest cluster)."""
    return _clusters(view.data_key, None if min_cluster_size is None else int(min_cluster_size), view.selection)


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _colour(data_key: str, choice: str, min_cluster_size: int | None, _selection: Selection) -> ColorSpec:
    clustering = _clusters(data_key, min_cluster_size, _selection) if choice == CLUSTERS else None
    return colour_spec(_selection, choice, _norms(data_key, _selection), clustering)


def colour(view: View, choice: str, min_cluster_size: int | None = None) -> ColorSpec:
    """Point colours for a choice, built once per (selection, choice), not on every click."""
    size = None if min_cluster_size is None or choice != CLUSTERS else int(min_cluster_size)
    return _colour(view.data_key, choice, size, view.selection)


@st.cache_data(max_entries=64, ttl=RESULTS_TTL, show_spinner=False)
def _row_neighbours(data_key: str, row: int, metric: str, _selection: Selection) -> panel.PointNeighbours:
    return panel.point_neighbours(_selection, row, metric=metric)


def neighbours(view: View, row: int, metric: str) -> panel.PointNeighbours:
    """The nearest rows of `row`, deep enough for every k: a row of the selection's graph (searched on
    the first click), or on more than `GRAPH_MAX_ROWS` rows that row's own search."""
    sel = view.selection
    if panel.uses_graph(sel.n_samples):
        return panel.point_neighbours(sel, row, metric=metric, graph=cache.selection_graph(sel, metric))
    return _row_neighbours(sel.key, int(row), metric, sel)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _training_frames(step_keys: tuple[str, ...], method: str, _selection: Selection,
                     _anchor: panel.Projection | None) -> panel.TrainingFrames:
    total = len(step_keys)
    bar, progress = progress_bar(f"Projecting {total} checkpoints with {method}, one at a time…")
    frames = panel.training_frames(_selection, method=method, progress=progress, anchor_projection=_anchor)
    bar.empty()
    return frames


def training_frames(view: View, method: str) -> panel.TrainingFrames:
    """Every checkpoint of the selection's layer and rows, projected and aligned, with a progress bar (one step
    per checkpoint). The sidebar's checkpoint anchors it: its 2-D projection is the cached one the scatter
    draws (reused, not fitted again) and the other checkpoints start from it.

    Cached per the selection at every step and the method, not per anchor: moving the checkpoint slider
    afterwards keeps the frames (each is a projection of its own checkpoint whichever step anchored them;
    `TrainingFrames.anchor_step` says which) instead of fitting nine checkpoints again.
    """
    sel = view.selection
    name = panel.METHODS.get(method, method)
    # Above MAX_DRAWN_POINTS the scatter's projection places the drawn rows only: the anchor is fitted anew.
    anchor = None if panel.subsampled(sel.n_samples) else projection(view, method, 2)
    return _training_frames(tuple(sel.at(s).key for s in sel.run.steps), name, sel, anchor)


# ------------------------------------------------------------------------------------ tables and hover text
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
        # A `text` column first (what an upload's point says), never a picture's bytes.
        shown = [c for c in emb.metadata.columns if c not in HIDDEN_COLUMNS and emb.metadata[c].dtype != pl.Binary
                 and c != points.IMAGE_COLUMN]
        columns = sorted(shown, key=lambda c: c != points.TEXT_COLUMN)[:max_columns]
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
        # Pictures' bytes are not a table column (nor CSV text): `explore_tools.show_rows` shows them as images.
        dropped = [c for c in emb.metadata.columns if c in columns or emb.metadata[c].dtype == pl.Binary]
        meta = emb.metadata.drop(dropped).gather(rows)
        table = pl.concat([table, meta], how="horizontal")
    return table
