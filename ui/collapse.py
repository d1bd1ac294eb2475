"""Neural-collapse page: cached metrics and the page's sections (pages stay thin).

Collapse is a statement about the training data, so the per-checkpoint
details use the train rows unless the sidebar picks another split.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import streamlit as st

from analysis.class_geometry import ClassMeanFrames, class_mean_frames
from analysis.data import Embedding, Run
from analysis.data.classifier_io import ClassifierArrays, load_classifier
from analysis.metrics.collapse_table import collapse_inputs, neural_collapse_table, split_rows
from analysis.metrics.neural_collapse import (
    NeuralCollapse,
    check_class_labels,
    check_classifier,
    neural_collapse,
    simplex_etf_gram,
)
from analysis.views import (
    class_means_animation,
    collapse_heatmap,
    gram_comparison,
    imbalance_panel,
    nc_over_training,
)
from ui.cache import RESULTS_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import ALL_SPLITS, View, bytes_key
from ui.widgets import PLOT_CONFIG, formulas

# Metric -> (card label, one-line meaning, LaTeX). The page shows all three.
MEANINGS: dict[str, tuple[str, str, str]] = {
    "nc1": ("NC1", "How far samples spread around their class mean, relative to how far the means "
            "are apart. Falls towards 0 as each class collapses to a point.",
            r"\mathrm{NC1}=\tfrac{1}{C}\operatorname{Tr}\big(\Sigma_W\,\Sigma_B^{+}\big)"),
    "nc1_trace_quotient": ("Tr Σ_W / Tr Σ_B", "The same idea without the pseudo-inverse: total "
                           "within-class variance over total between-class variance.",
                           r"\operatorname{Tr}\Sigma_W\,/\,\operatorname{Tr}\Sigma_B"),
    "cdnv": ("CDNV", "Class-distance normalised variance: spread of two classes over their squared "
             "distance, averaged over pairs (Galanti et al. 2022).",
             r"\frac{1}{C(C-1)}\sum_{c\neq c'}\frac{\sigma_c^2+\sigma_{c'}^2}{2\|\mu_c-\mu_{c'}\|^2}"),
    "etf_distance": ("NC2 · ETF distance", "How far the centred class means are from a simplex ETF: "
                     "equal lengths and the widest equal angles C points can have.",
                     r"\Big\|\tfrac{M^\top M}{\|M^\top M\|_F}-\tfrac{I-\mathbf{1}\mathbf{1}^\top/C}{\sqrt{C-1}}\Big\|_F"),
    "nc2_equinorm": ("NC2 · equinorm", "Coefficient of variation of the class-mean lengths: 0 when "
                     "all means are equally long.",
                     r"\operatorname{std}_c\|\mu_c-\mu_G\|\,/\,\operatorname{mean}_c\|\mu_c-\mu_G\|"),
    "nc2_max_angle": ("NC2 · max-angle", "Average gap between each pair's cosine and the ETF's "
                      "−1/(C−1): 0 when every pair is maximally separated.",
                      r"\operatorname{mean}_{c\neq c'}\big|\cos\angle(\mu_c-\mu_G,\mu_{c'}-\mu_G)+\tfrac{1}{C-1}\big|"),
    "nc3": ("NC3", "How well the classifier's rows line up with the class means (self-duality). "
            "0 when W is a scaled copy of the centred means.",
            r"\Big\|\tfrac{W^\top}{\|W\|_F}-\tfrac{M}{\|M\|_F}\Big\|_F^2"),
    "nc4": ("NC4", "Share of samples where 'nearest class mean' and the network disagree: 0 when the "
            "network decides like a nearest-class-centre rule.",
            r"\tfrac{1}{n}\#\{i:\ \arg\min_c\|x_i-\mu_c\|\neq\arg\max_c (Wx_i+b)_c\}"),
    "orthogonal_frame_distance": ("Orthogonal-frame distance", "How far the uncentred class means are "
                                  "from mutually orthogonal, the geometry theory predicts for "
                                  "imbalanced classes (Dang et al. 2023).",
                                  r"\Big\|\tfrac{G}{\|G\|_F}-\tfrac{\operatorname{diag}G}{\|\operatorname{diag}G\|_F}\Big\|_F,\ G_{cc'}=\mu_c^\top\mu_{c'}"),
}
HEADLINE = ("nc1", "etf_distance", "nc3", "nc4")
HEATMAP_METRICS = {"NC1": "nc1", "Tr Σ_W / Tr Σ_B": "nc1_trace_quotient", "CDNV": "cdnv",
                   "ETF distance": "etf_distance", "NC4": "nc4"}


def detail_split(view: View) -> str | None:
    """The rows the detail views use: the sidebar's split, train when it says "all"."""
    run = view.source.run
    if run is None:
        return None
    if view.split != ALL_SPLITS:
        return view.split
    return "train" if "train" in run.splits() else None


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Measuring neural collapse at every layer and checkpoint…")
def table(source_key: str, _run: Run, split: str | None) -> pl.DataFrame:
    return neural_collapse_table(_run, split=split)


@st.cache_data(max_entries=64, ttl=RESULTS_TTL, show_spinner=False)
def run_point(source_key: str, _run: Run, layer: str, step: int, split: str | None) -> NeuralCollapse:
    return neural_collapse(**collapse_inputs(_run, layer, step, split_rows(_run, split)))


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def embedding_point(data_key: str, _emb: Embedding, classifier_key: str = "",
                    _classifier: ClassifierArrays | None = None) -> NeuralCollapse:
    head = _classifier or ClassifierArrays(None, None, None)
    return neural_collapse(_emb.X, _emb.labels, classifier=head.weight, bias=head.bias,
                           predictions=head.predictions)


def classifier_upload(view: View) -> tuple[str, ClassifierArrays | None]:
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
                    emb = view.embedding
                    # Checked before it replaces anything: a bad file keeps the previous classifier.
                    weight, _, _ = check_classifier(arrays.weight, arrays.bias, arrays.predictions,
                                                    n_samples=emb.n_samples, n_features=emb.n_features)
                    check_class_labels(emb.labels, emb.n_samples,
                                       n_classes=None if weight is None else weight.shape[0])
                    store[view.data_key] = (key, arrays)
                except USER_ERRORS as exc:
                    show_error(exc, file.name, what=file.name, kept="The classifier loaded before is still used."
                               if view.data_key in store else None)
        if view.data_key in store:
            st.caption("Classifier loaded for this dataset.")
    return store.get(view.data_key, ("", None))


def measure_embedding(view: View) -> NeuralCollapse | None:
    """Metrics of an uploaded embedding (with its classifier if one fits); errors shown, not raised."""
    key, classifier = classifier_upload(view)
    if classifier is not None:
        try:
            return embedding_point(view.data_key, view.embedding, key, classifier)
        except USER_ERRORS as exc:
            show_error(exc, "The classifier does not fit this embedding, so it was set aside")
            st.session_state["nc_classifiers"].pop(view.data_key, None)
    try:
        return embedding_point(view.data_key, view.embedding)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot measure neural collapse here")
        return None


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Projecting class means at every checkpoint…")
def frames(source_key: str, _run: Run, layer: str, split: str | None) -> ClassMeanFrames:
    rows = split_rows(_run, split)
    labels = _run.labels if rows is None else _run.labels[rows]

    def load(i: int) -> np.ndarray:
        X = _run.activations[(layer, _run.steps[i])]
        return X if rows is None else X[rows]

    return class_mean_frames(load, labels, n_frames=len(_run.steps))


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def embedding_frames(data_key: str, _emb: Embedding) -> ClassMeanFrames:
    return class_mean_frames([_emb.X], _emb.labels)


def _fmt(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.3g}"


def headline(result: NeuralCollapse, reference: NeuralCollapse | None = None, *, reference_step: int | None = None) -> None:
    """NC1-NC4 cards, each with its meaning as help and the change since `reference`."""
    cols = st.columns(len(HEADLINE) + 1)
    for col, name in zip(cols, HEADLINE, strict=False):
        label, meaning, _ = MEANINGS[name]
        value = getattr(result, name)
        delta = None
        before = None if reference is None else getattr(reference, name)
        if value is not None and before:
            # A signed percentage: Streamlit draws the arrow from the sign, and
            # "inverse" colours a fall green (every NC metric falls as collapse forms).
            delta = f"{100.0 * (value - before) / before:+.1f}% since step {reference_step:,}"
        if value is None:
            meaning += " (Needs a classifier: not available for this layer or dataset.)"
        col.metric(label, _fmt(value), delta=delta, delta_color="inverse", help=meaning)
    cols[-1].metric("NCC accuracy", f"{result.ncc_accuracy:.1%}",
                    help="Share of samples whose nearest class mean is their own class's.")


def over_training(view: View, run: Run) -> None:
    """NC1-NC4 against step for the chosen layer (train and test), and the layer x step heatmap."""
    splits = [s for s in ("train", "test") if s in run.splits()] or [None]
    tables = {s or "all": table(view.source.key, run, s) for s in splits}
    series = {}
    for name, tab in tables.items():
        rows = tab.filter(pl.col("layer") == view.layer).sort("step")
        series[name] = {c: rows[c].to_list() for c in rows.columns if c not in ("layer", "step", "split")}
    st.plotly_chart(nc_over_training(list(run.steps), series, marked_step=view.step),
                    key="nc_curves", config=PLOT_CONFIG)
    st.caption(f"Layer **{view.layer}** against optimiser step (log axis, 'init' = before training). Solid = train "
               "rows, dotted = test rows; in NC2 blue = ETF distance, orange = equinorm. The dashed line marks "
               "the sidebar's checkpoint; NC1 and NC3 use log axes.")
    choice = st.radio("Heatmap metric", list(HEATMAP_METRICS), horizontal=True, key="nc_heatmap_metric")
    column = HEATMAP_METRICS[choice]
    split = detail_split(view) or "all"
    tab = tables.get(split, next(iter(tables.values())))
    grid = np.array([[_cell(tab, layer, step, column) for step in run.steps] for layer in run.layers])
    st.plotly_chart(collapse_heatmap(run.layers, run.steps, grid, metric=choice, log=column != "nc4"),
                    key="nc_heatmap", config=PLOT_CONFIG)


def _cell(tab: pl.DataFrame, layer: str, step: int, column: str) -> float:
    value = tab.filter((pl.col("layer") == layer) & (pl.col("step") == step))[column].item()
    return np.nan if value is None else float(value)


def _result_names(result: NeuralCollapse, names: list[str]) -> list[str]:
    """The name of each class of `result`, in its order: its classes are the label codes
    present (result.class_labels), so codes {0, 2} are two classes, named "0" and "2"."""
    return [names[c] if 0 <= c < len(names) else str(c) for c in result.class_labels.tolist()]


def geometry(result: NeuralCollapse, names: list[str], *, animation: tuple[ClassMeanFrames, list[int], int] | None) -> None:
    """The Gram matrix beside the ETF target, and the 3-D class means (animated over checkpoints)."""
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**Class-mean Gram matrix vs simplex ETF**")
        st.plotly_chart(gram_comparison(result.gram, simplex_etf_gram(result.n_classes),
                                        _result_names(result, names)),
                        key="nc_gram", config=PLOT_CONFIG)
        st.caption(f"ETF distance {_fmt(result.etf_distance)} (0 = identical). A collapsed layer shows one "
                   "colour on the diagonal and one equal negative colour everywhere else.")
    with right:
        st.markdown("**Class means and their samples in 3-D**")
        if animation is not None:
            frames_, steps, start = animation
            fig = class_means_animation(frames_.sample_coords, frames_.mean_coords, frames_.labels, steps, names,
                                        start_index=start)
            st.plotly_chart(fig, key="nc_means3d", config=PLOT_CONFIG)
            st.caption("Top 3 directions of the class means at each checkpoint, scaled so the means have unit "
                       "RMS length and rotated onto the previous checkpoint. Drag the slider or press Play: "
                       "samples close in on their means as NC1 falls.")


def imbalance(result: NeuralCollapse, names: list[str]) -> None:
    """Class size against class-mean norm and against the class's share of NC1; which target is nearer."""
    st.plotly_chart(imbalance_panel(result.class_counts, result.class_mean_norms, result.nc1_class_share,
                                    _result_names(result, names)),
                    key="nc_imbalance", config=PLOT_CONFIG)
    counts = result.class_counts
    cols = st.columns(3)
    cols[0].metric("Largest / smallest class", f"{counts.max() / counts.min():.3g}×",
                   help="Class-imbalance ratio of the rows measured.")
    cols[1].metric("ETF distance", _fmt(result.etf_distance), help=MEANINGS["etf_distance"][1])
    cols[2].metric("Orthogonal-frame distance", _fmt(result.orthogonal_frame_distance),
                   help=MEANINGS["orthogonal_frame_distance"][1])
    nearer = "simplex ETF" if result.etf_distance <= result.orthogonal_frame_distance else "orthogonal frame"
    spearman = ("" if result.size_norm_spearman is None else
                f" Class size and class-mean length have Spearman correlation {result.size_norm_spearman:+.2f}.")
    st.caption(f"This layer is nearer the **{nearer}**.{spearman} Balanced data collapse towards the ETF; with "
               "imbalanced classes theory predicts orthogonal means whose lengths grow with class size, and "
               "minority classes collapse together (Fang et al. 2021).")


def explain() -> None:
    """Every metric's plain meaning and formula."""
    st.markdown(r"Notation: class means $\mu_c$, their mean $\mu_G$, $M=[\mu_c-\mu_G]_c$ (d × C), "
                r"$\Sigma_W=\frac1n\sum_i(x_i-\mu_{y_i})(x_i-\mu_{y_i})^\top$, $\Sigma_B=\frac1C MM^\top$, "
                r"classifier $W$ (C × d). Computed in float64; $\Sigma_B^{+}$ keeps its top C−1 eigenpairs.")
    formulas(MEANINGS)
    st.caption("Papyan, Han & Donoho (2020), PNAS 117(40); Tirer, Huang & Niles-Weed (2023); Galanti et al. "
               "(2022); Dang et al. (2023); Fang et al. (2021).")


def run_view(view: View, run: Run, names: list[str]) -> None:
    """The Collapse tab for a run: the sidebar's layer and checkpoint, and their history."""
    split = detail_split(view)
    after_init = run.steps[1] if len(run.steps) > 1 else None
    try:
        result = run_point(view.source.key, run, view.layer, view.step, split)
        reference = (run_point(view.source.key, run, view.layer, after_init, split)
                     if after_init is not None and after_init != view.step else None)
    except USER_ERRORS as exc:
        show_error(exc, "Cannot measure neural collapse on this run")
        return
    st.markdown(f"**{view.layer}** at step **{view.step:,}**, {split or 'all'} rows ({result.n_samples:,} samples, "
                f"{result.n_classes} classes). Change layer and checkpoint in the sidebar.")
    headline(result, reference, reference_step=after_init)
    st.subheader("Over training")
    over_training(view, run)
    st.subheader("Class-mean geometry")
    animation = (frames(view.source.key, run, view.layer, split), list(run.steps), run.steps.index(view.step))
    geometry(result, names, animation=animation)
    st.subheader("Imbalance")
    imbalance(result, names)


def embedding_view(view: View, names: list[str]) -> None:
    """The Collapse tab for one embedding with labels (and optionally its classifier)."""
    result = measure_embedding(view)
    if result is None:
        return
    st.markdown(f"{result.n_samples:,} samples, {result.n_classes} classes, d = {result.n_features}. A single "
                "embedding has no checkpoints: train a model or load a run to watch collapse form.")
    headline(result)
    st.subheader("Class-mean geometry")
    geometry(result, names, animation=(embedding_frames(view.data_key, view.embedding), [0], 0))
    st.subheader("Imbalance")
    imbalance(result, names)
