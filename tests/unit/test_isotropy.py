"""Unit tests for analysis.metrics.isotropy: IsoScore, mean cosine, partition isotropy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.metrics import isotropy
from analysis.metrics.isotropy import iso_score


def _plus_minus_axes(k: int, n: int, scales=None) -> np.ndarray:
    """Rows +a_i e_i and -a_i e_i for i < k in R^n: mean 0, covariance diag(a_i^2 / k, 0...)."""
    scales = np.ones(k) if scales is None else np.asarray(scales, dtype=np.float64)
    E = np.eye(n)[:k] * scales[:, None]
    return np.vstack([E, -E])


# --------------------------------------------------------------------------- IsoScore by hand

# Variances 1 on k of n axes: s_hat = sqrt(n/k) there, ||s_hat - 1||^2 = 2n - 2 sqrt(nk),
# delta^2 = (n - sqrt(nk)) / (n - sqrt(n)), phi = (n - delta^2 (n - sqrt n))^2 / n^2 = k/n,
# IsoScore = (n phi - 1) / (n - 1) = (k - 1) / (n - 1).
CASES = [(1, 2), (2, 2), (1, 5), (2, 5), (3, 5), (5, 5), (4, 10), (7, 16), (10, 64)]


@pytest.mark.parametrize(("k", "n"), CASES)
def test_iso_score_k_of_n_equal_variances(k, n):
    s = np.zeros(n)
    s[:k] = 2.5  # the level does not matter (scale invariance)
    assert iso_score(s) == pytest.approx((k - 1) / (n - 1), abs=1e-12)
    # Order of the variances does not matter either.
    assert iso_score(s[::-1]) == pytest.approx((k - 1) / (n - 1), abs=1e-12)


@pytest.mark.parametrize(("k", "n"), CASES)
def test_isotropy_on_data_with_that_covariance(k, n):
    # +-e_i rows for i < k: covariance diag(1/k on k axes, 0 elsewhere), exactly.
    X = _plus_minus_axes(k, n)
    assert isotropy(X).iso_score == pytest.approx((k - 1) / (n - 1), abs=1e-12)
    # Rotated and translated, the covariance has the same eigenvalues.
    Q = ortho_group.rvs(n, random_state=k + n)
    shifted = X @ Q + np.linspace(1.0, 2.0, n)
    assert isotropy(shifted).iso_score == pytest.approx((k - 1) / (n - 1), abs=1e-9)


def test_iso_score_extremes():
    assert iso_score(np.ones(7)) == pytest.approx(1.0, abs=1e-12)
    assert iso_score([3.0, 0.0, 0.0, 0.0]) == pytest.approx(0.0, abs=1e-12)
    # Points on a line in R^5 (plus rounding): one direction, IsoScore 0.
    rng = np.random.default_rng(0)
    line = np.outer(rng.standard_normal(500), rng.standard_normal(5))
    assert isotropy(line).iso_score == pytest.approx(0.0, abs=1e-6)
    # A large isotropic Gaussian sample is close to 1, a stretched one is not.
    Z = rng.standard_normal((20_000, 8))
    assert isotropy(Z).iso_score > 0.99
    assert isotropy(Z * np.array([10, 1, 1, 1, 1, 1, 1, 1.0])).iso_score < 0.5


def test_iso_score_monotone_in_dimensions_used():
    n = 10
    scores = [iso_score(np.r_[np.ones(k), np.zeros(n - k)]) for k in range(1, n + 1)]
    assert np.all(np.diff(scores) > 0)


# --------------------------------------------------------------------------- mean cosine


def test_mean_cosine_hand_cases():
    # Antipodal pair: cos = -1.
    assert isotropy(np.array([[1.0, 2.0], [-1.0, -2.0]])).mean_cosine == pytest.approx(-1.0)
    # Same direction at different lengths (needs a second feature and some variance): cos = 1.
    same = np.array([[1.0, 2.0], [2.0, 4.0], [0.5, 1.0]])
    assert isotropy(same).mean_cosine == pytest.approx(1.0)
    # +-e_i in R^4: the unit rows sum to 0, so (||sum||^2 - n) / (n (n-1)) = -8 / 56 = -1/7.
    assert isotropy(_plus_minus_axes(4, 4)).mean_cosine == pytest.approx(-1.0 / 7.0)
    # Square on the circle: 4 adjacent pairs with cos 0, 2 diagonal pairs with cos -1:
    # (4 x 0 + 2 x (-1)) / 6 = -1/3.
    square = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    assert isotropy(square).mean_cosine == pytest.approx(-1.0 / 3.0)


def test_mean_cosine_matches_brute_force():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 6)) + np.array([1.5, 0, 0, 0, 0, 0])
    total, pairs = 0.0, 0
    for i in range(80):
        for j in range(80):
            if i != j:
                total += X[i] @ X[j] / (np.linalg.norm(X[i]) * np.linalg.norm(X[j]))
                pairs += 1
    assert isotropy(X).mean_cosine == pytest.approx(total / pairs, rel=1e-10)


# --------------------------------------------------------------------------- partition isotropy


def test_partition_isotropy_is_one_for_plus_minus_axes():
    # X^T X = 2 I (eigh returns the standard basis); for c = e_m every row but +-e_m has
    # c . x = 0, so Z(e_m) = e + 1/e + 2(n - 1) for every m: min/max = 1.
    result = isotropy(_plus_minus_axes(5, 5))
    assert result.partition_isotropy == pytest.approx(1.0, abs=1e-12)
    assert result.iso_score == pytest.approx(1.0, abs=1e-12)


def test_partition_isotropy_hand_case_distinct_scales():
    # Rows +-a_i e_i with distinct a_i: X^T X = diag(2 a_i^2) has unique eigenvectors e_i
    # (up to sign, and Z(-c) = Z(c) here), Z(e_m) = 2 cosh(a_m) + 2(n - 1).
    a = np.array([0.5, 1.0, 1.5, 2.0])
    n = a.size
    z = 2 * np.cosh(a) + 2 * (n - 1)
    result = isotropy(_plus_minus_axes(n, n, scales=a))
    assert result.partition_isotropy == pytest.approx(z.min() / z.max(), rel=1e-12)
    assert result.partition_isotropy < 1.0


def test_narrow_cone_is_anisotropic():
    rng = np.random.default_rng(2)
    mu = np.zeros(16)
    mu[0] = 5.0
    X = mu + 0.3 * rng.standard_normal((2000, 16))
    result = isotropy(X)
    assert result.mean_cosine > 0.9
    # Along the top eigenvector (about mu) Z ~ n e^5; across it Z ~ n: ratio about e^-5.
    assert result.partition_isotropy < 0.05
    # Centred, the same cloud is isotropic by all three measures.
    centred = isotropy(X - X.mean(axis=0))
    assert abs(centred.mean_cosine) < 0.01
    assert centred.partition_isotropy > 0.5
    assert centred.iso_score > 0.9
    # Centring changes nothing for IsoScore (covariance is centred anyway).
    assert centred.iso_score == pytest.approx(result.iso_score, rel=1e-9)


# --------------------------------------------------------------------------- invariances


def test_invariances():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 6)) * np.array([4.0, 2.0, 1.0, 1.0, 0.5, 0.1]) + 0.2
    base = isotropy(X)
    Q = ortho_group.rvs(6, random_state=4)
    assert isotropy(X @ Q).iso_score == pytest.approx(base.iso_score, rel=1e-9)
    assert isotropy(X + np.arange(6.0) * 10).iso_score == pytest.approx(base.iso_score, rel=1e-9)
    assert isotropy(7.5 * X).iso_score == pytest.approx(base.iso_score, rel=1e-9)
    assert isotropy(X * 1e-4).iso_score == pytest.approx(base.iso_score, rel=1e-9)
    # The mean cosine is invariant to rotation and to scaling rows by positive factors.
    assert isotropy(X @ Q).mean_cosine == pytest.approx(base.mean_cosine, rel=1e-9, abs=1e-12)
    scaled_rows = X * rng.uniform(0.1, 10, size=(400, 1))
    assert isotropy(scaled_rows).mean_cosine == pytest.approx(base.mean_cosine, rel=1e-9, abs=1e-12)
    # The result's fields.
    assert (base.n_samples, base.n_features) == (400, 6)
    assert 0.0 <= base.iso_score <= 1.0 and 0.0 < base.partition_isotropy <= 1.0
    assert set(base.to_dict()) == {"iso_score", "mean_cosine", "partition_isotropy", "n_samples",
                                   "n_features"}


def test_partition_isotropy_is_finite_for_large_values():
    # exp(c . x) overflows float64 above ~709: the log-sum-exp must not.
    rng = np.random.default_rng(5)
    X = 1e4 * (rng.standard_normal((100, 4)) + np.array([3.0, 0, 0, 0]))
    value = isotropy(X).partition_isotropy
    assert math.isfinite(value) and 0.0 <= value <= 1.0


# --------------------------------------------------------------------------- bad input


def test_bad_input():
    with pytest.raises(ValueError, match="at least 2 features"):
        isotropy(np.arange(5.0).reshape(-1, 1))
    with pytest.raises(ValueError, match="identical rows"):
        isotropy(np.tile([[1.0, 2.0, 3.0]], (4, 1)))
    with pytest.raises(ValueError, match="all-zero rows"):
        isotropy(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="at least 2 samples"):
        isotropy(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="NaN"):
        isotropy(np.array([[1.0, 2.0], [np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        iso_score([1.0])
    with pytest.raises(ValueError, match="all variances are zero"):
        iso_score([0.0, 0.0, 0.0])


def test_partition_isotropy_does_not_depend_on_eigenvector_signs():
    # eigh's sign for each eigenvector is arbitrary and Z(-c) != Z(c): over c alone a
    # rotation of X changed partition_isotropy (0.29 -> 0.49); over +-c it is invariant.
    rng = np.random.default_rng(7)
    X = rng.standard_normal((24, 5)) + np.array([1.0, 0.5, 0.0, 0.0, 0.0])
    base = isotropy(X).partition_isotropy
    for seed in range(5):
        Q = ortho_group.rvs(5, random_state=seed)
        assert isotropy(X @ Q).partition_isotropy == pytest.approx(base, rel=1e-9)


@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_sums_from_another_pass_give_the_same_isotropy(offset: float) -> None:
    """The report hands isotropy the covariance sums of neural collapse's pass: same numbers, one pass."""
    from analysis.metrics.spectrum import covariance_sums

    rng = np.random.default_rng(3)
    X = (rng.standard_normal((3000, 12)) * np.linspace(0.2, 3.0, 12) + offset).astype(np.float32)
    plain = isotropy(X)
    for exponent in (0, 3):
        shared = isotropy(X, sums=covariance_sums(X, exponent=exponent))
        assert shared.iso_score == pytest.approx(plain.iso_score, rel=1e-9)
        assert shared.mean_cosine == pytest.approx(plain.mean_cosine, rel=1e-9, abs=1e-12)
        assert shared.partition_isotropy == pytest.approx(plain.partition_isotropy, rel=1e-6)
    with pytest.raises(ValueError, match="do not describe X"):
        isotropy(X[:100], sums=covariance_sums(X, exponent=0))
    Z = X.copy()
    Z[7] = 0
    with pytest.raises(ValueError, match="all-zero rows"):
        isotropy(Z, sums=covariance_sums(Z, exponent=0))


@pytest.mark.parametrize("scale", [1.0, 1e30])
def test_given_norms_give_the_same_isotropy_and_are_checked(scale: float) -> None:
    """The report also hands over its row norms: the unit rows of the mean cosine need no norm pass."""
    from analysis.metrics.spectrum import covariance_sums
    from analysis.validation import row_norms

    rng = np.random.default_rng(4)
    X = rng.standard_normal((2000, 8)) * np.linspace(0.5, 2.0, 8) * scale + 0.3 * scale
    sums = covariance_sums(X, exponent=0)
    own = isotropy(X, sums=sums)
    given = isotropy(X, sums=sums, norms=row_norms(X))
    assert (given.iso_score, given.mean_cosine, given.partition_isotropy) == (
        own.iso_score, own.mean_cosine, own.partition_isotropy)
    # They are read, not recomputed: halving every norm doubles each unit row, so the mean cosine moves.
    assert isotropy(X, sums=sums, norms=0.5 * row_norms(X)).mean_cosine != pytest.approx(own.mean_cosine)
    with pytest.raises(ValueError, match="one finite norm per row"):
        isotropy(X, sums=sums, norms=np.ones(5))
    with pytest.raises(ValueError, match="all-zero rows"):
        isotropy(X, sums=sums, norms=np.where(np.arange(2000) == 3, 0.0, 1.0))
