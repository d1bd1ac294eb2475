"""Alignment and uniformity on the hypersphere (Wang & Isola 2020), with the uniform-sphere reference.

Rows are L2-normalised first. Uniformity is exact over all pairs up to
`max_exact` points (blocked matrix products, float64 sums) and estimated from
random pairs above it, with a standard error, so a million rows take seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import gammaln, hyp0f1, ive

from analysis.metrics._result import MetricResult
from analysis.validation import check_labels, check_matrix, first_rows, row_norms

__all__ = ["Alignment", "Uniformity", "alignment", "uniform_sphere_uniformity", "uniformity"]

EXACT_MAX_SAMPLES = 20_000  # n(n-1)/2 = 2e8 pairs: about 10 s at d = 768 on two cores
_BLOCK_ROWS = 1024  # 1024 x 20,000 float64 = 160 MB per block


@dataclass(frozen=True, eq=False)
class Alignment(MetricResult):
    """Result of :func:`alignment`: ``value`` = mean ``||f(x) - f(y)||^alpha`` over positive pairs."""

    value: float
    alpha: float
    n_pairs: int
    source: str  # "paired views" or "labels"

    SCALARS: ClassVar[tuple[str, ...]] = ("value",)


@dataclass(frozen=True, eq=False)
class Uniformity(MetricResult):
    """Result of :func:`uniformity`.

    Attributes
    ----------
    value : float
        ``log mean_{i<j} exp(-t ||x_i - x_j||^2)`` of the unit rows; in [-4t, 0].
    standard_error : float
        0 when exact; else the delta-method standard error of the sampled estimate.
    exact : bool
    n_pairs : int
        Pairs averaged (all n(n-1)/2 when exact).
    uniform_reference : float
        The expected value for points uniform on the same sphere (see `uniform_sphere_uniformity`).
    t : float
    n_samples, n_features : int
    """

    value: float
    standard_error: float
    exact: bool
    n_pairs: int
    uniform_reference: float
    t: float
    n_samples: int
    n_features: int

    SCALARS: ClassVar[tuple[str, ...]] = ("value", "standard_error", "uniform_reference")


def _unit_rows(X: Any, name: str) -> np.ndarray:
    """Float64 unit rows of X, whatever its scale.

    Norms are taken in float64 after dividing each row by its largest
    absolute entry (`analysis.validation.row_norms`): a float32 row at 1e20
    would square to inf and come out as a zero vector, a float64 row at
    1e160 likewise, and a row at 1e-200 would underflow to norm 0.
    """
    arr = check_matrix(X, name=name, action="normalising rows")
    norms = row_norms(arr)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"{name} has {zero.size} all-zero rows (first: {first_rows(zero)}), which have no direction "
            "on the sphere. Drop them first."
        )
    return np.asarray(arr, dtype=np.float64) / norms[:, None]


def uniform_sphere_uniformity(n_features: int, *, t: float = 2.0) -> float:
    """Expected uniformity of points uniform on the sphere S^{d-1} in R^d.

    For independent uniform x, y the cosine u = x.y has density proportional to
    (1 - u^2)^{(d-3)/2}, whose moment generating function is
    ``E exp(k u) = Gamma(d/2) (k/2)^{1 - d/2} I_{d/2 - 1}(k)`` (I the modified
    Bessel function). With ``||x - y||^2 = 2 - 2u`` and k = 2t:

    .. math::  \\log \\mathbb{E}\\, e^{-t\\|x-y\\|^2} = -2t + \\log\\Gamma(d/2) + (1 - d/2)\\log t
               + \\log I_{d/2-1}(2t).

    d = 2 gives ``log I_0(2t) - 2t``, d = 3 ``log(sinh(2t)/(2t)) - 2t``. For d
    above 1,000 the asymptotic ``-2t + 2t^2/d`` (u approximately normal with
    variance 1/d) is used; the two agree to better than 1e-6 there. This is
    the value of the expectation over pairs, which is what a large uniform
    sample's `uniformity` estimates.
    """
    d = int(n_features)
    if d < 2:
        raise ValueError(f"n_features must be >= 2 for a sphere with more than two points; got {n_features}.")
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"t must be positive and finite; got {t!r}.")
    kappa = 2.0 * t
    if d > 1000:
        return -kappa + kappa**2 / (2.0 * d)
    # The scaled Bessel function ive(nu, k) = I_nu(k) e^{-k} keeps large t finite;
    # at large order nu (high d) it underflows to 0, and the same quantity as the
    # confluent limit function 0F1(; d/2; t^2) (scipy's hyp0f1) is used instead.
    nu = d / 2.0 - 1.0
    scaled = float(ive(nu, kappa))
    if scaled > 0:
        return float(gammaln(d / 2.0)) + (1.0 - d / 2.0) * math.log(t) + math.log(scaled)
    if kappa > 1e3 * (nu + 1.0) ** 2:
        # ive underflowed at a huge argument: I_nu(k) e^{-k} -> 1 / sqrt(2 pi k) (DLMF 10.40.1).
        return float(gammaln(d / 2.0)) + (1.0 - d / 2.0) * math.log(t) - 0.5 * math.log(2.0 * math.pi * kappa)
    series = float(hyp0f1(d / 2.0, t * t))
    if not (math.isfinite(series) and series > 0):
        raise ValueError(f"the uniform-sphere reference overflows at d = {d}, t = {t!r}; use a smaller t.")
    return -kappa + math.log(series)


# Sampled pairs whose rows are gathered at once (uniformity above max_exact).
_GATHER_ROWS = 16_384


def _combine(log_a: float, log_b: float) -> float:
    """log(e^a + e^b) without overflow or underflow."""
    if log_a == -math.inf:
        return log_b
    high, low = max(log_a, log_b), min(log_a, log_b)
    return high + math.log1p(math.exp(low - high))


def _block_logsumexp(log_terms: np.ndarray) -> float:
    if log_terms.size == 0:
        return -math.inf
    peak = float(log_terms.max())
    return peak + math.log(float(np.exp(log_terms - peak).sum()))


def _exact_pair_sum(U: np.ndarray, t: float) -> tuple[float, float]:
    """(log of sum over i<j of exp(-t ||u_i - u_j||^2), pair count), blocked log-sum-exp in float64.

    Each term's log is -t ||u_i - u_j||^2 = 2t (cos - 1); summing with a
    running maximum keeps large t (all terms tiny) from underflowing to log(0).
    """
    n = U.shape[0]
    log_total = -math.inf
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        log_terms = 2.0 * t * (U[start:stop] @ U[start:].T - 1.0)  # this block against itself and later rows
        inside = stop - start
        upper = log_terms[:, :inside][np.triu_indices(inside, k=1)]  # pairs i < j within the block
        log_total = _combine(log_total, _block_logsumexp(upper))
        log_total = _combine(log_total, _block_logsumexp(log_terms[:, inside:]))
    return log_total, n * (n - 1) / 2


def _sampled_pairs(X: np.ndarray, norms: np.ndarray, t: float, *, target_se: float, max_pairs: int,
                   seed: int) -> tuple[float, float, int]:
    """Estimate from random pairs i != j until the standard error is below `target_se`.

    Works on log terms 2t (cos - 1), rescaled by their maximum, so large t cannot
    underflow; the standard error of log(mean) is the delta method's sd / (sqrt(N) mean).
    """
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    log_terms: list[np.ndarray] = []
    drawn = 0
    batch = 200_000
    while True:
        i = rng.integers(0, n, size=batch)
        j = rng.integers(0, n - 1, size=batch)
        j += j >= i  # uniform over j != i
        # Unit rows before the product: raw products of rows at 1e160 overflow. The gathered
        # rows are float64 copies: taken _GATHER_ROWS pairs at a time, they stay near 0.1 GiB
        # instead of 1.6 GiB for the whole batch at d = 256 (each cosine is its own row's sum).
        cos = np.empty(batch)
        for a in range(0, batch, _GATHER_ROWS):
            ii, jj = i[a : a + _GATHER_ROWS], j[a : a + _GATHER_ROWS]
            cos[a : a + ii.size] = np.einsum("ij,ij->i", np.asarray(X[ii], dtype=np.float64) / norms[ii, None],
                                             np.asarray(X[jj], dtype=np.float64) / norms[jj, None])
        log_terms.append(2.0 * t * (cos - 1.0))
        drawn += batch
        logs = np.concatenate(log_terms)
        peak = float(logs.max())
        scaled = np.exp(logs - peak)
        mean = float(scaled.mean())
        se = float(scaled.std(ddof=1) / (math.sqrt(scaled.size) * mean))
        if se < target_se or drawn >= max_pairs:
            return peak + math.log(mean), se, drawn


def _given_norms(norms: Any, n: int) -> np.ndarray:
    """The caller's row norms as float64, checked: one finite non-negative value per row."""
    values = np.asarray(norms, dtype=np.float64)
    if values.shape != (n,) or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"norms must hold one finite non-negative norm per row of X ({n} values); got shape "
                         f"{values.shape}. Pass analysis.validation.row_norms(X), or leave norms out.")
    return values


def uniformity(
    X: Any,
    *,
    t: float = 2.0,
    max_exact: int = EXACT_MAX_SAMPLES,
    target_standard_error: float = 0.005,
    max_pairs: int = 20_000_000,
    seed: int = 0,
    norms: Any = None,
) -> Uniformity:
    """Uniformity loss of Wang & Isola (2020) on the L2-normalised rows of X.

    .. math::  \\mathcal{L}_{\\text{uniform}} = \\log \\frac{2}{n(n-1)} \\sum_{i<j} e^{-t \\|x_i - x_j\\|^2}

    Lower (more negative) is more uniform; 0 means all points coincide.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Rows are normalised first (a zero row is an error).
    t : float, default=2.0
    max_exact : int, default=20,000
        Up to this many rows every pair is used; above it random pairs i != j
        are drawn (in batches of 200,000) until the standard error is below
        `target_standard_error` or `max_pairs` are drawn.
    target_standard_error : float, default=0.005
    max_pairs : int, default=20,000,000
    seed : int, default=0
    norms : array-like of shape (n_samples,), optional
        The rows' Euclidean norms when the caller already has them (e.g. the
        report's `analysis.validation.row_norms`): the sampled path then reads
        only the rows it draws instead of making a pass over X for them.

    Returns
    -------
    Uniformity
        With ``uniform_reference`` from :func:`uniform_sphere_uniformity`.

    Notes
    -----
    Invariant to rotations and to scaling any row (rows are normalised), at
    any magnitude: norms are computed without overflow or underflow (each row
    divided by its largest entry first), so ``uniformity(c * X)`` equals
    ``uniformity(X)`` for c = 1e-30 or 1e160 as for c = 1.
    The sampled path normalises only the rows it draws, so a memory-mapped
    array is never copied.

    References
    ----------
    .. [1] T. Wang and P. Isola, "Understanding contrastive representation
       learning through alignment and uniformity on the hypersphere", ICML 2020.
    """
    arr = check_matrix(X, min_samples=2, action="measuring uniformity")
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"t must be positive and finite; got {t!r}.")
    n, d = arr.shape
    # S^0 = {-1, +1}: two independent uniform points coincide (distance 0) or are
    # antipodal (squared distance 4) with probability 1/2 each.
    reference = uniform_sphere_uniformity(d, t=t) if d >= 2 else math.log1p(math.exp(-4.0 * t)) - math.log(2.0)
    if n <= max_exact:
        U = _unit_rows(arr, "X")
        log_total, pairs = _exact_pair_sum(U, t)
        value, se, exact, count = log_total - math.log(pairs), 0.0, True, int(pairs)
    else:
        norms = row_norms(arr) if norms is None else _given_norms(norms, n)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(
                f"X has {zero.size} all-zero rows (first: {first_rows(zero)}), which have no direction "
                "on the sphere. Drop them first."
            )
        value, se, count = _sampled_pairs(arr, norms, t, target_se=target_standard_error,
                                          max_pairs=max_pairs, seed=seed)
        exact = False
    return Uniformity(value=float(value), standard_error=float(se), exact=exact, n_pairs=count,
                      uniform_reference=reference, t=float(t), n_samples=n, n_features=d)


def alignment(x: Any, y: Any = None, *, labels: Any = None, alpha: float = 2.0) -> Alignment:
    """Alignment loss of Wang & Isola (2020): how close positive pairs lie, on the unit sphere.

    .. math::  \\mathcal{L}_{\\text{align}} = \\mathbb{E}_{(x, y)\\ \\text{positive}} \\|f(x) - f(y)\\|_2^{\\alpha}

    Positive pairs are either paired views (row i of `x` with row i of `y`)
    or, with `labels` instead of `y`, every pair of distinct rows of `x` in
    the same class. 0 is perfect alignment; the maximum is 2^alpha.

    Parameters
    ----------
    x : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples, n_features), optional
        The second view of each row of `x`.
    labels : array-like of shape (n_samples,), optional
        Class of each row of `x` (used when `y` is None).
    alpha : float, default=2.0

    Returns
    -------
    Alignment

    Notes
    -----
    With labels and alpha = 2 the mean over all same-class pairs is exact
    in O(n d): ``sum_{i<j in c} ||u_i - u_j||^2 = n_c^2 - ||sum_c u||^2``
    for unit rows. Other alphas compute the pairs class by class.
    Invariant to scaling any row by any positive factor (1e-30 or 1e160
    too): rows are normalised without overflow (see `uniformity`).
    """
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be positive and finite; got {alpha!r}.")
    U = _unit_rows(x, "x")
    if y is not None:
        V = _unit_rows(y, "y")
        if V.shape != U.shape:
            raise ValueError(f"x and y must have the same shape (row i of y is the positive of row i of x); "
                             f"got {U.shape} and {V.shape}.")
        distances = np.linalg.norm(U - V, axis=1)
        return Alignment(value=float(np.mean(distances**alpha)), alpha=float(alpha), n_pairs=U.shape[0],
                         source="paired views")
    if labels is None:
        raise ValueError("alignment needs positive pairs: pass y (a second view of each row) or labels.")
    codes = check_labels(labels, U.shape[0], rows_of="x")
    total, pairs = 0.0, 0
    for code in np.unique(codes):
        members = U[codes == code]
        m = members.shape[0]
        if m < 2:
            continue
        if alpha == 2.0:
            summed = members.sum(axis=0)
            total += m * m - float(summed @ summed)  # = sum over i<j of ||u_i - u_j||^2
        else:
            sq = np.maximum(2.0 - 2.0 * members @ members.T, 0.0)
            total += float(np.sum(np.triu(sq, k=1) ** (alpha / 2.0)))
        pairs += m * (m - 1) // 2
    if pairs == 0:
        raise ValueError("no class has two samples, so there is no positive pair; alignment is undefined.")
    return Alignment(value=total / pairs, alpha=float(alpha), n_pairs=pairs, source="labels")
