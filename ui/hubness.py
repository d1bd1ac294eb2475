"""Hubness page: widgets, cached neighbour graphs, cached panels (`analysis.panels.hubness`), and drawing.

Three searches, each once: the data's graph per (data, metric), deep enough for
the k slider's end and the reductions' candidates; the verdict's Gaussian
baseline per (n, d, metric), to the slider's end; the "Two sets" queries
against their gallery per (data, splits, metric), to the slider's end. Moving
k or opening the Reduction tab slices them (issue 16).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from analysis.panels import hubness as panels
from analysis.views import (
    centrality_scatter,
    format_number,
    format_percent,
    hubness_scatter,
    k_occurrence_charts,
    reduction_bars,
    skewness_vs_dimension,
)
from ui import cache, explore
from ui.cache import RESULTS_TTL, SHARED_TTL
from ui.state import View
from ui.widgets import card_columns, exact_knn, formulas, plot_config

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
# Verdict level -> how the page shows it (the Report's badges use the same levels).
_VERDICT_BOX = {"good": st.success, "info": st.info, "warning": st.warning, "problem": st.error}


def largest_k(n_samples: int) -> int:
    """The k slider's upper end on n points."""
    return min(panels.LARGEST_K, n_samples - 1)


def _graph(view: View, metric: str) -> panels.NeighborGraph:
    """The selection's one graph per metric (`ui.cache.selection_graph`, shared with Explore)."""
    return cache.selection_graph(view.selection, metric, exact_knn(view.embedding.n_samples))


# Depends on the shape only, so every session and dataset of that shape shares it (SHARED_TTL).
@st.cache_resource(max_entries=4, ttl=SHARED_TTL,
                   show_spinner="Searching i.i.d. Gaussian points of the same size (the verdict's baseline)…")
def baseline(n_samples: int, n_features: int, metric: str, k_max: int) -> panels.NeighborGraph:
    """The report's Gaussian sample of the same n and d, searched once to the slider's end."""
    return panels.baseline_graph(n_samples, n_features, metric=metric, k_max=k_max)


@st.cache_data(max_entries=16, ttl=RESULTS_TTL, show_spinner=False)
def _hubness_panel(data_key: str, _X: np.ndarray, k: int, metric: str, k_max: int, knn: str,
                   _graph: panels.NeighborGraph, _baseline: panels.NeighborGraph) -> panels.HubnessPanel:
    return panels.hubness_panel(_X, k=k, metric=metric, graph=_graph, baseline=_baseline)


def panel(view: View, k: int, metric: str) -> panels.HubnessPanel:
    """The Hubness tab's numbers (cached per data, k, metric); validates the data before any projection."""
    g = _graph(view, metric)  # first: it validates the data before the baseline's search
    n, d = view.embedding.X.shape
    base = baseline(n, d, metric, panels.baseline_depth(n, largest_k(n)))
    return _hubness_panel(view.data_key, view.embedding.X, k, metric, g.k_max, g.knn.method, g, base)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner="Re-ranking neighbours with every hubness reduction…")
def _reduction_panel(data_key: str, _X: np.ndarray, k: int, metric: str, k_max: int, knn: str,
                     _graph: panels.NeighborGraph,
                     _labels: np.ndarray | None) -> panels.ReductionPanel:
    return panels.reduction_panel(_X, k=k, metric=metric, graph=_graph, labels=_labels)


def reduction(view: View, k: int, metric: str) -> panels.ReductionPanel:
    g = _graph(view, metric)
    return _reduction_panel(view.data_key, view.embedding.X, k, metric, g.k_max, g.knn.method, g,
                            view.embedding.labels)


@st.cache_resource(max_entries=8, ttl=RESULTS_TTL, show_spinner="Finding each query's nearest gallery points…")
def pair_graph(data_key: str, _embedding: panels.Embedding, query: str, gallery: str, metric: str,
               k_max: int) -> panels.QueryGalleryGraph:
    """The two sets' one search per (data, splits, metric), to the slider's end: every k slices it."""
    return panels.query_gallery_graph(_embedding, query=query, gallery=gallery, metric=metric, k_max=k_max)


@st.cache_data(max_entries=8, ttl=RESULTS_TTL, show_spinner=False)
def _between(data_key: str, query: str, gallery: str, k: int, metric: str, k_max: int,
             _pair: panels.QueryGalleryGraph) -> panels.QueryGalleryPanel:
    return panels.query_gallery_panel(_pair, k=k)


def between(view: View, query: str, gallery: str, k: int, metric: str) -> panels.QueryGalleryPanel:
    emb = view.embedding
    pair = pair_graph(view.data_key, emb, query, gallery, metric, largest_k(emb.n_samples))
    return _between(view.data_key, query, gallery, k, metric, pair.k_max, pair)


@st.cache_data(max_entries=2, ttl=SHARED_TTL, show_spinner="Sampling Gaussian points at every dimension…")
def demo_curve(dimensions: tuple[int, ...], n_samples: int, k: int) -> np.ndarray:
    return panels.gaussian_demo_curve(dimensions, n_samples=n_samples, k=k)


@st.cache_data(max_entries=4, ttl=SHARED_TTL, show_spinner=False)
def demo_sample(d: int) -> panels.Hubness:
    return panels.gaussian_demo_sample(d)


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "undefined"
    return format_percent(value) if percent else format_number(value)


def cards(result: panels.Hubness) -> None:
    """The headline numbers, each with its meaning as help."""
    cols = card_columns(len(CARDS) + 1)
    for col, name in zip(cols, CARDS, strict=False):
        label, meaning, _ = MEANINGS[name]
        percent = name in ("antihub_occurrence", "hub_occurrence")
        col.metric(label, _fmt(getattr(result, name), percent), help=meaning)
    cols[-1].metric("Hubs / antihubs", f"{result.hubs.size:,} / {result.antihubs.size:,}",
                    help="Points with N_k ≥ 2k, and with N_k = 0.")
    for note in result.notes:
        st.info(note)


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


def main_view(view: View, coords: np.ndarray, k: int, metric: str) -> None:
    """Cards, N_k charts, the projection with hubs, who lists the chosen point, and centrality."""
    emb = view.embedding
    hub = panel(view, k, metric)
    result = hub.hubness
    _VERDICT_BOX[hub.verdict.level](hub.verdict.sentence)
    if hub.baseline_skewness is not None:
        lower = (f" (the first {hub.baseline_rows:,} rows of a sample of {emb.n_samples:,}: Gaussian hubness grows "
                 "with n, so a lower bound)" if hub.baseline_rows < emb.n_samples else "")
        st.caption(f"Baseline: skewness {hub.baseline_skewness:.2f} for {hub.baseline_rows:,} i.i.d. standard Gaussian "
                   f"points in d = {emb.X.shape[1]} (seeded){lower}, same k and distance: the Report's rule and sample.")
    knn = _graph(view, metric).knn  # cached: no search
    if not knn.exact:
        st.caption(f"Neighbours from {knn.describe()}. Turn on Exact kNN above for an exact search (slow).")
    cards(result)
    st.plotly_chart(k_occurrence_charts(result.k_occurrence, k), key="hub_charts", config=plot_config())
    st.subheader("Where the hubs are")
    top = [int(r) for r in hub.top_hubs]
    chart_key = f"hub_scatter|{view.data_key}"
    pick_key = f"hub_pick|{view.data_key}|{k}|{metric}"
    focus = _chosen_point(chart_key, pick_key, coords, top[0], emb.n_samples)
    options = top if focus in top else [focus, *top]  # a clicked point joins the 50 largest hubs
    left, right = st.columns([1.5, 1])
    with right:
        st.selectbox("Point", options, key=pick_key, format_func=lambda r: f"id {r} · N_k = {result.k_occurrence[r]}",
                     help="The 50 largest hubs; or click any point in the chart.")
        rows, ranks = hub.reverse_neighbours(focus)
        st.markdown(f"**id {focus}** is in the k-NN list of **{rows.size}** points (mean k = {k}).")
        if rows.size:
            st.dataframe(explore.rows_table(emb, rows, extra={"its rank there": ranks}), hide_index=True,
                         height=300, width="stretch")
    with left:
        draw = cache.draw_rows(view.data_key, emb.n_samples, _labels=emb.labels)
        fig = hubness_scatter(coords, result.k_occurrence, draw_rows=draw, hubs=result.hubs,
                              antihubs=result.antihubs, hover=explore.hover_text(emb, draw), focus_row=focus,
                              reverse_neighbours=rows, uirevision=chart_key)
        st.plotly_chart(fig, key=chart_key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        config=plot_config())
        st.caption("Colour = log(1 + N_k). Red rings: hubs; grey crosses: antihubs; yellow: the points whose "
                   "k-NN lists contain the chosen point (star). Click a point to choose it.")
    st.subheader("Why are there hubs?")
    st.plotly_chart(centrality_scatter(hub.distance_to_centre, result.k_occurrence, hubs=result.hubs,
                                       spearman=hub.spearman),
                    key="hub_centrality", config=plot_config())
    st.caption("In high dimensions distances concentrate, and points near the data mean are a little closer to "
               "everyone: they become hubs (Radovanovic et al. 2010), which shows as a negative ρ. In clustered data "
               "(a classifier's classes) hubs sit at the centre of their own cluster instead, and ρ can be positive.")
    two_sets(view, k, metric)


def two_sets(view: View, k: int, metric: str) -> None:
    """Query-to-gallery hubness between two metadata splits (e.g. test queries, train gallery)."""
    emb = view.embedding
    names = panels.split_names(emb)
    if names is None:
        return
    st.subheader("Two sets: queries against a gallery")
    cols = st.columns(2)
    query = cols[0].selectbox("Queries", names, index=names.index("test") if "test" in names else 0,
                              key="hub_query_split")
    gallery = cols[1].selectbox("Gallery", [n for n in names if n != query], key="hub_gallery_split")
    pair = between(view, query, gallery, k, metric)
    if pair.hubness is None:
        st.info(f"k = {k} exceeds the {pair.n_gallery} gallery points; lower k.")
        return
    st.markdown(f"How often each of the {pair.n_gallery:,} **{gallery}** points is among the {k} nearest "
                f"{gallery} points of a **{query}** query ({pair.n_queries:,} queries; mean N_k = "
                f"{pair.mean_k_occurrence:.2f}). Retrieval hubs are returned for everything; antihubs "
                "are never retrieved.")
    cards(pair.hubness)


def reduction_view(view: View, coords: np.ndarray, k: int, metric: str) -> None:
    """Skewness and kNN accuracy for every method, and the projection coloured by N_k after one."""
    emb = view.embedding
    red = reduction(view, k, metric)
    before = red.before
    st.plotly_chart(reduction_bars(red.method_names, before.skewness, red.skewness_after, red.knn_accuracy_before,
                                   red.knn_accuracy_after),
                    key="hub_reduction_bars", config=plot_config())
    st.dataframe(red.table, hide_index=True, width="stretch",
                 column_config={"antihubs": st.column_config.NumberColumn(format="percent"),
                                "kNN accuracy": st.column_config.NumberColumn(format="percent"),
                                "agreement": st.column_config.NumberColumn(
                                    format="percent", help="Overlap of the re-ranked lists with the exact ones")})
    knn = _graph(view, metric).knn  # cached: no search
    if not knn.exact:
        st.caption(f"Candidates from {knn.describe()}.")
    st.caption(f"Each method ranks every point's neighbours by a secondary distance and keeps the best {k} "
               f"(local statistics over {red.k_scale} neighbours). {red.mode_note} kNN accuracy "
               "is leave-one-out majority vote" + ("." if red.has_labels else " (needs labels)."))
    method = st.selectbox("Show the projection after", list(red.results), format_func=panels.METHOD_NAMES.get,
                          key="hub_reduction_method")
    chosen = red.results[method]
    rows = cache.draw_rows(view.data_key, emb.n_samples, _labels=emb.labels)
    fig = hubness_scatter(coords, chosen.hubness.k_occurrence, draw_rows=rows, hubs=chosen.hubness.hubs,
                          antihubs=chosen.hubness.antihubs, hover=explore.hover_text(emb, rows),
                          uirevision=f"hub_reduced|{view.data_key}")
    st.plotly_chart(fig, key="hub_reduced_scatter", config=plot_config())
    st.caption(f"Same projection, coloured by N_k after {panels.METHOD_NAMES[method]}: "
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
                      config=plot_config())
    sample = demo_sample(d)
    right.plotly_chart(k_occurrence_charts(sample.k_occurrence, 10, rank_plot=False, height=330),
                       key="hub_demo_hist", config=plot_config())
    right.caption(f"d = {d}: skewness {_fmt(sample.skewness)}, largest N_k {sample.k_occurrence.max()}, "
                  f"{sample.antihub_occurrence:.0%} antihubs.")
    st.markdown(
        "**Try this.** 1. Start at d = 2: N_k is bell-shaped around k = 10 and no point is in more than about "
        "20 lists. 2. Move to d = 20: a long right tail appears (the largest N_k passes 100). 3. At d = 200 and "
        "1,000 the largest hubs are in hundreds of lists while a quarter to a third of the points are in none. "
        "4. Ask why: open the **Hubness** tab on a real embedding and look at *Why are there hubs?* "
        "(Radovanovic, Nanopoulos & Ivanovic 2010, JMLR 11)."
    )


def explain() -> None:
    formulas(MEANINGS)
    st.caption("N_k(x) counts the points whose k nearest neighbours (self excluded) include x; its mean is k. "
               "Radovanovic et al. (2010); Feldbauer & Flexer (2019); Schnitzer et al. (2012).")
