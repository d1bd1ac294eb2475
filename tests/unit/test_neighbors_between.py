"""kneighbors_between: exact kNN of one set's rows among another set's rows (nothing excluded)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.neighbors import kneighbors_between


def _brute_force(Q: np.ndarray, G: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 distance matrix, stable argsort (ties to the lower row number)."""
    Q = np.asarray(Q, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    if metric == "euclidean":
        D = np.sqrt(((Q[:, None, :] - G[None, :, :]) ** 2).sum(axis=2))
    else:
        Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        Gn = G / np.linalg.norm(G, axis=1, keepdims=True)
        D = 1.0 - Qn @ Gn.T
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, axis=1), order


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize(("n_q", "n_g", "d", "k"), [(50, 80, 6, 5), (7, 300, 20, 12), (300, 40, 3, 1)])
def test_matches_brute_force(metric: str, n_q: int, n_g: int, d: int, k: int) -> None:
    rng = np.random.default_rng(n_q + n_g)
    Q, G = rng.normal(size=(n_q, d)), rng.normal(size=(n_g, d))
    dist, ind = kneighbors_between(Q, G, k, metric=metric)
    want_d, want_i = _brute_force(Q, G, k, metric)
    assert ind.shape == (n_q, k) and dist.shape == (n_q, k)
    assert ind.dtype == np.int64 and dist.dtype == np.float32
    assert ind.tolist() == want_i.tolist()
    np.testing.assert_allclose(dist, want_d, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_float32_input_matches_brute_force(metric: str) -> None:
    rng = np.random.default_rng(1)
    Q, G = rng.normal(size=(40, 16)).astype(np.float32), rng.normal(size=(500, 16)).astype(np.float32)
    dist, ind = kneighbors_between(Q, G, 10, metric=metric)
    want_d, want_i = _brute_force(Q, G, 10, metric)
    assert ind.tolist() == want_i.tolist()
    np.testing.assert_allclose(dist, want_d, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_query_equal_to_a_database_row_finds_it_first(metric: str) -> None:
    rng = np.random.default_rng(2)
    G = rng.normal(size=(100, 5))
    Q = np.vstack([G[17], rng.normal(size=(3, 5)), 2.5 * G[42]])
    dist, ind = kneighbors_between(Q, G, 3, metric=metric)
    assert ind[0, 0] == 17
    assert dist[0, 0] == pytest.approx(0.0, abs=1e-6)
    if metric == "cosine":  # a rescaled copy is the same direction: distance 0 too
        assert ind[4, 0] == 42 and dist[4, 0] == pytest.approx(0.0, abs=1e-6)
    else:
        # 2.5 G[42] is 1.5 ||G[42]|| away from G[42]; brute force decides the rest
        assert ind[4].tolist() == _brute_force(Q[4:], G, 3, metric)[1][0].tolist()


def test_hand_worked_one_dimensional_case() -> None:
    # database 0, 10, 20, 30 ; query 12 -> 10 (2), 20 (8), 0 (12), 30 (18)
    G = np.array([[0.0], [10.0], [20.0], [30.0]])
    dist, ind = kneighbors_between(np.array([[12.0], [30.0]]), G, 4)
    assert ind.tolist() == [[1, 2, 0, 3], [3, 2, 1, 0]]
    assert dist.tolist() == [[2.0, 8.0, 12.0, 18.0], [0.0, 10.0, 20.0, 30.0]]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_k_equal_to_database_size_returns_everything_sorted(metric: str) -> None:
    rng = np.random.default_rng(3)
    Q, G = rng.normal(size=(20, 4)), rng.normal(size=(15, 4))
    dist, ind = kneighbors_between(Q, G, 15, metric=metric)
    want_d, want_i = _brute_force(Q, G, 15, metric)
    assert ind.tolist() == want_i.tolist()
    assert all(sorted(row) == list(range(15)) for row in ind.tolist())
    np.testing.assert_allclose(dist, want_d, rtol=1e-5, atol=1e-6)


def test_large_common_offset_is_still_exact() -> None:
    # Regression (found by this test, since fixed): unlike kneighbors,
    # kneighbors_between does not centre the data before its float32 candidate
    # search (scores q.g - |g|^2/2 of the raw rows), so with an offset of 1e4
    # all 60 queries get wrong lists (58 a wrong nearest neighbour; 7 of 60 are
    # already wrong at an offset of 1e3). The k + 8 float32 candidates miss the
    # true neighbours, and the float64 re-scoring cannot bring them back.
    # float32 resolution near 1e4 is ~1e-3 and |x|^2 ~ 8e8: a float32
    # ||q||^2 - 2 q.g + ||g||^2 would be noise at the scale of these distances (~1-4).
    rng = np.random.default_rng(4)
    Q, G = rng.normal(size=(60, 8)) + 1e4, rng.normal(size=(400, 8)) + 1e4
    dist, ind = kneighbors_between(Q, G, 5)
    want_d, want_i = _brute_force(Q, G, 5, "euclidean")
    assert ind.tolist() == want_i.tolist()
    np.testing.assert_allclose(dist, want_d, rtol=1e-5, atol=1e-5)


def test_bad_input_is_refused_with_a_reason() -> None:
    rng = np.random.default_rng(5)
    Q, G = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    with pytest.raises(ValueError, match="features"):
        kneighbors_between(Q, rng.normal(size=(6, 4)), 2)
    for k in (0, 7, -1, 2.0, True):
        with pytest.raises(ValueError, match="k must be an integer"):
            kneighbors_between(Q, G, k)
    with pytest.raises(ValueError, match="metric must be one of"):
        kneighbors_between(Q, G, 2, metric="dot")
    Z = G.copy()
    Z[3] = 0.0
    with pytest.raises(ValueError, match="all-zero rows"):
        kneighbors_between(Q, Z, 2, metric="cosine")
    with pytest.raises(ValueError, match="all-zero rows"):
        kneighbors_between(np.vstack([Q, np.zeros((1, 3))]), G, 2, metric="cosine")
    kneighbors_between(Q, Z, 2)  # a zero row is fine for euclidean
    bad = Q.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        kneighbors_between(bad, G, 2)
