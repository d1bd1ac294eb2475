"""Unit tests for analysis.metrics.intrinsic_dimension (TwoNN and the Levina-Bickel MLE)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.metrics import intrinsic_dimension

AMBIENT = 50
N = 5000
EMBED = ortho_group.rvs(AMBIENT, random_state=0)  # rows: an orthonormal basis of R^50


def _gaussian_in_subspace(d: int, seed: int) -> np.ndarray:
    """n points from N(0, I_d) placed on a random d-dimensional subspace of R^50."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, d)) @ EMBED[:d]


def _cube_in_subspace(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((N, d)) @ EMBED[:d] + 1.0


# --------------------------------------------------------------------------- known dimension

# Measured with these seeds: TwoNN 1.98, 5.01, 9.70 and MLE (k = 10) 2.00, 5.05, 9.49 on the
# Gaussians; a 10 % tolerance leaves room for the known small downward bias at d = 10.


@pytest.mark.parametrize("d", [2, 5, 10])
def test_twonn_on_gaussian_subspace(d):
    result = intrinsic_dimension(_gaussian_in_subspace(d, seed=d))
    assert result.method == "twonn" and result.k == 2
    assert result.n_used == N and result.n_duplicates == 0
    assert result.dimension == pytest.approx(d, rel=0.10)


@pytest.mark.parametrize("d", [2, 5, 10])
def test_mle_on_gaussian_subspace(d):
    result = intrinsic_dimension(_gaussian_in_subspace(d, seed=d), method="mle", k=10)
    assert result.method == "mle" and result.k == 10
    assert result.dimension == pytest.approx(d, rel=0.10)


@pytest.mark.parametrize("d", [2, 5])
def test_both_on_uniform_cube(d):
    # The cube's boundary biases both estimators down as d grows (about -5 % at d = 5).
    X = _cube_in_subspace(d, seed=10 + d)
    assert intrinsic_dimension(X).dimension == pytest.approx(d, rel=0.10)
    assert intrinsic_dimension(X, method="mle").dimension == pytest.approx(d, rel=0.10)


def test_ambient_dimension_does_not_leak_in():
    # A 3-D Gaussian in R^50 must not read like 50 or anything near it: and full-rank
    # 50-D noise must read far higher than 3.
    low = intrinsic_dimension(_gaussian_in_subspace(3, seed=20)).dimension
    rng = np.random.default_rng(21)
    full = intrinsic_dimension(rng.standard_normal((N, AMBIENT))).dimension
    assert low == pytest.approx(3, rel=0.10)
    assert full > 25


# --------------------------------------------------------------------------- hand case


def test_twonn_hand_case_on_a_line():
    # Points 0, 1, 3, 7 on a line: first/second neighbour distances
    # 0: (1, 3) mu = 3;  1: (1, 2) mu = 2;  3: (2, 3) mu = 1.5;  7: (4, 6) mu = 1.5.
    # d = n / sum log mu = 4 / log(3 * 2 * 1.5 * 1.5) = 4 / log 13.5.
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert intrinsic_dimension(X).dimension == pytest.approx(4 / np.log(13.5), rel=1e-10)


def test_mle_hand_case_k2_on_a_line():
    # k = 2: per point 1/m_i = log(T_2 / T_1) (the mean over the single j = 1), so the
    # estimate is [mean_i log(T2/T1)]^{-1} = n / sum log mu, the TwoNN value.
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    result = intrinsic_dimension(X, method="mle", k=2)
    assert result.dimension == pytest.approx(4 / np.log(13.5), rel=1e-10)


def test_mle_hand_case_k3_on_a_line():
    # Points 0, 1, 3, 7 with k = 3: neighbour distances (T1, T2, T3)
    # 0: (1, 3, 7);  1: (1, 2, 6);  3: (2, 3, 4);  7: (4, 6, 7).
    # 1/m_i = mean over j < 3 of log(T3 / Tj); dimension = 1 / mean_i (1/m_i).
    T = np.array([[1, 3, 7], [1, 2, 6], [2, 3, 4], [4, 6, 7]], dtype=np.float64)
    inverse = np.log(T[:, 2:] / T[:, :2]).mean(axis=1)
    expected = 1.0 / inverse.mean()
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert intrinsic_dimension(X, method="mle", k=3).dimension == pytest.approx(expected, rel=1e-10)


# --------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize("method", ["twonn", "mle"])
def test_duplicates_are_dropped_and_counted(method):
    X = _gaussian_in_subspace(4, seed=30)[:1000]
    doubled = np.vstack([X, X[:150], X[:10]])  # 160 repeats of earlier rows
    clean = intrinsic_dimension(X, method=method)
    result = intrinsic_dimension(doubled, method=method)
    assert result.n_duplicates == 160
    assert result.n_used == 1000
    assert np.isfinite(result.dimension)
    # The duplicates carry no information: the estimate is the one without them.
    assert result.dimension == pytest.approx(clean.dimension, rel=1e-9)


def test_duplicate_hand_case_line():
    X = np.array([[0.0], [1.0], [3.0], [7.0], [3.0], [0.0], [0.0]])
    result = intrinsic_dimension(X)
    assert result.n_duplicates == 3 and result.n_used == 4
    assert result.dimension == pytest.approx(4 / np.log(13.5), rel=1e-10)


# --------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("method", ["twonn", "mle"])
def test_rotation_scaling_translation_invariance(method):
    X = _gaussian_in_subspace(6, seed=40)[:2000]
    base = intrinsic_dimension(X, method=method).dimension
    Q = ortho_group.rvs(AMBIENT, random_state=41)
    assert intrinsic_dimension(X @ Q, method=method).dimension == pytest.approx(base, rel=1e-6)
    assert intrinsic_dimension(37.0 * X, method=method).dimension == pytest.approx(base, rel=1e-6)
    assert intrinsic_dimension(X + 5.0, method=method).dimension == pytest.approx(base, rel=1e-6)


def test_result_fields():
    result = intrinsic_dimension(_gaussian_in_subspace(3, seed=50)[:500], method="mle", k=5)
    data = result.to_dict()
    assert data["method"] == "mle" and data["k"] == 5 and data["n_used"] == 500
    assert result.scalars() == {"dimension": result.dimension}


# --------------------------------------------------------------------------- bad input


def test_bad_input():
    X = np.random.default_rng(60).standard_normal((50, 3))
    with pytest.raises(ValueError, match="method must be one of"):
        intrinsic_dimension(X, method="pca")
    for k in (1, 0, -3):
        with pytest.raises(ValueError, match="k must be an integer >= 2"):
            intrinsic_dimension(X, method="mle", k=k)
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        intrinsic_dimension(X, method="mle", k=2.5)
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        intrinsic_dimension(X, method="mle", k=True)
    # 10 distinct points (the rest repeat them) cannot give k + 1 = 11 with k = 10.
    few = np.vstack([X[:10]] * 5)
    with pytest.raises(ValueError, match="10 distinct points"):
        intrinsic_dimension(few, method="mle", k=10)
    # TwoNN needs 3 distinct points.
    with pytest.raises(ValueError, match="distinct points"):
        intrinsic_dimension(np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]]))
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        intrinsic_dimension(bad)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        intrinsic_dimension(bad, method="mle")


def test_equidistant_neighbours_are_an_error_not_a_division_by_zero():
    # The vertices of a regular simplex: every point's neighbours are all equally far,
    # so log(T2/T1) = 0 everywhere and TwoNN's d = n / 0 is undefined.
    with pytest.raises(ValueError, match="equally far"):
        intrinsic_dimension(np.eye(5))
    with pytest.raises(ValueError, match="equally far"):
        intrinsic_dimension(np.eye(5), method="mle", k=3)


def test_an_approximate_search_is_close_to_exact_and_says_its_recall() -> None:
    """Above the exact-search limit TwoNN reads an approximate index; the result carries its recall."""
    rng = np.random.default_rng(11)
    X = (rng.standard_normal((6000, 5)) @ rng.standard_normal((5, 40))).astype(np.float32)  # a 5-d plane in 40-d
    exact = intrinsic_dimension(X)
    approx = intrinsic_dimension(X, exact=False)
    assert exact.knn_recall is None
    assert approx.knn_recall is not None and approx.knn_recall >= 0.95
    assert abs(approx.dimension - exact.dimension) < 0.05 * exact.dimension
    assert 4.0 < exact.dimension < 6.0
