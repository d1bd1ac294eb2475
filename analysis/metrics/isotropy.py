"""Isotropy: does the representation use all its directions, or sit in a narrow cone?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.metrics._result import MetricResult
from analysis.metrics.streaming import CovarianceSums
from analysis.validation import (
    check_matrix,
    first_rows,
    max_abs,
    power_of_two_exponent,
    scaled_norms,
)

__all__ = ["Isotropy", "iso_score", "isotropy"]

# Rows per float64 block: 16,384 x 256 is 32 MiB, so the pass's few temporaries stay near 0.2 GiB
# whatever n (BLAS is at full speed well below this).
_BLOCK_ROWS = 16_384


@dataclass(frozen=True, eq=False)
class Isotropy(MetricResult):
    """Result of :func:`isotropy`.

    Attributes
    ----------
    iso_score : float
        IsoScore (Rudman et al. 2022), in [0, 1]: 1 when variance is spread
        equally over all d directions, (k-1)/(d-1) when it fills k of them
        equally, 0 for a single direction.
    mean_cosine : float
        Mean cosine between distinct rows (anisotropy, Ethayarajh 2019): near 0
        for directions spread around the origin, near 1 in a narrow cone.
    partition_isotropy : float
        Mu & Viswanath (2018): ``min_c Z(c) / max_c Z(c)`` with
        ``Z(c) = sum_i exp(c . x_i)`` over the unit eigenvectors c of X^T X and
        their negatives (an eigenvector's sign is arbitrary); 1 is isotropic.
    n_samples, n_features : int
    """

    iso_score: float
    mean_cosine: float
    partition_isotropy: float
    n_samples: int
    n_features: int

    SCALARS: ClassVar[tuple[str, ...]] = ("iso_score", "mean_cosine", "partition_isotropy")


def _column_logsumexp(a: np.ndarray) -> np.ndarray:
    """``log sum_i exp(a_ij)`` per column, shifted by the column maximum (no overflow).

    scipy.special.logsumexp computes the same, but with several more full-size
    temporaries; this runs on every block of a million-row isotropy pass.
    """
    peak = a.max(axis=0)
    shifted = a - peak
    np.exp(shifted, out=shifted)
    return np.log(shifted.sum(axis=0)) + peak


def iso_score(variances: Any) -> float:
    """IsoScore from the variances along the principal axes (Rudman et al. 2022, Algorithm 1).

    With d axes and principal variances s: normalise ``s_hat = sqrt(d) s / ||s||``
    (the norm of the all-ones vector), isotropy defect
    ``delta = ||s_hat - 1|| / sqrt(2 (d - sqrt(d)))``, share of dimensions used
    ``phi = (d - delta^2 (d - sqrt(d)))^2 / d^2``, and IsoScore ``(d phi - 1) / (d - 1)``.
    """
    s = np.asarray(variances, dtype=np.float64)
    d = s.size
    if d < 2:
        raise ValueError("IsoScore needs at least 2 dimensions.")
    if not np.isfinite(s).all() or s.min() < 0:
        raise ValueError(
            "variances must be finite and non-negative (principal variances, e.g. covariance "
            f"eigenvalues clipped at 0); got values from {s.min():.3g} to {s.max():.3g}."
        )
    # Scale-free: variances at 1e300 would overflow the norm's squares.
    s = s / s.max() if s.max() > 0 else s
    norm = np.linalg.norm(s)
    if not norm > 0:
        raise ValueError("all variances are zero (identical rows): IsoScore is undefined.")
    s_hat = math.sqrt(d) * s / norm
    defect_sq = float(np.sum((s_hat - 1.0) ** 2)) / (2.0 * (d - math.sqrt(d)))
    phi = (d - defect_sq * (d - math.sqrt(d))) ** 2 / d**2
    return float(np.clip((d * phi - 1.0) / (d - 1.0), 0.0, 1.0))


def isotropy(X: Any, *, sums: CovarianceSums | None = None, norms: Any = None) -> Isotropy:
    """Three isotropy diagnostics of a point cloud.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At least 2 rows and 2 features; no zero rows (cosines).
    sums : CovarianceSums, optional
        The sums of exactly these rows from another pass (`analysis.metrics.streaming`,
        any exponent; e.g. the report's neural-collapse pass): the covariance
        and the second moment are read from them, and one pass over X (unit
        rows and the partition function together) replaces two. Equal to the
        result without them up to float64 summation order.
    norms : array-like of shape (n_samples,), optional
        With `sums`: the rows' Euclidean norms (`analysis.validation.row_norms`)
        when the caller has them, so the pass does not compute them again for
        the unit rows of the mean cosine.

    Returns
    -------
    Isotropy

    Raises
    ------
    ValueError
        Fewer than 2 rows or features, NaN/Inf, an all-zero row, or rows that
        are identical up to float64 rounding (total variance at most
        ``(d eps)^2`` times the mean squared row norm): IsoScore is then a
        ratio of rounding noise, undefined rather than a number.

    Notes
    -----
    One pass over row blocks accumulates the unit-row sum, the sum and
    the second moment (float64); a second computes the partition function.
    IsoScore uses the covariance eigenvalues (the data are centred, so it
    is translation invariant); it is invariant to rotation and to a global
    scale at any magnitude (the moments are taken of ``X / 2**e``, an exact
    rescaling, so ``c X`` for c = 1e-30 or 1e160 gives the same IsoScore and
    mean cosine as X). The partition isotropy is not scale-invariant by
    definition (``exp(c . x)``) and is computed at the data's own scale. The mean cosine is exact in O(n d): ``(||sum u||^2 - n) / (n (n-1))``
    for unit rows u. The partition function is computed with log-sum-exp.

    References
    ----------
    .. [1] W. Rudman, N. Gillman, T. Rayne and C. Eickhoff, "IsoScore:
       measuring the uniformity of embedding space utilization", Findings of ACL 2022.
    .. [2] K. Ethayarajh, "How contextual are contextualized word
       representations?", EMNLP 2019.
    .. [3] J. Mu and P. Viswanath, "All-but-the-top: simple and effective
       postprocessing for word representations", ICLR 2018.
    """
    arr = check_matrix(X, min_samples=2, action="measuring isotropy")
    n, d = arr.shape
    if d < 2:
        raise ValueError("isotropy needs at least 2 features; a line has no directions to compare.")
    # Moments of X / 2**e, e the exponent of the largest entry: an exact
    # rescaling that keeps the second moment of rows at 1e160 from
    # overflowing (LinAlgError) and of rows at 1e-200 from underflowing.
    # IsoScore and the mean cosine are scale-free; the partition function
    # is not, so its projections are scaled back below.
    exponent = power_of_two_exponent(max_abs(arr))
    if sums is not None:
        return _from_sums(arr, sums, exponent, None if norms is None else _given_norms(norms, n))
    # One pass for the unit-row sum (mean cosine), the sum and the second moment
    # (covariance for IsoScore, eigenvectors for the partition function).
    # Sums are taken about a shift s (the first row), so that the covariance
    # E[(x-s)(x-s)^T] - (m-s)(m-s)^T does not cancel catastrophically for
    # data far from the origin; identical rows then give exactly zero spread.
    unit_sum = np.zeros(d)
    total = np.zeros(d)
    second = np.zeros((d, d))
    square_norm_total = 0.0
    shift = None
    for start in range(0, n, _BLOCK_ROWS):
        block = np.ldexp(np.asarray(arr[start : start + _BLOCK_ROWS], dtype=np.float64), -exponent)
        norms = scaled_norms(block)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise _zero_rows_error(zero + start)
        unit_sum += (block / norms[:, None]).sum(axis=0)
        square_norm_total += float(norms @ norms)
        if shift is None:
            shift = block[0].copy()
        block -= shift
        total += block.sum(axis=0)
        second += block.T @ block
    mean = total / n  # m - s
    covariance = second / n - np.outer(mean, mean)
    variances = np.clip(np.linalg.eigvalsh(0.5 * (covariance + covariance.T)), 0.0, None)
    # Rows identical up to rounding leave a total variance of rounding noise,
    # at most about (d eps)^2 times the mean squared norm: a ratio of that
    # noise would be a meaningless score (0.04 for 1,000 copies of one row).
    rounding_floor = (d * np.finfo(np.float64).eps) ** 2 * square_norm_total / n
    if not variances.sum() > rounding_floor:
        raise _identical_rows_error()
    score = iso_score(variances)
    mean_cosine = (float(unit_sum @ unit_sum) - n) / (n * (n - 1))
    # Mu & Viswanath: Z(c) over the eigenvectors of X^T X (uncentred), via log-sum-exp.
    # sum x x^T = sum (x-s)(x-s)^T + s t^T + t s^T + n s s^T with t = sum (x - s).
    uncentred = second + np.outer(shift, total) + np.outer(total, shift) + n * np.outer(shift, shift)
    log_z, _ = _partition_pass(arr, _eigenvectors(uncentred), exponent, unit_rows=False)
    return Isotropy(iso_score=score, mean_cosine=float(mean_cosine),
                    partition_isotropy=float(np.exp(log_z.min() - log_z.max())), n_samples=n, n_features=d)


def _eigenvectors(second_moment: np.ndarray) -> np.ndarray:
    return np.linalg.eigh(0.5 * (second_moment + second_moment.T))[1]


def _identical_rows_error() -> ValueError:
    return ValueError("X has identical rows (up to float64 rounding): its covariance is zero and isotropy is "
                      "undefined. Pass rows that vary.")


def _given_norms(norms: Any, n: int) -> np.ndarray:
    """The caller's row norms, checked: one finite value per row, no zero row (its cosine is undefined)."""
    values = np.asarray(norms, dtype=np.float64)
    if values.shape != (n,) or not np.isfinite(values).all():
        raise ValueError(f"norms must hold one finite norm per row of X ({n} values); got shape {values.shape}. "
                         "Pass analysis.validation.row_norms(X), or leave norms out.")
    zero = np.flatnonzero(values == 0)
    if zero.size:
        raise _zero_rows_error(zero)
    return values


def _from_sums(arr: np.ndarray, sums: CovarianceSums, exponent: int, norms: np.ndarray | None) -> Isotropy:
    """`isotropy` with the covariance read from `sums` (units of ``X / 2**sums.exponent``): one pass over X."""
    n, d = arr.shape
    if sums.n != n or sums.gram.shape[0] != d:
        raise ValueError(f"sums of {sums.n} rows and {sums.gram.shape[0]} features do not describe X of shape "
                         f"{arr.shape}; pass the sums of these very rows (or none).")
    scatter = sums.scatter()
    variances = np.clip(np.linalg.eigvalsh(scatter / n), 0.0, None)
    # The rounding floor of the two-pass path, in the sums' units (module notes of `isotropy`).
    if not variances.sum() > (d * np.finfo(np.float64).eps) ** 2 * sums.square / n:
        raise _identical_rows_error()
    # sum y y^T = scatter + n ybar ybar^T, with ybar = shift + sum / n (y = X / 2**sums.exponent).
    mean = sums.shift + sums.sum / n
    log_z, unit_sum = _partition_pass(arr, _eigenvectors(scatter + n * np.outer(mean, mean)), exponent,
                                      unit_rows=True, norms=norms)
    return Isotropy(iso_score=iso_score(variances), mean_cosine=(float(unit_sum @ unit_sum) - n) / (n * (n - 1)),
                    partition_isotropy=float(np.exp(log_z.min() - log_z.max())), n_samples=n, n_features=d)


def _partition_pass(arr: np.ndarray, vectors: np.ndarray, exponent: int, *, unit_rows: bool,
                    norms: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """log Z(c) for c = +-each column of `vectors` (Mu & Viswanath), and the sum of unit rows when asked
    (refusing all-zero rows as the first pass does; `norms`, the rows' norms in X's units, if known)."""
    n, d = arr.shape
    unit_sum = np.zeros(d) if unit_rows else None
    # Both signs of each: eigh's sign is arbitrary (it flipped under a rotation of X)
    # and Z(-c) != Z(c) in general; c and -c are both on the sphere min/max runs over.
    # The projections on -c are the negated projections on c: one product serves both.
    log_z = np.empty(2 * d)
    for start in range(0, n, _BLOCK_ROWS):
        block = np.ldexp(np.asarray(arr[start : start + _BLOCK_ROWS], dtype=np.float64), -exponent)
        if unit_sum is not None:
            if norms is None:
                block_norms = scaled_norms(block)
                zero = np.flatnonzero(block_norms == 0)
                if zero.size:
                    raise _zero_rows_error(zero + start)
            else:  # norms of X, the block is X / 2**exponent
                block_norms = np.ldexp(norms[start : start + block.shape[0]], -exponent)
            unit_sum += (block / block_norms[:, None]).sum(axis=0)
        projected = block @ vectors
        if exponent:
            projected = np.ldexp(projected, exponent)
        part = np.concatenate([_column_logsumexp(projected), _column_logsumexp(-projected)])
        log_z = part if start == 0 else np.logaddexp(log_z, part)
    return log_z, unit_sum


def _zero_rows_error(rows: np.ndarray) -> ValueError:
    return ValueError(f"X has all-zero rows (first: {first_rows(rows)}); their cosine is undefined. Drop them.")
