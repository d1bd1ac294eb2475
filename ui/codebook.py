"""Codebook page: widgets, cached panels (`analysis.panels.codebook`) and drawing.

Usage, its table over checkpoints, the code-label heatmap and the projection
of the codes are all of the sidebar's rows (its split). One cached call per
panel: usage per selection, the projection per (selection, method).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.data import Run, Selection
from analysis.panels import codebook as panels
from analysis.views import (
    code_label_heatmap,
    code_usage_rank,
    digit_gallery,
    embedding_scatter,
    format_number,
    format_percent,
    usage_over_training,
)
from analysis.views.scatter import ColorSpec, add_points
from ui.cache import RESULTS_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import View, sources
from ui.train_lab import train_and_add
from ui.widgets import card_columns, plot_config

MEANINGS = {
    "perplexity": ("Perplexity", "exp(entropy) of code use: how many codes the model effectively uses."),
    "utilization": ("Codes used", "Share of the K codes used at least once."),
    "dead_fraction": ("Dead codes", "Share of codes never used: wasted capacity."),
    "normalized_entropy": ("Normalised entropy", "Entropy of code use over log K: 1 when all codes are equally used."),
    "mutual_information": ("I(code; label)", "Mutual information between code and label, in nats."),
    "purity": ("Purity", "Share of samples whose label is their code's most common label."),
}


def cards(result: panels.CodebookUsage) -> None:
    names = [n for n in MEANINGS if getattr(result, n) is not None]
    cols = card_columns(len(names))
    for col, name in zip(cols, names, strict=False):
        label, meaning = MEANINGS[name]
        value = getattr(result, name)
        shown = format_percent(value) if name in ("utilization", "dead_fraction", "purity") else format_number(value)
        col.metric(label, shown, help=meaning)
    st.caption(f"{result.n_codes:,} code assignments, K = {result.codebook_size:,}: "
               f"{result.codebook_size - result.dead_codes.size:,} codes used, perplexity {result.perplexity:.1f}.")


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _usage_panel(data_key: str, _sel: Selection) -> panels.UsagePanel:
    return panels.usage_panel(_sel)


def usage(sel: Selection) -> panels.UsagePanel:
    """The usage panel of a code selection (cached per selection)."""
    return _usage_panel(sel.key, sel)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Projecting the codes…")
def _code_space(data_key: str, method: str, _sel: Selection, _usage: panels.CodebookUsage) -> panels.CodeSpace | None:
    return panels.code_space(_sel, _usage, method=method)


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def _members(data_key: str, code: int, _sel: Selection, _codes: np.ndarray) -> panels.CodeMembers:
    return panels.code_members(_sel, _codes, code)


def _other_usage(key: str, run: Run, split: str) -> panels.UsagePanel:
    """Another run's usage (first layer with codes, last checkpoint), on `split` where it has it."""
    return usage(panels.other_run_selection(run, split=split, source_key=key))


def usage_view(view: View) -> None:
    """The Usage tab: the sidebar's run and rows when it has codes, else uploaded codes."""
    sel = panels.code_selection(view.selection)
    if sel is None:
        upload_view(view)
    else:
        run_view(view, sel)


def run_view(view: View, sel: Selection) -> None:
    panel = usage(sel)
    result = panel.usage
    st.markdown(f"Codes of **{panel.layer}** at step **{panel.step:,}** ({sel.n_samples:,} rows).")
    cards(result)
    others = {k: s for k, s in sources().items() if s.is_run and s.run.codes and k != view.source.key}
    chosen = st.multiselect("Compare with other runs", list(others), format_func=lambda k: others[k].label,
                            key="code_overlay")
    counts = {view.source.label: result.counts}
    curves = {view.source.label: panel.curves}
    for key in chosen:
        other = _other_usage(key, others[key].run, sel.split)
        counts[others[key].label] = other.usage.counts
        curves[others[key].label] = other.curves
    left, right = st.columns(2)
    left.plotly_chart(code_usage_rank(counts), key="code_rank", config=plot_config())
    right.plotly_chart(usage_over_training(curves, codebook_size=result.codebook_size), key="code_curves",
                       config=plot_config())
    if panel.labels is not None:
        st.plotly_chart(code_label_heatmap(panel.codes, panel.labels, result.codebook_size, panel.label_names),
                        key="code_labels", config=plot_config())
    with st.expander("Usage at every checkpoint of this layer"):
        st.dataframe(panel.table, hide_index=True, width="stretch")
        st.caption("On the sidebar's rows. " + ("The chart's curves are the run's training curves (all training "
                                                "batches)." if panel.curves_from == "training" else ""))
    codes_in_space(sel, panel)


def codes_in_space(sel: Selection, panel: panels.UsagePanel) -> None:
    """Encoder outputs and the codebook projected together (PCA), dead codes marked; a code's inputs."""
    if not panel.has_space:
        return
    space = _code_space(sel.key, "pca", sel, panel.usage)
    st.subheader("Codes among the encoder outputs")
    n = space.n_vectors
    colour = ColorSpec(kind="category", values=space.colour, names=space.colour_names)
    fig = embedding_scatter(space.coords, draw_rows=np.arange(n), color=colour, uirevision="codes", height=480)
    add_points(fig, space.coords, space.used, name="used codes",
               marker=dict(size=9, color="#111", symbol="diamond-open"))
    add_points(fig, space.coords, space.dead, name="dead codes", marker=dict(size=8, color="#E4572E", symbol="x"))
    st.plotly_chart(fig, key="code_space", config=plot_config())
    st.caption("PCA of the encoder outputs (dots, coloured by code id mod 10) and the codebook (open diamonds "
               "used, red crosses dead). Dead codes sit away from the data: no input is ever nearest to them.")
    counts = panel.usage.counts
    code = st.selectbox("Inspect a code", panel.top_codes.tolist(), key="code_pick",
                        format_func=lambda c: f"code {c} · used {counts[c]}×")
    members = _members(sel.key, code, sel, panel.codes)
    if members.images is not None:
        st.plotly_chart(digit_gallery(members.images, [f"#{m}" for m in members.rows]), key="code_gallery",
                        config=plot_config())
        if members.decoded is not None:
            st.plotly_chart(digit_gallery(members.decoded, [f"decoded code {code}"], columns=1),
                            key="code_decoded", config=plot_config())


def shipped_comparison(split: str) -> None:
    """Every loaded run with codes (the shipped VQ samples at least), side by side, on `split` where they have it."""
    runs = {k: s for k, s in sources().items() if s.is_run and s.run.codes}
    if not runs:
        return
    counts, curves = {}, {}
    for key, source in runs.items():
        other = _other_usage(key, source.run, split)
        counts[source.label] = other.usage.counts
        curves[source.label] = other.curves
    left, right = st.columns(2)
    left.plotly_chart(code_usage_rank(counts), key="code_rank_all", config=plot_config())
    right.plotly_chart(usage_over_training(curves), key="code_curves_all", config=plot_config())
    st.caption("The runs with VQ codes loaded now. Pick one in the sidebar's Dataset for its details.")


def upload_view(view: View) -> None:
    """Codes uploaded as a .npy of integers, with K; and the runs that have codes, compared."""
    st.info("This dataset has no VQ codes. Choose a VQ run in the sidebar (the shipped digits_vq_plain and "
            "digits_vq_remedies compare plain VQ with its remedies), upload codes (a .npy of integer ids), or "
            "train a VQ model in **Try this**.")
    shipped_comparison(view.split)
    cols = st.columns([2, 1])
    file = cols[0].file_uploader("Codes (.npy of integers, any shape)", type=["npy"], key="code_upload")
    K = cols[1].number_input("Codebook size K", 1, 10_000_000, 512, key="code_k")
    if file is None:
        return
    try:
        result = panels.upload_usage(file.getvalue(), codebook_size=int(K))
    except USER_ERRORS as exc:
        show_error(exc, file.name, what=file.name)
        return
    cards(result)
    st.plotly_chart(code_usage_rank({file.name: result.counts}), key="code_rank_upload", config=plot_config())


def try_this() -> None:
    """The VQ lab's presets: plain against each remedy, and K small against large."""
    st.markdown("Train a small VQ autoencoder on the digits with K codes (2-3 s each); each run joins the "
                "sidebar's Dataset and can be overlaid on the usage charts (**Compare with other runs**).")
    for i, (name, config) in enumerate(panels.VQ_PRESETS.items(), start=1):
        cols = st.columns([0.25, 0.75])
        if cols[0].button(f"{i}. Train '{name}'", key=f"vq_try_{name}", width="stretch"):
            train_and_add(config, f"VQ · {name}", trainer=panels.train_vq)
        cols[1].markdown(GUIDE.get(name, config.describe()))


# Measured on seed 0 (analysis/models/vq/config.py records the table): share of the K codes used at the end.
GUIDE = {
    "plain": "Plain VQ-VAE, K = 256: the codebook starts near the origin, far from the encoder outputs, and "
             "only about 13 % of the codes are ever used (perplexity 27).",
    "EMA": "Codebook updated by moving averages instead of gradients: about 24 % used.",
    "restart": "Codes unused for 20 steps jump to random encoder outputs: every code used (perplexity 215) and "
               "a lower reconstruction error.",
    "k-means init": "Codes start at k-means centres of the encoder outputs: all used at first, but the encoder "
                    "drifts and most die again (about 18 % at the end).",
    "cosine": "Unit-length codes and inputs: about 30 % used.",
    "low-dim lookup": "Nearest code found in a 4-D projection: barely helps on its own here (about 16 %).",
    "all remedies": "Everything together: all 256 codes used (perplexity 224) with the lowest test error.",
    "small K": "K = 16: every code is used in the end; perplexity 12 of 16, but reconstruction is worse.",
}
