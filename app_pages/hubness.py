"""Hubness: k-occurrence diagnostics, hubs on the projection, reductions, and a teaching demo."""

from __future__ import annotations

import streamlit as st

from ui import cache, hubness, retrieval, state
from ui.errors import USER_ERRORS, show_error
from ui.widgets import exact_knn_toggle

view = state.current_view()
emb = view.embedding
st.title("Hubness")
st.caption("In high dimensions a few points (hubs) are among the k nearest neighbours of very many others, while "
           "many (antihubs) are nobody's neighbour — Radovanovic, Nanopoulos & Ivanovic (2010). It hurts "
           "retrieval and kNN classification.")

controls = st.columns([2, 1, 1])
k = controls[0].slider("Neighbours k", 1, hubness.largest_k(emb.n_samples), min(10, emb.n_samples - 1), key="hub_k")
metric = controls[1].radio("Distance", ["euclidean", "cosine"], horizontal=True, key="hub_metric")
method = controls[2].selectbox("Projection", ["PCA", "UMAP"], key="hub_projection")
exact_knn_toggle(emb.n_samples)

tabs = st.tabs(["Hubness", "Reduction", "Retrieval", "Teaching demo", "Formulas"])
with tabs[3]:
    hubness.teaching_demo()
with tabs[4]:
    hubness.explain()
try:
    hubness.panel(view, k, metric)  # validates the data before any projection (cached; one neighbour search)
    with st.spinner(f"Computing {method} of {emb.n_samples:,} points…"):
        proj = cache.projection(view.data_key, emb.X, method.lower(), 2, emb.labels)
    with tabs[0]:
        hubness.main_view(view, proj.coords, k, metric)
    with tabs[1]:
        hubness.reduction_view(view, proj.coords, k, metric)
except USER_ERRORS as exc:
    show_error(exc, "Cannot measure hubness on this dataset")
with tabs[2]:  # last: the first tab draws before this tab's re-rankings run
    try:
        retrieval.retrieval_view(view, k)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot compare retrieval re-rankings on these splits")
