"""analysis.metrics.information_plane_point: binning and KDE estimates against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.metrics import information_plane_point

T8 = np.arange(8.0)[:, None]
Y8 = (np.arange(8) >= 4).astype(int)  # the label is a function of T


def test_binning_hand_values() -> None:
    # 8 distinct rows in 8 bins: H(T) = log2 8 = 3 bits; Y is a function of T with H(Y) = 1 bit.
    r = information_plane_point(T8, Y8, n_bins=8)
    assert r.i_xt == pytest.approx(3.0) and r.i_ty == pytest.approx(1.0)
    # 2 bins merge rows 0-3 and 4-7: H(T) = 1 bit, and T still determines Y.
    r2 = information_plane_point(T8, Y8, n_bins=2)
    assert r2.i_xt == pytest.approx(1.0) and r2.i_ty == pytest.approx(1.0)


def test_label_independent_of_bins_gives_zero_i_ty() -> None:
    y = np.array([0, 1] * 4)  # within each half, labels are balanced
    r = information_plane_point(T8, y, n_bins=2)
    assert r.i_xt == pytest.approx(1.0) and r.i_ty == pytest.approx(0.0, abs=1e-12)


def test_constant_layer_carries_no_information() -> None:
    r = information_plane_point(np.zeros((8, 3)), Y8)
    assert r.i_xt == 0.0 and r.i_ty == 0.0


def test_values_below_the_range_go_to_the_first_bin_not_the_last() -> None:
    # Range [0, 4] with 2 bins; -10 must join bin 0 (with 0 and 1), never wrap around to bin 1.
    T = np.array([[-10.0], [0.0], [1.0], [3.0], [4.0]])
    y = np.array([0, 0, 0, 1, 1])
    r = information_plane_point(T, y, n_bins=2, value_range=(0.0, 4.0))
    # Bins: {-10, 0, 1} and {3, 4}: H(T) = H(3/5, 2/5), and T determines Y.
    h = -(0.6 * math.log2(0.6) + 0.4 * math.log2(0.4))
    assert r.i_xt == pytest.approx(h) and r.i_ty == pytest.approx(h)


def test_fixed_width_bins() -> None:
    # Width 2 from the minimum: {0,1}, {2,3}, {4,5}, {6,7}: H = 2 bits.
    r = information_plane_point(T8, Y8, bin_width=2.0)
    assert r.i_xt == pytest.approx(2.0) and "width 2" in r.setting


def test_kde_limits() -> None:
    # Tiny noise: every point its own component: I(X;T) -> log2 n, I(T;Y) -> H(Y) = 1 bit.
    small = information_plane_point(T8, Y8, estimator="kde", noise_variance=1e-6)
    assert small.i_xt == pytest.approx(3.0, abs=1e-9) and small.i_ty == pytest.approx(1.0, abs=1e-9)
    # Huge noise: the components overlap completely and nothing is transmitted.
    big = information_plane_point(T8, Y8, estimator="kde", noise_variance=1e6)
    assert big.i_xt == pytest.approx(0.0, abs=1e-4) and big.i_ty == pytest.approx(0.0, abs=1e-4)


def test_invariant_to_row_order() -> None:
    rng = np.random.default_rng(0)
    T = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, size=60)
    order = rng.permutation(60)
    for estimator in ("binning", "kde"):
        a = information_plane_point(T, y, estimator=estimator, n_bins=5)
        b = information_plane_point(T[order], y[order], estimator=estimator, n_bins=5)
        assert (a.i_xt, a.i_ty) == pytest.approx((b.i_xt, b.i_ty))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(estimator="ksg2"), "estimator must be one of"),
        (dict(n_bins=1), "n_bins"),
        (dict(bin_width=0.0), "bin_width"),
        (dict(estimator="kde", noise_variance=0.0), "noise_variance"),
    ],
)
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        information_plane_point(T8, Y8, **kwargs)


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match="one label per row"):
        information_plane_point(T8, Y8[:5])
    with pytest.raises(ValueError, match="NaN"):
        information_plane_point(np.array([[np.nan], [1.0]]), [0, 1])
