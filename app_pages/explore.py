"""Explore: the projection of the selected layer, selections, neighbours, and training."""

from __future__ import annotations

import streamlit as st

from analysis.views import animated_scatter
from ui import cache, explore, explore_tools, state
from ui.explore_fragment import point_cloud
from ui.widgets import plot_config

view = state.current_view()
emb = view.embedding
st.title("Explore")
st.caption(emb.name or view.source.label)

controls = st.columns([1.2, 0.8, 1.2, 1, 1])
methods = explore.method_options(emb.n_classes)
method = controls[0].selectbox("Projection", methods, key="explore_method",
                               help="PCA is instant; UMAP and t-SNE take seconds to minutes on large n.")
dims = controls[1].radio("View", [2, 3], key="explore_dims", horizontal=True, format_func=lambda d: f"{d}-D")
colour = controls[2].selectbox("Colour by", explore.colour_options(emb), key="explore_colour")
k = controls[3].slider("Neighbours k", 1, explore.LARGEST_K, 10, key="explore_k")
metric = controls[4].radio("Distance", ["euclidean", "cosine"], key="explore_metric", horizontal=True)
min_cluster = explore_tools.min_cluster_size_input(view, controls[2]) if colour == explore.CLUSTERS else None

with st.spinner(f"Computing {method} of {emb.n_samples:,} points… (stop with the ■ button, top right)"):
    layout = explore.layout(view, method, dims)
point_cloud(view, layout, method=method, colour=colour, k=k, metric=metric, min_cluster_size=min_cluster)
if min_cluster is not None:
    explore_tools.cluster_section(view, min_cluster)

run = state.current_run(view)
if run is not None and len(run.steps) > 1 and view.layer is not None:
    st.subheader("Over training")
    seq_label = method if dims == 2 else "PCA"
    st.caption(f"{seq_label} of layer {view.layer} at all {len(run.steps)} checkpoints, computed when you turn it "
               "on: the checkpoint shown above at that moment is kept as drawn, each other checkpoint starts "
               "from its neighbour's layout and is aligned to it (orthogonal Procrustes), so the cloud does not "
               "flip or spin. Then press play.")
    # Off until asked (issue 18): ten UMAP or t-SNE fits cost tens of seconds, and the scatter above comes first.
    if st.toggle("Animate over training", key="explore_animate", value=False,
                 help=f"Project all {len(run.steps)} checkpoints with {seq_label} (a progress bar shows each)."):
        frames = explore.training_frames(view, seq_label)
        rows = cache.draw_rows(view.data_key, emb.n_samples, 5_000, _labels=emb.labels)
        st.plotly_chart(animated_scatter(list(frames.coords), list(frames.steps), draw_rows=rows,
                                         color=explore.colour(view, colour), method=seq_label),
                        key="explore_animation", config=plot_config())
