"""Unit tests for analysis.metrics.similarity: CKA, Procrustes, relative representations, k-NN agreement.

The references below build the n x n Gram matrices directly (Song et al.'s
unbiased HSIC term by term, on the raw uncentred data) and scipy's
orthogonal Procrustes solver, so the feature-space shortcuts are checked
against the textbook definitions.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.distance import pdist, squareform
from scipy.stats import ortho_group, pearsonr

from analysis.metrics import (
    choose_anchors,
    cka,
    cka_matrix,
    cka_products,
    knn_agreement,
    linear_cka,
    procrustes_distance,
    rbf_cka,
    relative_representation,
)
from analysis.metrics import similarity as sim

# --------------------------------------------------------------------------- references


def _hsic_unbiased(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012) eq. 5, literally: Grams with zero diagonals."""
    n = K.shape[0]
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    one = np.ones(n)
    return float(
        np.trace(Kt @ Lt)
        + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * (one @ Kt @ Lt @ one)
    ) / (n * (n - 3))


def _reference_cka(X: np.ndarray, Y: np.ndarray, *, debiased: bool = False) -> float:
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    K, L = X @ X.T, Y @ Y.T
    if debiased:
        return _hsic_unbiased(K, L) / math.sqrt(_hsic_unbiased(K, K) * _hsic_unbiased(L, L))
    n = K.shape[0]
    H = np.eye(n) - 1.0 / n
    Kc, Lc = H @ K @ H, H @ L @ H
    return float(np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc)))


def _reference_rbf_cka(X: np.ndarray, Y: np.ndarray, fraction: float) -> float:
    def centred_kernel(A):
        distances = pdist(A)
        sigma = fraction * np.median(distances)
        K = np.exp(-squareform(distances) ** 2 / (2 * sigma**2))
        H = np.eye(A.shape[0]) - 1.0 / A.shape[0]
        return H @ K @ H

    Kc, Lc = centred_kernel(X), centred_kernel(Y)
    return float(np.sum(Kc * Lc) / (np.linalg.norm(Kc) * np.linalg.norm(Lc)))


def _reference_procrustes(X: np.ndarray, Y: np.ndarray) -> float:
    """min over orthogonal R of ||Xn - Yn R||_F, widths padded with zero columns, via scipy."""
    Xn = X - X.mean(axis=0)
    Yn = Y - Y.mean(axis=0)
    Xn, Yn = Xn / np.linalg.norm(Xn), Yn / np.linalg.norm(Yn)
    width = max(Xn.shape[1], Yn.shape[1])
    Xp = np.pad(Xn, ((0, 0), (0, width - Xn.shape[1])))
    Yp = np.pad(Yn, ((0, 0), (0, width - Yn.shape[1])))
    R, _ = orthogonal_procrustes(Yp, Xp)
    return float(np.linalg.norm(Xp - Yp @ R))


def _related(n: int, dx: int, dy: int, seed: int, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """X and a Y that shares a few directions with it (CKA well inside (0, 1))."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx)) + offset
    mix = rng.standard_normal((min(dx, 3), dy))
    Y = X[:, : min(dx, 3)] @ mix + rng.standard_normal((n, dy)) - offset
    return X, Y


def _rotation(d: int, seed: int) -> np.ndarray:
    return ortho_group.rvs(d, random_state=seed) if d > 1 else np.array([[-1.0]])


# --------------------------------------------------------------------------- linear CKA: values


def test_one_feature_cka_is_squared_pearson_correlation():
    # With one feature, ||y^T x||^2 / (||x||^2 ||y||^2) on centred data is r^2.
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200)
    y = 0.3 * x + rng.standard_normal(200) + 5.0
    r = pearsonr(x, y).statistic
    assert linear_cka(x[:, None], y[:, None]) == pytest.approx(r**2, rel=1e-12)
    # A hand case: y = x^2 on 0..9, r^2 = 0.92677345...
    grid = np.arange(10.0)[:, None]
    assert linear_cka(grid, grid**2) == pytest.approx(np.corrcoef(grid[:, 0], grid[:, 0] ** 2)[0, 1] ** 2,
                                                      rel=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_of_a_representation_with_itself_is_one(debiased):
    X, _ = _related(60, 5, 4, seed=1)
    assert linear_cka(X, X, debiased=debiased) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(X, -3.0 * X + 7.0, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n, dx, dy", [(80, 5, 9), (25, 60, 40), (30, 4, 100), (12, 1, 1)])
@pytest.mark.parametrize("debiased", [False, True])
def test_cka_matches_the_gram_matrix_reference(n, dx, dy, debiased):
    # (80, 5, 9): feature space; (25, 60, 40) and (30, 4, 100): centred Grams (n < widths).
    X, Y = _related(n, dx, dy, seed=n + dx, offset=3.0)
    expected = _reference_cka(X, Y, debiased=debiased)
    assert linear_cka(X, Y, debiased=debiased) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_pairwise_feature_route_matches_the_reference(monkeypatch, debiased):
    # Wide inputs skip the one-pass stack; force that route at a small size.
    monkeypatch.setattr(cka_products, "_STACK_MAX_FEATURES", 0)
    X, Y = _related(90, 6, 11, seed=3, offset=-2.0)
    assert cka_products._choose_mode(90, [6, 11], [(0, 1)], may_stack=True) == "pairwise"
    assert linear_cka(X, Y, debiased=debiased) == pytest.approx(_reference_cka(X, Y, debiased=debiased),
                                                                abs=1e-10)


def test_float32_input_is_computed_in_float64():
    X, Y = _related(300, 8, 6, seed=4, offset=100.0)  # a large offset: centring must be done carefully
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    # The reference centres in float64 first (HSIC_u is translation invariant): on raw Grams with
    # entries ~1e5 the textbook formula itself loses about 7 digits to cancellation.
    A, B = X32.astype(np.float64), Y32.astype(np.float64)
    expected = _reference_cka(A - A.mean(axis=0), B - B.mean(axis=0), debiased=True)
    assert linear_cka(X32, Y32, debiased=True) == pytest.approx(expected, abs=1e-10)
    assert isinstance(linear_cka(X32, Y32), float)


def test_feature_counts_may_differ():
    X, Y = _related(100, 3, 50, seed=5)
    value = linear_cka(X, Y)
    assert 0.05 < value < 0.95
    assert value == pytest.approx(_reference_cka(X, Y), abs=1e-12)


def test_biased_cka_of_independent_data_is_inflated_debiased_is_near_zero():
    # Independent Gaussians: biased CKA is about d / (n + d) (here ~0.33), debiased ~0.
    rng = np.random.default_rng(6)
    X = rng.standard_normal((1000, 500))
    Y = rng.standard_normal((1000, 500))
    biased = linear_cka(X, Y)
    debiased = linear_cka(X, Y, debiased=True)
    assert 0.25 < biased < 0.4
    assert abs(debiased) < 0.01


def test_debiased_cka_can_be_negative_and_stays_in_range():
    rng = np.random.default_rng(7)
    values = [linear_cka(rng.standard_normal((20, 3)), rng.standard_normal((20, 2)), debiased=True)
              for _ in range(30)]
    assert min(values) < 0.0
    assert all(-1.0 <= v <= 1.0 for v in values)


def test_cka_lies_in_unit_interval_and_is_symmetric():
    rng = np.random.default_rng(8)
    for trial in range(10):
        n = int(rng.integers(5, 60))
        X, Y = _related(n, int(rng.integers(1, 8)), int(rng.integers(1, 80)), seed=trial)
        forward, backward = linear_cka(X, Y), linear_cka(Y, X)
        assert 0.0 <= forward <= 1.0
        assert forward == pytest.approx(backward, abs=1e-13)
        assert linear_cka(X, Y, debiased=True) == pytest.approx(linear_cka(Y, X, debiased=True), abs=1e-12)


# --------------------------------------------------------------------------- linear CKA: invariances


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_is_invariant_to_rotation_isotropic_scale_and_translation(debiased):
    X, Y = _related(70, 6, 4, seed=9)
    base = linear_cka(X, Y, debiased=debiased)
    Q = _rotation(6, 0)
    assert linear_cka(X @ Q, Y, debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert linear_cka(X, Y @ _rotation(4, 1), debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert linear_cka(250.0 * X, Y, debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert linear_cka(X, 1e-3 * Y, debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert linear_cka(X + 40.0, Y - 7.0, debiased=debiased) == pytest.approx(base, abs=1e-11)
    permutation = np.random.default_rng(0).permutation(70)  # reordering the samples in both
    assert linear_cka(X[permutation], Y[permutation], debiased=debiased) == pytest.approx(base, abs=1e-12)


def test_cka_is_not_invariant_to_anisotropic_scaling():
    # Y copies feature 0 of X; feature 1 of X is independent noise. Stretching the noise
    # feature (an invertible, non-orthogonal linear map) drowns the shared one.
    rng = np.random.default_rng(10)
    shared, noise = rng.standard_normal(500), rng.standard_normal(500)
    X = np.column_stack([shared, noise])
    Y = shared[:, None]
    before = linear_cka(X, Y)
    after = linear_cka(X * np.array([1.0, 10.0]), Y)
    assert before > 0.45
    assert after < 0.02
    assert before - after > 0.4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3), shift=st.floats(-100, 100),
       debiased=st.booleans())
def test_property_cka_invariant_to_similarity_transforms(seed, scale, shift, debiased):
    X, Y = _related(30, 4, 3, seed=seed)
    Q = _rotation(4, seed)
    assert linear_cka(scale * X @ Q + shift, Y, debiased=debiased) == pytest.approx(
        linear_cka(X, Y, debiased=debiased), abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 40), dx=st.integers(1, 30), dy=st.integers(1, 30))
def test_property_cka_matches_reference_and_bounds(seed, n, dx, dy):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((n, dx)), rng.standard_normal((n, dy))
    value = linear_cka(X, Y)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(_reference_cka(X, Y), abs=1e-10)
    K, L = X @ X.T, Y @ Y.T
    if min(_hsic_unbiased(K, K), _hsic_unbiased(L, L)) < 1e-6:
        return  # debiased CKA is 0/0 there (refused; tested above)
    assert linear_cka(X, Y, debiased=True) == pytest.approx(_reference_cka(X, Y, debiased=True), abs=1e-9)


# --------------------------------------------------------------------------- cka_matrix


def test_cka_matrix_equals_pairwise_linear_cka_symmetric_with_unit_diagonal():
    rng = np.random.default_rng(11)
    base = rng.standard_normal((120, 5))
    layers = [base, base @ rng.standard_normal((5, 8)), np.tanh(base @ rng.standard_normal((5, 3))),
              rng.standard_normal((120, 4))]
    for debiased in (False, True):
        M = cka_matrix(layers, debiased=debiased)
        assert M.shape == (4, 4)
        np.testing.assert_array_equal(np.diag(M), 1.0)
        np.testing.assert_array_equal(M, M.T)
        for i in range(4):
            for j in range(4):
                if i != j:
                    assert M[i, j] == pytest.approx(linear_cka(layers[i], layers[j], debiased=debiased),
                                                    abs=1e-12)


@pytest.mark.parametrize("n", [150, 10])  # feature space, then centred Grams (n below the widths)
def test_cka_matrix_between_two_lists(n):
    rng = np.random.default_rng(12)
    a = [rng.standard_normal((n, 6)), rng.standard_normal((n, 9))]
    a.append(a[0] @ rng.standard_normal((6, 7)))
    b = [a[1] + 0.1 * rng.standard_normal((n, 9)), rng.standard_normal((n, 2))]
    M = cka_matrix(a, b, debiased=n >= 4)
    assert M.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            assert M[i, j] == pytest.approx(_reference_cka(a[i], b[j], debiased=n >= 4), abs=1e-10)


def test_cka_matrices_gives_both_estimators_from_one_pass(monkeypatch):
    rng = np.random.default_rng(15)
    a = [rng.standard_normal((90, 6)), rng.standard_normal((90, 4))]
    b = [a[0] @ rng.standard_normal((6, 5)) + 0.2 * rng.standard_normal((90, 5)), rng.standard_normal((90, 3))]
    for reps_b in (None, b):
        plain, debiased = sim.cka_matrices(a, reps_b)
        np.testing.assert_array_equal(plain, cka_matrix(a, reps_b))
        np.testing.assert_array_equal(debiased, cka_matrix(a, reps_b, debiased=True))
    # One set of products: the expensive step runs once for both matrices.
    calls = []
    original = cka._terms_and_cross
    monkeypatch.setattr(cka, "_terms_and_cross", lambda *args, **kw: calls.append(1) or original(*args, **kw))
    sim.cka_matrices(a, b)
    assert len(calls) == 1


def test_cka_matrix_reports_progress_and_single_layer():
    rng = np.random.default_rng(13)
    calls: list[tuple[float, str]] = []
    cka_matrix([rng.standard_normal((50, 3)) for _ in range(3)], progress=lambda f, m: calls.append((f, m)))
    assert calls and calls[-1][0] == 1.0
    assert all(0.0 <= f <= 1.0 for f, _ in calls)
    np.testing.assert_array_equal(cka_matrix([rng.standard_normal((10, 2))]), [[1.0]])
    stacked = rng.standard_normal((3, 40, 5))  # a (layers, n, d) array iterates as its layers
    np.testing.assert_allclose(cka_matrix(stacked), cka_matrix(list(stacked)), atol=1e-15)


def test_cka_matrix_bad_input_names_the_entry():
    rng = np.random.default_rng(14)
    good = rng.standard_normal((20, 3))
    with pytest.raises(ValueError, match=r"reps_a\[1\] has 19 rows"):
        cka_matrix([good, good[:19]])
    with pytest.raises(ValueError, match=r"reps_b\[0\] has 21 rows"):
        cka_matrix([good], [rng.standard_normal((21, 3))])
    with pytest.raises(ValueError, match="reps_a is empty"):
        cka_matrix([])
    with pytest.raises(ValueError, match="sequence of 2-D arrays"):
        cka_matrix(good)
    bad = good.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"reps_a\[1\] contains NaN"):
        cka_matrix([good, bad])
    with pytest.raises(ValueError, match=r"reps_a\[1\] is constant"):
        cka_matrix([good, np.ones((20, 2))])


# --------------------------------------------------------------------------- linear CKA: bad input


def test_linear_cka_bad_input_raises_clear_errors():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="10 rows in X and 9 in Y"):
        linear_cka(X, X[:9])
    with pytest.raises(ValueError, match="CKA needs at least 2 samples; got 1"):
        linear_cka(X[:1], X[:1])
    with pytest.raises(ValueError, match=r"debiased CKA .*n\(n-3\).* at least 4 samples; got 3"):
        linear_cka(X[:3], X[:3], debiased=True)
    nan = X.copy()
    nan[2, 0] = np.nan
    with pytest.raises(ValueError, match="Y contains NaN or Inf in 1 rows"):
        linear_cka(X, nan)
    inf = X.copy()
    inf[5, 2] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        linear_cka(inf, X)
    with pytest.raises(ValueError, match="X is constant.*CKA is undefined"):
        linear_cka(np.full((10, 4), 2.5), X)
    with pytest.raises(ValueError, match="Y is constant"):
        linear_cka(X, np.zeros((10, 1)), debiased=True)
    with pytest.raises(ValueError, match="must be a 2-D array"):
        linear_cka(X[:, 0], X)
    with pytest.raises(ValueError, match="must hold real numbers"):
        linear_cka(X > 0, X)


def test_debiased_cka_refuses_a_zero_debiased_self_similarity():
    # n = 4 with all variation in one sample: the unbiased HSIC of X with itself is exactly 0.
    outlier = np.array([[1.0], [0.0], [0.0], [0.0]])
    assert _hsic_unbiased(outlier @ outlier.T, outlier @ outlier.T) == pytest.approx(0.0, abs=1e-15)
    with pytest.raises(ValueError, match="debiased.*self-similarity of X.*not positive"):
        linear_cka(outlier, np.array([[1.0], [2.0], [4.0], [3.0]]), debiased=True)
    assert linear_cka(outlier, np.array([[1.0], [2.0], [4.0], [3.0]])) > 0  # biased is fine


@pytest.mark.parametrize("debiased", [False, True])
def test_huge_and_tiny_entries_neither_overflow_nor_underflow(debiased):
    # ||X^T X||_F^2 is a fourth power: 1e200^4 overflows float64 and 1e-200^4 underflows,
    # unless each input is rescaled first (by a power of two, exactly).
    X, Y = _related(40, 3, 5, seed=0, offset=1.0)
    base = linear_cka(X, Y, debiased=debiased)
    assert linear_cka(X * 1e200, Y, debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert linear_cka(X, Y * 1e-200, debiased=debiased) == pytest.approx(base, abs=1e-12)
    assert cka_matrix([X * 1e250, Y * 1e-250], debiased=debiased)[0, 1] == pytest.approx(base, abs=1e-12)
    assert rbf_cka(X * 1e200, Y * 1e-200) == pytest.approx(rbf_cka(X, Y), abs=1e-12)
    assert procrustes_distance(X * 1e200, Y * 1e-200) == pytest.approx(procrustes_distance(X, Y), abs=1e-12)


def test_memory_budget_is_checked_before_allocating(monkeypatch):
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "1KB")
    X, Y = _related(30, 4, 5, seed=0)
    with pytest.raises(ValueError, match="working memory.*budget.*Subsample"):
        linear_cka(X, Y)


# --------------------------------------------------------------------------- RBF CKA


def test_rbf_cka_matches_reference_and_is_one_for_identical_inputs():
    X, Y = _related(60, 5, 7, seed=16)
    for fraction in (0.2, 0.5, 2.0):
        assert rbf_cka(X, Y, sigma_fraction=fraction) == pytest.approx(_reference_rbf_cka(X, Y, fraction),
                                                                       abs=1e-10)
    assert rbf_cka(X, X) == pytest.approx(1.0, abs=1e-12)
    # Distances, and so the kernel with its median bandwidth, survive rotation, translation and scale.
    assert rbf_cka(X, 3.0 * X @ _rotation(5, 2) + 1.0) == pytest.approx(1.0, abs=1e-10)
    assert rbf_cka(X, Y) == pytest.approx(rbf_cka(Y, X), abs=1e-13)
    assert 0.0 <= rbf_cka(X, Y) <= 1.0


def test_rbf_cka_approaches_linear_cka_for_a_wide_kernel():
    # exp(-t) = 1 - t + O(t^2): the centred kernel tends to the centred linear Gram.
    X, Y = _related(80, 4, 6, seed=17)
    linear = linear_cka(X, Y)
    assert abs(rbf_cka(X, Y, sigma_fraction=0.3) - linear) > 1e-3  # narrow kernels differ ...
    assert rbf_cka(X, Y, sigma_fraction=1e3) == pytest.approx(linear, abs=1e-6)  # ... wide ones agree


def test_rbf_cka_bad_input():
    X, Y = _related(20, 3, 3, seed=18)
    with pytest.raises(ValueError, match="at most 10,000 samples.*Subsample"):
        rbf_cka(np.zeros((10_001, 1)), np.zeros((10_001, 1)))
    for bad in (0, -1.0, float("nan"), float("inf"), True, "0.5"):
        with pytest.raises(ValueError, match="sigma_fraction must be a positive finite number"):
            rbf_cka(X, Y, sigma_fraction=bad)
    duplicates = np.vstack([np.zeros((15, 3)), np.ones((5, 3))])  # most pairs at distance 0
    with pytest.raises(ValueError, match="median pairwise distance of X is 0"):
        rbf_cka(duplicates, Y)
    with pytest.raises(ValueError, match="Y is constant"):
        rbf_cka(X, np.ones((20, 2)))
    with pytest.raises(ValueError, match="20 rows in X and 19 in Y"):
        rbf_cka(X, Y[:19])


# --------------------------------------------------------------------------- Procrustes


def test_procrustes_is_zero_for_a_rotated_scaled_translated_copy():
    X, _ = _related(50, 6, 2, seed=19)
    Y = 0.01 * X @ _rotation(6, 3) - 20.0
    assert procrustes_distance(X, Y) == pytest.approx(0.0, abs=1e-6)
    reflected = X * np.array([-1, 1, 1, 1, 1, 1])  # reflections are orthogonal too
    assert procrustes_distance(X, reflected) == pytest.approx(0.0, abs=1e-6)


def test_procrustes_reaches_its_maximum_sqrt_two_for_orthogonal_features():
    x = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    y = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    assert procrustes_distance(x, y) == pytest.approx(math.sqrt(2.0), abs=1e-15)


@pytest.mark.parametrize("n, dx, dy", [(40, 5, 5), (60, 3, 8), (15, 30, 4), (12, 25, 40)])
def test_procrustes_matches_scipy_orthogonal_procrustes(n, dx, dy):
    # (15, 30, 4) and (12, 25, 40): more features than samples (the QR reduction).
    X, Y = _related(n, dx, dy, seed=n * dx, offset=2.0)
    value = procrustes_distance(X, Y)
    assert value == pytest.approx(_reference_procrustes(X, Y), abs=1e-10)
    assert 0.0 <= value <= math.sqrt(2.0)
    assert value == pytest.approx(procrustes_distance(Y, X), abs=1e-12)


def test_procrustes_bad_input():
    X, Y = _related(10, 2, 2, seed=20)
    with pytest.raises(ValueError, match="10 rows in X and 8 in Y"):
        procrustes_distance(X, Y[:8])
    with pytest.raises(ValueError, match="X is constant"):
        procrustes_distance(np.ones((10, 2)), Y)
    with pytest.raises(ValueError, match="at least 2 samples"):
        procrustes_distance(X[:1], Y[:1])


# --------------------------------------------------------------------------- relative representations


def test_relative_representation_hand_case():
    # x = (3, 4, 0) has norm 5: its cosines to e1, e2, e3 are 0.6, 0.8, 0.
    out = relative_representation(np.array([[3.0, 4.0, 0.0]]), np.eye(3))
    np.testing.assert_allclose(out, [[0.6, 0.8, 0.0]], atol=1e-15)
    assert out.shape == (1, 3) and out.dtype == np.float64
    out = relative_representation(np.array([[1.0, 1.0], [-2.0, 0.0]]), np.array([[5.0, 0.0]]))
    np.testing.assert_allclose(out, [[1 / math.sqrt(2)], [-1.0]], atol=1e-15)


def test_two_seeds_related_by_rotation_and_scale_give_identical_relative_representations():
    rng = np.random.default_rng(21)
    X1 = rng.standard_normal((200, 16))
    X2 = 4.5 * X1 @ _rotation(16, 4)  # "another seed": same geometry, other coordinates
    ids = choose_anchors(200, method="random", n_anchors=10, seed=1)
    assert not np.allclose(X1, X2, atol=0.1)  # absolute coordinates differ
    r1 = relative_representation(X1, X1[ids])
    r2 = relative_representation(X2, X2[ids])
    np.testing.assert_allclose(r1, r2, atol=1e-12)
    assert r1.shape == (200, 10)
    # Each anchor is at cosine 1 from itself.
    np.testing.assert_allclose(r1[ids, np.arange(10)], 1.0, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3))
def test_property_relative_representation_rotation_and_scale_invariant(seed, scale):
    rng = np.random.default_rng(seed)
    X, anchors = rng.standard_normal((25, 5)), rng.standard_normal((4, 5))
    Q = _rotation(5, seed)
    row_scales = rng.uniform(0.1, 10.0, size=(25, 1))
    expected = relative_representation(X, anchors)
    np.testing.assert_allclose(relative_representation(scale * row_scales * X @ Q, anchors @ Q / scale),
                               expected, atol=1e-12)
    assert np.all(np.abs(expected) <= 1.0)


def test_relative_representation_is_not_translation_invariant():
    rng = np.random.default_rng(22)
    X, anchors = rng.standard_normal((30, 3)), rng.standard_normal((3, 3))
    moved = relative_representation(X + 5.0, anchors + 5.0)
    assert np.max(np.abs(moved - relative_representation(X, anchors))) > 0.1


def test_relative_representation_bad_input():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0]])
    with pytest.raises(ValueError, match=r"X has 1 all-zero rows \(first: 1\)"):
        relative_representation(X, np.eye(2))
    with pytest.raises(ValueError, match=r"anchors has 1 all-zero rows \(first: 0\)"):
        relative_representation(np.eye(2), np.array([[0.0, 0.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="X has 2 features but anchors has 3"):
        relative_representation(np.eye(2), np.eye(3))
    with pytest.raises(ValueError, match="anchors must be a 2-D array.*reshape\\(1, -1\\)"):
        relative_representation(np.eye(2), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="anchors contains NaN"):
        relative_representation(np.eye(2), np.array([[np.nan, 1.0]]))


# --------------------------------------------------------------------------- choose_anchors


def test_random_anchors_are_distinct_sorted_and_reproducible():
    a = choose_anchors(1000, n_anchors=50, seed=3)
    assert a.dtype == np.int64 and a.shape == (50,)
    assert np.unique(a).size == 50 and np.all(np.diff(a) > 0)
    assert a.min() >= 0 and a.max() < 1000
    np.testing.assert_array_equal(a, choose_anchors(1000, method="random", n_anchors=50, seed=3))
    assert not np.array_equal(a, choose_anchors(1000, n_anchors=50, seed=4))
    np.testing.assert_array_equal(choose_anchors(5, n_anchors=5), np.arange(5))


def test_per_class_anchors_cover_every_class():
    labels = np.array(["cat", "dog", "cat", "bird", "dog", "cat", "bird", "cat", "dog"])
    one_each = choose_anchors(9, method="per_class", labels=labels, seed=0)
    assert one_each.size == 3
    assert sorted(labels[one_each]) == ["bird", "cat", "dog"]
    # Round-robin in sorted class order: bird, cat, dog, bird, cat, dog, cat.
    seven = choose_anchors(9, method="per_class", n_anchors=7, labels=labels, seed=0)
    assert labels[seven].tolist() == ["bird", "cat", "dog", "bird", "cat", "dog", "cat"]
    assert np.unique(seven).size == 7
    np.testing.assert_array_equal(seven[:3], one_each)  # the first round is the one-per-class set
    # Different seeds pick different members but still cover every class.
    picks = {tuple(choose_anchors(9, method="per_class", labels=labels, seed=s)) for s in range(20)}
    assert len(picks) > 1
    all_rows = choose_anchors(9, method="per_class", n_anchors=9, labels=labels)
    assert sorted(all_rows.tolist()) == list(range(9))


def test_ids_anchors_are_validated_and_kept_in_order():
    np.testing.assert_array_equal(choose_anchors(10, method="ids", ids=[7, 2, 5]), [7, 2, 5])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 10\); 1 do not \(first: 10\)"):
        choose_anchors(10, method="ids", ids=[1, 10])
    with pytest.raises(ValueError, match="first: -1.*Negative indices"):
        choose_anchors(10, method="ids", ids=[-1, 3])
    with pytest.raises(ValueError, match="ids must be distinct; 3 appear more than once"):
        choose_anchors(10, method="ids", ids=[3, 4, 3])
    with pytest.raises(ValueError, match="ids must be integers"):
        choose_anchors(10, method="ids", ids=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        choose_anchors(10, method="ids", ids=[])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        choose_anchors(10, method="ids", ids=[[1, 2]])
    with pytest.raises(ValueError, match="method='ids' needs ids"):
        choose_anchors(10, method="ids")
    with pytest.raises(ValueError, match="n_anchors=3 disagrees with the 2 ids"):
        choose_anchors(10, method="ids", ids=[1, 2], n_anchors=3)


def test_choose_anchors_bad_arguments():
    with pytest.raises(ValueError, match="method must be one of"):
        choose_anchors(10, method="kmeans", n_anchors=2)
    with pytest.raises(ValueError, match="method='random' needs n_anchors"):
        choose_anchors(10)
    with pytest.raises(ValueError, match="n_anchors=11 exceeds the 10 rows"):
        choose_anchors(10, n_anchors=11)
    with pytest.raises(ValueError, match="n_anchors must be a positive integer"):
        choose_anchors(10, n_anchors=0)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        choose_anchors(0, n_anchors=1)
    with pytest.raises(ValueError, match="ids are only used with method='ids'"):
        choose_anchors(10, n_anchors=2, ids=[1, 2])
    with pytest.raises(ValueError, match="method='per_class' needs labels"):
        choose_anchors(10, method="per_class")
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        choose_anchors(10, method="per_class", labels=[0, 1])
    with pytest.raises(ValueError, match="n_anchors=1 is below the 2 classes"):
        choose_anchors(4, method="per_class", labels=[0, 1, 0, 1], n_anchors=1)
    with pytest.raises(ValueError, match="labels contain NaN"):
        choose_anchors(3, method="per_class", labels=[0.0, np.nan, 1.0])


# --------------------------------------------------------------------------- k-NN agreement


def test_knn_agreement_hand_case_one_neighbour_set_changes():
    # 1-D points; moving the last point from 15 to 8 changes only point 7's neighbours.
    X = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
    Y = np.array([[0.0], [1.0], [3.0], [7.0], [8.0]])
    # k = 1: 7's nearest is 3 in X, 8 in Y (Jaccard 0); the rest agree.
    result = knn_agreement(X, Y, k=1)
    np.testing.assert_allclose(result.per_point, [1, 1, 1, 0, 1])
    assert result.mean_jaccard == pytest.approx(0.8)
    # k = 2: 7 has {3, 1} in X and {8, 3} in Y: 1 shared of 3, Jaccard 1/3.
    result = knn_agreement(X, Y, k=2)
    np.testing.assert_allclose(result.per_point, [1, 1, 1, 1 / 3, 1])
    assert result.mean_jaccard == pytest.approx((4 + 1 / 3) / 5)
    assert result.k == 2 and result.metric == "euclidean"


def test_knn_agreement_is_one_for_a_rotated_scaled_copy_and_lower_with_noise():
    rng = np.random.default_rng(23)
    X = rng.standard_normal((300, 10))
    copy = knn_agreement(X, 2.0 * X @ _rotation(10, 5) + 3.0, k=10)
    assert copy.mean_jaccard == 1.0
    np.testing.assert_array_equal(copy.per_point, 1.0)
    noisy = knn_agreement(X, X + 0.5 * rng.standard_normal(X.shape), k=10)
    assert noisy.chance_jaccard < noisy.mean_jaccard < 0.9
    unrelated = knn_agreement(X, rng.standard_normal((300, 10)), k=10)
    assert unrelated.mean_jaccard < 3 * unrelated.chance_jaccard
    cosine = knn_agreement(X, X * rng.uniform(0.5, 2.0, size=(300, 1)), k=5, metric="cosine")
    assert cosine.mean_jaccard == 1.0  # cosine ignores each row's length
    assert json.loads(json.dumps(noisy.to_dict()))["k"] == 10


def test_knn_chance_level():
    # 3 others, k = 1: the two random picks agree with probability 1/3 (Jaccard 1), else 0.
    X = np.array([[0.0], [1.0], [3.0], [6.0]])
    assert knn_agreement(X, X, k=1).chance_jaccard == pytest.approx(1 / 3)
    assert knn_agreement(X, X, k=3).chance_jaccard == pytest.approx(1.0)  # everything is a neighbour


def test_knn_agreement_bad_input():
    X = np.random.default_rng(24).standard_normal((6, 2))
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\]"):
        knn_agreement(X, X, k=6)
    with pytest.raises(ValueError, match="k must be an integer"):
        knn_agreement(X, X, k=0)
    with pytest.raises(ValueError, match="metric must be one of"):
        knn_agreement(X, X, metric="manhattan")
    with pytest.raises(ValueError, match="6 rows in X and 5 in Y"):
        knn_agreement(X, X[:5])
    with pytest.raises(ValueError, match="Y holds 6 identical rows"):
        knn_agreement(X, np.ones((6, 2)), k=2)
    zero_row = X.copy()
    zero_row[3] = 0.0
    with pytest.raises(ValueError, match=r"Y has 1 all-zero rows \(first: 3\)"):
        knn_agreement(X, zero_row, k=2, metric="cosine")
