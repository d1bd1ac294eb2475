"""Hubness page: cached metrics and the page's sections (the page file stays thin)."""

from __future__ import annotations

import numpy as np
import polars as pl
import streamlit as st
from scipy.stats import spearmanr

from analysis.metrics.hubness import (
    Hubness,
    distance_to_centre,
    hubness,
    hubness_between,
    iid_gaussian_skewness,
    reverse_neighbours,
)
from analysis.metrics.hubness_reduction import (
    METHOD_NAMES,
    HubnessReduction,
    compare_reductions,
)
from analysis.neighbors import kneighbors
from analysis.projection import Projection
from analysis.views import (
    centrality_scatter,
    hubness_scatter,
    k_occurrence_charts,
    reduction_bars,
    skewness_vs_dimension,
)
from ui import cache, explore
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.state import View
from ui.widgets import PLOT_CONFIG, formulas

DEMO_DIMENSIONS = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)

# Metric -> (card label, one-line meaning, LaTeX).
MEANINGS: dict[str, tuple[str, str, str]] = {
    "skewness": ("Skewness of N_k", "Asymmetry of the k-occurrence distribution: near 0 without hubs, "
                 "above about 1 when a few points are everyone's neighbour.",
                 r"S_{N_k}=\mathbb{E}\big[(N_k-k)^3\big]/\operatorname{Var}(N_k)^{3/2}"),
    "robin_hood": ("Robin Hood index", "Share of neighbour slots that would have to move from rich to poor "
                   "points to make every N_k equal.", r"\tfrac{\sum_x |N_k(x)-k|}{2\sum_x N_k(x)}"),
    "antihub_occurrence": ("Antihubs", "Share of points that are nobody's neighbour (N_k = 0): unreachable in "
                           "retrieval.", r"\tfrac{1}{n}\#\{x: N_k(x)=0\}"),
    "hub_occurrence": ("Hub occurrence", "Share of all neighbour slots taken by hubs (N_k ≥ 2k).",
                       r"\tfrac{1}{nk}\sum_{x:\,N_k(x)\ge 2k} N_k(x)"),
    "gini": ("Gini", "Inequality of N_k: 0 when equal, towards 1 when one point takes every slot.",
             r"\tfrac{\sum_i (2i-n-1)\,N_{(i)}}{n\sum_i N_{(i)}}"),
    "atkinson": ("Atkinson (ε = 0.5)", "Inequality index most sensitive to the poor end (antihubs).",
                 r"1-\big(\tfrac1n\sum_x N_k(x)^{1/2}\big)^2\big/k"),
    "groupie_ratio": ("Largest hub", "The biggest hub's share of all neighbour slots.",
                      r"\max_x N_k(x)\,/\,(nk)"),
}
CARDS = ("skewness", "robin_hood", "antihub_occurrence", "hub_occurrence", "gini")


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner="Finding every point's k nearest neighbours…")
def neighbours(data_key: str, _X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    return kneighbors(_X, k, metric=metric)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def scores(data_key: str, _X: np.ndarray, k: int, metric: str) -> Hubness:
    return hubness(_X, k=k, metric=metric)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Re-ranking neighbours with every hubness reduction…")
def reductions(data_key: str, _X: np.ndarray, k: int, metric: str, _labels: np.ndarray | None) -> dict[str, HubnessReduction]:
    return compare_reductions(_X, k=k, metric=metric, labels=_labels)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def centrality(data_key: str, _X: np.ndarray, metric: str) -> np.ndarray:
    return distance_to_centre(_X, metric=metric)


@st.cache_data(max_entries=2, ttl=SHARED_TTL, show_spinner="Sampling Gaussian points at every dimension…")
def demo_curve(dimensions: tuple[int, ...], n_samples: int, k: int) -> np.ndarray:
    return iid_gaussian_skewness(dimensions, n_samples=n_samples, k=k)


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "undefined"
    return f"{value:.1%}" if percent else f"{value:.3g}"


def cards(result: Hubness) -> None:
    """The headline numbers, each with its meaning as help."""
    cols = st.columns(len(CARDS) + 1)
    for col, name in zip(cols, CARDS, strict=False):
        label, meaning, _ = MEANINGS[name]
        percent = name in ("antihub_occurrence", "hub_occurrence")
        col.metric(label, _fmt(getattr(result, name), percent), help=meaning)
    cols[-1].metric("Hubs / antihubs", f"{result.hubs.size:,} / {result.antihubs.size:,}",
                    help="Points with N_k ≥ 2k, and with N_k = 0.")
    for note in result.notes:
        st.info(note)


def verdict(result: Hubness) -> str:
    """A plain sentence on how strong the hubness is (thresholds of Feldbauer & Flexer 2019)."""
    if result.skewness is None:
        return "No hubness: every point is equally often a neighbour."
    if result.skewness < 0.5:
        return f"Little hubness (skewness {result.skewness:.2f} < 0.5)."
    if result.skewness < 1.5:
        return f"Moderate hubness (skewness {result.skewness:.2f})."
    return (f"Strong hubness (skewness {result.skewness:.2f} > 1.5): {result.hubs.size:,} hubs take "
            f"{result.hub_occurrence:.0%} of all neighbour slots and {result.antihub_occurrence:.0%} of points "
            "are nobody's neighbour. Try a reduction below.")


def _chosen_point(chart_key: str, pick_key: str, coords: np.ndarray, default: int, n_samples: int) -> int:
    """The point to inspect: a new click in the chart wins, else the picker's value.

    Read before drawing either widget: the chart keeps its selection across
    reruns, so only a click that differs from the last one seen counts.
    """
    event = st.session_state.get(chart_key)
    _, clicked = explore.selected_rows(event.selection if event else None, coords)
    seen_key = f"{chart_key}|last_click"
    if clicked is not None and clicked != st.session_state.get(seen_key):
        st.session_state[seen_key] = clicked
        st.session_state[pick_key] = int(clicked)
    current = st.session_state.get(pick_key, default)
    if not (isinstance(current, int) and 0 <= current < n_samples):
        st.session_state[pick_key] = current = default
    return int(current)


def main_view(view: View, proj: Projection, k: int, metric: str) -> None:
    """Cards, N_k charts, the projection with hubs, who lists the chosen point, and centrality."""
    emb = view.embedding
    result = scores(view.data_key, emb.X, k, metric)
    _, indices = neighbours(view.data_key, emb.X, k, metric)
    st.markdown(verdict(result))
    cards(result)
    st.plotly_chart(k_occurrence_charts(result.k_occurrence, k), key="hub_charts", config=PLOT_CONFIG)
    st.subheader("Where the hubs are")
    top = [int(r) for r in np.argsort(result.k_occurrence, kind="stable")[::-1][:50]]
    chart_key = f"hub_scatter|{view.data_key}"
    pick_key = f"hub_pick|{view.data_key}|{k}|{metric}"
    focus = _chosen_point(chart_key, pick_key, proj.coords, top[0], emb.n_samples)
    options = top if focus in top else [focus, *top]  # a clicked point joins the 50 largest hubs
    left, right = st.columns([1.5, 1])
    with right:
        st.selectbox("Point", options, key=pick_key, format_func=lambda r: f"id {r} · N_k = {result.k_occurrence[r]}",
                     help="The 50 largest hubs; or click any point in the chart.")
        rows, ranks = reverse_neighbours(indices, focus)
        st.markdown(f"**id {focus}** is in the k-NN list of **{rows.size}** points (mean k = {k}).")
        if rows.size:
            st.dataframe(explore.rows_table(emb, rows, extra={"its rank there": ranks}), hide_index=True,
                         height=300, width="stretch")
    with left:
        draw = cache.draw_rows(view.data_key, emb.n_samples)
        fig = hubness_scatter(proj.coords, result.k_occurrence, draw_rows=draw, hubs=result.hubs,
                              antihubs=result.antihubs, hover=explore.hover_text(emb, draw), focus_row=focus,
                              reverse_neighbours=rows, uirevision=chart_key)
        st.plotly_chart(fig, key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        config=PLOT_CONFIG)
        st.caption("Colour = log(1 + N_k). Red rings: hubs; grey crosses: antihubs; yellow: the points whose "
                   "k-NN lists contain the chosen point (star). Click a point to choose it.")
    st.subheader("Why are there hubs?")
    distance = centrality(view.data_key, emb.X, metric)
    rho = None if result.skewness is None else float(spearmanr(distance, result.k_occurrence).statistic)
    st.plotly_chart(centrality_scatter(distance, result.k_occurrence, hubs=result.hubs, spearman=rho),
                    key="hub_centrality", config=PLOT_CONFIG)
    st.caption("In high dimensions distances concentrate, and points near the data mean are a little closer to "
               "everyone: they become hubs (Radovanovic et al. 2010), which shows as a negative ρ. In clustered data "
               "(a classifier's classes) hubs sit at the centre of their own cluster instead, and ρ can be positive.")
    two_sets(view, k, metric)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def between(data_key: str, _queries: np.ndarray, _gallery: np.ndarray, k: int, metric: str) -> Hubness:
    return hubness_between(_queries, _gallery, k=k, metric=metric)


def two_sets(view: View, k: int, metric: str) -> None:
    """Query-to-gallery hubness between two metadata splits (e.g. test queries, train gallery)."""
    emb = view.embedding
    if emb.metadata is None or "split" not in emb.metadata.columns:
        return
    split = emb.metadata["split"].cast(pl.Utf8).to_numpy()
    names = sorted(set(split))
    if len(names) < 2:
        return
    st.subheader("Two sets: queries against a gallery")
    cols = st.columns(2)
    query = cols[0].selectbox("Queries", names, index=names.index("test") if "test" in names else 0,
                              key="hub_query_split")
    gallery = cols[1].selectbox("Gallery", [n for n in names if n != query], key="hub_gallery_split")
    q_rows, g_rows = np.flatnonzero(split == query), np.flatnonzero(split == gallery)
    if k > g_rows.size:
        st.info(f"k = {k} exceeds the {g_rows.size} gallery points; lower k.")
        return
    result = between(f"{view.data_key}|{query}>{gallery}", emb.X[q_rows], emb.X[g_rows], k, metric)
    st.markdown(f"How often each of the {g_rows.size:,} **{gallery}** points is among the {k} nearest "
                f"{gallery} points of a **{query}** query ({q_rows.size:,} queries; mean N_k = "
                f"{k * q_rows.size / g_rows.size:.2f}). Retrieval hubs are returned for everything; antihubs "
                "are never retrieved.")
    cards(result)


def reduction_view(view: View, proj: Projection, k: int, metric: str) -> None:
    """Skewness and kNN accuracy for every method, and the projection coloured by N_k after one."""
    emb = view.embedding
    results = reductions(view.data_key, emb.X, k, metric, emb.labels)
    first = next(iter(results.values()))
    before = first.hubness_before
    table = pl.DataFrame({
        "method": ["none", *(METHOD_NAMES[m] for m in results)],
        "skewness": [before.skewness, *(r.hubness.skewness for r in results.values())],
        "Robin Hood": [before.robin_hood, *(r.hubness.robin_hood for r in results.values())],
        "antihubs": [before.antihub_occurrence, *(r.hubness.antihub_occurrence for r in results.values())],
        "kNN accuracy": [first.knn_accuracy_before, *(r.knn_accuracy for r in results.values())],
    })
    st.plotly_chart(reduction_bars([METHOD_NAMES[m] for m in results], before.skewness,
                                   [r.hubness.skewness for r in results.values()], first.knn_accuracy_before,
                                   None if emb.labels is None else [r.knn_accuracy for r in results.values()]),
                    key="hub_reduction_bars", config=PLOT_CONFIG)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"antihubs": st.column_config.NumberColumn(format="percent"),
                                "kNN accuracy": st.column_config.NumberColumn(format="percent")})
    st.caption(f"Each method re-ranks every point's {first.n_candidates} nearest candidates by a secondary "
               f"distance and keeps the best {k} (local statistics over {first.k_scale} neighbours). kNN accuracy "
               "is leave-one-out majority vote" + ("." if emb.labels is not None else " (needs labels)."))
    method = st.selectbox("Show the projection after", list(results), format_func=METHOD_NAMES.get,
                          key="hub_reduction_method")
    chosen = results[method]
    rows = cache.draw_rows(view.data_key, emb.n_samples)
    fig = hubness_scatter(proj.coords, chosen.hubness.k_occurrence, draw_rows=rows, hubs=chosen.hubness.hubs,
                          antihubs=chosen.hubness.antihubs, hover=explore.hover_text(emb, rows),
                          uirevision=f"hub_reduced|{view.data_key}")
    st.plotly_chart(fig, key="hub_reduced_scatter", config=PLOT_CONFIG)
    st.caption(f"Same projection, coloured by N_k after {METHOD_NAMES[method]}: "
               f"{chosen.hubness.hubs.size:,} hubs (was {before.hubs.size:,}), "
               f"{chosen.hubness.antihub_occurrence:.0%} antihubs (was {before.antihub_occurrence:.0%}).")


def teaching_demo() -> None:
    """i.i.d. Gaussian points: skewness of N_k against dimension, with a guided sequence."""
    st.markdown("Hubness is not a bug of your model: it appears in plain random data once the dimension is high. "
                "Each point below is 2,000 i.i.d. standard Gaussian points, k = 10.")
    d = st.select_slider("Dimension d", options=list(DEMO_DIMENSIONS), value=2, key="hub_demo_dim")
    curve = demo_curve(DEMO_DIMENSIONS, 2000, 10)
    left, right = st.columns(2)
    left.plotly_chart(skewness_vs_dimension(DEMO_DIMENSIONS, curve, current=d), key="hub_demo_curve",
                      config=PLOT_CONFIG)
    sample = demo_sample(d)
    right.plotly_chart(k_occurrence_charts(sample.k_occurrence, 10, rank_plot=False, height=330),
                       key="hub_demo_hist", config=PLOT_CONFIG)
    right.caption(f"d = {d}: skewness {_fmt(sample.skewness)}, largest N_k {sample.k_occurrence.max()}, "
                  f"{sample.antihub_occurrence:.0%} antihubs.")
    st.markdown(
        "**Try this.** 1. Start at d = 2: N_k is bell-shaped around k = 10 and no point is in more than about "
        "20 lists. 2. Move to d = 20: a long right tail appears (the largest N_k passes 100). 3. At d = 200 and "
        "1,000 the largest hubs are in hundreds of lists while a quarter to a third of the points are in none. "
        "4. Ask why: open the **Hubness** tab on a real embedding and look at *Why are there hubs?* "
        "(Radovanovic, Nanopoulos & Ivanovic 2010, JMLR 11)."
    )


@st.cache_data(max_entries=4, ttl=SHARED_TTL, show_spinner=False)
def demo_sample(d: int) -> Hubness:
    X = np.random.default_rng(d).standard_normal((2000, d)).astype(np.float32)
    return hubness(X, k=10)


def explain() -> None:
    formulas(MEANINGS)
    st.caption("N_k(x) counts the points whose k nearest neighbours (self excluded) include x; its mean is k. "
               "Radovanovic et al. (2010); Feldbauer & Flexer (2019); Schnitzer et al. (2012).")
