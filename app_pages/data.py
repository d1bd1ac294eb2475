"""Data: pick a sample or upload files, and see what the active dataset holds."""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.data import SUPPORTED_FORMATS, UPLOAD_LIMIT_MB
from analysis.views import class_size_bars, norm_histogram, training_curves
from ui import cache, capture, state, workspace
from ui.errors import USER_ERRORS, show_error
from ui.explore import rows_table
from ui.loading import Upload, load_upload
from ui.widgets import plot_config

TABLE_ROWS = 5_000

st.title("Data")
st.caption("Every page works on the dataset chosen in the sidebar. Uploads and trained runs are kept in your "
           "workspace: a reload of this address finds them (see the list below).")

with st.expander("Upload embeddings, activations or a RepLens run", expanded=False), st.form("upload_form"):
    main = st.file_uploader(f"Embeddings ({', '.join(SUPPORTED_FORMATS)}; up to {UPLOAD_LIMIT_MB} MB)",
                            type=[ext.lstrip(".") for ext in SUPPORTED_FORMATS], key="upload_main")
    cols = st.columns(2)
    labels = cols[0].file_uploader("Labels (optional: .npy, .csv, .txt, one per row)",
                                   type=["npy", "csv", "txt", "parquet"], key="upload_labels")
    metadata = cols[1].file_uploader("Metadata table (optional: .csv or .parquet, one row per sample)",
                                     type=["csv", "parquet"], key="upload_metadata")
    opts = st.columns(3)
    label_column = opts[0].text_input("Label column (CSV/parquet)", key="upload_label_column")
    pooling = opts[1].selectbox("3-D activations (n, tokens, d)", ["refuse", "mean", "last", "flatten"],
                                key="upload_pooling", help="How to pool over tokens; RepLens never reshapes silently.")
    drop = opts[2].checkbox("Drop rows with NaN/Inf", key="upload_drop_nonfinite")
    submitted = st.form_submit_button("Load", type="primary")

if submitted:
    if main is None:
        st.warning("Choose an embeddings file first.")
    else:
        files = {role: Upload(f.name, f.getvalue()) for role, f in
                 (("main", main), ("labels", labels), ("metadata", metadata)) if f is not None}
        options = {"label_column": label_column, "pooling": None if pooling == "refuse" else pooling,
                   "drop_nonfinite": drop}
        try:
            source, notes = load_upload(files["main"], labels=files.get("labels"), metadata=files.get("metadata"),
                                        **options)
        except USER_ERRORS as exc:
            named = main.name + ("" if labels is None else f" with labels {labels.name}")
            show_error(exc, what=named, kept="The data loaded before is still active.")
        else:
            state.add_upload(source)
            workspace.remember_upload(source, files, options)  # its original bytes: a reload parses them again
            st.session_state["upload_notes"] = notes
            st.rerun()

capture.section()  # a local model folder over the user's texts or images -> a run

workspace.section()  # this session's uploads and trained runs: Download, Remove

for note in st.session_state.pop("upload_notes", []):
    st.info(note)

view = state.current_view()
emb = view.embedding
data = cache.data_panel(view)
summary = data.summary
st.subheader(view.source.label)
cards = st.columns(6)
cards[0].metric("samples (n)", f"{summary['n']:,}")
cards[1].metric("features (d)", f"{summary['d']:,}")
cards[2].metric("classes", summary["n_classes"] or "—")
cards[3].metric("duplicate rows", f"{summary['n_duplicate_rows']:,}")
cards[4].metric("rows with NaN/Inf", f"{summary['n_nonfinite_rows']:,}")
cards[5].metric("zero rows", f"{summary['n_zero_rows']:,}")

left, right = st.columns(2)
if summary["class_sizes"]:
    left.plotly_chart(class_size_bars(data.class_names, data.class_counts),
                      key="data_classes", config=plot_config())
right.plotly_chart(norm_histogram(data.norms), key="data_norms",
                   config=plot_config())

run = state.current_run(view)
if run is not None and run.curves.get("step"):
    st.plotly_chart(training_curves(run.curves, marked_step=view.step), key="data_curves",
                    config=plot_config())

st.markdown("**Samples and metadata**")
shown = min(emb.n_samples, TABLE_ROWS)
st.dataframe(rows_table(emb, np.arange(shown)), height=300, hide_index=True, key="data_table")
if shown < emb.n_samples:
    st.caption(f"The first {shown:,} of {emb.n_samples:,} rows.")
