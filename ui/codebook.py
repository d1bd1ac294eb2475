"""Codebook page: usage of a run's VQ codes (or uploaded codes), codes in the embedding, and the VQ lab."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import streamlit as st

from analysis.data import Run
from analysis.metrics import codebook_usage
from analysis.metrics.codebook import CodebookUsage, codebook_usage_table
from analysis.projection import project
from analysis.views import (
    code_label_heatmap,
    code_usage_rank,
    digit_gallery,
    embedding_scatter,
    usage_over_training,
)
from analysis.views.scatter import ColorSpec, add_points
from ui.cache import RESULTS_TTL
from ui.errors import USER_ERRORS, show_error
from ui.state import View, sources
from ui.train_lab import train_and_add
from ui.widgets import PLOT_CONFIG

MEANINGS = {
    "perplexity": ("Perplexity", "exp(entropy) of code use: how many codes the model effectively uses."),
    "utilization": ("Codes used", "Share of the K codes used at least once."),
    "dead_fraction": ("Dead codes", "Share of codes never used: wasted capacity."),
    "normalized_entropy": ("Normalised entropy", "Entropy of code use over log K: 1 when all codes are equally used."),
    "mutual_information": ("I(code; label)", "Mutual information between code and label, in nats."),
    "purity": ("Purity", "Share of samples whose label is their code's most common label."),
}


def code_layer(run: Run, view: View) -> str | None:
    """The layer whose codes to show: the sidebar's if it has codes, else the first that has."""
    layers = sorted({layer for layer, _ in run.codes})
    if not layers:
        return None
    return view.layer if view.layer in layers else layers[0]


@st.cache_data(max_entries=32, ttl=RESULTS_TTL, show_spinner=False)
def usage(key: str, _codes: np.ndarray, K: int, _labels: np.ndarray | None, _codebook: np.ndarray | None,
          _vectors: np.ndarray | None) -> CodebookUsage:
    return codebook_usage(_codes, codebook_size=K, labels=_labels, codebook=_codebook, vectors=_vectors)


def cards(result: CodebookUsage) -> None:
    names = [n for n in MEANINGS if getattr(result, n) is not None]
    cols = st.columns(len(names))
    for col, name in zip(cols, names, strict=False):
        label, meaning = MEANINGS[name]
        value = getattr(result, name)
        shown = f"{value:.1%}" if name in ("utilization", "dead_fraction", "purity") else f"{value:.3g}"
        col.metric(label, shown, help=meaning)
    st.caption(f"{result.n_codes:,} code assignments, K = {result.codebook_size:,}: "
               f"{result.codebook_size - result.dead_codes.size:,} codes used, perplexity {result.perplexity:.1f}.")


def _run_usage(source_key: str, run: Run, layer: str, step: int) -> CodebookUsage:
    codes = np.asarray(run.codes[(layer, step)])
    codebook = run.codebooks.get((layer, step))
    K = int(codebook.shape[0]) if codebook is not None else int(codes.max()) + 1
    vectors = run.activations.get((layer, step))
    if vectors is not None and (codebook is None or vectors.shape[1] != codebook.shape[1]):
        vectors = None
    return usage(f"{source_key}|{layer}|{step}", codes, K, run.labels, codebook,
                 None if vectors is None or codebook is None else np.asarray(vectors, dtype=np.float32))


def _curves(run: Run, layer: str, source_key: str) -> tuple[list, list, list]:
    c = run.curves
    if {"step", "perplexity", "dead_fraction"} <= set(c):
        return list(c["step"]), list(c["perplexity"]), list(c["dead_fraction"])
    table = _table(source_key, run).filter(pl.col("layer") == layer)
    return table["step"].to_list(), table["perplexity"].to_list(), table["dead_fraction"].to_list()


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _table(source_key: str, _run: Run) -> pl.DataFrame:
    return codebook_usage_table(_run)


def run_view(view: View, run: Run) -> None:
    layer = code_layer(run, view)
    step = view.step if (layer, view.step) in run.codes else max(s for (la, s) in run.codes if la == layer)
    result = _run_usage(view.source.key, run, layer, step)
    st.markdown(f"Codes of **{layer}** at step **{step:,}**.")
    cards(result)
    others = {k: s for k, s in sources().items() if s.is_run and s.run.codes and k != view.source.key}
    chosen = st.multiselect("Compare with other runs", list(others), format_func=lambda k: others[k].label,
                            key="code_overlay")
    counts = {view.source.label: result.counts}
    curves = {view.source.label: _curves(run, layer, view.source.key)}
    for key in chosen:
        other = others[key].run
        o_layer = sorted({la for la, _ in other.codes})[0]
        counts[others[key].label] = _run_usage(key, other, o_layer, other.steps[-1]).counts
        curves[others[key].label] = _curves(other, o_layer, key)
    left, right = st.columns(2)
    left.plotly_chart(code_usage_rank(counts), key="code_rank", config=PLOT_CONFIG)
    right.plotly_chart(usage_over_training(curves, codebook_size=result.codebook_size), key="code_curves",
                       config=PLOT_CONFIG)
    if run.labels is not None:
        st.plotly_chart(code_label_heatmap(np.asarray(run.codes[(layer, step)]), run.labels, result.codebook_size,
                                           run.label_names), key="code_labels", config=PLOT_CONFIG)
    codes_in_space(view, run, layer, step, result)


def codes_in_space(view: View, run: Run, layer: str, step: int, result: CodebookUsage) -> None:
    """Encoder outputs and the codebook projected together (PCA), dead codes marked; a code's inputs."""
    codebook = run.codebooks.get((layer, step))
    vectors = run.activations.get((layer, step))
    if codebook is None or vectors is None or vectors.shape[1] != codebook.shape[1]:
        return
    st.subheader("Codes among the encoder outputs")
    vectors = np.asarray(vectors, dtype=np.float32)
    both = np.vstack([vectors, np.asarray(codebook, dtype=np.float32)])
    coords = project(both, method="pca", n_components=2).coords
    n = vectors.shape[0]
    codes = np.asarray(run.codes[(layer, step)])
    colour = ColorSpec(kind="category", values=np.r_[codes % 10, np.full(codebook.shape[0], 10)],
                       names=tuple(f"codes ≡ {i} mod 10" for i in range(10)) + ("codebook",))
    dead = result.dead_codes + n
    used = np.setdiff1d(np.arange(n, n + codebook.shape[0]), dead)
    fig = embedding_scatter(coords, draw_rows=np.arange(n), color=colour, uirevision="codes", height=480)
    add_points(fig, coords, used, name="used codes", marker=dict(size=9, color="#111", symbol="diamond-open"))
    add_points(fig, coords, dead, name="dead codes", marker=dict(size=8, color="#E4572E", symbol="x"))
    st.plotly_chart(fig, key="code_space", config=PLOT_CONFIG)
    st.caption("PCA of the encoder outputs (dots, coloured by code id mod 10) and the codebook (open diamonds "
               "used, red crosses dead). Dead codes sit away from the data: no input is ever nearest to them.")
    top = np.argsort(result.counts)[::-1]
    top = top[result.counts[top] > 0][:50]
    code = st.selectbox("Inspect a code", top.tolist(), format_func=lambda c: f"code {c} · used {result.counts[c]}×",
                        key="code_pick")
    members = np.flatnonzero(codes == code)[:24]
    images = _digit_images(run, members)
    if images is not None:
        st.plotly_chart(digit_gallery(images, [f"#{m}" for m in members]), key="code_gallery", config=PLOT_CONFIG)
        recon = run.activations.get(("reconstruction", step))
        if recon is not None and members.size:
            st.plotly_chart(digit_gallery(np.asarray(recon[members[:1]]), [f"decoded code {code}"], columns=1),
                            key="code_decoded", config=PLOT_CONFIG)


def _digit_images(run: Run, rows: np.ndarray) -> np.ndarray | None:
    """The 8 x 8 digit images of rows, via metadata.source_index into scikit-learn's digits."""
    if run.metadata is None or "source_index" not in run.metadata.columns or not rows.size:
        return None
    from sklearn.datasets import load_digits

    index = run.metadata["source_index"].to_numpy()[rows]
    return load_digits().data[index]


def shipped_comparison() -> None:
    """Every loaded run with codes (the shipped VQ samples at least), side by side."""
    runs = {k: s for k, s in sources().items() if s.is_run and s.run.codes}
    if not runs:
        return
    counts, curves = {}, {}
    for key, source in runs.items():
        layer = sorted({la for la, _ in source.run.codes})[0]
        counts[source.label] = _run_usage(key, source.run, layer, source.run.steps[-1]).counts
        curves[source.label] = _curves(source.run, layer, key)
    left, right = st.columns(2)
    left.plotly_chart(code_usage_rank(counts), key="code_rank_all", config=PLOT_CONFIG)
    right.plotly_chart(usage_over_training(curves), key="code_curves_all", config=PLOT_CONFIG)
    st.caption("The runs with VQ codes loaded now. Pick one in the sidebar's Dataset for its details.")


def upload_view() -> None:
    """Codes uploaded as a .npy of integers, with K; and the runs that have codes, compared."""
    st.info("This dataset has no VQ codes. Choose a VQ run in the sidebar (the shipped digits_vq_plain and "
            "digits_vq_remedies compare plain VQ with its remedies), upload codes (a .npy of integer ids), or "
            "train a VQ model in **Try this**.")
    shipped_comparison()
    cols = st.columns([2, 1])
    file = cols[0].file_uploader("Codes (.npy of integers, any shape)", type=["npy"], key="code_upload")
    K = cols[1].number_input("Codebook size K", 1, 10_000_000, 512, key="code_k")
    if file is None:
        return
    try:
        codes = np.load(io.BytesIO(file.getvalue()), allow_pickle=False)
        result = codebook_usage(codes, codebook_size=int(K))
    except USER_ERRORS as exc:
        show_error(exc, file.name, what=file.name)
        return
    cards(result)
    st.plotly_chart(code_usage_rank({file.name: result.counts}), key="code_rank_upload", config=PLOT_CONFIG)


def try_this() -> None:
    """The VQ lab's presets: plain against each remedy, and K small against large."""
    from analysis.models.vq import VQ_PRESETS, train_vq

    st.markdown("Train a small VQ autoencoder on the digits with K codes (2-3 s each); each run joins the "
                "sidebar's Dataset and can be overlaid on the usage charts (**Compare with other runs**).")
    for i, (name, config) in enumerate(VQ_PRESETS.items(), start=1):
        cols = st.columns([0.25, 0.75])
        if cols[0].button(f"{i}. Train '{name}'", key=f"vq_try_{name}", width="stretch"):
            train_and_add(config, f"VQ · {name}", trainer=train_vq)
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
