"""NeighborGraph: one exact search sliced for every k, and the consumers that read it.

Every consumer given a graph must return what it returns without one, bit for
bit, and must not search again; `diagnose` searches each point set once.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import analysis.neighbors as neighbors_module
from analysis.metrics import hubness, intrinsic_dimension, reduce_hubness
from analysis.metrics.hubness import knn_accuracy
from analysis.metrics.hubness_reduction import METHODS, compare_reductions
from analysis.metrics.similarity import knn_agreement
from analysis.neighbors import NeighborGraph, kneighbors
from analysis.report import diagnose


def _cloud(n: int = 240, d: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _assert_same(a, b) -> None:
    """Two metric results equal field by field (arrays bit for bit)."""
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        np.testing.assert_array_equal(np.asarray(da[key], dtype=object), np.asarray(db[key], dtype=object),
                                      err_msg=key)


# ------------------------------------------------------------------------------ the graph


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("d", [3, 40, 300])
def test_top_k_equals_kneighbors_for_several_k(metric, d):
    X = _cloud(n=400, d=d, seed=d)
    graph = NeighborGraph.search(X, k_max=25, metric=metric)
    assert (graph.n, graph.k_max, graph.metric) == (400, 25, metric)
    for k in (1, 2, 7, 24, 25):
        distances, indices = kneighbors(X, k, metric=metric)
        top_d, top_i = graph.top(k)
        np.testing.assert_array_equal(top_d, distances)
        np.testing.assert_array_equal(top_i, indices)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ties_follow_the_documented_rule(metric):
    """Duplicates and an integer grid: many exact ties, some straddling the k-th place.

    Guaranteed: the same distances as `kneighbors(X, k)`; the same indices on
    every row without a tie at its k-th place; the neighbours strictly nearer
    than the k-th distance always the same; each line sorted by (distance, row).
    """
    rng = np.random.default_rng(1)
    base = rng.integers(0, 3, size=(70, 5)).astype(np.float32) + np.float32(1)  # no zero row (cosine)
    X = np.concatenate([base, base[rng.integers(0, 70, size=130)]])[rng.permutation(200)]
    graph = NeighborGraph.search(X, k_max=20, metric=metric)
    straddling = 0
    for k in (1, 2, 5, 10, 19):
        distances, indices = kneighbors(X, k, metric=metric)
        top_d, top_i = graph.top(k)
        np.testing.assert_array_equal(top_d, distances)
        tied_at_k = graph.distances[:, k - 1] == graph.distances[:, k]
        straddling += int(tied_at_k.sum())
        np.testing.assert_array_equal(top_i[~tied_at_k], indices[~tied_at_k])
        nearer = top_d < top_d[:, -1:]
        np.testing.assert_array_equal(np.where(nearer, top_i, -1), np.where(nearer, indices, -1))
    assert straddling > 0  # the data do exercise ties at the cut
    assert np.all(np.diff(graph.distances, axis=1) >= 0)
    if metric == "euclidean":  # integer data: float64 ties stay ties, distinct distances stay distinct in float32
        same_distance = graph.distances[:, 1:] == graph.distances[:, :-1]
        assert np.all(graph.indices[:, 1:][same_distance] > graph.indices[:, :-1][same_distance])


def test_ties_at_the_cut_keep_the_lowest_row_numbers():
    X = np.array([[0.0], [0.0], [0.0], [0.0], [5.0], [9.0]], dtype=np.float32)
    graph = NeighborGraph.search(X, k_max=4)
    assert graph.top(1)[1][:4, 0].tolist() == [1, 0, 0, 0]
    assert graph.top(2)[1][3].tolist() == [0, 1]
    assert graph.indices[0].tolist() == [1, 2, 3, 4]  # self excluded, duplicates listed at distance 0


def test_top_refuses_k_beyond_k_max_naming_both():
    graph = NeighborGraph.search(_cloud(n=30), k_max=5)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\] \(5 neighbours per row: the graph's k_max\); got 6\..*k_max=6"):
        graph.top(6)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match=rf"k must be an integer >= 1; got {bad!r}"):
            graph.top(bad)


def test_graph_is_read_only_and_validated():
    graph = NeighborGraph.search(_cloud(n=30), k_max=5, metric="cosine")
    with pytest.raises(ValueError):
        graph.distances[0, 0] = 1.0
    with pytest.raises(ValueError, match="same shape"):
        NeighborGraph(distances=np.zeros((3, 2)), indices=np.zeros((3, 1), dtype=np.int64), metric="euclidean")
    with pytest.raises(ValueError, match=r"k_max must be an integer in \[1, 9\] .*; got 10\. Use k_max <= 9"):
        NeighborGraph.search(_cloud(n=10), k_max=10)
    with pytest.raises(ValueError, match=r"k_max must be an integer in \[1, 9\] .*; got 0\. Use k_max >= 1"):
        NeighborGraph.search(_cloud(n=10), k_max=0)


def test_unit_chords_of_a_cosine_graph():
    X = _cloud(n=60, d=6)
    cosine = NeighborGraph.search(X, k_max=5, metric="cosine")
    chords = cosine.unit_chords()
    assert chords.metric == "euclidean" and chords.k_max == 5
    np.testing.assert_array_equal(chords.indices, cosine.indices)
    np.testing.assert_array_equal(chords.distances, np.sqrt(2.0 * cosine.distances.astype(np.float64)))
    unit = X / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    np.testing.assert_allclose(chords.distances, kneighbors(unit, 5)[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="metric='cosine'"):
        chords.unit_chords()


def test_search_reports_progress():
    calls: list[tuple[float, str]] = []
    NeighborGraph.search(_cloud(n=30), k_max=3, progress=lambda f, m: calls.append((f, m)))
    assert [f for f, _ in calls] == [0.0, 1.0]


def test_consumers_refuse_a_graph_of_other_data():
    X = _cloud(n=50)
    cosine = NeighborGraph.search(X, k_max=10, metric="cosine")
    with pytest.raises(ValueError, match="metric='cosine'"):
        hubness(X, k=5, neighbors=cosine)
    with pytest.raises(ValueError, match="graph of 40 rows but X has 50"):
        hubness(X, k=5, neighbors=NeighborGraph.search(X[:40], k_max=10))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 10\] \(10 neighbours per row: the graph's k_max\); got 11"):
        hubness(X, k=11, neighbors=NeighborGraph.search(X, k_max=10))
    with pytest.raises(ValueError, match="metric='cosine'"):
        intrinsic_dimension(X, neighbors=cosine)


# ------------------------------------------------------------------------------ consumers, bit for bit


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_hubness_with_a_graph_is_identical(metric):
    X = _cloud(d=30)
    graph = NeighborGraph.search(X, k_max=15, metric=metric)
    for k in (1, 5, 10, 15):
        _assert_same(hubness(X, k=k, metric=metric, neighbors=graph), hubness(X, k=k, metric=metric))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_reductions_with_a_graph_are_identical(metric):
    X = _cloud(n=160, d=20)
    labels = np.arange(160) % 4
    k, n_candidates = 5, 25
    for k_max in (n_candidates, 40):
        graph = NeighborGraph.search(X, k_max=k_max, metric=metric)
        with_graph = compare_reductions(X, k=k, metric=metric, n_candidates=n_candidates, labels=labels,
                                        neighbors=graph)
        without = compare_reductions(X, k=k, metric=metric, n_candidates=n_candidates, labels=labels)
        for method in METHODS:
            a, b = with_graph[method], without[method]
            np.testing.assert_array_equal(a.indices, b.indices)
            np.testing.assert_array_equal(a.secondary_distances, b.secondary_distances)
            _assert_same(a.hubness, b.hubness)
            _assert_same(a.hubness_before, b.hubness_before)
            assert (a.knn_accuracy, a.knn_accuracy_before) == (b.knn_accuracy, b.knn_accuracy_before)
    graph = NeighborGraph.search(X, k_max=50, metric=metric)  # the default candidate count: 25
    a = reduce_hubness(X, "csls", k=k, metric=metric, neighbors=graph)
    b = reduce_hubness(X, "csls", k=k, metric=metric)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.secondary_distances, b.secondary_distances)


@pytest.mark.parametrize("duplicates", [0, 60])
@pytest.mark.parametrize("first_column_ties", [False, True])
def test_intrinsic_dimension_with_a_graph_is_identical(duplicates, first_column_ties):
    X = _cloud(n=300, d=8, seed=3)
    if first_column_ties:  # the order of np.unique then needs more than the first column (and -0.0 == 0.0)
        X[:, 0] = np.round(X[:, 0])
        X[::7, 0] = np.float32(-0.0)
    rng = np.random.default_rng(4)
    X = np.concatenate([X, X[rng.integers(0, 300, duplicates)]])[rng.permutation(300 + duplicates)]
    graph = NeighborGraph.search(X, k_max=12)
    for method, k in (("twonn", 2), ("mle", 5), ("mle", 10)):
        a = intrinsic_dimension(X, method=method, k=k, neighbors=graph)
        b = intrinsic_dimension(X, method=method, k=k)
        assert a.to_dict() == b.to_dict()
    assert intrinsic_dimension(X, neighbors=graph).n_duplicates == duplicates


def test_intrinsic_dimension_searches_again_only_when_duplicates_fill_the_graph(monkeypatch):
    X = _cloud(n=60, d=4)
    X = np.concatenate([X, X, X])  # every point has two copies: a k_max=3 line holds 1 distinct neighbour
    graph = NeighborGraph.search(X, k_max=3)
    counts = _count_searches(monkeypatch)
    assert intrinsic_dimension(X, neighbors=graph).to_dict() == intrinsic_dimension(X).to_dict()
    assert len(counts) == 2  # the fallback and the call without a graph
    counts.clear()
    intrinsic_dimension(X, neighbors=NeighborGraph.search(X, k_max=8))
    assert len(counts) == 1  # the graph's own search only: 8 columns reach two distinct points


def test_knn_accuracy_and_agreement_with_graphs_are_identical():
    X, Y = _cloud(d=16, seed=5), _cloud(d=9, seed=6)
    labels = np.arange(X.shape[0]) % 3
    gx, gy = NeighborGraph.search(X, k_max=12), NeighborGraph.search(Y, k_max=12)
    for k in (1, 5, 12):
        expected = knn_accuracy(kneighbors(X, k)[1], labels)
        assert knn_accuracy(gx, labels, k=k) == expected
        assert knn_accuracy(gx.indices, labels, k=k) == expected
        a, b = knn_agreement(X, Y, k=k, neighbors=(gx, gy)), knn_agreement(X, Y, k=k)
        _assert_same(a, b)
    with pytest.raises(ValueError, match=r"neighbors\[1\], Y's graph is a graph of 100 rows"):
        knn_agreement(X, Y, k=5, neighbors=(gx, NeighborGraph.search(Y[:100], k_max=5)))


# ------------------------------------------------------------------------------ searches counted


def _count_searches(monkeypatch) -> list[tuple[int, ...]]:
    """Wrap `kneighbors` wherever a module of `analysis` holds it; record the shape of each search."""
    calls: list[tuple[int, ...]] = []
    original = neighbors_module.kneighbors

    def counted(X, k, **options):
        calls.append(np.shape(X))
        return original(X, k, **options)

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if (name == "analysis" or name.startswith("analysis.")) and getattr(module, "kneighbors", None) is original:
            monkeypatch.setattr(module, "kneighbors", counted)
    return calls


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("duplicates", [0, 30])
def test_diagnose_searches_each_point_set_once(monkeypatch, metric, duplicates):
    import analysis.report.baseline as report_baseline

    rng = np.random.default_rng(8)
    X = _cloud(n=200, d=10, seed=8)
    X = np.concatenate([X, X[:duplicates]])
    labels = rng.integers(0, 4, X.shape[0])
    monkeypatch.setattr(report_baseline, "_BASELINE_CACHE", type(report_baseline._BASELINE_CACHE)())
    calls = _count_searches(monkeypatch)
    result = diagnose(X, labels=labels, metric=metric)
    # One graph of the data (hubness and TwoNN) and one of the Gaussian baseline of the same shape.
    assert calls == [X.shape, X.shape]
    assert result.finding("hubness").value is not None
    assert result.finding("intrinsic_dimension").value is not None
    calls.clear()
    diagnose(X, labels=labels, metric=metric)  # the baseline is cached now
    assert calls == [X.shape]


def test_the_hubness_path_searches_once(monkeypatch):
    X = _cloud(n=200, d=20)
    calls = _count_searches(monkeypatch)
    graph = NeighborGraph.search(X, k_max=50)  # the default candidates of k=10: max(10, 5, min(100, 50))
    assert len(calls) == 1
    hubness(X, k=10, neighbors=graph)
    compare_reductions(X, k=10, labels=np.arange(200) % 3, neighbors=graph)
    reduce_hubness(X, "mutual_proximity", k=10, neighbors=graph)
    knn_accuracy(graph, np.arange(200) % 3, k=10)
    assert len(calls) == 1  # nothing searched again
    # 50 candidates with a too shallow graph: one search of 50 (the default exact mode at this n
    # only needs the graph's first k columns, and the automatic count may grow past 50).
    compare_reductions(X, k=10, neighbors=NeighborGraph.search(X, k_max=20), n_candidates=50)
    assert len(calls) == 3
