"""Explore page tools beside the scatter: the clusters table (and later search and thumbnails)."""

from __future__ import annotations

import streamlit as st

from analysis.clusters import default_min_cluster_size
from analysis.panels import explore as panel
from ui import explore
from ui.state import View


def min_cluster_size_input(view: View, container) -> int:
    """The smallest HDBSCAN cluster, asked only while the points are coloured by clusters."""
    n = view.embedding.n_samples
    return int(container.number_input(
        "Smallest cluster (rows)", 2, max(2, n), default_min_cluster_size(n), key="explore_min_cluster",
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
    table = panel.cluster_table(found, class_name=emb.class_name if emb.labels is not None else None)
    config = {"share of rows": st.column_config.NumberColumn(format="%.3f")}
    if "purity" in table.columns:
        config["purity"] = st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")
    st.dataframe(table, hide_index=True, column_config=config, key="explore_cluster_table")
    st.download_button("Download clusters as CSV", table.write_csv(), file_name="replens_clusters.csv",
                       mime="text/csv", key="explore_cluster_download")
