"""analysis.max_norm_neighbors and analysis.metrics.ksg (Kraskov et al. 2004; Ross 2014).

Expected values come from hand calculations on tiny point sets, from a plain
numpy brute-force reference (full Chebyshev distance matrix, written here
independently of the KD-tree code), from scikit-learn's private reference
implementations of the same estimators (`_compute_mi_cc`, `_compute_mi_cd`,
1-D only, in nats), and from Gaussian cases whose mutual information is known
in closed form.

Tolerances of the Gaussian cases: over 20 seeds at n = 2000 the KSG error
(estimate - truth) of a bivariate Gaussian has a standard deviation of about
0.02 bits and a mean within 0.015 bits of 0 for rho in {0, 0.5, 0.9}; the 2-D
channel has sd 0.04 bits per seed. The bounds below are about 4 sd.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import digamma
from sklearn.feature_selection._mutual_info import _compute_mi_cc, _compute_mi_cd

from analysis.max_norm_neighbors import max_norm_count_within, max_norm_kth_distance
from analysis.metrics.ksg import ksg_discrete_mutual_information, ksg_mutual_information

LN2 = math.log(2.0)


# --------------------------------------------------------------------------- references


def chebyshev_matrix(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    return np.abs(Z[:, None, :] - Z[None, :, :]).max(axis=2)


def brute_kth(Z: np.ndarray, k: int) -> np.ndarray:
    D = chebyshev_matrix(Z)
    np.fill_diagonal(D, np.inf)  # the point itself is not its own neighbour
    return np.sort(D, axis=1)[:, k - 1]


def brute_count(Z: np.ndarray, radii: np.ndarray, *, inclusive: bool = False) -> np.ndarray:
    D = chebyshev_matrix(Z)
    np.fill_diagonal(D, np.inf)
    r = np.asarray(radii, dtype=np.float64)[:, None]
    return ((D <= r) if inclusive else (D < r)).sum(axis=1)


def brute_ksg(A: np.ndarray, B: np.ndarray, k: int) -> float:
    """KSG algorithm 1 (Kraskov et al. 2004, eq. 8) by full distance matrices, in bits."""
    A = np.asarray(A, dtype=np.float64).reshape(len(A), -1)
    B = np.asarray(B, dtype=np.float64).reshape(len(B), -1)
    n = A.shape[0]
    eps = brute_kth(np.hstack([A, B]), k)
    n_a, n_b = brute_count(A, eps), brute_count(B, eps)
    return float((digamma(k) + digamma(n) - np.mean(digamma(n_a + 1) + digamma(n_b + 1))) / LN2)


def brute_ross(T: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Ross (2014) eq. 2 by full distance matrices and a loop over classes, in bits."""
    T = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    labels = np.asarray(labels)
    keep = np.array([np.sum(labels == c) > 1 for c in labels])
    T, labels = T[keep], labels[keep]
    n = T.shape[0]
    radius, k_used, n_class = np.zeros(n), np.zeros(n), np.zeros(n)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k_c = min(k, rows.size - 1)
        radius[rows] = brute_kth(T[rows], k_c)
        k_used[rows], n_class[rows] = k_c, rows.size
    m = brute_count(T, radius, inclusive=True)  # the k-th neighbour included
    nats = digamma(n) - np.mean(digamma(n_class)) + np.mean(digamma(k_used)) - np.mean(digamma(m))
    return float(nats / LN2)


def gaussian_pair(rho: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, rho * x + math.sqrt(1.0 - rho**2) * rng.standard_normal(n)


# --------------------------------------------------------------------------- max-norm neighbours

LINE = np.array([[0.0], [1.0], [3.0], [7.0]])
# Chebyshev and Euclidean disagree here: from (0, 0), (2, 2) is nearer (2 < 2.5) than (2.5, 0).
PLANE = np.array([[0.0, 0.0], [2.0, 2.0], [2.5, 0.0], [10.0, 10.0]])


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        # distances from 0: 1, 3, 7; from 1: 1, 2, 6; from 3: 2, 3, 4; from 7: 4, 6, 7
        (1, [1.0, 1.0, 2.0, 4.0]),
        (2, [3.0, 2.0, 3.0, 6.0]),
        (3, [7.0, 6.0, 4.0, 7.0]),
    ],
)
def test_kth_distance_on_a_line(k: int, expected: list[float]) -> None:
    np.testing.assert_array_equal(max_norm_kth_distance(LINE, k), expected)


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        # Chebyshev distances: a-b 2, a-c 2.5, a-d 10, b-c 2, b-d 8, c-d 10
        (1, [2.0, 2.0, 2.0, 8.0]),
        (2, [2.5, 2.0, 2.5, 10.0]),
        (3, [10.0, 8.0, 10.0, 10.0]),
    ],
)
def test_kth_distance_in_the_plane_uses_the_max_norm(k: int, expected: list[float]) -> None:
    np.testing.assert_array_equal(max_norm_kth_distance(PLANE, k), expected)


def test_count_within_is_strict_and_excludes_the_point_itself() -> None:
    # With radius = own 1st-neighbour distance nothing is strictly closer (no ties on this line).
    np.testing.assert_array_equal(max_norm_count_within(LINE, [1.0, 1.0, 2.0, 4.0]), [0, 0, 0, 0])
    # From 0 within 3.5: {1, 3}; from 1 within 2.5: {0, 3}; from 3 within 2.5: {1} (0 is at 3);
    # from 7 within 7.5: {0, 1, 3}.
    np.testing.assert_array_equal(max_norm_count_within(LINE, [3.5, 2.5, 2.5, 7.5]), [2, 2, 1, 3])
    # Radii = 2nd-neighbour distances in the plane: a has b (2) but not c (exactly 2.5);
    # b has nothing (a and c are both exactly at 2); c has b; d has b (8) but not a, c (exactly 10).
    np.testing.assert_array_equal(max_norm_count_within(PLANE, [2.5, 2.0, 2.5, 10.0]), [1, 0, 1, 1])
    # Just above those radii the boundary points join.
    above = np.nextafter(np.array([2.5, 2.0, 2.5, 10.0]), np.inf)
    np.testing.assert_array_equal(max_norm_count_within(PLANE, above), [2, 2, 2, 3])


def test_duplicates_have_kth_distance_zero() -> None:
    Z = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [5.0, 1.0]])
    np.testing.assert_array_equal(max_norm_kth_distance(Z, 1), [0.0, 0.0, 0.0, 5.0])
    np.testing.assert_array_equal(max_norm_kth_distance(Z, 2), [0.0, 0.0, 0.0, 5.0])
    np.testing.assert_array_equal(max_norm_kth_distance(Z, 3), [5.0, 5.0, 5.0, 5.0])
    # A positive radius counts the twins (distance 0 < r) but not the far point.
    np.testing.assert_array_equal(max_norm_count_within(Z, [1.0, 1.0, 1.0, 1.0]), [2, 2, 2, 0])


def test_zero_radius_counts_nothing_even_with_duplicates() -> None:
    # Regression: a radius of exactly 0 used to query "distance <= 0" and so counted a row's
    # exact duplicates, though nothing is strictly closer than 0.
    Z = np.array([[0.0], [0.0], [1.0]])
    np.testing.assert_array_equal(max_norm_count_within(Z, [0.0, 0.0, 0.0]), [0, 0, 0])


@pytest.mark.parametrize("k", [0, -1, 4, 5])
def test_k_out_of_range_raises(k: int) -> None:
    with pytest.raises(ValueError, match=rf"k must be an integer in \[1, 3\] \(3 other rows each\); got {k}"):
        max_norm_kth_distance(LINE, k)


def test_agrees_with_brute_force_on_random_data() -> None:
    rng = np.random.default_rng(0)
    for n, d in [(50, 1), (80, 3), (120, 5)]:
        Z = rng.standard_normal((n, d))
        for k in (1, 2, 5):
            kth = max_norm_kth_distance(Z, k)
            np.testing.assert_array_equal(kth, brute_kth(Z, k))
            # Radii exactly at each point's k-th distance: strictly fewer than k others inside.
            counts = max_norm_count_within(Z, kth)
            np.testing.assert_array_equal(counts, brute_count(Z, kth))
            assert np.all(counts <= k - 1)
        radii = rng.uniform(0.1, 2.0, size=n)
        np.testing.assert_array_equal(max_norm_count_within(Z, radii), brute_count(Z, radii))


@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=3, max_size=25),
    k=st.integers(1, 4),
    r=st.integers(1, 4),
)
def test_agrees_with_brute_force_on_integer_grids_with_ties(points, k: int, r: int) -> None:
    # Integer coordinates: many exact ties, and radii that land exactly on distances.
    Z = np.array(points, dtype=np.float64)
    k = min(k, len(points) - 1)
    np.testing.assert_array_equal(max_norm_kth_distance(Z, k), brute_kth(Z, k))
    radii = np.full(len(points), float(r))
    np.testing.assert_array_equal(max_norm_count_within(Z, radii), brute_count(Z, radii))


# --------------------------------------------------------------------------- KSG, continuous


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_ksg_matches_sklearn_reference(seed: int, k: int) -> None:
    x, y = gaussian_pair(0.6, 300, seed)
    nats = _compute_mi_cc(x.copy(), y.copy(), k)
    assert nats > 0  # sklearn clips at 0; these data are clearly dependent
    assert ksg_mutual_information(x, y, k=k).value * LN2 == pytest.approx(nats, abs=1e-10)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_ksg_matches_brute_force_reference_in_several_dimensions(k: int) -> None:
    rng = np.random.default_rng(k)
    A = rng.standard_normal((150, 3))
    B = A[:, :2] @ np.array([[1.0, 0.3], [-0.5, 2.0]]) + 0.7 * rng.standard_normal((150, 2))
    assert ksg_mutual_information(A, B, k=k).value == pytest.approx(brute_ksg(A, B, k), abs=1e-10)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9])
def test_ksg_bivariate_gaussian(rho: float) -> None:
    truth = -0.5 * math.log2(1.0 - rho**2)
    estimates = [ksg_mutual_information(*gaussian_pair(rho, 2000, seed)).value for seed in range(5)]
    errors = np.array(estimates) - truth
    assert np.all(np.abs(errors) < 0.08), errors  # ~4 sd of one estimate
    assert abs(errors.mean()) < 0.04, errors  # ~4 sd of a mean of 5


@pytest.mark.parametrize(
    ("A", "tol"),
    [
        (np.array([[1.0, 0.5], [-0.3, 0.8]]), 0.08),
        # In 3-D KSG is biased low by about 0.06 bits at n = 2000 (sd 0.03 per seed).
        (np.array([[0.8, 0.4, 0.0], [0.0, 0.6, 0.3], [0.2, 0.0, 0.5]]), 0.15),
    ],
)
def test_ksg_gaussian_channel(A: np.ndarray, tol: float) -> None:
    # T = A X + Z, X ~ N(0, I), Z ~ N(0, s^2 I): I(X;T) = 1/2 log2 det(I + A A^T / s^2).
    d, s = A.shape[0], 1.0
    truth = 0.5 * math.log2(np.linalg.det(np.eye(d) + A @ A.T / s**2))
    estimates = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((2000, d))
        estimates.append(ksg_mutual_information(X, X @ A.T + s * rng.standard_normal((2000, d))).value)
    assert np.mean(estimates) == pytest.approx(truth, abs=tol), (estimates, truth)


def test_ksg_hand_example_with_a_negative_raw_value_and_its_clipped_reading() -> None:
    # Joint points (0,1), (1,3), (2,0), (3,2); k = 1. Every nearest joint neighbour is at max-norm
    # distance 2; strictly closer than 2 in A: n_a = [1, 2, 2, 1], in B = [1, 3, 0, 2]: n_b = [2, 1, 1, 2].
    # I = psi(1) + psi(4) - <psi(n_a + 1) + psi(n_b + 1)> = psi(1) + psi(4) - psi(2) - psi(3)
    #   = (-g) + (11/6 - g) - (1 - g) - (3/2 - g) = -2/3 nats (g: Euler's constant).
    r = ksg_mutual_information([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 0.0, 2.0], k=1)
    assert r.value == pytest.approx(-2.0 / 3.0 / LN2, abs=1e-12)
    assert r.clipped == 0.0
    assert (r.k, r.n_samples) == (1, 4)
    assert r.to_dict() == {"value": r.value, "clipped": 0.0, "k": 1, "n_samples": 4}


@pytest.mark.parametrize("estimate", [ksg_mutual_information, ksg_discrete_mutual_information])
def test_independent_data_small_raw_value_and_clipped_reading_at_least_zero(estimate) -> None:
    values = []
    for seed in range(6):
        rng = np.random.default_rng(100 + seed)
        other = rng.standard_normal(1000) if estimate is ksg_mutual_information else rng.integers(0, 3, 1000)
        r = estimate(rng.standard_normal((1000, 2)), other)
        assert abs(r.value) < 0.1, r  # about 4 sd of one estimate at n = 1,000
        assert r.clipped >= 0.0 and r.clipped == max(0.0, r.value)
        values.append(r.value)
    assert min(values) < 0  # the raw value is not clipped: noise around 0 goes both ways


def test_ksg_independent_variables_give_about_zero() -> None:
    estimates = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        estimates.append(ksg_mutual_information(rng.standard_normal((2000, 2)), rng.standard_normal(2000)).value)
    assert np.all(np.abs(estimates) < 0.06), estimates
    # Not clipped at zero: an unbiased estimator of 0 goes negative on some samples.
    assert min(estimates) < 0


def test_ksg_invariances() -> None:
    rng = np.random.default_rng(7)
    A = rng.standard_normal((400, 2))
    B = A[:, :1] + 0.5 * rng.standard_normal((400, 1))
    base = ksg_mutual_information(A, B, k=4).value
    order = rng.permutation(400)
    assert ksg_mutual_information(A[order], B[order], k=4).value == pytest.approx(base, abs=1e-12)
    # The joint max-norm max(||a||, ||b||) is symmetric in A and B.
    assert ksg_mutual_information(B, A, k=4).value == pytest.approx(base, abs=1e-12)
    # Scaling BOTH variables by the same c > 0 scales every distance by c (4 is exact in floats).
    assert ksg_mutual_information(4.0 * A, 4.0 * B, k=4).value == pytest.approx(base, abs=1e-12)
    # ...but scaling only one of them changes which block sets eps: not invariant.
    assert ksg_mutual_information(10.0 * A, B, k=4).value != pytest.approx(base, abs=1e-3)


def test_ksg_one_dimensional_and_column_inputs_agree() -> None:
    x, y = gaussian_pair(0.7, 200, 3)
    assert ksg_mutual_information(x, y).value == ksg_mutual_information(x[:, None], y[:, None]).value


def test_ksg_bad_inputs() -> None:
    x, y = gaussian_pair(0.5, 20, 0)
    with pytest.raises(ValueError, match="rows"):
        ksg_mutual_information(x, y[:-1])
    for bad_k in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match=r"k must be an integer >= 1; got .*Kraskov et al\. suggest 2 to 4"):
            ksg_mutual_information(x, y, k=bad_k)
    with pytest.raises(ValueError, match="needs at least"):
        ksg_mutual_information(x[:3], y[:3], k=3)
    assert np.isfinite(ksg_mutual_information(x[:4], y[:4], k=3).value)  # k = n - 1 is allowed
    with pytest.raises(ValueError, match="NaN"):
        ksg_mutual_information(np.where(np.arange(20) == 5, np.nan, x), y)
    # Four identical joint samples: with k = 3 their k-th neighbour is at distance 0.
    xd, yd = x.copy(), y.copy()
    xd[:4], yd[:4] = 0.25, -1.0
    with pytest.raises(ValueError, match="duplicates"):
        ksg_mutual_information(xd, yd, k=3)
    assert np.isfinite(ksg_mutual_information(xd, yd, k=4).value)  # a 4th neighbour exists further out


# --------------------------------------------------------------------------- Ross, discrete labels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_ross_matches_sklearn_reference(seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=300)
    c = labels + rng.normal(scale=0.8, size=300)
    nats = _compute_mi_cd(c.copy(), labels.copy(), k)
    assert nats > 0
    assert ksg_discrete_mutual_information(c, labels, k=k).value * LN2 == pytest.approx(nats, abs=1e-10)


def test_ross_singleton_classes_match_sklearn_reference() -> None:
    # The singleton classes 7 and 8 are dropped (neither counted nor counting), as in sklearn.
    rng = np.random.default_rng(11)
    labels = np.concatenate([np.zeros(60, int), np.ones(50, int), [7, 8]])
    c = labels + rng.normal(scale=0.7, size=labels.size)
    nats = _compute_mi_cd(c.copy(), labels.copy(), 5)
    assert ksg_discrete_mutual_information(c, labels, k=5).value * LN2 == pytest.approx(nats, abs=1e-10)


def test_ross_small_class_uses_its_size_minus_one_neighbours() -> None:
    # A class of 3 samples uses k = 2 for its points at k = 5. (sklearn's reference is off here by
    # float noise: for 3 points its NearestNeighbors picks the brute-force Euclidean distance
    # sqrt(a^2 - 2ab + b^2), a hair above |a - b|, so its strict count then catches the k-th
    # neighbour itself; the brute-force reference uses exact |a - b|.)
    rng = np.random.default_rng(11)
    labels = np.concatenate([np.zeros(60, int), np.ones(50, int), np.full(3, 2), [7, 8]])
    c = labels + rng.normal(scale=0.7, size=labels.size)
    assert ksg_discrete_mutual_information(c, labels, k=5).value == pytest.approx(
        brute_ross(c, labels, 5), abs=1e-10
    )


def test_ross_singleton_classes_are_ignored() -> None:
    rng = np.random.default_rng(5)
    labels = np.concatenate([rng.integers(0, 2, size=100), [5, 6, 7]])
    T = labels[:, None] + rng.normal(scale=0.5, size=(103, 2))
    full = ksg_discrete_mutual_information(T, labels).value
    assert full == pytest.approx(ksg_discrete_mutual_information(T[:100], labels[:100]).value, abs=1e-12)
    with pytest.raises(ValueError, match="every label occurs once"):
        ksg_discrete_mutual_information(T[:5], np.arange(5))


@pytest.mark.parametrize("k", [1, 3])
def test_ross_matches_brute_force_reference_in_several_dimensions(k: int) -> None:
    rng = np.random.default_rng(20 + k)
    labels = rng.integers(0, 4, size=160)
    T = np.eye(4)[labels][:, :3] + rng.normal(scale=0.6, size=(160, 3))
    assert ksg_discrete_mutual_information(T, labels, k=k).value == pytest.approx(
        brute_ross(T, labels, k), abs=1e-10
    )


def test_ross_independent_labels_give_about_zero() -> None:
    estimates = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        estimates.append(ksg_discrete_mutual_information(rng.standard_normal((1000, 2)),
                                                         rng.integers(0, 4, size=1000)).value)
    assert np.all(np.abs(estimates) < 0.08), estimates


@pytest.mark.parametrize("n_classes", [2, 4])
def test_ross_separated_classes_give_label_entropy(n_classes: int) -> None:
    # T = label + tiny noise: the classes are far apart, so I(T;Y) = H(Y) = log2(C) (balanced).
    rng = np.random.default_rng(n_classes)
    labels = rng.permutation(np.repeat(np.arange(n_classes), 1000 // n_classes))
    T = labels + 1e-3 * rng.standard_normal(1000)
    assert ksg_discrete_mutual_information(T, labels).value == pytest.approx(math.log2(n_classes), abs=0.01)


def test_ross_unbalanced_separated_classes_give_label_entropy() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    h = -sum(p * math.log2(p) for p in (0.6, 0.3, 0.1))
    T = 10.0 * labels + rng.standard_normal(1000)
    assert ksg_discrete_mutual_information(T, labels).value == pytest.approx(h, abs=0.02)


def test_ross_string_labels_and_row_order() -> None:
    rng = np.random.default_rng(9)
    codes = rng.integers(0, 3, size=200)
    T = codes[:, None] + rng.normal(size=(200, 2))
    names = np.array(["cat", "dog", "eel"])[codes]
    base = ksg_discrete_mutual_information(T, codes).value
    assert ksg_discrete_mutual_information(T, names).value == base
    assert ksg_discrete_mutual_information(T, list(names)).value == base
    order = rng.permutation(200)
    assert ksg_discrete_mutual_information(T[order], names[order]).value == pytest.approx(base, abs=1e-12)


def test_ross_equals_ksg_on_a_binary_variable_and_its_noisy_copy() -> None:
    # With A = y in {0, 1} and every joint eps < 1, KSG's k-th joint neighbour is the k-th
    # same-class neighbour in T, n_a = N_c - 1 and n_b + 1 = Ross's m: the two formulas coincide.
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, size=500)
    T = y + 0.2 * rng.standard_normal(500)
    assert ksg_mutual_information(y.astype(float), T).value == pytest.approx(
        ksg_discrete_mutual_information(T, y).value, abs=1e-12
    )


def test_ross_bad_inputs() -> None:
    rng = np.random.default_rng(0)
    T, labels = rng.standard_normal((20, 2)), rng.integers(0, 2, size=20)
    with pytest.raises(ValueError, match="labels must have shape"):
        ksg_discrete_mutual_information(T, labels[:-1])
    with pytest.raises(ValueError, match="labels must have shape"):
        ksg_discrete_mutual_information(T, labels[:, None])
    for bad_k in (0, -1, 1.5, False):
        with pytest.raises(ValueError, match=r"k must be an integer >= 1; got .*Kraskov et al\. suggest 2 to 4"):
            ksg_discrete_mutual_information(T, labels, k=bad_k)
    with pytest.raises(ValueError, match="NaN"):
        ksg_discrete_mutual_information(np.where(np.arange(20)[:, None] == 3, np.inf, T), labels)
    T_dup = T.copy()
    same = np.flatnonzero(labels == labels[0])[:4]
    T_dup[same] = T_dup[same[0]]
    with pytest.raises(ValueError, match="duplicates"):
        ksg_discrete_mutual_information(T_dup, labels, k=3)
