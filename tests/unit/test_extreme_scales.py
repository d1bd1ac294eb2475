"""Metrics at extreme scales and with hostile label codes (issue 15, sections 1 and 3).

Every test here failed on the code before the fix it guards: neighbour search
returned index -1 for rows at 1e20, unit rows became zero vectors, ratios of
rounding noise came out as numbers, label codes were used as array sizes.
Numbers are checked against the unscaled input or hand-computed values.
"""

from __future__ import annotations

import numpy as np
import pytest

import analysis.neighbors as nb
from analysis.neighbors import faiss_available, kneighbors, kneighbors_between

BACKENDS = ["numpy"] + (["faiss"] if faiss_available() else [])


def _cloud(n: int = 120, d: int = 12, seed: int = 0, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


# --------------------------------------------------------------------------
# 2. neighbour search: a global scale changes no rank


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("scale", [1e-30, 1e19, 1e20, 1e30])
def test_kneighbors_float32_scale_gives_the_same_neighbours(backend, metric, scale):
    X = _cloud()
    Xs = (X.astype(np.float64) * scale).astype(np.float32)
    d0, i0 = kneighbors(X, 6, metric=metric, backend=backend)
    d1, i1 = kneighbors(Xs, 6, metric=metric, backend=backend)
    assert i1.min() >= 0
    np.testing.assert_array_equal(i1, i0)
    factor = scale if metric == "euclidean" else 1.0
    np.testing.assert_allclose(d1.astype(np.float64), d0.astype(np.float64) * factor, rtol=2e-6, atol=1e-6 * factor)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_symmetric_tile_path_at_1e20(metric, monkeypatch):
    if not faiss_available():
        pytest.skip("faiss not installed")
    # The upper-triangle tile path (pairwise_L2sqr) from its thresholds down.
    monkeypatch.setattr(nb, "_SYMMETRIC_MIN_FEATURES", 8)
    monkeypatch.setattr(nb, "_MIN_TILE", 16)
    monkeypatch.setattr(nb, "_TILE", 32)
    X = _cloud(n=100, d=10, seed=1)
    d0, i0 = kneighbors(X, 4, metric=metric, backend="faiss")
    d1, i1 = kneighbors(X * np.float32(1e20), 4, metric=metric, backend="faiss")
    np.testing.assert_array_equal(i1, i0)
    factor = 1e20 if metric == "euclidean" else 1.0
    np.testing.assert_allclose(d1.astype(np.float64), d0.astype(np.float64) * factor, rtol=2e-6, atol=1e-6 * factor)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_tiny_float64_rows(metric):
    # float64 at 1e-200: squared differences and dot products underflow to 0 without scaling.
    X = _cloud(dtype=np.float64)
    d0, i0 = kneighbors(X, 5, metric=metric)
    _, i1 = kneighbors(X * 1e-200, 5, metric=metric)
    np.testing.assert_array_equal(i1, i0)
    if metric == "cosine":
        d1, _ = kneighbors(X * 1e-200, 5, metric=metric)
        np.testing.assert_allclose(d1, d0, rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_kneighbors_near_float32_max():
    # Values up to 3e38 with opposite signs: the centred spread exceeds float32's
    # range before scaling (the float64 centring path); ranks match X / 1e38.
    X = _cloud(n=40, d=3, seed=2)
    X = X / np.abs(X).max() * np.float32(3e38)
    reference = X.astype(np.float64) / 1e38
    for metric in ("euclidean", "cosine"):
        _, i0 = kneighbors(reference, 3, metric=metric)
        _, i1 = kneighbors(X, 3, metric=metric)
        np.testing.assert_array_equal(i1, i0)
    # A nearest distance of 6e38 cannot be returned as float32: a ValueError, not inf.
    with pytest.raises(ValueError, match="exceed float32's range"):
        kneighbors(np.array([[-3e38], [3e38]], dtype=np.float32), 1)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_between_scale(metric):
    Q, G = _cloud(n=30, seed=3), _cloud(n=50, seed=4)
    d0, i0 = kneighbors_between(Q, G, 5, metric=metric)
    d1, i1 = kneighbors_between(Q * np.float32(1e20), G * np.float32(1e20), 5, metric=metric)
    np.testing.assert_array_equal(i1, i0)
    factor = 1e20 if metric == "euclidean" else 1.0
    np.testing.assert_allclose(d1.astype(np.float64), d0.astype(np.float64) * factor, rtol=2e-6, atol=1e-6 * factor)


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_candidates_raise_instead_of_flowing_on(backend, monkeypatch):
    # Whatever makes the float32 search leave a slot empty (-1), it must not reach the caller.
    name = "_search_numpy" if backend == "numpy" else "_search_faiss"
    original = getattr(nb, name)

    def with_hole(*args, **kwargs):
        out = original(*args, **kwargs)
        out[7, -1] = -1
        return out

    monkeypatch.setattr(nb, name, with_hole)
    with pytest.raises(ValueError, match=r"no candidates for 1 rows \(first: 7\)"):
        kneighbors(_cloud(), 3, backend=backend)


def test_hubness_and_knn_jaccard_at_1e20():
    from analysis.comparison import compare
    from analysis.metrics import hubness

    X = _cloud(n=200, d=16, seed=5)
    big = X * np.float32(1e20)
    np.testing.assert_array_equal(hubness(big, k=5).k_occurrence, hubness(X, k=5).k_occurrence)
    result = compare(big, big, k=5)
    assert result.metrics["knn_jaccard"] == 1.0
