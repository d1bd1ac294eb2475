"""analysis.panels.hubness: the Hubness page's numbers equal the direct metric calls, from one search."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from scipy.stats import spearmanr

import analysis.neighbors as neighbors_module
from analysis.data.schema import Embedding
from analysis.metrics import hubness
from analysis.metrics.hubness import distance_to_centre, hubness_between, reverse_neighbours
from analysis.metrics.hubness_reduction import METHOD_NAMES, compare_reductions
from analysis.panels import hubness as panels
from analysis.report import diagnose
from analysis.report.baseline import gaussian_sample
from analysis.verdicts import hubness_verdict

N, D = 150, 12


def _embedding(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(np.float32) * rng.uniform(0.5, 2.0, D).astype(np.float32)
    return X, rng.integers(0, 3, N)


def _same_hubness(a, b) -> None:
    np.testing.assert_array_equal(a.k_occurrence, b.k_occurrence)
    np.testing.assert_array_equal(a.hubs, b.hubs)
    np.testing.assert_array_equal(a.antihubs, b.antihubs)
    for name in ("skewness", "robin_hood", "gini", "atkinson", "antihub_occurrence", "hub_occurrence",
                 "groupie_ratio"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.notes == b.notes


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_hubness_panel_equals_the_direct_calls_for_every_k(metric) -> None:
    X, _ = _embedding()
    graph = panels.hubness_graph(X, metric=metric, k_max=panels.graph_depth(N))
    base = panels.baseline_graph(N, D, metric=metric, k_max=panels.baseline_depth(N))
    G = gaussian_sample(N, D)  # the report's sample (seed 0)
    for k in (1, 3, 10, 25, 50):
        panel = panels.hubness_panel(X, k=k, metric=metric, graph=graph, baseline=base)
        expected = hubness(X, k=k, metric=metric)  # its own search
        _same_hubness(panel.hubness, expected)
        indices = neighbors_module.kneighbors(X, k, metric=metric)[1]
        np.testing.assert_array_equal(panel.indices, indices)
        for item in (int(panel.top_hubs[0]), int(panel.top_hubs[-1]), 0):
            for got, want in zip(panel.reverse_neighbours(item), reverse_neighbours(indices, item), strict=True):
                np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(panel.top_hubs,
                                      np.argsort(expected.k_occurrence, kind="stable")[::-1][:panels.TOP_HUBS])
        distance = distance_to_centre(X, metric=metric)
        np.testing.assert_array_equal(panel.distance_to_centre, distance)
        assert panel.spearman == float(spearmanr(distance, expected.k_occurrence).statistic)
        base_skew = hubness(G, k=k, metric=metric).skewness  # its own search of the Gaussian sample
        assert panel.baseline_skewness == base_skew
        assert panel.verdict == panels.verdict(expected, base_skew, n=N, d=D)
        assert panel.verdict == hubness_verdict(expected, base_skew, n=N, d=D)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("with_labels", [True, False])
def test_reduction_panel_equals_compare_reductions(metric, with_labels) -> None:
    X, labels = _embedding(5)
    labels = labels if with_labels else None
    graph = panels.hubness_graph(X, metric=metric, k_max=panels.graph_depth(N))
    for k in (2, 10, 30):
        panel = panels.reduction_panel(X, k=k, metric=metric, graph=graph, labels=labels)
        expected = compare_reductions(X, k=k, metric=metric, labels=labels)  # its own search
        assert list(panel.results) == list(expected)
        for method, want in expected.items():
            got = panel.results[method]
            np.testing.assert_array_equal(got.indices, want.indices)
            np.testing.assert_array_equal(got.secondary_distances, want.secondary_distances)
            _same_hubness(got.hubness, want.hubness)
            assert got.knn_accuracy == want.knn_accuracy
            assert got.n_candidates == want.n_candidates
        first = next(iter(expected.values()))
        _same_hubness(panel.before, first.hubness_before)
        assert panel.knn_accuracy_before == first.knn_accuracy_before
        assert panel.method_names == [METHOD_NAMES[m] for m in expected]
        assert panel.table.columns == ["method", "skewness", "Robin Hood", "antihubs", "kNN accuracy",
                                       "candidates", "agreement"]
        # N = 150 <= EXACT_MAX_N: exact mode, every other point a candidate, agreement 1 on every row
        assert panel.mode == "exact" and panel.agreement_sample == N
        assert panel.table["candidates"].to_list() == [None, *[N - 1] * len(expected)]
        assert panel.table["agreement"].to_list() == [None, *[1.0] * len(expected)]
        assert f"all {N - 1:,} others" in panel.mode_note
        assert panel.table["method"].to_list() == ["none", *panel.method_names]
        assert panel.table["skewness"].to_list() == [first.hubness_before.skewness,
                                                     *(r.hubness.skewness for r in expected.values())]
        assert panel.skewness_after == [r.hubness.skewness for r in expected.values()]
        assert panel.knn_accuracy_after == ([r.knn_accuracy for r in expected.values()] if with_labels else None)


def test_one_search_serves_every_k_and_every_reduction(monkeypatch) -> None:
    X, labels = _embedding(7)
    calls: list[int] = []
    original = neighbors_module.kneighbors

    def counted(data, k, **options):
        calls.append(int(k))
        return original(data, k, **options)

    for name in ("analysis.neighbors", "analysis.metrics.hubness", "analysis.metrics.hubness_reduction"):
        monkeypatch.setattr(sys.modules[name], "kneighbors", counted)  # `analysis.metrics.hubness` is also a function
    graph = panels.hubness_graph(X, metric="euclidean", k_max=panels.graph_depth(N))
    base = panels.baseline_graph(N, D, metric="euclidean", k_max=panels.baseline_depth(N))
    for k in range(1, panels.LARGEST_K + 1, 7):
        panels.hubness_panel(X, k=k, metric="euclidean", graph=graph, baseline=base)
        panels.reduction_panel(X, k=k, metric="euclidean", graph=graph, labels=labels)
    assert calls == [100, 50]  # the data to the reductions' depth, the Gaussian baseline to the largest k


def test_graph_depth_covers_the_largest_k_and_its_candidates() -> None:
    assert panels.graph_depth(1797) == 100  # k = 50 re-ranks min(100, 5 * 50) candidates
    assert panels.graph_depth(1797, 4) == 20
    assert panels.graph_depth(30) == 29  # capped at n - 1
    assert panels.graph_depth(2) == 1


def test_baseline_depth_is_the_slider_end() -> None:
    assert panels.baseline_depth(1797) == 50
    assert panels.baseline_depth(30) == 29
    assert panels.baseline_depth(2) == 1


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [3, 10])
def test_page_and_report_give_the_same_hubness_verdict_on_the_same_data(metric, k) -> None:
    """The page's verdict is the report's finding: same level, same sentence, same baseline number."""
    for X in (_embedding(11)[0],  # mild hubness
              np.random.default_rng(4).standard_normal((N, 60)).astype(np.float32)):  # high d: strong hubness
        n, d = X.shape
        graph = panels.hubness_graph(X, metric=metric, k_max=panels.graph_depth(n))
        base = panels.baseline_graph(n, d, metric=metric, k_max=panels.baseline_depth(n))
        panel = panels.hubness_panel(X, k=k, metric=metric, graph=graph, baseline=base)
        finding = next(f for f in diagnose(X, k=k, metric=metric).findings if f.key == "hubness")
        assert finding.baseline == panel.baseline_skewness
        assert (finding.verdict, finding.reason) == (panel.verdict.level, panel.verdict.sentence)


def test_hubness_panel_without_a_baseline_judges_skewness_alone() -> None:
    X, _ = _embedding()
    graph = panels.hubness_graph(X, metric="euclidean", k_max=panels.graph_depth(N))
    panel = panels.hubness_panel(X, k=10, metric="euclidean", graph=graph)
    assert panel.baseline_skewness is None
    assert panel.verdict == hubness_verdict(panel.hubness, None, n=N, d=D)
    with pytest.raises(ValueError, match=r"a graph of 30 rows \(euclidean\) is not the Gaussian baseline of 150 rows"):
        panels.hubness_panel(X, k=10, metric="euclidean", graph=graph,
                             baseline=panels.baseline_graph(30, D, metric="euclidean", k_max=10))


def test_query_gallery_panel_equals_hubness_between() -> None:
    X, _ = _embedding(9)
    split = np.where(np.arange(N) % 4 == 0, "test", "train")
    emb = Embedding(X=X, metadata=pl.DataFrame({"split": split}))
    assert panels.split_names(emb) == ["test", "train"]
    searched = panels.query_gallery_graph(emb, query="test", gallery="train", metric="cosine",
                                          k_max=panels.LARGEST_K)
    assert searched.k_max == panels.LARGEST_K
    for k in (1, 5, 17, panels.LARGEST_K):  # every k a slice of the one search
        pair = panels.query_gallery_panel(searched, k=k)
        _same_hubness(pair.hubness, hubness_between(X[split == "test"], X[split == "train"], k=k, metric="cosine"))
        assert (pair.n_queries, pair.n_gallery) == (int((split == "test").sum()), int((split == "train").sum()))
        assert pair.mean_k_occurrence == k * pair.n_queries / pair.n_gallery
    small = panels.query_gallery_graph(emb, query="train", gallery="test", metric="cosine",
                                       k_max=panels.LARGEST_K)
    assert small.k_max == int((split == "test").sum())  # capped at the gallery's size
    assert panels.query_gallery_panel(small, k=small.k_max).hubness is not None
    assert panels.query_gallery_panel(small, k=small.k_max + 1).hubness is None  # the page says "lower k"
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 50\] .*; got 51"):
        panels.query_gallery_panel(searched, k=51)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1; got 0"):
        panels.query_gallery_panel(searched, k=0)
    with pytest.raises(ValueError, match="identical rows"):
        panels.query_gallery_graph(Embedding(X=np.ones((N, D)), metadata=emb.metadata), query="test", gallery="train", metric="euclidean",
                                   k_max=5)
    assert panels.split_names(Embedding(X=X[:3], metadata=pl.DataFrame({"split": ["a"] * 3}))) is None
    assert panels.split_names(Embedding(X=X)) is None


def test_panels_import_no_streamlit_or_plotly() -> None:
    code = ("import sys, analysis.panels, analysis.panels.hubness; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'plotly')); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_reduction_panel_notes_the_candidate_mode_and_its_agreement(monkeypatch) -> None:
    import analysis.metrics.hubness_reduction as module

    monkeypatch.setattr(module, "EXACT_MAX_N", 100)  # N = 150 rows: the candidate mode
    X, labels = _embedding(5)
    graph = panels.hubness_graph(X, metric="euclidean", k_max=panels.graph_depth(N))
    panel = panels.reduction_panel(X, k=5, metric="euclidean", graph=graph, labels=labels)
    assert panel.mode == "candidates" and panel.agreement_sample == N  # the sample is every row when n <= 200
    worst = min(panel.results.values(), key=lambda r: r.agreement)
    assert panel.table["agreement"].to_list()[1:] == [r.agreement for r in panel.results.values()]
    assert panel.table["candidates"].to_list()[1:] == [r.n_candidates for r in panel.results.values()]
    assert f"lowest: {worst.agreement:.1%}, {METHOD_NAMES[worst.method]}" in panel.mode_note
