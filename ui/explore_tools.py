"""Explore page tools beside the scatter: tables with thumbnails, the chosen point's card, clusters.

Thumbnails: Plotly's hover label is text only (no images), and `st.plotly_chart` sends no hover
event to the server, so the pictures are shown where the rows are listed: an image column
(`st.column_config.ImageColumn`, data-URI PNGs built on the server, nothing fetched) in the
selection and neighbour tables, and the chosen point's picture, larger, above its neighbours.
Checked in Chromium by tests/e2e/test_explore_tools_e2e.py.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl
import streamlit as st

from analysis.panels import explore as panel
from analysis.panels import explore_points as points
from ui import explore
from ui.state import View

PICTURE = "picture"
CHOSEN_IMAGE_PIXELS = 96


def show_rows(view: View, rows: np.ndarray, extra: Mapping[str, np.ndarray], *, key: str, height: int) -> pl.DataFrame:
    """A table of rows (id, label, `extra`, metadata), with a picture column when the rows have
    pictures; returns the table without pictures (for the CSV)."""
    emb = view.embedding
    table = explore.rows_table(emb, rows, extra)
    shown, config = table, None
    if points.has_thumbnails(emb):
        uris = points.thumbnail_uris(emb, rows)
        shown = table.insert_column(1, pl.Series(PICTURE, uris, dtype=pl.Utf8))
        config = {PICTURE: st.column_config.ImageColumn(PICTURE, width="small",
                                                        help="The point's picture (the digit for the samples)")}
    st.dataframe(shown, height=height, hide_index=True, key=key, column_config=config)
    return table


def chosen_point_card(view: View, row: int) -> None:
    """The chosen point's picture and text (an `image` / `text` metadata column, or the sample's digit)."""
    emb = view.embedding
    picture = points.thumbnails(emb, np.asarray([row]))[0] if points.has_thumbnails(emb) else None
    text = None
    if emb.metadata is not None and points.TEXT_COLUMN in emb.metadata.columns:
        text = emb.metadata[points.TEXT_COLUMN].cast(pl.Utf8)[int(row)]
    if picture is None and not text:
        return
    left, right = st.columns([1, 3]) if picture is not None else (None, st.container())
    if picture is not None:
        left.image(picture, width=CHOSEN_IMAGE_PIXELS)
    if text:
        right.text(text[:500])


def min_cluster_size_input(view: View, container) -> int:
    """The smallest HDBSCAN cluster, asked only while the points are coloured by clusters."""
    n = view.embedding.n_samples
    return int(container.number_input(
        "Smallest cluster (rows)", 2, max(2, n), panel.default_min_cluster_size(n), key="explore_min_cluster",
        help="HDBSCAN's min_cluster_size: a denser region smaller than this is not a cluster (its rows are noise)."))


def cluster_section(view: View, min_cluster_size: int) -> None:
    """The clusters' sizes and label purity, with a CSV download."""
    found = explore.clusters(view, min_cluster_size)
    emb = view.embedding
    st.subheader("Clusters")
    purity = (f" Purity (each cluster's majority-label share, weighted by size): {found.overall_purity:.3f}."
              if found.overall_purity is not None else " No labels: purity needs class labels.")
    st.caption(found.describe() + purity + " Clusters are found in the original space, not in the 2-D picture, "
               "so they do not change with the projection.")
    table = points.cluster_table(found, class_name=emb.class_name if emb.labels is not None else None)
    config = {"share of rows": st.column_config.NumberColumn(format="%.3f")}
    if "purity" in table.columns:
        config["purity"] = st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")
    st.dataframe(table, hide_index=True, column_config=config, key="explore_cluster_table")
    st.download_button("Download clusters as CSV", table.write_csv(), file_name="replens_clusters.csv",
                       mime="text/csv", key="explore_cluster_download")
