"""Sphere & spectrum page: widgets, one cached table over checkpoints, cached panels
(`analysis.panels.geometry`), and drawing.

Every number is of the sidebar's selection (its layer and split rows). The
table over a layer's checkpoints is measured once per (data, layer, rows);
the Geometry and Spectrum tabs slice it, so the checkpoint slider only picks
a row (issue 16).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from analysis.data import Selection
from analysis.panels import geometry as panels
from analysis.panels import whitening as remedies
from analysis.views import (
    alignment_uniformity_plane,
    format_number,
    spectrum_chart,
    sphere_animation,
)
from ui import cache
from ui.cache import RESULTS_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import View, sources
from ui.train_lab import train_and_add
from ui.widgets import card_columns, exact_knn, formulas, plot_config

# Metric -> (card label, one-line meaning, LaTeX).
MEANINGS: dict[str, tuple[str, str, str]] = {
    "uniformity": ("Uniformity", "How evenly the unit-normalised points cover the sphere: lower (more negative) "
                   "is more uniform, 0 means all points coincide (Wang & Isola 2020).",
                   r"\log \tfrac{2}{n(n-1)}\sum_{i<j} e^{-2\|\hat x_i-\hat x_j\|^2}"),
    "alignment": ("Alignment, same class", "Mean squared distance between unit vectors of two samples of the "
                  "same class (positive pairs = same-class pairs, not augmented views): 0 when each class is a "
                  "single point.", r"\mathbb{E}_{y_i=y_j}\|\hat x_i-\hat x_j\|^2"),
    "iso_score": ("IsoScore", "Share of dimensions the variance really uses, in [0, 1]: (k−1)/(d−1) when it "
                  "fills k of d directions equally (Rudman et al. 2022).",
                  r"\iota=\tfrac{d\,\phi-1}{d-1},\ \phi=\tfrac{(d-\delta^2(d-\sqrt d))^2}{d^2}"),
    "mean_cosine": ("Mean cosine", "Average cosine between two points: near 0 when directions spread out, "
                    "near 1 when everything sits in a narrow cone (anisotropy, Ethayarajh 2019).",
                    r"\tfrac{1}{n(n-1)}\sum_{i\ne j}\cos(x_i,x_j)"),
    "partition_isotropy": ("Partition isotropy", "Mu & Viswanath (2018): min over max of Z(c) = Σ exp(c·x) over "
                           "the principal directions c; 1 when no direction dominates, near 0 for a dominant "
                           "common direction.", r"\min_c Z(c)\,/\,\max_c Z(c),\ Z(c)=\textstyle\sum_i e^{c^\top x_i}"),
    "effective_rank": ("Effective rank", "How many directions the centred cloud spreads over: exp of the "
                       "entropy of the normalised singular values (Roy & Vetterli 2007; RankMe).",
                       r"\exp\big(-\textstyle\sum_i p_i\log p_i\big),\ p_i=\sigma_i/\sum_j\sigma_j"),
    "intrinsic_dimension": ("Intrinsic dimension (TwoNN)", "Dimension of the surface the points lie on, from "
                            "the ratio of each point's two nearest-neighbour distances (Facco et al. 2017).",
                            r"\hat d = n \big/ \textstyle\sum_i \log(r_{2,i}/r_{1,i})"),
}
TABS_KEY = "geo_tab"
REMEDIES_TAB = "Remedies: whitening"
CARDS = ("uniformity", "alignment", "iso_score", "mean_cosine", "partition_isotropy", "effective_rank",
         "intrinsic_dimension")


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Measuring every checkpoint of this layer…")
def layer_table(steps_key: str, _sel: Selection) -> pl.DataFrame:
    """The one measurement of a (data, layer, rows) at every checkpoint; both tabs read it."""
    return panels.layer_table(_sel)


def _table(sel: Selection) -> pl.DataFrame:
    return layer_table(panels.steps_key(sel), sel)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _geometry_panel(data_key: str, _sel: Selection, _table: pl.DataFrame) -> panels.GeometryPanel:
    return panels.geometry_panel(_sel, table=_table)


def geometry_panel(view: View) -> panels.GeometryPanel:
    """The Geometry tab's numbers for the sidebar's selection (cached per selection)."""
    sel = view.selection
    return _geometry_panel(sel.key, sel, _table(sel))


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Computing covariance spectra…")
def _spectrum_panel(data_key: str, _sel: Selection, _table: pl.DataFrame) -> panels.SpectrumPanel:
    return panels.spectrum_panel(_sel, table=_table)


def spectrum_panel(view: View) -> panels.SpectrumPanel:
    sel = view.selection
    return _spectrum_panel(sel.key, sel, _table(sel))


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Whitening and measuring…")
def _whitening_panel(data_key: str, methods: tuple[str, ...], frequency_column: str | None, eps: float,
                     fit_split: str | None, knn: str | None, _sel: Selection, _baseline: dict,
                     _graph: remedies.NeighborGraph | None) -> remedies.WhiteningPanel:
    return remedies.whitening_panel(_sel, methods=methods, frequency_column=frequency_column, eps=eps,
                                    fit_split=fit_split, baseline=_baseline, neighbors=_graph)


def whitening_panel(view: View, methods: tuple[str, ...], frequency_column: str | None, eps: float,
                    fit_split: str | None = None) -> remedies.WhiteningPanel:
    """The Remedies tab's table for the sidebar's selection, cached per (selection, methods, options).

    The original's numbers are the Geometry tab's (one layer table); its kNN accuracy reads the
    selection's shared cosine graph (the Hubness and Explore pages' search)."""
    sel = view.selection
    graph = cache.selection_graph(sel, "cosine", exact_knn(sel.n_samples)) if sel.labels is not None else None
    return _whitening_panel(sel.key, methods, frequency_column, eps, fit_split, None if graph is None else graph.knn.method,
                            sel, geometry_panel(view).numbers, graph)


def remedies_view(view: View) -> None:
    """The Remedies tab: choose remedies, see the selection before and after, and what to try."""
    st.markdown("An anisotropic space (a narrow cone, a few dominant directions) can be post-processed: "
                "**whitening** gives every direction unit variance (PCA and ZCA differ only by a rotation, "
                "so their rows agree; ZCA stays closest to the original), **all-but-the-top** removes the mean "
                "and the top d/100 principal directions, and **Zipfian whitening** weights the mean and "
                "covariance by item frequency. Each is fitted on the sidebar's rows.")
    columns = remedies.frequency_columns(view.selection)
    cols = st.columns([0.4, 0.2, 0.2, 0.2])
    methods = cols[0].multiselect("Remedies", list(remedies.REMEDIES), default=list(remedies.DEFAULT_METHODS),
                                  format_func=remedies.REMEDIES.get, key="geo_whiten_methods")
    frequency = cols[1].selectbox("Item frequencies (Zipfian)", [None, *columns], key="geo_whiten_freq",
                                  format_func=lambda c: "none: equal weights" if c is None else c,
                                  disabled=not columns,
                                  help="A numeric metadata column named like counts (count, freq, weight). "
                                       "The sample has none: Zipfian whitening then equals PCA whitening.")
    eps = cols[2].select_slider("Regularisation ε", [0.0, 1e-4, 1e-3, 1e-2, 1e-1], value=0.0,
                                key="geo_whiten_eps", format_func=lambda e: f"{e:g}",
                                help="Added to every variance, as a share of the mean variance, before the "
                                     "inverse square root (0: exact whitening). Damps near-empty directions.")
    splits = remedies.fit_splits(view.selection)
    fit_split = cols[3].selectbox("Fit on", [None, *splits], key="geo_whiten_fit", disabled=not splits,
                                  format_func=lambda v: "every row shown" if v is None else f"'{v}' rows only",
                                  help="Fit the transform on one split's rows (e.g. train) and apply it to every "
                                       "row shown; needs a split column and the sidebar's split 'all'.")
    panel = whitening_panel(view, tuple(methods), frequency, float(eps), fit_split)
    formats = {name: st.column_config.NumberColumn(format="%.2f" if name == "effective rank" else "%.3f")
               for name, dtype in panel.table.schema.items() if dtype.is_float()}
    st.dataframe(panel.table, hide_index=True, width="stretch", column_config=formats)
    st.markdown(f"**Try this:** {panel.advice}")
    for note in panel.notes:
        st.caption(note)
    st.caption("IsoScore 1 and effective rank = d are what whitening does by construction; uniformity, same-class "
               "alignment and kNN accuracy (leave-one-out, majority of the 10 nearest by cosine) show what it "
               "gains or costs. The library's `analysis.metrics.whitening` fits on any rows and applies to others.")


def cards(row: dict) -> None:
    cols = card_columns(len(CARDS))
    for col, name in zip(cols, CARDS, strict=False):
        label, meaning, _ = MEANINGS[name]
        value = row.get(name)
        shown = format_number(value)
        extra = ""
        if name == "uniformity":
            extra = f" Uniform points on the same sphere: {row['uniform_reference']:.3f}."
        if name in ("effective_rank", "intrinsic_dimension"):
            extra = f" Out of d = {int(row['n_features'])}."
        col.metric(label, shown, help=meaning + extra)
    if row.get("intrinsic_dimension_recall") is not None:
        st.caption(f"TwoNN read an approximate neighbour search: recall@2 {row['intrinsic_dimension_recall']:.3f} "
                   "measured against exact search on sampled rows.")
    st.caption(f"Uniform points on this sphere (d = {int(row['n_features'])}) would score "
               f"{row['uniform_reference']:.3f} on uniformity; effective rank and intrinsic dimension are out of "
               f"d = {int(row['n_features'])}.")


def plane(view: View, geo: panels.GeometryPanel) -> None:
    """The alignment-uniformity plane for this layer, with other runs' same-named layer overlaid."""
    sel = view.selection
    trajectories = {f"{view.source.label} · {view.layer}": geo.trajectory.as_tuple()}
    kinds = {geo.trajectory.pairs}
    others = {k: s for k, s in sources().items() if s.is_run and k != view.source.key
              and view.layer in s.run.layers and s.run.labels is not None}
    chosen = st.multiselect("Overlay other runs (same layer name)", list(others),
                            format_func=lambda k: others[k].label, key="geo_overlay")
    for key in chosen:
        other = panels.overlay_selection(others[key].run, layer=view.layer, split=sel.split, source_key=key)
        path = panels.trajectory(other, _table(other))
        trajectories[f"{others[key].label} · {view.layer}"] = path.as_tuple()
        kinds.add(path.pairs)
    st.plotly_chart(alignment_uniformity_plane(trajectories, uniform_reference=geo.uniform_reference),
                    key="geo_plane", config=plot_config())
    st.caption(f"Positive pairs: {' and '.join(sorted(kinds))}. The big marker is the last checkpoint. "
               "Contrastive training moves left (more uniform) while keeping positives close (low); "
               "a run without negatives collapses to (0, 0). Augmented views come from the training curves; "
               "same-class pairs are measured on the sidebar's rows (overlaid runs: the same split where "
               "they have it).")


def sphere_view(view: View, geo: panels.GeometryPanel) -> None:
    """Points on the circle or sphere under a checkpoint slider, when the layer is 2-D or 3-D."""
    sphere = geo.sphere
    if sphere is None:
        st.info(f"Layer {view.layer} has d = {geo.n_features}: points are drawn on the circle or sphere for 2-D "
                "and 3-D layers, such as the contrastive lab's embeddings (Try this tab).")
        return
    fig = sphere_animation(sphere.frames, sphere.labels, list(sphere.steps), sphere.label_names,
                           start_index=sphere.start_index)
    st.plotly_chart(fig, key="geo_sphere", config=plot_config())


def geometry_view(view: View) -> None:
    """The Geometry tab: cards, and for a run the sphere and the alignment-uniformity plane."""
    geo = geometry_panel(view)
    sel = view.selection
    if sel.is_run:
        st.markdown(f"**{view.layer}** at step **{view.step:,}** ({sel.n_samples:,} samples).")
    cards(geo.numbers)
    if sel.is_run:
        st.subheader("Points on the sphere")
        sphere_view(view, geo)
        st.subheader("Alignment and uniformity over training")
        plane(view, geo)


def spectrum_view(view: View) -> None:
    """Explained variance per direction at a few checkpoints, with effective rank and dimension beside d."""
    spec = spectrum_panel(view)
    st.plotly_chart(spectrum_chart(spec.explained), key="geo_spectrum", config=plot_config())
    st.dataframe(spec.table, hide_index=True, width="stretch")
    st.caption("A falling effective rank over training is dimensional collapse; an intrinsic dimension far "
               "below d means the points lie on a thin surface inside the space.")


# The Remedies tab's transforms, for the Formulas tab (Sigma = U Lambda U^T, the covariance of the fit rows).
REMEDY_FORMULAS: dict[str, tuple[str, str, str]] = {
    "pca": ("PCA whitening", "Rotate onto the principal axes and give each unit variance (Kessy et al. 2018).",
            r"Z=(X-\mu)\,U(\Lambda+\varepsilon\bar\lambda)^{-1/2}"),
    "zca": ("ZCA whitening", "The symmetric whitening, closest to the original: maximises tr Cov(Z, X) "
            "(Kessy et al. 2018).", r"Z=(X-\mu)\,U(\Lambda+\varepsilon\bar\lambda)^{-1/2}U^\top"),
    "abtt": ("All-but-the-top", "Remove the mean and the top D = max(1, d/100) principal directions "
             "(Mu & Viswanath 2018).", r"x'=(x-\mu)-\textstyle\sum_{i\le D}(u_i^\top(x-\mu))\,u_i"),
    "zipfian": ("Zipfian whitening", "Whiten with the mean and covariance weighted by item frequency p(w) "
                "(Yokoi et al. 2024); equal weights give PCA whitening.",
                r"\mu_p=\textstyle\sum_i p_i x_i,\ \Sigma_p=\sum_i p_i(x_i-\mu_p)(x_i-\mu_p)^\top"),
}


def explain() -> None:
    formulas(MEANINGS)
    st.subheader("Remedies")
    formulas(REMEDY_FORMULAS)
    st.caption("Uniform-sphere reference: log E exp(−t‖x−y‖²) for x, y uniform on S^(d−1) is "
               "−2t + log ₀F₁(; d/2; t²) (a Bessel function), −2t + 2t²/d for large d.")


def train_form() -> None:
    """The contrastive lab's controls: sphere, temperature, batch size, negatives, augmentations, epochs, seed."""
    with st.form("geo_lab_form"):
        cols = st.columns(4)
        out_dim = cols[0].radio("Onto", [2, 3], format_func=lambda d: "circle" if d == 2 else "sphere",
                                horizontal=True, key="geo_lab_dim")
        temperature = cols[1].select_slider("Temperature τ", [0.05, 0.1, 0.2, 0.5, 1.0, 2.0], value=0.5,
                                            key="geo_lab_tau")
        batch = cols[2].select_slider("Batch size", [32, 64, 128, 256, 512], value=256, key="geo_lab_batch",
                                      help="Pairs per step: each view's negatives are the other 2B − 2 views.")
        negatives = cols[3].toggle("Negatives", value=True, key="geo_lab_negatives",
                                   help="Off: only the alignment term, which collapses every point together.")
        more = st.columns(4)
        epochs = more[0].number_input("Epochs", 5, 1000, 200, step=25, key="geo_lab_epochs")
        noise = more[1].slider("Pixel noise", 0.0, 0.5, 0.1, 0.05, key="geo_lab_noise")
        mask = more[2].slider("Pixel masking", 0.0, 0.5, 0.1, 0.05, key="geo_lab_mask")
        seed = more[3].number_input("Seed", 0, 2**31 - 1, 0, key="geo_lab_seed")
        submitted = st.form_submit_button("Train", type="primary", icon=":material/model_training:")
    if submitted:
        try:
            config = panels.contrastive_config(out_dim=int(out_dim), temperature=float(temperature),
                             batch_size=int(batch), negatives=bool(negatives), epochs=int(epochs),
                             noise_std=float(noise), mask_prob=float(mask), seed=int(seed))
        except USER_ERRORS as exc:
            show_error(exc)
            return
        shape = "circle" if out_dim == 2 else "sphere"
        train_and_add(config, f"contrastive · {shape} τ={temperature:g} B={batch}"
                      + ("" if negatives else " no negatives"), trainer=panels.train_contrastive)


def try_this() -> None:
    """Train the contrastive presets from the sidebar-less page: each joins the dataset picker."""
    st.markdown("Train a small encoder with a contrastive loss (NT-Xent) on augmented digits, onto the circle or "
                "the sphere. Each run joins the sidebar's Dataset; open the **Geometry** tab and press Play.")
    # Each claim measured on the preset (analysis/models/contrastive/config.py records the numbers).
    guide = {
        "circle": "The reference (also shipped as the digits_contrastive sample): uniformity falls from −0.09 to "
                  "−1.53, close to the −1.58 of perfectly uniform points on the circle, and digits form arcs.",
        "sphere": "The same onto the 2-sphere (3-D, drag to rotate): uniformity −2.03 against −2.08 for uniform "
                  "points, and classes separate better than on the circle.",
        "low temperature": "τ = 0.1: each sample's two views end closer (alignment 0.09 against 0.21) but the "
                           "points spread less evenly (uniformity −1.27): compare both runs in the plane.",
        "high temperature": "τ = 2: softer negatives; on this small model the run ends near the reference "
                            "(alignment 0.19, uniformity −1.48).",
        "no negatives": "Only the alignment term: every point collapses to one spot (alignment and uniformity both "
                        "0), the failure the negatives exist to prevent.",
    }
    for i, (name, config) in enumerate(panels.CONTRASTIVE_PRESETS.items(), start=1):
        cols = st.columns([0.25, 0.75])
        if cols[0].button(f"{i}. Train '{name}'", key=f"geo_try_{name}", width="stretch"):
            train_and_add(config, f"contrastive · {name}", trainer=panels.train_contrastive)
        cols[1].markdown(guide.get(name, ""))
    st.subheader("Your own run")
    train_form()
