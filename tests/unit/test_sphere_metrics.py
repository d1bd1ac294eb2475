"""Unit tests for analysis.metrics.sphere: alignment and uniformity (Wang & Isola 2020).

Hand values use unit points on the circle, where ||x - y||^2 = 2 - 2 cos(angle).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import i0
from scipy.stats import ortho_group

from analysis.metrics import alignment, uniformity
from analysis.metrics.sphere import uniform_sphere_uniformity


def _circle(angles_deg) -> np.ndarray:
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    return np.column_stack([np.cos(a), np.sin(a)])


def _brute_uniformity(X: np.ndarray, t: float) -> float:
    """log mean over i < j of exp(-t ||u_i - u_j||^2), a float64 double loop."""
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    n = U.shape[0]
    total, pairs = 0.0, 0
    for i in range(n):
        for j in range(i + 1, n):
            diff = U[i] - U[j]
            total += math.exp(-t * float(diff @ diff))
            pairs += 1
    return math.log(total / pairs)


# --------------------------------------------------------------------------- uniformity by hand


def test_antipodal_pair_is_minus_four_t():
    # One pair, ||x - y||^2 = 4: log exp(-4t) = -4t = -8 at t = 2.
    result = uniformity(_circle([0, 180]))
    assert result.value == pytest.approx(-8.0, abs=1e-12)
    assert result.exact is True and result.standard_error == 0.0 and result.n_pairs == 1
    assert uniformity(_circle([0, 180]), t=0.5).value == pytest.approx(-2.0, abs=1e-12)


def test_equilateral_triangle_is_minus_six():
    # Chord of 120 degrees: ||x - y||^2 = 2 - 2 cos 120 = 3 for all three pairs; -2 * 3 = -6.
    result = uniformity(_circle([90, 210, 330]))
    assert result.value == pytest.approx(-6.0, abs=1e-12)
    assert result.n_pairs == 3


def test_square_on_the_circle():
    # 4 adjacent pairs with ||.||^2 = 2 (e^{-4}) and 2 diagonals with ||.||^2 = 4 (e^{-8}).
    expected = math.log((4 * math.exp(-4) + 2 * math.exp(-8)) / 6)
    result = uniformity(_circle([0, 90, 180, 270]))
    assert result.value == pytest.approx(expected, abs=1e-12)
    assert result.n_pairs == 6


def test_identical_points_are_zero():
    # All distances 0: log mean exp(0) = 0 (the upper end of [-4t, 0]).
    X = np.tile([[3.0, -1.0, 2.0]], (5, 1))
    assert uniformity(X).value == pytest.approx(0.0, abs=1e-12)
    # Same direction at different lengths: normalised, they coincide too.
    assert uniformity(np.array([[1.0, 1.0], [5.0, 5.0], [0.1, 0.1]])).value == pytest.approx(0.0, abs=1e-12)


def test_exact_path_matches_brute_force_double_loop():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 7)) + 0.5  # not centred: a non-trivial value
    for t in (2.0, 0.7):
        result = uniformity(X, t=t)
        assert result.exact is True
        assert result.n_pairs == 300 * 299 // 2
        assert result.value == pytest.approx(_brute_uniformity(X, t), rel=1e-10, abs=1e-12)


def test_exact_path_spans_several_blocks():
    # More than _BLOCK_ROWS = 1024 rows: the block-diagonal triangles and the
    # off-diagonal rectangles must both be counted once.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((2100, 3))
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    sq = np.maximum(2.0 - 2.0 * U @ U.T, 0.0)
    iu = np.triu_indices(2100, k=1)
    expected = math.log(np.mean(np.exp(-2.0 * sq[iu])))
    assert uniformity(X).value == pytest.approx(expected, rel=1e-10)


def test_sampled_path_within_three_standard_errors_of_exact():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 4)) + np.array([1.0, 0.0, 0.0, 0.0])
    exact = uniformity(X)
    sampled = uniformity(X, max_exact=100, target_standard_error=0.004, seed=3)
    assert sampled.exact is False
    assert 0 < sampled.standard_error < 0.004
    assert sampled.n_pairs >= 200_000
    assert abs(sampled.value - exact.value) < 3 * sampled.standard_error
    # Same seed, same estimate.
    again = uniformity(X, max_exact=100, target_standard_error=0.004, seed=3)
    assert again.value == sampled.value


def test_sampled_path_reads_given_norms_and_checks_them():
    from analysis.validation import row_norms

    rng = np.random.default_rng(5)
    X = rng.standard_normal((400, 6)) * 3.0
    own = uniformity(X, max_exact=100, seed=1)
    given = uniformity(X, max_exact=100, seed=1, norms=row_norms(X))
    assert given.value == own.value and given.n_pairs == own.n_pairs
    # The norms are used, not recomputed: doubling them shrinks every cosine and changes the estimate.
    assert uniformity(X, max_exact=100, seed=1, norms=2 * row_norms(X)).value != own.value
    with pytest.raises(ValueError, match="one finite non-negative norm per row"):
        uniformity(X, max_exact=100, norms=np.ones(399))
    with pytest.raises(ValueError, match="one finite non-negative norm per row"):
        uniformity(X, max_exact=100, norms=np.full(400, np.nan))


def test_sampled_path_stops_at_max_pairs():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((500, 2))
    result = uniformity(X, max_exact=10, target_standard_error=1e-9, max_pairs=400_000)
    assert result.exact is False
    assert result.n_pairs == 400_000  # two batches of 200,000, then it gives up on the target
    assert result.standard_error > 1e-9


# --------------------------------------------------------------------------- the uniform-sphere reference


@pytest.mark.parametrize("d", [2, 3, 10, 100])
def test_monte_carlo_uniform_sphere_agrees_with_closed_form(d):
    # Normalised Gaussians are uniform on S^{d-1}. For uniform points the U-statistic's
    # first-order term vanishes (E[k(x, Y) | x] does not depend on x), so the sample's
    # pair mean sits within O(1/n) of the expectation; the sampled SE dominates.
    rng = np.random.default_rng(100 + d)
    X = rng.standard_normal((40_000, d))
    result = uniformity(X, target_standard_error=0.003, seed=d)
    reference = uniform_sphere_uniformity(d)
    assert result.exact is False
    assert result.uniform_reference == pytest.approx(reference, rel=1e-12)
    assert abs(result.value - reference) < 4 * result.standard_error + 2e-3


def test_closed_form_d2_is_log_bessel_i0():
    # d = 2: cos of a uniform angle, E exp(2t cos) = I0(2t).
    for t in (0.5, 1.0, 2.0, 3.0):
        expected = math.log(i0(2 * t)) - 2 * t
        assert uniform_sphere_uniformity(2, t=t) == pytest.approx(expected, rel=1e-12)


def test_closed_form_d3_is_log_sinh():
    # d = 3: u = x.y is uniform on [-1, 1] (Archimedes), E exp(2t u) = sinh(2t) / (2t).
    for t in (0.5, 1.0, 2.0, 3.0):
        expected = math.log(math.sinh(2 * t) / (2 * t)) - 2 * t
        assert uniform_sphere_uniformity(3, t=t) == pytest.approx(expected, rel=1e-12)


def test_large_d_tends_to_gaussian_limit():
    # u ~ N(0, 1/d) approximately: log E exp(2t u) = 2t^2/d + O(1/d^3) (the 4th cumulant is
    # -6/(d^2 (d+2)), contributing (2t)^4/24 * that, about 6e-8 at d = 1000, t = 2).
    t = 2.0
    for d in (200, 1000):
        value = uniform_sphere_uniformity(d, t=t)
        assert value == pytest.approx(-2 * t + 2 * t**2 / d, abs=20 * (2 * t) ** 4 / 24 * 6 / d**3)
    # The switch to the asymptotic form at d > 1000 is continuous to better than 1e-6.
    assert abs(uniform_sphere_uniformity(1000) - (-4 + 8 / 1000)) < 1e-6
    assert uniform_sphere_uniformity(1001) == pytest.approx(-4 + 8 / 1001, abs=1e-12)
    assert uniform_sphere_uniformity(10_000) == pytest.approx(-4 + 8 / 10_000, abs=1e-12)
    # More uniform (lower) as d grows towards -2t.
    values = [uniform_sphere_uniformity(d) for d in (2, 3, 10, 100, 1000, 5000)]
    assert np.all(np.diff(values) < 0)
    assert values[-1] > -4.0


def test_uniform_reference_bad_input():
    with pytest.raises(ValueError, match="n_features"):
        uniform_sphere_uniformity(1)
    with pytest.raises(ValueError, match="t must be positive"):
        uniform_sphere_uniformity(5, t=0)


# --------------------------------------------------------------------------- alignment by hand


def test_alignment_identical_views_is_zero():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((20, 6))
    result = alignment(X, X.copy())
    assert result.value == pytest.approx(0.0, abs=1e-24)
    assert result.n_pairs == 20 and result.source == "paired views"
    # y is x rescaled per row: the same directions, still 0.
    assert alignment(X, X * rng.uniform(0.1, 10, size=(20, 1))).value == pytest.approx(0.0, abs=1e-24)


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0, 0.5])
def test_alignment_antipodal_views_is_two_to_the_alpha(alpha):
    # ||u - (-u)|| = 2 for unit u, so every term is 2^alpha (the maximum).
    rng = np.random.default_rng(6)
    X = rng.standard_normal((15, 4))
    assert alignment(X, -3.0 * X, alpha=alpha).value == pytest.approx(2.0**alpha, rel=1e-12)


def test_alignment_paired_hand_case():
    # Views at 0 and 90 degrees (||.||^2 = 2), and at 0 and 60 degrees (||.||^2 = 1).
    x = _circle([0, 0])
    y = _circle([90, 60])
    assert alignment(x, y).value == pytest.approx((2 + 1) / 2, rel=1e-12)
    assert alignment(x, y, alpha=1).value == pytest.approx((math.sqrt(2) + 1) / 2, rel=1e-12)


def _brute_label_alignment(X: np.ndarray, labels: np.ndarray, alpha: float) -> tuple[float, int]:
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    total, pairs = 0.0, 0
    for i in range(len(U)):
        for j in range(i + 1, len(U)):
            if labels[i] == labels[j]:
                total += float(np.linalg.norm(U[i] - U[j])) ** alpha
                pairs += 1
    return total / pairs, pairs


@pytest.mark.parametrize("alpha", [2.0, 1.0, 3.0])
def test_alignment_with_labels_matches_brute_force(alpha):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 5))
    labels = rng.choice(np.array(["a", "b", "c", "d"]), size=60)
    labels[0] = "singleton"  # a one-member class contributes no pair
    expected, pairs = _brute_label_alignment(X, labels, alpha)
    result = alignment(X, labels=labels, alpha=alpha)
    assert result.source == "labels"
    assert result.n_pairs == pairs
    assert result.value == pytest.approx(expected, rel=1e-10)


def test_alignment_with_labels_hand_case():
    # Class 0: angles 0 and 90 (||.||^2 = 2); class 1: 0, 120, 240 (three pairs with ||.||^2 = 3).
    X = np.vstack([_circle([0, 90]), _circle([0, 120, 240])])
    labels = np.array([0, 0, 1, 1, 1])
    assert alignment(X, labels=labels).value == pytest.approx((2 + 3 * 3) / 4, rel=1e-12)
    expected_alpha1 = (math.sqrt(2) + 3 * math.sqrt(3)) / 4
    assert alignment(X, labels=labels, alpha=1).value == pytest.approx(expected_alpha1, rel=1e-12)


# --------------------------------------------------------------------------- invariances


def test_rotation_invariance():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 6)) + 0.3
    Y = X + 0.2 * rng.standard_normal(X.shape)
    labels = rng.integers(0, 5, size=200)
    Q = ortho_group.rvs(6, random_state=9)
    assert uniformity(X @ Q).value == pytest.approx(uniformity(X).value, rel=1e-10)
    assert alignment(X @ Q, Y @ Q).value == pytest.approx(alignment(X, Y).value, rel=1e-10)
    for alpha in (2.0, 1.0):
        assert alignment(X @ Q, labels=labels, alpha=alpha).value == pytest.approx(
            alignment(X, labels=labels, alpha=alpha).value, rel=1e-10)
    sampled = uniformity(X @ Q, max_exact=50, seed=1).value
    assert sampled == pytest.approx(uniformity(X, max_exact=50, seed=1).value, rel=1e-10)


def test_row_scaling_invariance():
    # Rows are normalised first: scaling row i by c_i > 0 changes nothing.
    rng = np.random.default_rng(10)
    X = rng.standard_normal((150, 5)) + 0.4
    Y = X + 0.3 * rng.standard_normal(X.shape)
    labels = rng.integers(0, 4, size=150)
    cx = rng.uniform(1e-3, 1e3, size=(150, 1))
    cy = rng.uniform(1e-3, 1e3, size=(150, 1))
    assert uniformity(X * cx).value == pytest.approx(uniformity(X).value, rel=1e-10)
    assert uniformity(X * cx, max_exact=50, seed=2).value == pytest.approx(
        uniformity(X, max_exact=50, seed=2).value, rel=1e-10)
    assert alignment(X * cx, Y * cy).value == pytest.approx(alignment(X, Y).value, rel=1e-10)
    for alpha in (2.0, 1.0):
        assert alignment(X * cx, labels=labels, alpha=alpha).value == pytest.approx(
            alignment(X, labels=labels, alpha=alpha).value, rel=1e-10)


def test_uniformity_accepts_float32_and_reports_shape():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((100, 8))
    r64 = uniformity(X)
    r32 = uniformity(X.astype(np.float32))
    assert r32.value == pytest.approx(r64.value, rel=1e-5)
    assert (r64.n_samples, r64.n_features, r64.t) == (100, 8, 2.0)
    assert -8.0 <= r64.value <= 0.0
    assert set(r64.scalars()) == {"value", "standard_error", "uniform_reference"}


# --------------------------------------------------------------------------- bad input


def test_uniformity_bad_input():
    with pytest.raises(ValueError, match="all-zero rows"):
        uniformity(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="all-zero rows"):
        uniformity(np.vstack([np.eye(3), np.zeros((1, 3))] * 10), max_exact=5)  # sampled path too
    with pytest.raises(ValueError, match="t must be positive"):
        uniformity(np.eye(3), t=0)
    with pytest.raises(ValueError, match="t must be positive"):
        uniformity(np.eye(3), t=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        uniformity(np.array([[1.0, 0.0], [np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="at least 2 samples"):
        uniformity(np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="2-D"):
        uniformity(np.ones(4))


def test_alignment_bad_input():
    X = np.eye(3)
    with pytest.raises(ValueError, match="all-zero rows"):
        alignment(np.array([[1.0, 0.0], [0.0, 0.0]]), np.eye(2))
    with pytest.raises(ValueError, match="all-zero rows"):
        alignment(np.eye(2), np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="same shape"):
        alignment(X, np.eye(3)[:2])
    with pytest.raises(ValueError, match="no positive pair|no class has two"):
        alignment(X, labels=[0, 1, 2])
    with pytest.raises(ValueError, match="labels must have shape"):
        alignment(X, labels=[0, 0])
    with pytest.raises(ValueError, match="pass y"):
        alignment(X)
    for alpha in (0.0, -1.0):
        with pytest.raises(ValueError, match="alpha must be positive"):
            alignment(X, X, alpha=alpha)
    with pytest.raises(ValueError, match="NaN"):
        alignment(np.array([[1.0, np.nan], [0.0, 1.0]]), np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        alignment(np.eye(2), np.array([[1.0, np.inf], [0.0, 1.0]]))


def test_large_t_does_not_underflow() -> None:
    # Antipodal pair at t = 300: the only term is exp(-1200), far below float64's
    # smallest number; the log-sum-exp must still return -4t = -1200 exactly.
    assert uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]]), t=300).value == pytest.approx(-1200.0)
    far = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    # Terms e^-1600 (d^2 = 4) and twice e^-800 (d^2 = 2): log((2 e^-800 + e^-1600) / 3) = -800 + log(2/3).
    expected = -800.0 + np.log(2.0 / 3.0)
    assert np.isfinite(uniformity(far, t=400).value) and uniformity(far, t=400).value == pytest.approx(expected)


def test_uniformity_of_one_feature_has_the_two_point_reference():
    # On S^0 = {-1, +1} pairs coincide or are antipodal with probability 1/2: the
    # reference is log((1 + e^{-4t}) / 2), not NaN.
    X = np.random.default_rng(0).standard_normal((4000, 1))
    result = uniformity(X, t=2.0)
    assert result.uniform_reference == pytest.approx(math.log((1 + math.exp(-8.0)) / 2), rel=1e-12)
    assert result.value == pytest.approx(result.uniform_reference, abs=0.01)
