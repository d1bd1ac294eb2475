"""Unit tests for analysis.neighbors.kneighbors (exact kNN, self excluded)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from analysis import neighbors
from analysis.neighbors import conditioning as neighbor_conditioning
from analysis.neighbors import kneighbors
from analysis.neighbors import search as neighbor_search

BACKENDS = ["faiss", "numpy"]


def reference_knn(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Brute force in float64 with scipy; self excluded by an infinite diagonal."""
    D = cdist(X.astype(np.float64), X.astype(np.float64), metric=metric)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, order, axis=1), order


def spy_on_symmetric_search(monkeypatch) -> list:
    """Record calls of the symmetric-tile faiss search (to prove a test took that path)."""
    calls = []
    original = neighbors._search_faiss_symmetric

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(neighbors, "_search_faiss_symmetric", spy)
    return calls


# ---------------------------------------------------------------- hand-computed


@pytest.mark.parametrize("backend", BACKENDS)
def test_four_points_on_a_line(backend):
    # 0 --1-- 1 ----2---- 3 --------4-------- 7
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    dist, idx = kneighbors(X, 2, backend=backend)
    np.testing.assert_array_equal(idx, [[1, 2], [0, 2], [1, 0], [2, 1]])
    np.testing.assert_allclose(dist, [[1, 3], [1, 2], [2, 3], [4, 6]])
    assert dist.dtype == np.float32 and idx.dtype == np.int64
    assert dist.shape == idx.shape == (4, 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_distances_are_euclidean_not_squared(backend):
    X = np.array([[0.0, 0.0], [3.0, 4.0], [30.0, 40.0]])
    dist, idx = kneighbors(X, 1, backend=backend)
    np.testing.assert_array_equal(idx[:, 0], [1, 0, 1])
    np.testing.assert_allclose(dist[:, 0], [5.0, 5.0, 45.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_identical_rows_do_not_list_themselves(backend):
    X = np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 5.0]])
    dist, idx = kneighbors(X, 1, backend=backend)
    np.testing.assert_array_equal(idx[:2, 0], [1, 0])
    assert idx[2, 0] in (0, 1)  # a tie: either copy is a correct answer
    np.testing.assert_allclose(dist[:, 0], [0.0, 0.0, 5.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_many_duplicates_self_never_listed(backend, metric):
    # Six identical rows and k=2: every row has 5 candidates at distance 0
    # and must get two of the *others*.
    X = np.vstack([np.tile([[1.0, 1.0, 0.0]], (6, 1)), [[0.0, 1.0, 1.0]]])
    dist, idx = kneighbors(X, 2, metric=metric, backend=backend)
    for i in range(6):
        assert i not in idx[i]
        assert set(idx[i]) <= set(range(6)) - {i}
        np.testing.assert_allclose(dist[i], 0.0, atol=1e-7)
    assert 6 not in idx[6]


@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_distances_on_known_vectors(backend):
    a, b, c, e = [1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-2.0, 0.0]
    X = np.array([a, b, c, e])
    dist, idx = kneighbors(X, 3, metric="cosine", backend=backend)
    s = 1 / np.sqrt(2)
    # a: c at 45 degrees, b at 90, e opposite.
    np.testing.assert_array_equal(idx[0], [2, 1, 3])
    np.testing.assert_allclose(dist[0], [1 - s, 1.0, 2.0], atol=1e-6)
    # e: b at 90 degrees, c at 135, a opposite.
    np.testing.assert_array_equal(idx[3], [1, 2, 0])
    np.testing.assert_allclose(dist[3], [1.0, 1 + s, 2.0], atol=1e-6)
    # Every row: all others, ascending, cosine distance depends on direction only.
    for i in range(4):
        assert sorted(idx[i]) == sorted(set(range(4)) - {i})
        assert np.all(np.diff(dist[i]) >= 0)
    dist_scaled, _ = kneighbors(X * 7.5, 3, metric="cosine", backend=backend)
    np.testing.assert_allclose(dist_scaled, dist, atol=1e-6)


# ------------------------------------------------------------ against brute force


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_backends_agree_with_each_other_and_brute_force(metric):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 24))
    ref_d, ref_i = reference_knn(X, 7, metric)
    d_faiss, i_faiss = kneighbors(X, 7, metric=metric, backend="faiss")
    d_numpy, i_numpy = kneighbors(X, 7, metric=metric, backend="numpy")
    np.testing.assert_array_equal(i_faiss, i_numpy)
    np.testing.assert_array_equal(i_faiss, ref_i)
    np.testing.assert_allclose(d_faiss, ref_d, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d_numpy, ref_d, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("faiss_path", ["symmetric tiles", "query chunks"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_tiled_blocked_and_chunked_paths_agree(metric, faiss_path, monkeypatch):
    # n > 2048 exercises the numpy backend's threshold pre-selection; tiny
    # tiles/blocks/chunks force many of each, with a ragged last one.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2600, 6)).astype(np.float32)
    ref_d, ref_i = reference_knn(X, 5, metric)
    calls = spy_on_symmetric_search(monkeypatch)
    if faiss_path == "symmetric tiles":
        monkeypatch.setattr(neighbors, "_SYMMETRIC_MIN_FEATURES", 1)
        monkeypatch.setattr(neighbor_search, "_TILE", 700)
    else:
        monkeypatch.setattr(neighbors, "_SYMMETRIC_MIN_FEATURES", 10**9)
        monkeypatch.setattr(neighbor_search, "_FAISS_QUERY_CHUNK", 700)
    monkeypatch.setattr(neighbor_search, "_NUMPY_BLOCK_ELEMENTS", 2600 * 300)
    monkeypatch.setattr(neighbor_conditioning, "_REFINE_ELEMENTS", 333 * 6 * 6)
    for backend in BACKENDS:
        dist, idx = kneighbors(X, 5, metric=metric, backend=backend)
        np.testing.assert_array_equal(idx, ref_i)
        np.testing.assert_allclose(dist, ref_d, rtol=1e-5, atol=1e-6)
    assert len(calls) == (1 if faiss_path == "symmetric tiles" else 0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_default_symmetric_path_matches_brute_force(metric, monkeypatch):
    # 1100 rows x 256 features: the default thresholds choose the symmetric
    # tiles (two tiles of 550 per side).
    calls = spy_on_symmetric_search(monkeypatch)
    X = np.random.default_rng(4).standard_normal((1100, 256)) + 3.0
    ref_d, ref_i = reference_knn(X, 10, metric)
    dist, idx = kneighbors(X, 10, metric=metric)
    assert len(calls) == 1
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_symmetric_tiles_with_duplicates_across_tiles(metric, monkeypatch):
    # Tiles of 3 rows: the copies of a point sit in different tiles, so they
    # meet only through the transposed half of an off-diagonal tile.
    calls = spy_on_symmetric_search(monkeypatch)
    monkeypatch.setattr(neighbors, "_SYMMETRIC_MIN_FEATURES", 1)
    monkeypatch.setattr(neighbor_search, "_TILE", 3)
    monkeypatch.setattr(neighbors, "_MIN_TILE", 2)
    X = np.array(
        [[1.0, 2.0], [5.0, 1.0], [9.0, 9.0], [0.5, 3.0], [3.0, 3.0], [1.0, 2.0], [5.0, 1.0]]
    )
    dist, idx = kneighbors(X, 2, metric=metric, backend="faiss")
    ref_d, _ = reference_knn(X, 2, metric)
    assert not np.any(idx == np.arange(7)[:, None])
    np.testing.assert_allclose(dist, ref_d, atol=1e-7)
    assert idx[0, 0] == 5 and idx[5, 0] == 0 and idx[1, 0] == 6 and idx[6, 0] == 1
    assert len(calls) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_large_offset_keeps_exact_distances(backend):
    # ||x||^2 - 2x.y + ||y||^2 in float32 would lose all digits at an offset
    # of 1e4 with unit-scale spread; centring plus float64 re-scoring keep them.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 5)) + 1e4
    ref_d, ref_i = reference_knn(X, 4, "euclidean")
    dist, idx = kneighbors(X, 4, backend=backend)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_euclidean_is_rotation_and_translation_invariant(backend):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 8))
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    d0, i0 = kneighbors(X, 5, backend=backend)
    d1, i1 = kneighbors(X @ Q + 3.0, 5, backend=backend)
    np.testing.assert_array_equal(i0, i1)
    np.testing.assert_allclose(d0, d1, rtol=1e-5)


def test_accepts_integer_and_float32_input_and_leaves_it_unchanged():
    X_int = np.array([[0, 0], [0, 3], [4, 0], [10, 10]], dtype=np.int32)
    X_copy = X_int.copy()
    dist, idx = kneighbors(X_int, 1)
    np.testing.assert_array_equal(X_int, X_copy)
    np.testing.assert_array_equal(idx[:, 0], [1, 0, 0, 2])
    np.testing.assert_allclose(dist[:, 0], [3.0, 3.0, 4.0, np.hypot(6, 10)], rtol=1e-6)
    X32 = np.asfortranarray(X_int.astype(np.float32))
    np.testing.assert_array_equal(kneighbors(X32, 1)[1], idx)


def test_auto_falls_back_to_numpy_without_faiss(monkeypatch):
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    expected = kneighbors(X, 1, backend="numpy")
    monkeypatch.setattr(neighbors, "_faiss", lambda: None)
    dist, idx = kneighbors(X, 1)
    np.testing.assert_array_equal(idx, expected[1])
    np.testing.assert_array_equal(dist, expected[0])
    with pytest.raises(ImportError, match="backend='numpy'"):
        kneighbors(X, 1, backend="faiss")


@settings(max_examples=40, deadline=None)
@given(
    X=arrays(
        np.int8, st.tuples(st.integers(3, 25), st.integers(1, 3)), elements=st.integers(-2, 2)
    ),
    k_frac=st.floats(0.0, 1.0),
    backend=st.sampled_from(BACKENDS),
)
def test_property_self_excluded_and_distances_exact(X, k_frac, backend):
    # Small integer grids: lots of exact duplicates and ties.
    n = X.shape[0]
    k = 1 + int(k_frac * (n - 2))
    dist, idx = kneighbors(X, k, backend=backend)
    assert not np.any(idx == np.arange(n)[:, None])
    assert np.all(np.diff(dist, axis=1) >= 0)
    assert all(len(set(row)) == k for row in idx)
    # Whichever tied rows were picked, their distances are the true k smallest.
    ref_d, _ = reference_knn(X, k, "euclidean")
    np.testing.assert_allclose(dist, ref_d, rtol=1e-6, atol=1e-6)
    true_d = np.linalg.norm(X[idx].astype(float) - X[:, None, :], axis=-1)
    np.testing.assert_allclose(dist, true_d, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("X", "k", "kwargs", "match"),
    [
        (np.zeros(5), 1, {}, r"2-D array .* shape \(5,\).*reshape\(-1, 1\)"),
        (np.zeros((4, 2, 2)), 1, {}, r"2-D array .* shape \(4, 2, 2\)"),
        (np.zeros((1, 3)), 1, {}, r"at least 2 samples; got 1"),
        (np.zeros((4, 0)), 1, {}, r"0 features"),
        (np.zeros((4, 2)), 0, {}, r"k must be an integer in \[1, 3\] .*; got 0\. Use k >= 1\."),
        (np.zeros((4, 2)), 2.0, {}, r"k must be an integer in \[1, 3\] .*; got 2\.0\. Pass a Python or NumPy integer"),
        (np.zeros((4, 2)), True, {}, r"k must be an integer in \[1, 3\] .*; got True"),
        (np.zeros((8, 2)), 10, {}, r"k must be an integer in \[1, 7\] \(7 other points each, of 8\); got 10\. Use k <= 7\."),
        (np.zeros((8, 2)), 8, {}, r"k must be an integer in \[1, 7\] .*; got 8\. Use k <= 7"),
        (np.zeros((4, 2)), 1, {"metric": "manhattan"}, r"metric must be one of .*'manhattan'"),
        (np.zeros((4, 2)), 1, {"backend": "annoy"}, r"backend must be one of .*'annoy'"),
        (np.array([["a", "b"], ["c", "d"]]), 1, {}, r"real numbers; got dtype <U1"),
        (np.full((3, 2), 1e39), 1, {}, r"beyond float32's range .* in 3 rows"),
    ],
)
def test_validation_errors(X, k, kwargs, match):
    with pytest.raises(ValueError, match=match):
        kneighbors(X, k, **kwargs)


def test_nan_and_inf_rows_are_counted():
    X = np.ones((10, 3))
    X[2, 0] = np.nan
    X[5, 1] = np.inf
    X[7] = -np.inf
    with pytest.raises(ValueError, match=r"NaN or Inf in 3 rows \(first: 2, 5, 7\)"):
        kneighbors(X, 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_rejects_zero_rows_with_a_count(backend):
    X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"2 zero rows \(first: 1, 3\).*Drop them"):
        kneighbors(X, 1, metric="cosine", backend=backend)
    # Euclidean is fine with zero rows.
    kneighbors(X, 1, metric="euclidean", backend=backend)
