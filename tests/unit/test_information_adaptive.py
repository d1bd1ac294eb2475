"""Adaptive binning and adaptive KDE (Chelombiev et al. 2019): hand-computed values and the invariances they exist for."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.metrics.information import information_plane_point
from analysis.metrics.information_adaptive import (
    activity_scale,
    adaptive_bin_edges,
    adaptive_binned_symbols,
)
from analysis.metrics.information_validation import (
    EstimatorSettings,
    bits_truth,
    estimator_validation,
    gaussian_truth,
)

ADAPTIVE = ("adaptive_binning", "adaptive_kde")


def test_edges_cut_at_equal_mass_by_hand() -> None:
    # 8 distinct values, 4 bins: cuts after ranks 2, 4, 6, so the edges are the 3rd, 5th and 7th values.
    values = np.array([[5.0, 1.0, 7.0, 3.0, 2.0, 8.0, 4.0, 6.0]]).T
    (edges,) = adaptive_bin_edges(values, 4)
    assert edges.tolist() == [3.0, 5.0, 7.0]
    symbols = adaptive_binned_symbols(np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [8.0]]), [edges])
    assert np.bincount(symbols).tolist() == [2, 2, 2, 2]


def test_ties_stay_in_one_bin_and_take_the_nearest_cut() -> None:
    # ReLU-like: five zeros and 1..5, three bins. Ideal cuts at ranks 10/3 and 20/3; the values change
    # after ranks 5, 6, 7, 8, 9. 10/3 moves to 5 (between the zeros and 1: no cut inside the zeros),
    # 20/3 to 7 (edge: the 8th value, 3).
    values = np.array([[0.0] * 5 + [1.0, 2.0, 3.0, 4.0, 5.0]]).T
    (edges,) = adaptive_bin_edges(values, 3)
    assert edges.tolist() == [1.0, 3.0]  # bins {0 x5}, {1, 2}, {3, 4, 5}
    # 45 % zeros, two bins: the median falls among the ones, the nearest change of value is 0 -> 1.
    (edges,) = adaptive_bin_edges(np.array([[0.0] * 45 + [1.0] * 55]).T, 2)
    assert edges.tolist() == [1.0]
    # A constant unit: no cut, one bin.
    (edges,) = adaptive_bin_edges(np.full((6, 1), 2.5), 4)
    assert edges.size == 0


def test_each_input_in_its_own_bin_gives_log2_n() -> None:
    n = 16
    T = np.random.default_rng(0).permutation(n).astype(float)[:, None] ** 3  # distinct, unevenly spaced
    y = np.arange(n) % 2
    point = information_plane_point(T, y, estimator="adaptive_binning", n_bins=n)
    assert point.i_xt == pytest.approx(math.log2(n), abs=1e-12)  # I(X;T) = H(X) = 4 bits
    assert point.i_ty == pytest.approx(1.0, abs=1e-12)  # T determines Y: I(T;Y) = H(Y) = 1 bit


@pytest.mark.parametrize("estimator", ADAPTIVE)
def test_constant_layer_gives_zero(estimator: str) -> None:
    for value in (0.0, 3.0):
        point = information_plane_point(np.full((20, 3), value), np.arange(20) % 2, estimator=estimator)
        assert point.i_xt == pytest.approx(0.0, abs=1e-12) and point.i_ty == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("estimator", ADAPTIVE)
def test_i_ty_never_exceeds_h_y(estimator: str) -> None:
    rng = np.random.default_rng(1)
    T = rng.normal(size=(200, 3))
    y = rng.choice(3, size=200, p=[0.5, 0.3, 0.2])
    p = np.bincount(y) / y.size
    h_y = float(-(p * np.log2(p)).sum())
    point = information_plane_point(T, y, estimator=estimator, n_bins=8)
    assert 0.0 <= point.i_ty <= h_y + 1e-9
    assert point.i_ty <= point.i_xt + 1e-9


def test_adaptive_binning_ignores_monotone_per_unit_maps_and_fixed_binning_does_not() -> None:
    rng = np.random.default_rng(2)
    T = rng.normal(size=(300, 3))
    y = (T[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    # A different strictly increasing map per unit: a saturating tanh, an exponential, a scale and shift.
    mapped = np.column_stack([np.tanh(3.0 * T[:, 0]), np.exp(T[:, 1]), 50.0 * T[:, 2] - 7.0])
    for n_bins in (2, 5, 30):
        before = information_plane_point(T, y, estimator="adaptive_binning", n_bins=n_bins)
        after = information_plane_point(mapped, y, estimator="adaptive_binning", n_bins=n_bins)
        assert after.i_xt == before.i_xt and after.i_ty == before.i_ty
    fixed = [information_plane_point(M, y, estimator="binning", n_bins=5).i_xt for M in (T, mapped)]
    assert abs(fixed[0] - fixed[1]) > 0.3  # the saturated and skewed units crowd into few fixed bins


def test_run_wide_edges_are_used_as_given() -> None:
    # Edges from a wider reference put every row of T in the same bin of each unit: zero information.
    T = np.array([[0.0], [0.1], [0.2], [0.3]])
    reference = np.array([[-10.0], [-9.0], [0.5], [1.0]])
    edges = adaptive_bin_edges(reference, 2)
    assert edges[0].tolist() == [0.5]
    point = information_plane_point(T, [0, 1, 0, 1], estimator="adaptive_binning", n_bins=2, bin_edges=edges)
    assert point.i_xt == 0.0 and point.i_ty == 0.0
    with pytest.raises(ValueError, match="one edge array per column"):
        information_plane_point(np.zeros((4, 2)), [0, 1, 0, 1], estimator="adaptive_binning", bin_edges=edges)


def test_adaptive_binning_against_fixed_binning_by_hand() -> None:
    # T = 0, 0.1, 0.2, 10 with two bins. Fixed bins over [0, 10] split at 5: {0, 0.1, 0.2} and {10}, so
    # H(T) = H(3/4, 1/4) = 0.8113 bits. Equal-mass bins split at the median: {0, 0.1} and {0.2, 10}, 1 bit.
    T = np.array([[0.0], [0.1], [0.2], [10.0]])
    y = [0, 0, 1, 1]
    fixed = information_plane_point(T, y, estimator="binning", n_bins=2)
    adaptive = information_plane_point(T, y, estimator="adaptive_binning", n_bins=2)
    h = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert fixed.i_xt == pytest.approx(h, abs=1e-12)
    assert adaptive.i_xt == pytest.approx(1.0, abs=1e-12)
    # I(T;Y): the fixed bins leave y = 1 split across both bins: H(Y) - H(Y|T) = 1 - 3/4 H(1/3) = 0.3113.
    h_third = -(1 / 3 * math.log2(1 / 3) + 2 / 3 * math.log2(2 / 3))
    assert fixed.i_ty == pytest.approx(1.0 - 0.75 * h_third, abs=1e-12)
    assert adaptive.i_ty == pytest.approx(1.0, abs=1e-12)  # the median cut is the label's
    assert adaptive.setting == "2 equal-mass bins per unit"


def test_adaptive_kde_scales_the_noise_to_the_largest_activation() -> None:
    # T = 0..7: max|t| = 7, so the variance is 1e-3 * 49 = 0.049. The pairwise bound by hand:
    # -1/n sum_i log2 1/n sum_j exp(-(i - j)^2 / (2 * 0.049)); neighbours weigh exp(-10.2) = 3.7e-5.
    T = np.arange(8, dtype=float)[:, None]
    point = information_plane_point(T, np.arange(8) % 2, estimator="adaptive_kde", noise_variance=1e-3)
    d2 = (np.arange(8)[:, None] - np.arange(8)[None, :]) ** 2
    expected = -np.mean(np.log2(np.exp(-d2 / (2 * 0.049)).mean(axis=1)))
    assert point.i_xt == pytest.approx(expected, abs=1e-9)
    assert 3.0 - 1e-3 < point.i_xt < 3.0  # nearly log2 n: each input its own kernel
    assert point.setting == "noise variance 0.001 x max|t|^2, max|t| = 7"
    assert activity_scale(-2.0 * T) == 14.0


def test_adaptive_kde_is_invariant_to_rescaling_and_kde_is_not() -> None:
    rng = np.random.default_rng(3)
    T = rng.normal(size=(150, 2))
    y = (T[:, 0] > 0).astype(int)
    base = information_plane_point(T, y, estimator="adaptive_kde")
    scaled = information_plane_point(25.0 * T, y, estimator="adaptive_kde")
    assert scaled.i_xt == pytest.approx(base.i_xt, rel=1e-6)
    assert scaled.i_ty == pytest.approx(base.i_ty, rel=1e-6)
    # At the same variance relative to max|t|^2, the two agree with plain KDE.
    variance = 0.1 * activity_scale(T) ** 2
    kde = information_plane_point(T, y, estimator="kde", noise_variance=variance)
    assert base.i_xt == pytest.approx(kde.i_xt, rel=1e-6)  # float32 kernels
    fixed = [information_plane_point(M, y, estimator="kde").i_xt for M in (T, 25.0 * T)]
    assert fixed[1] - fixed[0] > 1.0  # a wider layer looks more informative to a fixed ruler


@pytest.mark.parametrize("n_bins", [1, 0, 2.5, True])
def test_bad_bin_counts(n_bins: object) -> None:
    with pytest.raises(ValueError, match="n_bins must be an integer >= 2"):
        information_plane_point(np.eye(4), [0, 1, 0, 1], estimator="adaptive_binning", n_bins=n_bins)


def test_adaptive_kde_rejects_non_positive_noise() -> None:
    with pytest.raises(ValueError, match="noise_variance must be positive"):
        information_plane_point(np.eye(4), [0, 1, 0, 1], estimator="adaptive_kde", noise_variance=0.0)


def test_validation_truths_of_the_adaptive_estimators() -> None:
    # Equal-mass bins: each Gaussian coordinate uniform over its bins; the median edge 0 splits the label
    # exactly when the count is even, else the middle bin (mass 1/B, half each label) costs 1/B bit.
    assert gaussian_truth(EstimatorSettings(estimator="adaptive_binning", n_bins=8), 3) == (9.0, 1.0)
    assert gaussian_truth(EstimatorSettings(estimator="adaptive_binning", n_bins=5), 1) == pytest.approx(
        (math.log2(5), 0.8))
    assert bits_truth(EstimatorSettings(estimator="adaptive_binning", n_bins=2), 4) == (4.0, 1.0)
    # Adaptive KDE's truth is KDE's at the variance used on the sample: for bits max|t| = 1, KDE's exactly.
    settings = EstimatorSettings(estimator="adaptive_kde")
    table = estimator_validation(settings, n_values=(64,), dims=(1,), families=("bits",))
    assert table["truth"].to_list() == pytest.approx(list(bits_truth(EstimatorSettings(estimator="kde"), 1)))
    gauss = estimator_validation(settings, n_values=(64,), dims=(1,), families=("gaussian",))
    plain = estimator_validation(EstimatorSettings(estimator="kde"), n_values=(64,), dims=(1,),
                                 families=("gaussian",))
    assert gauss["truth"][0] < plain["truth"][0]  # max|t| > 1 on 64 normal draws: more noise, less information
