"""Hubness reduction (`analysis.metrics.hubness_reduction`).

The full-matrix formulas are checked against matrices worked out by hand on
four 1-D points and against a plain-loop reference written here from the
docstring formulas; the candidate-graph versions are checked against the
full-matrix ones.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.metrics.hubness_reduction import (
    METHODS,
    compare_reductions,
    exact_reduction,
    reduce_hubness,
    secondary_distance_matrix,
)
from analysis.neighbors import kneighbors

# --------------------------------------------------------------------------- plain-loop reference


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _ref_secondary(X: np.ndarray, method: str, metric: str, k_scale: int) -> np.ndarray:
    """Docstring formulas of `secondary_distance_matrix`, one pair at a time."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    U = X / np.linalg.norm(X, axis=1, keepdims=True) if metric == "cosine" else X
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if metric == "euclidean":
                d[i, j] = math.sqrt(sum((a - b) ** 2 for a, b in zip(X[i], X[j], strict=True)))
            else:
                d[i, j] = 1.0 - sum(a * b for a, b in zip(U[i], U[j], strict=True))
    others = [sorted((j for j in range(n) if j != i), key=lambda j, i=i: (d[i, j], j)) for i in range(n)]
    sigma = [d[i, others[i][k_scale - 1]] for i in range(n)]
    mu = [sum(d[i, j] for j in others[i][:k_scale]) / k_scale for i in range(n)]
    mean = [sum(d[i, j] for j in others[i]) / (n - 1) for i in range(n)]
    std = [math.sqrt(sum((d[i, j] - mean[i]) ** 2 for j in others[i]) / (n - 1)) for i in range(n)]
    to_centroid = []
    for i in range(n):
        c = sum(U[j] for j in others[i][:k_scale]) / k_scale
        to_centroid.append(float(np.sum((U[i] - c) ** 2)))
    out = np.full((n, n), np.inf)
    for x in range(n):
        for y in range(n):
            if x == y:
                continue
            dxy = d[x, y]
            if method == "mutual_proximity":
                count = sum(1 for j in range(n) if j not in (x, y) and (d[x, j] <= dxy or d[y, j] <= dxy))
                out[x, y] = count / (n - 2)
            elif method == "mp_gaussian":
                sf_x = _phi((mean[x] - dxy) / std[x])
                sf_y = _phi((mean[y] - dxy) / std[y])
                out[x, y] = 1.0 - sf_x * sf_y
            elif method == "local_scaling":
                out[x, y] = 1.0 - math.exp(-(dxy**2) / (sigma[x] * sigma[y]))
            elif method == "nicdm":
                out[x, y] = dxy / math.sqrt(mu[x] * mu[y])
            elif method == "csls":
                out[x, y] = 2 * dxy - mu[x] - mu[y]
            else:
                squared = dxy**2 if metric == "euclidean" else float(np.sum((U[x] - U[y]) ** 2))
                out[x, y] = squared - to_centroid[x] - to_centroid[y]
    return out


# --------------------------------------------------------------------------- hand-worked matrices

# Points 0, 1, 3, 7 (rows 0..3). Primary distances:
#        0  1  3  7
#   0:   -  1  3  7
#   1:   1  -  2  6
#   3:   3  2  -  4
#   7:   7  6  4  -
# Sorted per row: r0 (1, 3, 7), r1 (1, 2, 6), r2 (2, 3, 4), r3 (4, 6, 7).
# k_scale = 2: sigma (2nd distance) = (3, 2, 3, 6); mu (mean of 2 nearest) = (2, 1.5, 2.5, 5).
# k_scale = 1: sigma = mu = (1, 1, 2, 4).
LINE = np.array([[0.0], [1.0], [3.0], [7.0]])
PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def _from_pairs(values: list[float]) -> np.ndarray:
    out = np.full((4, 4), np.inf)
    for (x, y), v in zip(PAIRS, values, strict=True):
        out[x, y] = out[y, x] = v
    return out


HAND = {
    # 1 - exp(-d^2 / (sigma_x sigma_y)), sigma = (3, 2, 3, 6):
    # 1/6, 9/9, 49/18, 4/6, 36/12, 16/18
    ("local_scaling", 2): _from_pairs([1 - math.exp(-a) for a in (1 / 6, 1.0, 49 / 18, 2 / 3, 3.0, 8 / 9)]),
    # sigma = (1, 1, 2, 4): 1/1, 9/2, 49/4, 4/2, 36/4, 16/8
    ("local_scaling", 1): _from_pairs([1 - math.exp(-a) for a in (1.0, 4.5, 12.25, 2.0, 9.0, 2.0)]),
    # d / sqrt(mu_x mu_y), mu = (2, 1.5, 2.5, 5)
    ("nicdm", 2): _from_pairs([1 / math.sqrt(3), 3 / math.sqrt(5), 7 / math.sqrt(10),
                               2 / math.sqrt(3.75), 6 / math.sqrt(7.5), 4 / math.sqrt(12.5)]),
    # 2d - mu_x - mu_y: 2 - 3.5, 6 - 4.5, 14 - 7, 4 - 4, 12 - 6.5, 8 - 7.5
    ("csls", 2): _from_pairs([-1.5, 1.5, 7.0, 0.0, 5.5, 0.5]),
    # mu = (1, 1, 2, 4): 2 - 2, 6 - 3, 14 - 5, 4 - 3, 12 - 5, 8 - 6
    ("csls", 1): _from_pairs([0.0, 3.0, 9.0, 1.0, 7.0, 2.0]),
    # centroids of the 2 nearest: r0 {1, 3} -> 2, r1 {0, 3} -> 1.5, r2 {1, 0} -> 0.5,
    # r3 {3, 1} -> 2; squared distances to them t = (4, 0.25, 6.25, 25).
    # d^2 - t_x - t_y: 1 - 4.25, 9 - 10.25, 49 - 29, 4 - 6.5, 36 - 25.25, 16 - 31.25
    ("dis_sim_local", 2): _from_pairs([-3.25, -1.25, 20.0, -2.5, 10.75, -15.25]),
    # k_scale = 1: centroid = nearest neighbour, t = (1, 1, 4, 16):
    # 1 - 2, 9 - 5, 49 - 17, 4 - 5, 36 - 17, 16 - 20
    ("dis_sim_local", 1): _from_pairs([-1.0, 4.0, 32.0, -1.0, 19.0, -4.0]),
    # |{j != x, y : d(x,j) <= d(x,y) or d(y,j) <= d(x,y)}| / (n - 2 = 2):
    # (0,1) d=1: j=2 (3, 2), j=3 (7, 6) -> none        -> 0
    # (0,2) d=3: j=1 (1 <= 3) yes; j=3 (7, 4) no        -> 1/2
    # (0,3) d=7: j=1 yes, j=2 yes                       -> 1
    # (1,2) d=2: j=0 (1 <= 2) yes; j=3 (6, 4) no        -> 1/2
    # (1,3) d=6: j=0 yes, j=2 (2 <= 6) yes              -> 1
    # (2,3) d=4: j=0 (3 <= 4) yes, j=1 (2 <= 4) yes     -> 1
    # (k_scale plays no part)
    ("mutual_proximity", 2): _from_pairs([0.0, 0.5, 1.0, 0.5, 1.0, 1.0]),
}


def _mp_gaussian_hand() -> np.ndarray:
    # Normal fitted (mean, population std) to each row's distances to the others:
    # r0 (1, 3, 7): mean 11/3, var (64 + 4 + 100)/27 = 56/9
    # r1 (1, 2, 6): mean 3,    var (4 + 1 + 9)/3     = 14/3
    # r2 (3, 2, 4): mean 3,    var (0 + 1 + 1)/3     = 2/3
    # r3 (7, 6, 4): mean 17/3, var (16 + 1 + 25)/27  = 14/9
    mean = [11 / 3, 3.0, 3.0, 17 / 3]
    std = [math.sqrt(56 / 9), math.sqrt(14 / 3), math.sqrt(2 / 3), math.sqrt(14 / 9)]
    d = {(0, 1): 1, (0, 2): 3, (0, 3): 7, (1, 2): 2, (1, 3): 6, (2, 3): 4}
    # 1 - P(D_x > d) P(D_y > d), P(D > d) = Phi((mean - d) / std)
    return _from_pairs([1 - _phi((mean[x] - d[x, y]) / std[x]) * _phi((mean[y] - d[x, y]) / std[y])
                        for x, y in PAIRS])


@pytest.mark.parametrize(("method", "k_scale"), sorted(HAND))
def test_secondary_matrix_matches_hand_worked_values(method: str, k_scale: int) -> None:
    got = secondary_distance_matrix(LINE, method, k_scale=k_scale)
    np.testing.assert_allclose(got, HAND[method, k_scale], rtol=1e-12, atol=1e-12)


def test_mp_gaussian_matches_hand_worked_values() -> None:
    got = secondary_distance_matrix(LINE, "mp_gaussian")
    np.testing.assert_allclose(got, _mp_gaussian_hand(), rtol=1e-12, atol=1e-12)


def test_hand_worked_reranking() -> None:
    # csls, k_scale = 2, k = 1 (row of the hand matrix above, smallest first):
    # r0: (-1.5 to 1, 1.5, 7) -> 1; r1: (-1.5 to 0, 0, 5.5) -> 0;
    # r2: (1.5, 0 to 1, 0.5 to 3) -> 1; r3: (7, 5.5, 0.5 to 2) -> 2.
    ind, dist = exact_reduction(LINE, "csls", k=1, k_scale=2)
    assert ind.ravel().tolist() == [1, 0, 1, 2]
    np.testing.assert_allclose(dist.ravel(), [-1.5, -1.5, 0.0, 0.5])
    # dis_sim_local, k_scale = 2: r2 row (-1.25, -2.5, -15.25) -> 3, r3 row -> 2:
    # the far point 7 is now the nearest of 3 (its hubness-corrected distance).
    ind, _ = exact_reduction(LINE, "dis_sim_local", k=1, k_scale=2)
    # r0 (-3.25, -1.25, 20) -> 1; r1 (-3.25, -2.5, 10.75) -> 0.
    assert ind.ravel().tolist() == [1, 0, 3, 2]
    # mutual proximity, k = 2: ties between equal counts go to the primary-nearer.
    # r0 (0, 1/2, 1) -> [1, 2]; r1 (0, 1/2, 1) -> [0, 2];
    # r2 (1/2 to 0 at d3, 1/2 to 1 at d2, 1 to 3) -> [1, 0];
    # r3 (1 to 0 at d7, 1 to 1 at d6, 1 to 2 at d4) -> [2, 1].
    ind, dist = exact_reduction(LINE, "mutual_proximity", k=2)
    assert ind.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    np.testing.assert_allclose(dist, [[0, 0.5], [0, 0.5], [0.5, 0.5], [1, 1]])
    # the candidate-graph version (all 3 candidates) gives the same lists (k_scale,
    # unused by mutual proximity, must still fit in the candidates: 2 <= 3)
    graph = reduce_hubness(LINE, "mutual_proximity", k=2, k_scale=2, n_candidates=3)
    assert graph.indices.tolist() == ind.tolist()
    np.testing.assert_allclose(graph.secondary_distances, dist)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("method", METHODS)
def test_secondary_matrix_matches_plain_loop_reference(method: str, metric: str) -> None:
    X = np.random.default_rng(11).normal(size=(12, 4))
    got = secondary_distance_matrix(X, method, metric=metric, k_scale=3)
    want = _ref_secondary(X, method, metric, 3)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert np.all(np.isinf(np.diag(got)))
    np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-12)  # every formula is symmetric


# --------------------------------------------------------------------------- graph versions


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("method", METHODS)
def test_graph_with_all_candidates_equals_full_matrix(method: str, metric: str, seed: int) -> None:
    X = np.random.default_rng(seed).normal(size=(40, 6))
    ind, dist = exact_reduction(X, method, k=5, metric=metric, k_scale=3)
    r = reduce_hubness(X, method, k=5, metric=metric, k_scale=3, n_candidates=39)
    assert r.n_candidates == 39
    assert r.indices.tolist() == ind.tolist()
    np.testing.assert_allclose(r.secondary_distances, dist, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("method", ["local_scaling", "nicdm", "csls", "dis_sim_local"])
def test_graph_with_few_candidates_keeps_exact_pair_distances(method: str, metric: str) -> None:
    # These methods only need each point's k_scale nearest (all among the 20
    # candidates), so every returned pair carries its exact secondary distance.
    X = np.random.default_rng(3).normal(size=(200, 8))
    full = secondary_distance_matrix(X, method, metric=metric, k_scale=5)
    r = reduce_hubness(X, method, k=10, metric=metric, k_scale=5, n_candidates=20)
    assert r.indices.shape == (200, 10) and r.n_candidates == 20
    rows = np.repeat(np.arange(200), 10)
    # float64 candidate distances: equal to the full matrix to rounding (float32 ones
    # agreed to ~1e-6 only: "disagree with exact on digits", issue 19)
    np.testing.assert_allclose(r.secondary_distances.ravel(), full[rows, r.indices.ravel()],
                               rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(r.secondary_distances, axis=1) >= 0)  # re-ranked, nearest first
    assert not np.any(r.indices == np.arange(200)[:, None])  # self never listed


def test_reductions_lower_skewness_on_high_dimensional_gaussian_data() -> None:
    X = np.random.default_rng(0).standard_normal((1000, 100))
    results = compare_reductions(X, k=10)
    assert set(results) == set(METHODS)
    before = next(iter(results.values())).hubness_before.skewness
    assert before is not None and before > 1.0  # d = 100: clear hubness to reduce
    after = {m: r.hubness.skewness for m, r in results.items()}
    assert all(s is not None and s < before for s in after.values()), (before, after)
    for r in results.values():
        assert r.hubness_before.skewness == before  # one shared graph


def _vote_accuracy(ind: np.ndarray, labels: np.ndarray) -> float:
    """Majority vote over each list, a tie going to the class met first (the nearer)."""
    right = 0
    for i, row in enumerate(ind):
        votes = [int(labels[j]) for j in row]
        best = max(votes.count(c) for c in set(votes))
        winner = next(c for c in votes if votes.count(c) == best)
        right += winner == labels[i]
    return right / len(ind)


def test_knn_accuracy_only_with_labels() -> None:
    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1, 2], 30)
    X = rng.normal(size=(90, 5)) + 4.0 * np.eye(5)[labels]
    plain = reduce_hubness(X, "csls", k=5)
    assert plain.knn_accuracy is None and plain.knn_accuracy_before is None
    r = reduce_hubness(X, "csls", k=5, labels=labels)
    assert r.knn_accuracy == pytest.approx(_vote_accuracy(r.indices, labels))
    assert r.knn_accuracy_before == pytest.approx(_vote_accuracy(kneighbors(X, 5)[1], labels))
    assert 0.8 < r.knn_accuracy <= 1.0  # well-separated blobs
    json.dumps(r.to_dict())


@pytest.mark.parametrize("method", METHODS)
def test_permuting_rows_maps_indices(method: str) -> None:
    X = np.random.default_rng(5).normal(size=(150, 20))
    perm = np.random.default_rng(6).permutation(150)
    base = reduce_hubness(X, method, k=5)
    moved = reduce_hubness(X[perm], method, k=5)
    # row i of X[perm] is row perm[i] of X; its neighbours, mapped back, are X's.
    assert perm[moved.indices].tolist() == base.indices[perm].tolist()
    np.testing.assert_allclose(moved.secondary_distances, base.secondary_distances[perm], rtol=1e-6,
                               atol=1e-9)
    assert moved.hubness.skewness == pytest.approx(base.hubness.skewness, abs=1e-12)


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_with_a_reason() -> None:
    X = np.random.default_rng(7).normal(size=(20, 3))
    with pytest.raises(ValueError, match="method must be one of"):
        reduce_hubness(X, "snn", k=3)
    with pytest.raises(ValueError, match="method must be one of"):
        secondary_distance_matrix(X, "snn")
    with pytest.raises(ValueError, match="metric must be one of"):
        reduce_hubness(X, "csls", k=3, metric="l1")
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 19\] \(19 other points each\); got 20"):
        reduce_hubness(X, "csls", k=20)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 19\] .*; got 0"):
        reduce_hubness(X, "csls", k=0)
    with pytest.raises(ValueError, match="n_candidates"):
        reduce_hubness(X, "csls", k=3, k_scale=8, n_candidates=6)
    with pytest.raises(ValueError, match="n_candidates"):
        reduce_hubness(X, "csls", k=5, k_scale=2, n_candidates=4)
    with pytest.raises(ValueError, match="identical rows"):
        reduce_hubness(np.ones((20, 3)), "csls", k=3)
    with pytest.raises(ValueError, match="labels must have shape"):
        reduce_hubness(X, "csls", k=3, labels=np.zeros(19))
    with pytest.raises(ValueError, match="NaN"):
        reduce_hubness(np.where(X > 1.5, np.nan, X), "csls", k=3)


# --------------------------------------------------------------------------- regressions


def test_full_matrix_functions_refuse_bad_k_and_k_scale() -> None:
    # Regression (found by this test, since fixed): the public full-matrix
    # functions do not check k / k_scale, unlike reduce_hubness.
    # - secondary_distance_matrix(LINE, "csls", k_scale=5) with 4 points (3 others
    #   each) raises IndexError("index 4 is out of bounds ...") instead of ValueError;
    # - k_scale=0 silently returns NaN (csls: mean of no distances) or uses the
    #   farthest point (local_scaling: sorted_d[:, -1]) instead of refusing;
    # - exact_reduction(LINE, "csls", k=4, k_scale=1) returns each row itself as
    #   its 4th neighbour (at +inf) instead of refusing k >= n.
    for k_scale in (4, 5, 0):
        with pytest.raises(ValueError, match="k_scale"):
            secondary_distance_matrix(LINE, "csls", k_scale=k_scale)
        with pytest.raises(ValueError, match="k_scale"):
            secondary_distance_matrix(LINE, "local_scaling", k_scale=k_scale)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\] .*; got 4"):
        exact_reduction(LINE, "csls", k=4, k_scale=1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\] .*; got 0"):
        exact_reduction(LINE, "csls", k=0, k_scale=1)


@pytest.mark.parametrize("method", ["local_scaling", "nicdm"])
def test_full_matrix_has_no_nan_with_a_duplicated_row(method: str) -> None:
    # Regression (found by this test, since fixed): rows 0 and 5 are identical, so
    # with k_scale = 1 their sigma / mu is 0 and the pair's d^2 / (sigma sigma) is
    # 0 / 0. The graph version maps that to +inf (secondary distance 1 for
    # local_scaling, inf for nicdm); secondary_distance_matrix returns NaN there,
    # and exact_reduction's lexsort then puts the duplicate *last*, while the graph
    # (n_candidates = n - 1) keeps it first: the two no longer agree as documented.
    # Either resolution would do: refuse both with a ValueError that says why, or
    # give finite values that agree.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-4.0, 1.0], [0.0, 0.0]])
    try:
        graph = reduce_hubness(X, method, k=4, k_scale=1, n_candidates=5)
    except ValueError:
        with pytest.raises(ValueError):
            secondary_distance_matrix(X, method, k_scale=1)
        return
    assert not np.isnan(graph.secondary_distances).any()
    full = secondary_distance_matrix(X, method, k_scale=1)
    off_diagonal = full[~np.eye(6, dtype=bool)]
    assert not np.isnan(off_diagonal).any(), full
    ind, _ = exact_reduction(X, method, k=4, k_scale=1)
    assert graph.indices.tolist() == ind.tolist()


# --------------------------------------------------------------------------- exact (default) mode


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_default_mode_is_exact_and_equals_the_full_matrix(metric: str) -> None:
    # n = 60 <= EXACT_MAX_N: the default runs the blocked exact engine; the slow
    # full-matrix reference (checked above against the plain loop) must agree.
    X = np.random.default_rng(8).normal(size=(60, 8))
    results = compare_reductions(X, k=5, metric=metric, k_scale=3)
    for method, r in results.items():
        ind, dist = exact_reduction(X, method, k=5, metric=metric, k_scale=3)
        assert r.mode == "exact" and r.n_candidates == 59
        assert (r.agreement, r.agreement_sample, r.agreement_hubs) == (1.0, 60, 1.0)
        assert r.indices.tolist() == ind.tolist(), method
        np.testing.assert_allclose(r.secondary_distances, dist, rtol=1e-12, atol=1e-12)


def test_exact_mode_reproduces_the_hand_worked_mutual_proximity_lists() -> None:
    # Same lists as test_hand_worked_reranking (ties by primary distance).
    r = reduce_hubness(LINE, "mutual_proximity", k=2)
    assert r.mode == "exact"
    assert r.indices.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    np.testing.assert_allclose(r.secondary_distances, [[0, 0.5], [0, 0.5], [0.5, 0.5], [1, 1]])


def test_mp_gaussian_fits_its_normal_to_every_distance_in_candidate_mode() -> None:
    # Schnitzer et al. 2012: the normal of x is fitted to all n - 1 distances.
    # With only 20 candidates per point the pair values must still be the
    # full-matrix ones (they were fitted to the 20 nearest before).
    X = np.random.default_rng(3).normal(size=(200, 8))
    full = secondary_distance_matrix(X, "mp_gaussian")
    r = reduce_hubness(X, "mp_gaussian", k=10, n_candidates=20)
    assert r.mode == "candidates" and r.n_candidates == 20
    rows = np.repeat(np.arange(200), 10)
    np.testing.assert_allclose(r.secondary_distances.ravel(), full[rows, r.indices.ravel()], rtol=1e-12,
                               atol=1e-13)


@pytest.mark.parametrize("method", METHODS)
def test_candidate_mode_with_every_candidate_agrees_fully(method: str) -> None:
    X = np.random.default_rng(9).normal(size=(50, 6))
    r = reduce_hubness(X, method, k=4, k_scale=3, n_candidates=49)
    ind, _ = exact_reduction(X, method, k=4, k_scale=3)
    assert r.mode == "candidates" and r.indices.tolist() == ind.tolist()
    assert (r.agreement, r.agreement_sample, r.agreement_hubs) == (1.0, 50, 1.0)


def test_few_candidates_report_their_disagreement() -> None:
    # Gaussian d = 100: hubs take the k = 10 nearest places of many points, and
    # mutual proximity moves most of those to points far down the primary list,
    # so 10 candidates (the plain kNN lists, nothing to re-rank) cannot agree.
    X = np.random.default_rng(10).standard_normal((300, 100))
    r = reduce_hubness(X, "mutual_proximity", k=10, n_candidates=10)
    exact = reduce_hubness(X, "mutual_proximity", k=10)
    sample = np.sort(np.random.default_rng(0).choice(300, 200, replace=False))
    want = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(r.indices[sample], exact.indices[sample],
                                                                     strict=True)])
    assert r.agreement_sample == 200 and r.agreement == pytest.approx(want, abs=1e-12)
    assert r.agreement < 0.9
    assert r.agreement_hubs > 1.0  # the plain lists favour hubs more than exact MP does


def test_auto_candidates_track_exact_skewness() -> None:
    metric = "euclidean"
    # Issue 19 goal at the unit-test size: n = 1000, d = 50, every method, the
    # candidate mode grown until its sample agrees, within 0.15 of exact.
    X = np.random.default_rng(12).standard_normal((1000, 50))
    exact = compare_reductions(X, k=10, metric=metric)
    auto = compare_reductions(X, k=10, metric=metric, mode="candidates")
    for method in METHODS:
        e, a = exact[method], auto[method]
        assert e.mode == "exact" and a.mode == "candidates"
        assert abs(a.hubness.skewness - e.hubness.skewness) <= 0.15, (method, a.hubness.skewness,
                                                                       e.hubness.skewness, a.n_candidates)
        assert a.agreement >= 0.99 or a.n_candidates == 800, (method, a.agreement, a.n_candidates)


def test_mp_above_its_sample_limit_reports_no_agreement(monkeypatch) -> None:
    # Empirical MP's exact sample needs every distance row; above MP_SAMPLE_MAX_N
    # it is skipped: NaN agreement on no rows (JSON null), the default count.
    import analysis.metrics.hubness_reduction as module

    monkeypatch.setattr(module, "MP_SAMPLE_MAX_N", 100)
    X = np.random.default_rng(13).normal(size=(150, 6))
    r = module.compare_reductions(X, k=5, mode="candidates", methods=("mutual_proximity", "csls"))
    mp, csls = r["mutual_proximity"], r["csls"]
    assert mp.n_candidates == 25 and math.isnan(mp.agreement) and mp.agreement_sample == 0
    assert mp.to_dict()["agreement"] is None
    assert csls.agreement_sample == 150 and 0.0 < csls.agreement <= 1.0
