"""Neural-collapse page: widgets, cached panels (`analysis.panels.collapse`) and drawing.

Every view uses the sidebar's rows (`view.selection`), as every other page
does: the cards, the Gram matrix, the imbalance view, the curves and the
heatmap; the page says which rows. The curves can show the train and test
rows side by side instead, when the user asks for it (a toggle, captioned).
"""

from __future__ import annotations

import streamlit as st

from analysis.data import Selection
from analysis.panels import collapse as panel
from analysis.panels.collapse import load_classifier  # module-level name: tests swap it
from analysis.panels.common import USER_ERRORS
from analysis.views import (
    class_means_animation,
    collapse_heatmap,
    format_number,
    format_percent,
    gram_comparison,
    imbalance_panel,
    nc_over_training,
)
from ui import collapse_classes
from ui.cache import RESULTS_TTL
from ui.errors import show_error
from ui.state import View, bytes_key
from ui.widgets import card_columns, formulas, plot_config

MEANINGS = panel.MEANINGS
# Classes count as balanced when the largest holds at most 10% more rows than the smallest: a size chart
# over such a narrow range only magnifies noise (the sample's 174-183 rows per class drew an axis of
# 399-401 on the train split and ticks of "21%, 21%, 20%").
BALANCED_RATIO = 1.1


def centring() -> str:
    """The centring of the class means chosen by the page's switch (`centring_switch`, key "nc_centring")."""
    return st.session_state.get("nc_centring") or "class_means"


def centring_switch() -> str:
    """mu_G: the mean of the class means (default) or of all samples (Papyan et al. 2020); see
    `analysis.metrics.collapse_centring`. Every number on the page follows it."""
    st.radio("Centre the class means on", panel.CENTRINGS, format_func=panel.CENTRING_LABELS.__getitem__,
             horizontal=True, key="nc_centring",
             help="The global mean μ_G behind M, Σ_B, NC1, NC2, the ETF distance and NC3. Mean of class means: "
                  "every class weighs the same. Mean of all samples: Papyan, Han & Donoho (2020)'s definition. "
                  "Equal when the classes are balanced.")
    return centring()


def centring_note(data: panel.CollapsePanel) -> None:
    """With imbalanced classes, one sentence: the two centrings differ here, and which one the numbers use."""
    if data.centring_text:
        st.caption(data.centring_text, help="The Report always centres on the mean of class means.")


@st.cache_data(max_entries=64, ttl=RESULTS_TTL, show_spinner=False)
def _measure(selection_key: str, _selection: Selection, classifier_key: str = "",
             _classifier: panel.ClassifierArrays | None = None, mu_g: str = "class_means") -> panel.NeuralCollapse:
    return panel.measure(_selection, classifier=_classifier, mu_g=mu_g)


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _panel(selection_key: str, _selection: Selection, classifier_key: str, _result: panel.NeuralCollapse,
           _reference: panel.NeuralCollapse | None, mu_g: str = "class_means") -> panel.CollapsePanel:
    return panel.collapse_panel(_selection, result=_result, reference=_reference, mu_g=mu_g)


def collapse_panel(selection: Selection, classifier_key: str = "",
                   classifier: panel.ClassifierArrays | None = None) -> panel.CollapsePanel:
    """The Collapse tab's numbers; each checkpoint is measured once (the cards' reference is reused)."""
    mu_g = centring()
    result = _measure(selection.key, selection, classifier_key, classifier, mu_g)
    step = panel.reference_step(selection)
    reference = None if step is None else _measure(selection.at(step).key, selection.at(step), mu_g=mu_g)
    return _panel(selection.key, selection, classifier_key, result, reference, mu_g)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Measuring neural collapse at every layer and checkpoint…")
def _history(rows_key: str, _selection: Selection, mu_g: str = "class_means") -> panel.CollapseHistory:
    return panel.collapse_history(_selection, mu_g=mu_g)


def history(selection: Selection) -> panel.CollapseHistory:
    """Every layer and checkpoint on the selection's rows, cached per rows (not per layer or checkpoint)."""
    return _history(panel.history_selection(selection).key, selection, centring())


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Projecting class means at every checkpoint…")
def _frames(layer_rows_key: str, _selection: Selection) -> panel.ClassMeanFrames:
    return panel.collapse_frames(_selection)


def frames(selection: Selection) -> panel.ClassMeanFrames:
    """The 3-D animation's frames, cached per layer and rows (not per checkpoint)."""
    return _frames(panel.frames_selection(selection).key, selection)


def classifier_upload(view: View) -> tuple[str, panel.ClassifierArrays | None]:
    """An optional classifier for an uploaded embedding: (cache key, arrays), kept per dataset.

    A bad file shows an error and keeps the classifier loaded before.
    """
    store: dict = st.session_state.setdefault("nc_classifiers", {})
    with st.expander("Add the classifier (optional: enables NC3 and NC4)"):
        file = st.file_uploader(
            "Last-layer weight (.npy, n_classes × d), or .npz / .safetensors with 'weight', 'bias' and/or "
            "'predictions'", type=["npy", "npz", "safetensors"], key=f"nc_classifier_{view.data_key}")
        if file is not None:
            data = file.getvalue()
            key = bytes_key("classifier", file.name, data)  # the name's extension picks the parser
            if store.get(view.data_key, ("",))[0] != key:
                try:
                    arrays = load_classifier(data, file.name)
                    # Checked before it replaces anything: a bad file keeps the previous classifier.
                    panel.check_classifier_fits(arrays, view.selection)
                    store[view.data_key] = (key, arrays)
                except USER_ERRORS as exc:
                    show_error(exc, file.name, what=file.name, kept="The classifier loaded before is still used."
                               if view.data_key in store else None)
        if view.data_key in store:
            st.caption("Classifier loaded for this dataset.")
    return store.get(view.data_key, ("", None))


def measure_embedding(view: View) -> panel.CollapsePanel | None:
    """The panel of an uploaded embedding (with its classifier if one fits); errors shown, not raised."""
    key, classifier = classifier_upload(view)
    if classifier is not None:
        try:
            return collapse_panel(view.selection, key, classifier)
        except USER_ERRORS as exc:
            show_error(exc, "The classifier does not fit this embedding, so it was set aside")
            st.session_state["nc_classifiers"].pop(view.data_key, None)
    try:
        return collapse_panel(view.selection)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot measure neural collapse here")
        return None


def _fmt(value: float | None) -> str:
    return format_number(value)


def headline(data: panel.CollapsePanel) -> None:
    """NC1-NC4 cards, each with its meaning as help and the change since the reference checkpoint."""
    result = data.result
    cols = card_columns(len(panel.HEADLINE) + 1, per_row=len(panel.HEADLINE) + 1)
    for col, name in zip(cols, panel.HEADLINE, strict=False):
        label, meaning, _ = MEANINGS[name]
        value, change = getattr(result, name), data.changes[name]
        # A signed percentage: Streamlit draws the arrow from the sign, and
        # "inverse" colours a fall green (every NC metric falls as collapse forms).
        delta = None if change is None else f"{100.0 * change:+.1f}% since step {data.reference_step:,}"
        if value is None:
            meaning += " (Needs a classifier: not available for this layer or dataset.)"
        col.metric(label, _fmt(value), delta=delta, delta_color="inverse", help=meaning)
    cols[-1].metric("NCC accuracy", format_percent(result.ncc_accuracy),
                    help="Share of samples whose nearest class mean is their own class's.")


def over_training(view: View) -> None:
    """NC1-NC4 against step for the chosen layer, and the layer x step heatmap, on the sidebar's rows."""
    selection = view.selection
    run = selection.run
    mine = history(selection)
    both = [s for s in ("train", "test") if s in selection.splits()]
    compare = len(both) == 2 and st.toggle(
        "Compare train and test rows", key="nc_compare_splits",
        help="Draw the curves of the train rows (solid) and the test rows (dotted) instead of the sidebar's rows.")
    if compare:
        series = {s: history(panel.split_selection(selection, s)).series(view.layer) for s in both}
        rows_text = "Solid = train rows, dotted = test rows (not the sidebar's rows: the toggle above)"
    else:
        series = {mine.split: mine.series(view.layer)}
        rows_text = f"The sidebar's {panel.rows_label(selection)}"
    st.plotly_chart(nc_over_training(list(run.steps), series, marked_step=view.step),
                    key="nc_curves", config=plot_config())
    st.caption(f"Layer **{view.layer}** against optimiser step (log axis, 'init' = before training). {rows_text}; "
               "in NC2 blue = ETF distance, orange = equinorm. The dashed line marks the sidebar's checkpoint; "
               "NC1 and NC3 use log axes.")
    choice = st.radio("Heatmap metric", list(panel.HEATMAP_METRICS), horizontal=True, key="nc_heatmap_metric")
    column = panel.HEATMAP_METRICS[choice]
    st.plotly_chart(collapse_heatmap(run.layers, run.steps, mine.grid(column), metric=choice, log=column != "nc4"),
                    key="nc_heatmap", config=plot_config())
    st.caption(f"Every layer and checkpoint on the sidebar's {panel.rows_label(selection)}.")


def geometry(data: panel.CollapsePanel, names: list[str], *, animation: tuple[panel.ClassMeanFrames, list[int], int]) -> None:
    """The Gram matrix beside the ETF target, and the 3-D class means (animated over checkpoints)."""
    result = data.result
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Class-mean Gram matrix vs simplex ETF**")
        st.plotly_chart(gram_comparison(result.gram, data.etf_gram, data.class_names),
                        key="nc_gram", config=plot_config())
        st.caption(f"ETF distance {_fmt(result.etf_distance)} (0 = identical). A collapsed layer shows one "
                   "colour on the diagonal and one equal negative colour everywhere else.")
    with right:
        st.markdown("**Class means and their samples in 3-D**")
        frames_, steps, start = animation
        fig = class_means_animation(frames_.sample_coords, frames_.mean_coords, frames_.labels, steps, names,
                                    start_index=start)
        st.plotly_chart(fig, key="nc_means3d", config=plot_config())
        if len(steps) > 1:
            st.caption("Top 3 directions of the class means at each checkpoint, scaled so the means have unit "
                       "RMS length and rotated onto the previous checkpoint. Drag the slider under the chart or "
                       "press Play: samples close in on their means as NC1 falls.")
        else:  # one embedding, one frame: no slider to point at (issue 18 item 6)
            st.caption("Top 3 directions of the class means, scaled so the means have unit RMS length. Drag to "
                       "rotate; load a run to watch the samples close in on their means over training.")


def imbalance(data: panel.CollapsePanel) -> None:
    """Class size against class-mean norm and against the class's share of NC1; which target is nearer."""
    result = data.result
    if data.imbalance_ratio <= BALANCED_RATIO:
        counts = result.class_counts
        st.markdown(f"**Classes are balanced**: {min(counts):,} to {max(counts):,} rows per class (largest / "
                    f"smallest {format_number(data.imbalance_ratio)}, at most {BALANCED_RATIO:g} counts as "
                    "balanced), so there is no class-size effect to plot.")
    else:
        st.plotly_chart(imbalance_panel(result.class_counts, result.class_mean_norms, result.nc1_class_share,
                                        data.class_names),
                        key="nc_imbalance", config=plot_config())
    cols = st.columns(3)
    cols[0].metric("Largest / smallest class", f"{format_number(data.imbalance_ratio)}×",
                   help="Class-imbalance ratio of the rows measured.")
    cols[1].metric("ETF distance", _fmt(result.etf_distance), help=MEANINGS["etf_distance"][1])
    cols[2].metric("Orthogonal-frame distance", _fmt(result.orthogonal_frame_distance),
                   help=MEANINGS["orthogonal_frame_distance"][1])
    st.caption(data.imbalance_text)


def explain() -> None:
    """Every metric's plain meaning and formula."""
    st.markdown(r"Notation: class means $\mu_c$, their mean $\mu_G$ (or the mean of all samples, by the Collapse "
                r"tab's centring switch), $M=[\mu_c-\mu_G]_c$ (d × C), "
                r"$\Sigma_W=\frac1n\sum_i(x_i-\mu_{y_i})(x_i-\mu_{y_i})^\top$, $\Sigma_B=\frac1C MM^\top$, "
                r"classifier $W$ (C × d). Computed in float64; $\Sigma_B^{+}$ keeps its top C−1 eigenpairs.")
    formulas(MEANINGS)
    st.caption("Papyan, Han & Donoho (2020), PNAS 117(40); Tirer, Huang & Niles-Weed (2023); Galanti et al. "
               "(2022); Dang et al. (2023); Fang et al. (2021).")


def run_view(view: View, names: list[str]) -> None:
    """The Collapse tab for a run: the sidebar's layer, checkpoint and rows, and their history."""
    selection = view.selection
    centring_switch()
    try:
        data = collapse_panel(selection)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot measure neural collapse on this run")
        return
    result = data.result
    st.markdown(f"**{view.layer}** at step **{view.step:,}**, {data.rows}, {result.n_classes} classes. "
                "Change layer, checkpoint and split in the sidebar.")
    st.caption(f"Every number on this page uses the sidebar's {data.rows}: the same rows as every other "
               "page, the Report included.")
    centring_note(data)
    headline(data)
    st.subheader("Over training")
    over_training(view)
    st.subheader("Class-mean geometry")
    steps = panel.run_steps(selection)
    geometry(data, names, animation=(frames(selection), steps, steps.index(view.step)))
    st.subheader("Imbalance")
    imbalance(data)
    collapse_classes.minority_section(view)
    collapse_classes.new_classes_section(view)


def embedding_view(view: View, names: list[str]) -> None:
    """The Collapse tab for one embedding with labels (and optionally its classifier)."""
    centring_switch()
    data = measure_embedding(view)
    if data is None:
        return
    result = data.result
    st.markdown(f"{data.rows}, {result.n_classes} classes, d = {result.n_features}. A single "
                "embedding has no checkpoints: train a model or load a run to watch collapse form.")
    centring_note(data)
    headline(data)
    st.subheader("Class-mean geometry")
    geometry(data, names, animation=(frames(view.selection), [0], 0))
    st.subheader("Imbalance")
    imbalance(data)
