"""analysis.metrics.information_validation: the known truths and the estimate-vs-truth table.

The truths are checked against closed forms, against numerical integrals
written here independently (trapezoid rules on fine grids rather than
scipy's adaptive quadrature), and against Monte-Carlo estimates on very large
samples (tolerances: a few Monte-Carlo standard errors, about 1e-3 bits at
10^6 draws, rounded up to 0.01).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from analysis.metrics.information import information_plane_point
from analysis.metrics.information_validation import (
    VALIDATION_FAMILIES,
    EstimatorSettings,
    bits_truth,
    estimator_validation,
    gaussian_truth,
)

LN2 = math.log(2.0)
COLUMNS = ["family", "n", "d", "quantity", "truth", "estimate", "error"]


def binary_entropy(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-300, 1.0)
    r = np.clip(1.0 - q, 1e-300, 1.0)
    return -(q * np.log2(q) + r * np.log2(r))


def plugin_entropy(symbols: np.ndarray) -> float:
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def plugin_mutual_information(symbols: np.ndarray, y: np.ndarray) -> float:
    """I(S;Y) = H(S) + H(Y) - H(S, Y) of two integer arrays, plug-in."""
    joint = symbols.astype(np.int64) * (int(y.max()) + 1) + y
    return plugin_entropy(symbols) + plugin_entropy(y) - plugin_entropy(joint)


# --------------------------------------------------------------------------- gaussian_truth, noisy


@pytest.mark.parametrize("estimator", ["kde", "ksg"])
@pytest.mark.parametrize("variance", [0.01, 0.1, 1.0])
@pytest.mark.parametrize("d", [1, 3])
def test_gaussian_truth_noisy_i_xt_is_the_channel_formula(estimator: str, variance: float, d: int) -> None:
    i_xt, _ = gaussian_truth(EstimatorSettings(estimator, noise_variance=variance), d)
    assert i_xt == pytest.approx(d / 2 * math.log2(1 + 1 / variance), rel=1e-12)
    i_xt_gain, _ = gaussian_truth(EstimatorSettings(estimator, noise_variance=variance), d, gain=3.0)
    assert i_xt_gain == pytest.approx(d / 2 * math.log2(1 + 9.0 / variance), rel=1e-12)


def gaussian_i_ty_by_trapezoid(variance: float, gain: float = 1.0) -> float:
    """1 - E_t[H_b(Phi(g t / (s sqrt(g^2 + s^2))))], t ~ N(0, g^2 + s^2), on a grid that resolves both
    the density (scale sqrt(g^2 + s^2)) and the binary-entropy peak around 0 (scale 1 / slope)."""
    total = math.sqrt(gain**2 + variance)
    slope = gain / (math.sqrt(variance) * total)
    t = np.union1d(np.linspace(-12 * total, 12 * total, 200_001), np.linspace(-40 / slope, 40 / slope, 200_001))
    f = stats.norm.pdf(t, scale=total) * binary_entropy(stats.norm.cdf(slope * t))
    return 1.0 - float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(t)))


def test_gaussian_truth_noisy_i_ty_rises_to_one_as_noise_falls() -> None:
    variances = [100.0, 10.0, 1.0, 0.1, 0.01, 1e-3, 1e-4]
    values = [gaussian_truth(EstimatorSettings("kde", noise_variance=v), 1)[1] for v in variances]
    assert all(0.0 < v < 1.0 for v in values), values
    assert all(a < b for a, b in zip(values, values[1:], strict=False)), values
    # 1 - I(T;Y) shrinks like the noise sd: 0.0104 at variance 1e-4.
    assert values[-1] > 0.985 and values[0] < 0.01
    for variance, value in zip(variances, values, strict=True):
        assert value == pytest.approx(gaussian_i_ty_by_trapezoid(variance), abs=1e-6)
    # I(T;Y) involves only the first coordinate: the same for every d.
    assert gaussian_truth(EstimatorSettings("kde"), 5)[1] == pytest.approx(
        gaussian_truth(EstimatorSettings("kde"), 1)[1], abs=1e-12
    )


@pytest.mark.parametrize(("variance", "gain"), [(1e-5, 1.0), (1e-6, 1.0), (0.1, 100.0)])
def test_gaussian_truth_noisy_i_ty_when_the_signal_to_noise_ratio_is_large(variance: float,
                                                                          gain: float) -> None:
    # Regression: with gain / noise sd above ~300 the binary-entropy peak around t = 0
    # (width ~ 1 / slope) was narrower than quadrature sampled, giving I(T;Y) = 1.0 exactly
    # instead of 0.9967 (variance 1e-5), 0.9990 (1e-6) and 0.9967 (gain 100, variance 0.1).
    _, i_ty = gaussian_truth(EstimatorSettings("kde", noise_variance=variance), 1, gain=gain)
    expected = gaussian_i_ty_by_trapezoid(variance, gain)
    assert expected < 0.9995
    assert i_ty == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("variance", [0.1, 1.0])
def test_gaussian_truth_noisy_i_ty_against_monte_carlo(variance: float) -> None:
    _, truth = gaussian_truth(EstimatorSettings("ksg", noise_variance=variance), 1)
    rng = np.random.default_rng(0)
    n, s = 1_000_000, math.sqrt(variance)
    x = rng.standard_normal(n)
    t = x + s * rng.standard_normal(n)
    # (1) 1 - E[H_b(P(Y=1 | t))]: X | T'=t is N(t / (1 + s^2), s^2 / (1 + s^2)), so
    # P(X > 0 | t) = Phi(t / (s sqrt(1 + s^2))).
    posterior = stats.norm.cdf(t / (s * math.sqrt(1 + variance)))
    assert 1.0 - binary_entropy(posterior).mean() == pytest.approx(truth, abs=0.01)
    # (2) No formula at all: the plug-in I(bin(T'); Y) with 400 fine bins.
    bins = np.clip(np.floor((t + 8.0) / 0.04), 0, 399).astype(np.int64)
    assert plugin_mutual_information(bins, (x > 0).astype(np.int64)) == pytest.approx(truth, abs=0.01)


# --------------------------------------------------------------------------- gaussian_truth, binning


@pytest.mark.parametrize(
    "settings",
    [
        EstimatorSettings("binning", n_bins=30),
        EstimatorSettings("binning", n_bins=7),  # odd: a bin straddles 0, so I(T;Y) < 1
        EstimatorSettings("binning", bin_width=0.5),
        EstimatorSettings("binning", bin_width=0.3),  # 8 / 0.3 is not whole: a short last bin
    ],
)
def test_gaussian_truth_binning_against_monte_carlo(settings: EstimatorSettings) -> None:
    i_xt, i_ty = gaussian_truth(settings, 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1_000_000, 1))
    y = (x[:, 0] > 0).astype(np.int64)
    # The estimator itself on a huge sample, over the family's fixed range of +-4 sd...
    point = information_plane_point(x, y, n_bins=settings.n_bins, bin_width=settings.bin_width,
                                    value_range=(-4.0, 4.0))
    assert point.i_xt == pytest.approx(i_xt, abs=0.01)
    assert point.i_ty == pytest.approx(i_ty, abs=0.01)
    # ...and an independent binning: explicit inner edges, edge bins open.
    if settings.bin_width is None:
        inner = np.linspace(-4.0, 4.0, settings.n_bins + 1)[1:-1]
    else:
        inner = np.arange(-4.0 + settings.bin_width, 4.0, settings.bin_width)
    bins = np.searchsorted(inner, x[:, 0], side="right")
    assert plugin_entropy(bins) == pytest.approx(i_xt, abs=0.01)
    assert plugin_mutual_information(bins, y) == pytest.approx(i_ty, abs=0.01)
    # Coordinates are independent: I(X;T) adds up over d; I(T;Y) is the first coordinate's.
    assert gaussian_truth(settings, 4) == pytest.approx((4 * i_xt, i_ty), abs=1e-12)


def test_gaussian_truth_binning_hand_values() -> None:
    # Two bins over [-4, 4]: the sign of X, I(X;T) = I(T;Y) = 1 bit exactly.
    assert gaussian_truth(EstimatorSettings("binning", n_bins=2), 3) == pytest.approx((3.0, 1.0))
    # Bin width 8 covers the whole range: one bin, nothing.
    assert gaussian_truth(EstimatorSettings("binning", bin_width=8.0), 2) == pytest.approx((0.0, 0.0))
    # Three bins: [-4, -4/3), [-4/3, 4/3), [4/3, 4]; the middle one is balanced in Y.
    p_edge = stats.norm.cdf(-4 / 3)
    p = np.array([p_edge, 1 - 2 * p_edge, p_edge])
    h = float(-(p * np.log2(p)).sum())
    assert gaussian_truth(EstimatorSettings("binning", n_bins=3), 1) == pytest.approx((h, 1 - p[1]))


# --------------------------------------------------------------------------- bits_truth


@pytest.mark.parametrize(
    ("settings", "separated"),
    [
        (EstimatorSettings("binning", n_bins=2), True),
        (EstimatorSettings("binning", n_bins=30), True),
        (EstimatorSettings("binning", bin_width=0.5), True),
        (EstimatorSettings("binning", bin_width=0.99), True),
        (EstimatorSettings("binning", bin_width=1.0), False),
        (EstimatorSettings("binning", bin_width=3.0), False),
    ],
)
def test_bits_truth_binning(settings: EstimatorSettings, separated: bool) -> None:
    for d in (1, 4, 10):
        assert bits_truth(settings, d) == ((float(d), 1.0) if separated else (0.0, 0.0))


def per_bit_by_trapezoid(variance: float) -> float:
    """I(B; B + Z) = h(1/2 N(0, s^2) + 1/2 N(1, s^2)) - 1/2 log2(2 pi e s^2), on a fine grid."""
    s = math.sqrt(variance)
    t = np.linspace(-10 * s, 1 + 10 * s, 400_001)
    f = 0.5 * (np.exp(-(t**2) / (2 * variance)) + np.exp(-((t - 1) ** 2) / (2 * variance)))
    f /= math.sqrt(2 * math.pi * variance)
    integrand = np.where(f > 0, -f * np.log2(np.where(f > 0, f, 1.0)), 0.0)
    h_mixture = float(np.sum((integrand[1:] + integrand[:-1]) / 2 * np.diff(t)))
    return h_mixture - 0.5 * math.log2(2 * math.pi * math.e * variance)


@pytest.mark.parametrize("estimator", ["kde", "ksg"])
@pytest.mark.parametrize("variance", [0.01, 0.1, 0.5, 2.0])
def test_bits_truth_noisy_equals_an_independent_integral(estimator: str, variance: float) -> None:
    i_xt, per_bit = bits_truth(EstimatorSettings(estimator, noise_variance=variance), 3)
    assert per_bit == pytest.approx(per_bit_by_trapezoid(variance), abs=1e-6)
    assert i_xt == pytest.approx(3 * per_bit, rel=1e-12)


def test_bits_truth_noisy_per_bit_limits_and_monotone() -> None:
    variances = [1e-4, 1e-2, 0.1, 1.0, 10.0, 100.0]
    values = [bits_truth(EstimatorSettings("kde", noise_variance=v), 1)[1] for v in variances]
    assert all(a > b for a, b in zip(values, values[1:], strict=False)), values
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    # Large noise: I ~ Var(B) / (2 s^2 ln 2) = 0.25 / (200 ln 2) = 0.0018 bits.
    assert values[-1] == pytest.approx(0.25 / (2 * 100.0 * LN2), rel=0.02)


def test_bits_truth_noisy_per_bit_never_exceeds_one_bit() -> None:
    # Regression: at variance 1e-10 (sd 1e-5) quadrature over [-12 s, 1 + 12 s] stepped over the
    # narrow peaks and gave 7.78 bits per bit, impossible for one fair bit.
    for variance in (1e-8, 1e-10, 1e-12):
        _, per_bit = bits_truth(EstimatorSettings("kde", noise_variance=variance), 1)
        assert per_bit == pytest.approx(1.0, abs=1e-6), (variance, per_bit)


# --------------------------------------------------------------------------- estimator_validation


def test_validation_table_shape_and_columns() -> None:
    settings = EstimatorSettings("binning", n_bins=10)
    fractions: list[float] = []
    df = estimator_validation(settings, n_values=(64, 128), dims=(1, 3), families=VALIDATION_FAMILIES,
                              progress=lambda f, msg: fractions.append(f))
    assert df.columns == COLUMNS
    assert df.schema["n"] == pl.Int64 and df.schema["truth"] == pl.Float64
    assert df.height == 2 * 2 * 2 * 2  # families x n x d x quantities
    keys = df.select(["family", "n", "d", "quantity"]).unique()
    assert keys.height == df.height
    assert set(df["quantity"]) == {"I(X;T)", "I(T;Y)"}
    np.testing.assert_array_equal(df["error"].to_numpy(), (df["estimate"] - df["truth"]).to_numpy())
    for row in df.iter_rows(named=True):
        truth = (gaussian_truth if row["family"] == "gaussian" else bits_truth)(settings, row["d"])
        assert row["truth"] == truth[0 if row["quantity"] == "I(X;T)" else 1]
    assert fractions == [1 / 8, 2 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8, 1.0]
    # Seeded: the same call gives the same frame; another seed other estimates, the same truths.
    again = estimator_validation(settings, n_values=(64, 128), dims=(1, 3))
    assert again.equals(df)
    other = estimator_validation(settings, n_values=(64, 128), dims=(1, 3), seed=1)
    assert other["truth"].to_list() == df["truth"].to_list()
    assert other["estimate"].to_list() != df["estimate"].to_list()


def test_validation_one_family() -> None:
    df = estimator_validation(EstimatorSettings("binning"), n_values=(32,), dims=(2,), families=("bits",))
    assert df["family"].to_list() == ["bits", "bits"] and df["d"].to_list() == [2, 2]


def test_validation_ksg_on_a_gaussian() -> None:
    df = estimator_validation(EstimatorSettings("ksg"), n_values=(4096,), dims=(1,), families=("gaussian",))
    # 20 seeds of this case: I(X;T) error mean 0.014, sd 0.029 bits.
    assert df["error"].abs().max() < 0.15, df


def test_validation_binning_on_one_bit_is_the_plugin_entropy_of_the_sample() -> None:
    n = 1024
    df = estimator_validation(EstimatorSettings("binning"), n_values=(n,), dims=(1,), families=("bits",))
    i_xt, i_ty = df["estimate"].to_list()
    assert df["truth"].to_list() == [1.0, 1.0]
    # T is one fair bit and y is T: both estimates are H(m / n) for the sample's count m of ones.
    assert i_xt == i_ty
    candidates = binary_entropy(np.arange(n + 1) / n)
    assert np.min(np.abs(candidates - i_xt)) < 1e-12
    assert abs(i_xt - 1.0) < 0.01


def test_validation_plugin_binning_error_shrinks_with_n() -> None:
    df = estimator_validation(EstimatorSettings("binning"), n_values=(256, 1024, 4096), dims=(10,),
                              families=("bits",))
    errors = df.filter(pl.col("quantity") == "I(X;T)").sort("n")["error"].to_list()
    # 2^10 equally likely symbols: the plug-in entropy is biased low, less so with more samples.
    assert errors[0] < errors[1] < errors[2] < 0.0, errors
    assert errors[0] < -1.0 and errors[2] > -0.5


def kde_large_n_gap(variance: float) -> float:
    """KDE bound minus truth as n -> infinity, T ~ N(0, 1), in bits.

    E_u exp(-(t - u)^2 / 2 s^2) = sqrt(s^2 / (1 + s^2)) exp(-t^2 / 2(1 + s^2)), so the bound
    -E_t ln E_u exp(...) = 1/2 ln((1 + s^2) / s^2) + 1 / (2 (1 + s^2)) nats, and the truth is
    1/2 log2(1 + 1/s^2): the gap is 1 / (2 (1 + s^2) ln 2).
    """
    bound = (0.5 * math.log((1 + variance) / variance) + 1 / (2 * (1 + variance))) / LN2
    return bound - 0.5 * math.log2(1 + 1 / variance)


def test_kde_gap_formula_against_numerical_integration() -> None:
    variance = 0.1
    u = np.linspace(-12, 12, 4001)
    w = stats.norm.pdf(u) * (u[1] - u[0])  # trapezoid weights (the ends are ~0)
    inner = np.exp(-((u[:, None] - u[None, :]) ** 2) / (2 * variance)) @ w
    bound = float(-(np.log(inner) * w).sum()) / LN2
    assert bound - 0.5 * math.log2(1 + 1 / variance) == pytest.approx(kde_large_n_gap(variance), abs=1e-6)
    assert kde_large_n_gap(variance) == pytest.approx(1 / (2 * 1.1 * LN2), rel=1e-12)  # 0.656 bits


def test_validation_kde_is_an_upper_bound_on_a_gaussian() -> None:
    df = estimator_validation(EstimatorSettings("kde", noise_variance=0.1), n_values=(4096,), dims=(1,),
                              families=("gaussian",))
    error = df.filter(pl.col("quantity") == "I(X;T)")["error"].item()
    assert error > 0.5
    assert error == pytest.approx(kde_large_n_gap(0.1), abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(families=("gaussian", "uniform")), "unknown validation families"),
        (dict(n_values=(7,)), "n_values must be"),  # k = 3 needs n >= 2k + 2 = 8
        (dict(n_values=(64, 4)), "n_values must be"),
        (dict(dims=(0,)), "dims >= 1"),
    ],
)
def test_validation_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimator_validation(EstimatorSettings("ksg"), **{"n_values": (64,), "dims": (1,), **kwargs})


def test_validation_smallest_n_is_accepted() -> None:
    df = estimator_validation(EstimatorSettings("ksg", k=2), n_values=(6,), dims=(1,), families=("gaussian",))
    assert df.height == 2


def test_settings_reject_unknown_estimator() -> None:
    with pytest.raises(ValueError, match="estimator must be one of"):
        EstimatorSettings("mine")
