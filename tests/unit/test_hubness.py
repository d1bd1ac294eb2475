"""k-occurrence hubness (`analysis.metrics.hubness`): hand-worked cases, references, bad input.

Every expected value is worked out by hand in the comments or comes from the
plain-loop references at the top of this file (brute-force neighbours from a
float64 distance matrix, and each index written out as a loop over items),
never from running the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.metrics.hubness import (
    Hubness,
    hubness,
    hubness_between,
    hubness_from_neighbors,
    knn_accuracy,
)

# --------------------------------------------------------------------------- plain references


def _ref_distances(Q: np.ndarray, G: np.ndarray, metric: str) -> np.ndarray:
    Q = np.asarray(Q, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    out = np.empty((Q.shape[0], G.shape[0]))
    for i in range(Q.shape[0]):
        for j in range(G.shape[0]):
            if metric == "euclidean":
                out[i, j] = math.sqrt(float(np.sum((Q[i] - G[j]) ** 2)))
            else:
                out[i, j] = 1.0 - float(Q[i] @ G[j]) / (np.linalg.norm(Q[i]) * np.linalg.norm(G[j]))
    return out


def _ref_k_occurrence(X: np.ndarray, k: int, metric: str) -> np.ndarray:
    """N_k by brute force: each row's k nearest other rows, counted."""
    D = _ref_distances(X, X, metric)
    counts = np.zeros(X.shape[0], dtype=np.int64)
    for i in range(X.shape[0]):
        others = [j for j in range(X.shape[0]) if j != i]
        others.sort(key=lambda j: (D[i, j], j))
        for j in others[:k]:
            counts[j] += 1
    return counts


def _ref_scores(counts: np.ndarray, n_queries: int, k: int, eps: float = 0.5) -> dict:
    """Every index of the docstring, as a loop over items (population moments)."""
    n = len(counts)
    c = [float(v) for v in counts]
    total = float(n_queries * k)
    mean = total / n
    m2 = sum((v - mean) ** 2 for v in c) / n
    m3 = sum((v - mean) ** 3 for v in c) / n
    s = sorted(c)
    gini = sum((2 * (i + 1) - n - 1) * s[i] for i in range(n)) / (n * total)
    atk = 1.0 - (sum(v ** (1 - eps) for v in c) / n) ** (1 / (1 - eps)) / mean
    hubs = [i for i in range(n) if c[i] >= 2 * k]
    return {
        "skewness": None if m2 == 0 else m3 / m2**1.5,
        "robin_hood": sum(abs(v - mean) for v in c) / (2 * total),
        "gini": gini,
        "atkinson": atk,
        "groupie_ratio": max(c) / total,
        "antihub_occurrence": sum(1 for v in c if v == 0) / n,
        "hub_occurrence": sum(c[i] for i in hubs) / total,
        "hubs": hubs,
        "antihubs": [i for i in range(n) if c[i] == 0],
    }


def _assert_scores(h: Hubness, expected: dict) -> None:
    for name in ("robin_hood", "gini", "atkinson", "groupie_ratio", "antihub_occurrence",
                 "hub_occurrence"):
        assert getattr(h, name) == pytest.approx(expected[name], abs=1e-12), name
    if expected["skewness"] is None:
        assert h.skewness is None
    else:
        assert h.skewness == pytest.approx(expected["skewness"], abs=1e-10)
    assert h.hubs.tolist() == list(expected["hubs"])
    assert h.antihubs.tolist() == list(expected["antihubs"])


# --------------------------------------------------------------------------- hand-worked point sets


def test_four_points_k1_every_index_by_hand() -> None:
    # Points 0, 1, 3, 10 (rows 0..3); no distance ties.
    # kNN (k=1): 0 -> 1 (d1); 1 -> 0 (d1 < 2); 3 -> 1 (d2 < 7); 10 -> 3 (d7).
    # N_k = [1, 2, 1, 0]; n = 4 lists of 1 slot: sum N_k = 4, mean 1.
    h = hubness(np.array([[0.0], [1.0], [3.0], [10.0]]), k=1)
    assert h.k_occurrence.tolist() == [1, 2, 1, 0]
    assert h.k_occurrence.dtype == np.int64
    assert (h.k, h.metric, h.n_items, h.n_queries) == (1, "euclidean", 4, 4)
    # skewness: deviations (0, 1, 0, -1), third moment 0 -> 0 (defined, not None).
    assert h.skewness == pytest.approx(0.0, abs=1e-12)
    # robin hood = (0 + 1 + 0 + 1) / (2 * 4) = 0.25
    assert h.robin_hood == pytest.approx(0.25)
    # gini: sorted (0, 1, 1, 2), weights 2i - 5 = (-3, -1, 1, 3):
    # (0 - 1 + 1 + 6) / (4 * 4) = 6/16 = 0.375
    # (check: mean absolute difference, ordered pairs 12 / (2 * 16 * 1) = 0.375)
    assert h.gini == pytest.approx(0.375)
    # atkinson (e = 0.5): 1 - mean(sqrt N)^2 / mean N = 1 - ((2 + sqrt2) / 4)^2 = (5 - 2 sqrt2) / 8
    assert h.atkinson == pytest.approx((5 - 2 * math.sqrt(2)) / 8)
    # groupie = max N / (n k) = 2/4; antihubs: row 3 -> 1/4
    assert h.groupie_ratio == pytest.approx(0.5)
    assert h.antihub_occurrence == pytest.approx(0.25)
    # hubs: N_k >= 2k = 2 -> row 1; its slots 2 of 4
    assert h.hubs.tolist() == [1]
    assert h.antihubs.tolist() == [3]
    assert h.hub_occurrence == pytest.approx(0.5)
    assert h.notes == ()


def test_five_points_k2_every_index_by_hand() -> None:
    # Points 0, 1, 3, 7, 8 (rows 0..4), k = 2; no ties at the 2nd/3rd place:
    # row0 (0): d = 1, 3, 7, 8      -> [1, 2]
    # row1 (1): d = 1, 2, 6, 7      -> [0, 2]
    # row2 (3): d = 3, 2, 4, 5      -> [1, 0]
    # row3 (7): d = 7, 6, 4, 1      -> [4, 2]
    # row4 (8): d = 8, 7, 5, 1      -> [3, 2]
    # N_k = [2, 2, 4, 1, 1], sum 10, mean 2.
    h = hubness(np.array([[0.0], [1.0], [3.0], [7.0], [8.0]]), k=2)
    assert h.k_occurrence.tolist() == [2, 2, 4, 1, 1]
    # deviations (0, 0, 2, -1, -1): m2 = 6/5, m3 = (8 - 1 - 1)/5 = 6/5 -> skew = 1.2^-0.5
    assert h.skewness == pytest.approx(1.2**-0.5)
    # robin hood = (0 + 0 + 2 + 1 + 1) / (2 * 10) = 0.2
    assert h.robin_hood == pytest.approx(0.2)
    # gini: sorted (1, 1, 2, 2, 4), weights (-4, -2, 0, 2, 4): 14 / (5 * 10) = 0.28
    assert h.gini == pytest.approx(0.28)
    # atkinson: mean sqrt = (2 sqrt2 + 4)/5, squared = (24 + 16 sqrt2)/25, / mean 2
    # -> 1 - (12 + 8 sqrt2)/25 = (13 - 8 sqrt2)/25
    assert h.atkinson == pytest.approx((13 - 8 * math.sqrt(2)) / 25)
    assert h.groupie_ratio == pytest.approx(0.4)  # 4 / 10
    assert h.antihub_occurrence == 0.0
    # hubs: N_k >= 4 -> row 2, 4 of 10 slots
    assert h.hubs.tolist() == [2]
    assert h.antihubs.tolist() == []
    assert h.hub_occurrence == pytest.approx(0.4)


def test_duplicates_list_each_other_not_themselves() -> None:
    # Rows 0 and 1 are identical. k = 1:
    # row0 -> row1 (d0), row1 -> row0 (d0), 5 -> 6 (d1), 6 -> 5 (d1), 20 -> 6 (d14 < 15).
    # N_k = [1, 1, 1, 2, 0]. Had a row listed itself, rows 0 and 1 would each
    # count only themselves and row 3 / row 4 would still differ: the list would
    # not be this one.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [6.0, 0.0], [20.0, 0.0]])
    assert hubness(X, k=1).k_occurrence.tolist() == [1, 1, 1, 2, 0]
    # cosine, same idea: rows 0 and 1 point the same way (one twice as long).
    # Angles 0, 0, 30, 40, 90 degrees: 0 <-> 1, 30 -> 40, 40 -> 30, 90 -> 40.
    angles = np.deg2rad([0.0, 0.0, 30.0, 40.0, 90.0])
    V = np.c_[np.cos(angles), np.sin(angles)] * np.array([[1.0], [2.0], [1.0], [1.0], [1.0]])
    assert hubness(V, k=1, metric="cosine").k_occurrence.tolist() == [1, 1, 1, 2, 0]


def test_duplicate_pairs_only_are_valid() -> None:
    # Two distinct values, each twice: each row's nearest other is its twin.
    h = hubness(np.array([[0.0], [0.0], [1.0], [1.0]]), k=1)
    assert h.k_occurrence.tolist() == [1, 1, 1, 1]
    assert h.skewness is None


def test_constant_k_occurrence_gives_no_skewness_and_says_why() -> None:
    # Two far-apart pairs, k = 1: 0 <-> 1, 10 <-> 11 -> N_k = [1, 1, 1, 1].
    h = hubness(np.array([[0.0], [1.0], [10.0], [11.0]]), k=1)
    assert h.k_occurrence.tolist() == [1, 1, 1, 1]
    assert h.skewness is None
    assert any("undefined" in note for note in h.notes)
    # No inequality at all: every index that measures it is 0.
    assert h.robin_hood == 0.0 and h.gini == 0.0
    assert h.atkinson == pytest.approx(0.0, abs=1e-12)
    assert h.hubs.tolist() == [] and h.hub_occurrence == 0.0  # hubs need N_k >= 2
    assert h.groupie_ratio == pytest.approx(0.25)  # 1 / 4
    assert h.scalars()["skewness"] is None


def test_regular_pentagon_every_point_has_n_k_equal_k() -> None:
    # Each vertex's 2 nearest are its two neighbours on the pentagon (side
    # 1.18 < diagonal 1.90 for unit radius), so N_k = 2 for all.
    # Cosine: adjacent 1 - cos 72 = 0.69 < diagonal 1 - cos 144 = 1.81 (centred at 0).
    t = 2 * np.pi * np.arange(5) / 5
    circle = np.c_[np.cos(t), np.sin(t)]
    for X, metric in ((circle * 3.0 + 7.0, "euclidean"), (circle, "cosine")):
        h = hubness(X, k=2, metric=metric)
        assert h.k_occurrence.tolist() == [2, 2, 2, 2, 2]
        assert h.skewness is None
        assert any("undefined" in note for note in h.notes)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("k", [1, 3, 7])
def test_random_data_matches_plain_loop_reference(metric: str, k: int) -> None:
    X = np.random.default_rng(10 + k).normal(size=(60, 6))
    h = hubness(X, k=k, metric=metric)
    counts = _ref_k_occurrence(X, k, metric)
    assert h.k_occurrence.tolist() == counts.tolist()
    _assert_scores(h, _ref_scores(counts, 60, k))


def test_indices_from_neighbour_lists_match_reference() -> None:
    # A skewed hand-made list set: item 0 in every list, items 5..9 in none.
    ind = np.array([[0, 1], [0, 2], [0, 1], [0, 3], [0, 4], [0, 1], [0, 2], [1, 0], [2, 0], [3, 0]])
    counts = np.bincount(ind.ravel(), minlength=10)
    assert counts.tolist() == [10, 4, 3, 2, 1, 0, 0, 0, 0, 0]
    h = hubness_from_neighbors(ind, n_items=10, metric="cosine")
    assert h.k_occurrence.tolist() == counts.tolist()
    assert h.metric == "cosine" and h.k == 2 and h.n_queries == 10
    _assert_scores(h, _ref_scores(counts, 10, 2))
    # hubs N_k >= 4: items 0, 1 -> (10 + 4) / 20 = 0.7; antihubs 5..9 -> 0.5
    assert h.hub_occurrence == pytest.approx(0.7)
    assert h.antihub_occurrence == pytest.approx(0.5)
    # atkinson with e = 2 and an antihub present is 1 (mean of N^-1 is infinite)
    assert hubness_from_neighbors(ind, n_items=10, atkinson_epsilon=2.0).atkinson == 1.0
    # e = 2 without zeros: 1 - harmonic mean / mean. 4 lists of 1 over 3 items give
    # N = [2, 1, 1]: harmonic mean 3 / (1/2 + 1 + 1) = 1.2, mean 4/3 -> 1 - 0.9 = 0.1
    h2 = hubness_from_neighbors(np.array([[0], [0], [1], [2]]), n_items=3, atkinson_epsilon=2.0)
    assert h2.k_occurrence.tolist() == [2, 1, 1]
    assert h2.atkinson == pytest.approx(0.1)


# --------------------------------------------------------------------------- invariances


def _random_set(seed: int = 0, n: int = 300, d: int = 10) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_permuting_rows_permutes_k_occurrence(metric: str) -> None:
    X = _random_set(1)
    perm = np.random.default_rng(2).permutation(len(X))
    base = hubness(X, k=5, metric=metric)
    moved = hubness(X[perm], k=5, metric=metric)
    assert moved.k_occurrence.tolist() == base.k_occurrence[perm].tolist()
    assert moved.skewness == pytest.approx(base.skewness, abs=1e-12)
    assert sorted(perm[moved.hubs].tolist()) == base.hubs.tolist()


def test_euclidean_rigid_motions_and_uniform_scaling_keep_k_occurrence() -> None:
    X = _random_set(3)
    base = hubness(X, k=5).k_occurrence
    Q, _ = np.linalg.qr(np.random.default_rng(4).normal(size=(10, 10)))
    assert hubness(X @ Q, k=5).k_occurrence.tolist() == base.tolist()
    assert hubness(X + 50.0, k=5).k_occurrence.tolist() == base.tolist()
    assert hubness(3.7 * X, k=5).k_occurrence.tolist() == base.tolist()
    # ... but not a per-feature stretch (the check can fail)
    stretched = X * np.r_[100.0, np.ones(9)]
    assert hubness(stretched, k=5).k_occurrence.tolist() != base.tolist()


def test_cosine_per_row_scaling_keeps_k_occurrence() -> None:
    X = _random_set(5)
    scales = np.random.default_rng(6).uniform(0.01, 100.0, size=(len(X), 1))
    base = hubness(X, k=5, metric="cosine").k_occurrence
    assert hubness(X * scales, k=5, metric="cosine").k_occurrence.tolist() == base.tolist()
    # Euclidean is not invariant to it
    assert hubness(X * scales, k=5).k_occurrence.tolist() != hubness(X, k=5).k_occurrence.tolist()


def test_skewness_grows_with_dimension_on_gaussian_data() -> None:
    # Radovanovic et al. 2010: hubness of iid Gaussian data grows with d.
    rng = np.random.default_rng(2024)
    skews = [hubness(rng.standard_normal((2000, d)), k=10).skewness for d in (2, 20, 200)]
    assert all(s is not None for s in skews)
    assert skews[0] < skews[1] < skews[2], skews


# --------------------------------------------------------------------------- two sets


def test_hubness_between_by_hand() -> None:
    # Gallery 0, 10, 20; queries 1, 2, 9, 19, 50 (k = 1):
    # 1 -> g0, 2 -> g0, 9 -> g1, 19 -> g2, 50 -> g2  => N_k = [2, 1, 2].
    G = np.array([[0.0], [10.0], [20.0]])
    Q = np.array([[1.0], [2.0], [9.0], [19.0], [50.0]])
    h = hubness_between(Q, G, k=1)
    assert h.k_occurrence.tolist() == [2, 1, 2]
    assert (h.n_items, h.n_queries, h.k) == (3, 5, 1)
    # mean N_k = k n_q / n_g = 5/3 (not k = 1):
    # robin hood = (1/3 + 2/3 + 1/3) / (2 * 5) = 2/15   (with mean 1 it would be 0.2)
    assert h.robin_hood == pytest.approx(2 / 15)
    # deviations (1/3, -2/3, 1/3): m2 = 2/9, m3 = -2/27 -> skew = -1/sqrt2
    assert h.skewness == pytest.approx(-1 / math.sqrt(2))
    # gini: sorted (1, 2, 2), weights (-2, 0, 2): 2 / (3 * 5) = 2/15
    assert h.gini == pytest.approx(2 / 15)
    assert h.groupie_ratio == pytest.approx(2 / 5)
    # hubs: N_k >= 2 -> gallery 0 and 2, 4 of 5 slots
    assert h.hubs.tolist() == [0, 2]
    assert h.hub_occurrence == pytest.approx(4 / 5)
    assert h.antihub_occurrence == 0.0


def test_hubness_between_query_equal_to_gallery_row_and_k_equal_gallery_size() -> None:
    G = np.array([[0.0], [10.0], [20.0]])
    # a query identical to gallery row 1 finds it (nothing is excluded)
    assert hubness_between(np.array([[10.0], [10.0], [10.0]]), G, k=1).k_occurrence.tolist() == [0, 3, 0]
    # k = n_gallery: every query lists every item -> N_k = n_q each, constant
    h = hubness_between(np.array([[1.0], [2.0]]), G, k=3)
    assert h.k_occurrence.tolist() == [2, 2, 2]
    assert h.skewness is None and any("undefined" in note for note in h.notes)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_hubness_between_matches_brute_force(metric: str) -> None:
    rng = np.random.default_rng(7)
    Q, G = rng.normal(size=(80, 5)), rng.normal(size=(50, 5))
    D = _ref_distances(Q, G, metric)
    counts = np.zeros(50, dtype=np.int64)
    for i in range(80):
        for j in sorted(range(50), key=lambda j: (D[i, j], j))[:4]:
            counts[j] += 1
    h = hubness_between(Q, G, k=4, metric=metric)
    assert h.k_occurrence.tolist() == counts.tolist()
    _assert_scores(h, _ref_scores(counts, 80, 4))


# --------------------------------------------------------------------------- kNN accuracy


def test_knn_accuracy_by_hand() -> None:
    labels = np.array(["a", "a", "b"])
    # q0 votes (a, b): tie, nearer is a -> right; q1 (a, b) -> a, right; q2 (a, a) -> a, wrong (b)
    assert knn_accuracy(np.array([[1, 2], [0, 2], [0, 1]]), labels) == pytest.approx(2 / 3)
    # q0 now votes (b, a): tie, nearer is b -> wrong. 1/3.
    assert knn_accuracy(np.array([[2, 1], [0, 2], [0, 1]]), labels) == pytest.approx(1 / 3)


def test_knn_accuracy_majority_beats_nearness() -> None:
    labels = np.array([0, 1, 1, 0, 0])
    ind = np.array([
        [1, 3, 4],  # votes 1, 0, 0 -> 0; truth 0: right
        [0, 2, 3],  # votes 0, 1, 0 -> 0; truth 1: wrong
        [0, 1, 4],  # votes 0, 1, 0 -> 0; truth 1: wrong
        [2, 1, 0],  # votes 1, 1, 0 -> 1; truth 0: wrong
        [3, 1, 2],  # votes 0, 1, 1 -> 1; truth 0: wrong
    ])
    assert knn_accuracy(ind, labels) == pytest.approx(1 / 5)


def test_knn_accuracy_three_way_tie_goes_to_the_nearest() -> None:
    labels = np.array([0, 1, 2, 2, 0])
    ind = np.array([
        [1, 2, 4],  # votes 1, 2, 0: three-way tie, nearest 1; truth 0: wrong
        [0, 2, 3],  # votes 0, 2, 2 -> 2; truth 1: wrong
        [3, 0, 1],  # votes 2, 0, 1: tie, nearest 2; truth 2: right
        [2, 0, 1],  # votes 2, 0, 1: tie, nearest 2; truth 2: right
        [1, 0, 2],  # votes 1, 0, 2: tie, nearest 1; truth 0: wrong
    ])
    assert knn_accuracy(ind, labels) == pytest.approx(2 / 5)


def test_knn_accuracy_with_query_labels() -> None:
    items = np.array(["x", "y", "z"])
    ind = np.array([[1, 0], [1, 2], [2, 2]])
    # votes: (y, x) -> y; (y, z) -> y; (z, z) -> z
    assert knn_accuracy(ind, items, query_labels=["y", "x", "z"]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="one label per query"):
        knn_accuracy(ind, items, query_labels=["y", "x"])


def test_knn_accuracy_query_label_absent_from_items_is_never_right() -> None:
    # Regression (found by this test, since fixed): a query whose label does not
    # occur among the item labels can never be classified correctly, so the
    # accuracy here must be 0. knn_accuracy maps query labels with
    # np.searchsorted(codes, query_labels), which sends the unknown "w" to the
    # code of "x" (position 0) and "xa" to the code of "y", so both count as
    # right and it returns 1.0.
    items = np.array(["x", "y"])
    assert knn_accuracy(np.array([[0]]), items, query_labels=["w"]) == 0.0
    assert knn_accuracy(np.array([[1]]), items, query_labels=["xa"]) == 0.0


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_with_a_reason() -> None:
    X = np.random.default_rng(0).normal(size=(5, 3))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 4\] \(4 other points each\); got 5"):
        hubness(X, k=5)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1; got 0"):
        hubness(X, k=0)
    with pytest.raises(ValueError, match=r"k must be an integer >= 1; got 2\.0"):
        hubness(X, k=2.0)
    with pytest.raises(ValueError, match="at least 3"):
        hubness(X[:2], k=1)
    with pytest.raises(ValueError, match="identical rows"):
        hubness(np.ones((6, 3)), k=2)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        hubness(bad, k=2)
    with pytest.raises(ValueError, match="metric must be one of"):
        hubness(X, k=2, metric="manhattan")
    Z = X.copy()
    Z[1] = 0.0
    with pytest.raises(ValueError, match="all-zero"):
        hubness(Z, k=2, metric="cosine")


def test_bad_input_two_sets_and_neighbour_lists() -> None:
    rng = np.random.default_rng(1)
    Q, G = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    with pytest.raises(ValueError, match="features"):
        hubness_between(Q, rng.normal(size=(5, 4)), k=2)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\] \(5 gallery points\); got 6\. Use k <= 5"):
        hubness_between(Q, G, k=6)
    with pytest.raises(ValueError, match="identical rows"):
        hubness_between(Q, np.ones((5, 3)), k=2)
    with pytest.raises(ValueError, match="must lie in"):
        hubness_from_neighbors(np.array([[0, 5]]), n_items=5)
    with pytest.raises(ValueError, match="must lie in"):
        hubness_from_neighbors(np.array([[-1, 2]]), n_items=5)
    with pytest.raises(ValueError, match="integer array"):
        hubness_from_neighbors(np.array([[0.0, 1.0]]), n_items=5)
    with pytest.raises(ValueError, match="atkinson_epsilon"):
        hubness_from_neighbors(np.array([[0, 1]]), n_items=5, atkinson_epsilon=1.0)
    with pytest.raises(ValueError, match="atkinson_epsilon"):
        hubness(G, k=2, atkinson_epsilon=1)


def test_to_dict_is_json_serialisable() -> None:
    for h in (
        hubness(np.array([[0.0], [1.0], [3.0], [10.0]]), k=1),
        hubness(np.array([[0.0], [1.0], [10.0], [11.0]]), k=1),  # skewness None, a note
    ):
        d = json.loads(json.dumps(h.to_dict()))
        assert d["k_occurrence"] == h.k_occurrence.tolist()
        assert d["skewness"] == h.skewness
        assert d["notes"] == list(h.notes)
        assert d["hubs"] == h.hubs.tolist() and d["antihubs"] == h.antihubs.tolist()
        assert set(h.SCALARS) <= set(d)
        for name in h.SCALARS:
            value = getattr(h, name)
            assert value is None or type(value) is float
