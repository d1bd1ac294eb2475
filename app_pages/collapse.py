"""Neural collapse: NC1-NC4 over training, class-mean geometry, imbalance, and a training lab."""

from __future__ import annotations

import streamlit as st

from ui import collapse, state, train_lab

view = state.current_view()
emb, run = view.embedding, view.source.run
st.title("Neural collapse")
st.caption("Trained past zero error, a classifier's last-layer features collapse to their class means (NC1), "
           "the means spread into a simplex ETF (NC2), the classifier aligns with them (NC3) and the network "
           "decides like a nearest-class-mean rule (NC4) — Papyan, Han & Donoho (2020).")

tabs = st.tabs(["Collapse", "Train a model", "Formulas", "Try this"])
with tabs[1]:
    train_lab.form()
with tabs[2]:
    collapse.explain()
with tabs[3]:
    train_lab.try_this()

with tabs[0]:
    names = list(emb.label_names or [str(c) for c in range(emb.n_classes)])
    if emb.labels is None or emb.n_classes < 2:
        st.info("Neural collapse needs class labels with at least two classes. Load labels with your "
                "embeddings on the Data page, or train a model in the **Train a model** tab.")
    elif run is not None:
        collapse.run_view(view, names)
    else:
        collapse.embedding_view(view, names)
