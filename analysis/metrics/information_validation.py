"""How far each information-plane estimator is from the truth: cases whose mutual information is known.

Two families, each over sample sizes n and dimensions d, run through
`information_plane_point` exactly as a layer would be:

``gaussian``
    X ~ N(0, I_d) and the layer T = g X (a deterministic, linear "layer"),
    label y = 1[X_1 > 0]. For the noisy estimators (KDE, KSG) the channel is
    T' = T + Z, Z ~ N(0, s^2 I), jointly Gaussian, so (Cover & Thomas 2006,
    eq. 9.16 per coordinate)::

        I(X;T') = d/2 log2(1 + g^2 / s^2)
        I(T';Y) = 1 - E_t[ H_b(Phi(g t / (s sqrt(g^2 + s^2)))) ],  t ~ N(0, g^2 + s^2)

    (X_1 given T'_1 = t is Gaussian with mean g t / (g^2 + s^2) and variance
    s^2 / (g^2 + s^2); the expectation is a 1-D integral done by quadrature).
    For binning, the quantity measured is I(X; bin(T)) = H(bin(T)), which is
    exact from the normal CDF: d times the entropy of one coordinate's bin
    probabilities, and I(bin(T); Y) from the bins of the first coordinate.
    The bins cover +-4 g (values beyond go to the edge bins), fixed so that
    the truth does not depend on the sample.

``bits``
    T = d independent fair bits (rows drawn with replacement), y = the first
    bit. Binning: I(X;T) = d and I(T;Y) = 1 bit when the bins separate 0 from
    1, else 0. Noisy estimators: per bit ``I(B; B + Z) = h(mixture) - h(Z)``,
    the entropy of an equal mixture of N(0, s^2) and N(1, s^2) by quadrature.

Adaptive binning and adaptive KDE (Chelombiev et al. 2019): see
`gaussian_truth` and `bits_truth`; adaptive KDE's truth is KDE's at the
noise variance it used on the sample, ``noise_variance * max|t|^2``.

References
----------
.. [1] T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed.,
   Wiley 2006, chapter 9 (Gaussian channel).
.. [2] A. M. Saxe et al., "On the information bottleneck theory of deep
   learning", ICLR 2018 (estimator dependence of the information plane).
.. [3] I. Chelombiev, C. J. Houghton and C. O'Donnell, "Adaptive estimators
   show information compression in deep neural networks", ICLR 2019.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl
from scipy import integrate, stats

from analysis.metrics.information import ESTIMATORS, binned_symbols, information_plane_point
from analysis.metrics.information_adaptive import activity_scale
from analysis.validation import ProgressFn, check_option

__all__ = [
    "VALIDATION_FAMILIES",
    "EstimatorSettings",
    "bits_truth",
    "estimator_validation",
    "gaussian_truth",
]

VALIDATION_FAMILIES = ("gaussian", "bits")

# Gain of the Gaussian "layer" T = g X: with the default noise variance 0.1 one
# coordinate carries 1.73 bits, so d = 10 reaches 17 bits, beyond log2(n) for
# every n shown: the saturation of sample-based estimators is part of the lesson.
_GAIN = 1.0
_RANGE_SDS = 4.0


@dataclass(frozen=True)
class EstimatorSettings:
    """An estimator and its parameters, as passed to `information_plane_point`."""

    estimator: str = "binning"
    n_bins: int = 30
    bin_width: float | None = None
    noise_variance: float = 0.1
    k: int = 3

    def __post_init__(self) -> None:
        check_option(self.estimator, ESTIMATORS, what="estimator")

    def estimate(self, T: np.ndarray, y: np.ndarray, *, value_range: tuple[float, float] | None,
                 seed: int = 0) -> tuple[float, float]:
        """(I(X;T), I(T;Y)) in bits under these settings."""
        point = information_plane_point(
            T, y, estimator=self.estimator, n_bins=self.n_bins, bin_width=self.bin_width,
            value_range=value_range, noise_variance=self.noise_variance, k=self.k, seed=seed,
        )
        return point.i_xt, point.i_ty


def _entropy_bits(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _binary_entropy(q: np.ndarray) -> np.ndarray:
    q = np.clip(q, 1e-300, 1.0)
    r = np.clip(1.0 - q, 1e-300, 1.0)
    return -(q * np.log2(q) + r * np.log2(r))


def _bin_edges(settings: EstimatorSettings, low: float, high: float) -> np.ndarray:
    """Inner edges of the binning of `information_plane_point` over [low, high] (edge bins open)."""
    if settings.bin_width is not None:
        n_edges = max(int(math.ceil((high - low) / settings.bin_width)), 1)
        return low + settings.bin_width * np.arange(1, n_edges)
    return np.linspace(low, high, settings.n_bins + 1)[1:-1]


def gaussian_truth(settings: EstimatorSettings, d: int, *, gain: float = _GAIN) -> tuple[float, float]:
    """The exact (I(X;T), I(T;Y)) in bits of the ``gaussian`` case under `settings`.

    Adaptive binning: population equal-mass bins make every coordinate uniform over ``n_bins``
    bins, so I(X;T) = d log2(n_bins); the label's bins split at 0 exactly when ``n_bins`` is even
    (I(T;Y) = 1 bit), else the middle bin straddles 0 and I(T;Y) = 1 - 1/n_bins. Adaptive KDE:
    as KDE at the noise variance actually used (`estimator_validation` passes it).
    """
    if settings.estimator == "adaptive_binning":
        return d * math.log2(settings.n_bins), 1.0 if settings.n_bins % 2 == 0 else 1.0 - 1.0 / settings.n_bins
    if settings.estimator == "binning":
        sd = gain  # T = g X with X ~ N(0, 1) per coordinate
        cuts = np.concatenate([[-np.inf], _bin_edges(settings, -_RANGE_SDS * sd, _RANGE_SDS * sd), [np.inf]])
        cdf = stats.norm.cdf(cuts / sd)
        p_bin = np.diff(cdf)
        # P(X_1 > 0 and T_1 in bin j) = mass of bin j above 0.
        positive = np.diff(stats.norm.cdf(np.maximum(cuts, 0.0) / sd))
        q = np.divide(positive, p_bin, out=np.zeros_like(p_bin), where=p_bin > 0)
        i_ty = 1.0 - float((p_bin * _binary_entropy(q)).sum())
        return d * _entropy_bits(p_bin), i_ty
    s2 = settings.noise_variance
    i_xt = 0.5 * d * math.log2(1.0 + gain**2 / s2)
    total_sd = math.sqrt(gain**2 + s2)
    slope = gain / (math.sqrt(s2) * total_sd)

    def conditional_entropy(t: float) -> float:
        return float(stats.norm.pdf(t, scale=total_sd) * _binary_entropy(np.array([stats.norm.cdf(slope * t)]))[0])

    # Symmetric in t; H_b is non-zero only within a few 1/slope of 0, which can be
    # far narrower than the Gaussian, so the interval starts at that peak.
    bound = 12 * total_sd
    half, _ = integrate.quad(conditional_entropy, 0.0, bound, limit=400, points=[min(10.0 / slope, bound / 2)])
    return i_xt, 1.0 - 2.0 * half


def bits_truth(settings: EstimatorSettings, d: int) -> tuple[float, float]:
    """The exact (I(X;T), I(T;Y)) in bits of the ``bits`` case under `settings`.

    Adaptive binning always cuts between 0 and 1 (the only change of value), so d and 1 bit.
    """
    if settings.estimator == "adaptive_binning":
        return float(d), 1.0
    if settings.estimator == "binning":
        symbols, _ = binned_symbols(np.array([[0.0], [1.0]]), settings.n_bins if settings.bin_width is None else None,
                                    settings.bin_width, (0.0, 1.0))
        separated = float(symbols[0] != symbols[1])
        return d * separated, separated
    s = math.sqrt(settings.noise_variance)

    def mixture_term(t: float) -> float:
        density = 0.5 * (stats.norm.pdf(t, scale=s) + stats.norm.pdf(t, loc=1.0, scale=s))
        return float(-density * math.log2(density)) if density > 0 else 0.0

    # Symmetric about 1/2: integrate the half below it, split at the peak at 0
    # (whose width s can be tiny) so quadrature cannot step over it.
    near = min(12 * s, 0.5)
    h_half = integrate.quad(mixture_term, -12 * s, 0.0, limit=200)[0] + integrate.quad(
        mixture_term, 0.0, near, limit=200)[0]
    if near < 0.5:
        h_half += integrate.quad(mixture_term, near, 0.5, limit=200)[0]
    per_bit = 2.0 * h_half - 0.5 * math.log2(2 * math.pi * math.e * settings.noise_variance)
    return d * per_bit, per_bit


def _gaussian_case(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    X = rng.standard_normal((n, d))
    return _GAIN * X, (X[:, 0] > 0).astype(np.int64), (-_RANGE_SDS * _GAIN, _RANGE_SDS * _GAIN)


def _bits_case(n: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    T = rng.integers(0, 2, size=(n, d)).astype(np.float64)
    return T, T[:, 0].astype(np.int64), (0.0, 1.0)


def estimator_validation(
    settings: EstimatorSettings,
    *,
    n_values: Sequence[int] = (256, 1024, 4096),
    dims: Sequence[int] = (1, 2, 5, 10),
    families: Sequence[str] = VALIDATION_FAMILIES,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Estimate against truth on every case: one row per (family, n, d, quantity).

    Columns: family, n, d, quantity ("I(X;T)" or "I(T;Y)"), truth, estimate,
    error (estimate - truth), all in bits. The truth depends on the settings
    (noise variance, bins), never on the sample; see the module docstring.
    """
    unknown = [f for f in families if f not in VALIDATION_FAMILIES]
    if unknown:
        raise ValueError(f"unknown validation families {unknown}; choose from {VALIDATION_FAMILIES}.")
    if any(int(n) < 2 * settings.k + 2 for n in n_values) or any(int(d) < 1 for d in dims):
        raise ValueError(f"n_values must be >= {2 * settings.k + 2} and dims >= 1; got {n_values}, {dims}.")
    rows: list[dict] = []
    cases = [(family, int(n), int(d)) for family in families for d in dims for n in n_values]
    for done, (family, n, d) in enumerate(cases, start=1):
        rng = np.random.default_rng([seed, n, d, VALIDATION_FAMILIES.index(family)])
        T, y, value_range = (_gaussian_case if family == "gaussian" else _bits_case)(n, d, rng)
        measured = settings
        if settings.estimator == "adaptive_kde":  # the channel measured: noise scaled to this sample's max|t|
            measured = replace(settings, estimator="kde",
                               noise_variance=settings.noise_variance * activity_scale(T) ** 2)
        truth = gaussian_truth(measured, d) if family == "gaussian" else bits_truth(measured, d)
        estimate = settings.estimate(T, y, value_range=value_range, seed=seed)
        for quantity, true_value, estimated in zip(("I(X;T)", "I(T;Y)"), truth, estimate, strict=True):
            rows.append({"family": family, "n": n, "d": d, "quantity": quantity, "truth": float(true_value),
                         "estimate": float(estimated), "error": float(estimated - true_value)})
        if progress is not None:
            progress(done / len(cases), f"{family}, n = {n}, d = {d} ({done}/{len(cases)})")
    return pl.DataFrame(rows)
