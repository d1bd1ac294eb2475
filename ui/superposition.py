"""Superposition page: the toy-model sweep, the phase diagram, and uploaded weight matrices."""

from __future__ import annotations

import streamlit as st

from analysis.data.weights import list_weight_tensors, load_weight_matrix
from analysis.panels import superposition as panel
from analysis.views import (
    feature_arrows,
    feature_dimensionality_plot,
    format_number,
    gram_and_bias,
    overlap_histograms,
    phase_diagram_heatmap,
)
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import bytes_key
from ui.training_slots import training_slot
from ui.widgets import plot_config, progress_bar

SWEEP_STEPS = 10_000


# cache_resource: the panels' arrays are never mutated, and cache_data would copy them on every read.
@st.cache_resource(max_entries=4, ttl=SHARED_TTL, show_spinner=False)
def sweep(n_features: int, n_hidden: int, steps: int, seed: int, decay: float) -> panel.ToyModelPanel:
    """One toy-model sweep over the default sparsities, measured (`panel.toy_model_panel`)."""
    bar, update = progress_bar("Training one model per sparsity, all in one batched computation…")
    with training_slot(rerun=False):  # counts against the server's training limit
        result = panel.toy_model_panel(n_features, n_hidden, steps=steps, seed=seed, importance_decay=decay,
                                       progress=update)
    bar.empty()
    return result


@st.cache_resource(max_entries=2, ttl=SHARED_TTL, show_spinner=False)
def phases(size: int, seed: int) -> panel.PhasePanel:
    bar, update = progress_bar("Training every cell of the grid at once…")
    with training_slot(rerun=False):
        result = panel.phase_panel(size, seed=seed, progress=update)
    bar.empty()
    return result


def toy_model() -> None:
    """Sweep controls, feature arrows under a sparsity slider, W^T W and bias, and D_i against sparsity."""
    cols = st.columns(4)
    n = cols[0].slider("Features n", 2, 8, 5, key="sup_n")
    m = cols[1].radio("Hidden m", [2, 3], horizontal=True, key="sup_m")
    decay = cols[2].select_slider("Importance decay", [0.7, 0.8, 0.9, 1.0], value=0.9, key="sup_decay",
                                  help="I_i = decay^i: feature 0 matters most.")
    seed = cols[3].number_input("Seed", 0, 1000, 0, key="sup_seed")
    toy = sweep(int(n), int(m), SWEEP_STEPS, int(seed), float(decay))
    labels = toy.labels
    st.plotly_chart(feature_arrows(toy.W, labels, start_index=len(labels) - 1, slider_prefix=""),
                    key="sup_arrows", config=plot_config())
    st.caption(f"Each arrow is one feature's direction W_i in the {m}-D hidden space (colour = feature, 0 the most "
               "important). Drag the slider from dense (left) to sparse (right): the two most important features "
               "first, then antipodal pairs, then all of them in superposition.")
    left, right = st.columns([1, 1])
    with left:
        choice = st.select_slider("Instance", list(range(len(labels))), value=len(labels) - 1,
                                  format_func=lambda i: labels[i], key="sup_instance")
        st.plotly_chart(gram_and_bias(toy.W[choice], toy.b[choice]), key="sup_gram", config=plot_config())
        st.caption(toy.describe_instance(choice))
    with right:
        st.plotly_chart(feature_dimensionality_plot(toy.feature_probabilities, toy.feature_dimensionality),
                        key="sup_dims", config=plot_config())
    st.caption(f"{len(labels)} models of n = {n} features into m = {m} dimensions trained together in "
               f"{toy.seconds:.0f} s ({SWEEP_STEPS:,} AdamW steps each, batch 1,024).")


def phase_view() -> None:
    """The n = 2, m = 1 phase diagram, trained on request."""
    st.markdown("Two features, one dimension. For each feature probability (x) and importance of feature 2 "
                "relative to feature 1 (y), train the model (4 seeds, best kept) and record what it does.")
    size = st.select_slider("Grid", [6, 9, 12], value=12, key="sup_phase_size")
    if st.button("Compute the phase diagram", key="sup_phase_go", icon=":material/grid_on:") or \
            st.session_state.get("sup_phase_done") == size:
        diagram = phases(int(size), 0)
        st.session_state["sup_phase_done"] = size
        st.plotly_chart(phase_diagram_heatmap(diagram.feature_probabilities, diagram.relative_importances,
                                              diagram.cell_labels, theory=diagram.theory),
                        key="sup_phase", config=plot_config())
        st.caption("Cells: what training found. Black lines: the closed-form boundaries between the three "
                   "candidates' expected losses (ignore: r(p/3 − p²/4), dedicated: p/3 − p²/4, antipodal with "
                   "zero bias: (1 + r)p²/6). Dense features keep only the more important one; sparser, the "
                   "antipodal pair wins, first around equal importance, then everywhere.")


def weights_view() -> None:
    """Any uploaded weight matrix: overlaps against random directions and the D_i histogram."""
    file = st.file_uploader("A weight matrix: .safetensors, state-dict .pt/.pth, or .npy",
                            type=["safetensors", "pt", "pth", "npy"], key="sup_weights")
    if file is None:
        st.info("Upload a model's weights to measure how its features overlap (e.g. a Linear layer's weight).")
        return
    data = file.getvalue()
    data_key = bytes_key("weights", data)  # the upload's content key: hashing the bytes once per rerun
    try:
        tensors = _listing(data_key, data, file.name)
    except USER_ERRORS as exc:
        show_error(exc, file.name, what=file.name)
        return
    cols = st.columns([2, 1])
    key = cols[0].selectbox("Tensor", list(tensors), format_func=lambda k: f"{k}  {tensors[k]}", key="sup_tensor")
    features = cols[1].radio("Features are its", ["rows", "columns"], horizontal=True, key="sup_axis")
    try:
        result = _measure(data_key, data, file.name, key, features).geometry
    except USER_ERRORS as exc:
        show_error(exc, file.name, what=f"{file.name} ({key})")
        return
    c = st.columns(4)
    c[0].metric("Features", f"{result.n_features:,}")
    c[1].metric("Dimensions per feature", format_number(result.dimensions_per_feature),
                help="m / ‖W‖²_F: below 1 means more features than dimensions' worth of norm.")
    c[2].metric("Mean squared overlap", format_number(result.mean_squared_overlap), help="Mean (Ŵ_i · Ŵ_j)² over feature pairs.")
    c[3].metric("Random directions", format_number(result.random_overlap_expectation),
                help="1/d for random directions.")
    st.plotly_chart(overlap_histograms(result.squared_overlaps, result.random_overlap_expectation,
                                       result.feature_dimensionality), key="sup_overlaps", config=plot_config())


# Keyed by the upload's content key (`data_key`) and the options; the bytes themselves are not hashed.
@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _listing(data_key: str, _data: bytes, name: str) -> dict[str, tuple[int, ...]]:
    return list_weight_tensors(_data, name)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Measuring feature overlaps…")
def _measure(data_key: str, _data: bytes, name: str, tensor: str, features: str) -> panel.WeightsPanel:
    return panel.weights_panel(load_weight_matrix(_data, name, tensor), tensor=tensor, features=features)


def try_this() -> None:
    st.markdown(
        "**The paper's figures, step by step** (Elhage et al. 2022, *Toy Models of Superposition*).\n\n"
        "1. **Toy model** tab, slider at the left (dense): only the two most important features have arrows, at "
        "right angles; the other three are dropped (D_i = 1, 1, 0, 0, 0).\n"
        "2. Move right: around 1 − S ≈ 0.5 features pair up **antipodally** (D_i ≈ 1/2).\n"
        "3. At the right end (sparse) all five arrows form a **pentagon** and every D_i sits near 2/5: the "
        "dimensionality plot shows the points settling on the sticky fractions.\n"
        "4. Set m = 3: the dense end keeps three features, one per dimension; sparser, two antipodal pairs "
        "share two dimensions while one feature keeps the third (D_i = 1/2, 1/2, 1/2, 1/2, 1). Drag to rotate.\n"
        "5. **Phase diagram** tab: see where a second, less important feature is ignored, gets the dimension, "
        "or is stored antipodally.\n"
        "6. **Weights** tab: upload a real layer and compare its squared overlaps with the 1/d of random "
        "directions."
    )
