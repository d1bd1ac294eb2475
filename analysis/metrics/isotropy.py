"""Isotropy: does the representation use all its directions, or sit in a narrow cone?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import logsumexp

from analysis.metrics._result import MetricResult
from analysis.validation import check_matrix, first_rows

__all__ = ["Isotropy", "iso_score", "isotropy"]


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
    norm = np.linalg.norm(s)
    if not norm > 0:
        raise ValueError("all variances are zero (identical rows): IsoScore is undefined.")
    s_hat = math.sqrt(d) * s / norm
    defect_sq = float(np.sum((s_hat - 1.0) ** 2)) / (2.0 * (d - math.sqrt(d)))
    phi = (d - defect_sq * (d - math.sqrt(d))) ** 2 / d**2
    return float(np.clip((d * phi - 1.0) / (d - 1.0), 0.0, 1.0))


def isotropy(X: Any) -> Isotropy:
    """Three isotropy diagnostics of a point cloud.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        At least 2 rows and 2 features; no zero rows (cosines).

    Returns
    -------
    Isotropy

    Notes
    -----
    One pass over row blocks accumulates the unit-row sum, the sum and
    the second moment (float64); a second computes the partition function.
    IsoScore uses the covariance eigenvalues (the data are centred, so it
    is translation invariant); it is invariant to rotation and to a global
    scale. The mean cosine is exact in O(n d): ``(||sum u||^2 - n) / (n (n-1))``
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
    # One pass for the unit-row sum (mean cosine), the sum and the second moment
    # (covariance for IsoScore, eigenvectors for the partition function).
    unit_sum = np.zeros(d)
    total = np.zeros(d)
    second = np.zeros((d, d))
    for start in range(0, n, 65_536):
        block = np.asarray(arr[start : start + 65_536], dtype=np.float64)
        norms = np.linalg.norm(block, axis=1)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValueError(
                f"X has all-zero rows (first: {first_rows(zero + start)}); their cosine is undefined. Drop them."
            )
        unit_sum += (block / norms[:, None]).sum(axis=0)
        total += block.sum(axis=0)
        second += block.T @ block
    mean = total / n
    covariance = second / n - np.outer(mean, mean)
    variances = np.clip(np.linalg.eigvalsh(0.5 * (covariance + covariance.T)), 0.0, None)
    if not variances.sum() > 0:
        raise ValueError("X has identical rows: its covariance is zero and isotropy is undefined.")
    score = iso_score(variances)
    mean_cosine = (float(unit_sum @ unit_sum) - n) / (n * (n - 1))
    # Mu & Viswanath: Z(c) over the eigenvectors of X^T X (uncentred), via log-sum-exp.
    # Both signs of each: eigh's sign is arbitrary (it flipped under a rotation of X)
    # and Z(-c) != Z(c) in general; c and -c are both on the sphere min/max runs over.
    _, vectors = np.linalg.eigh(second)
    vectors = np.hstack([vectors, -vectors])
    log_z = np.empty(2 * d)
    for start in range(0, n, 65_536):
        block = np.asarray(arr[start : start + 65_536], dtype=np.float64)
        part = logsumexp(block @ vectors, axis=0)
        log_z = part if start == 0 else np.logaddexp(log_z, part)
    partition = float(np.exp(log_z.min() - log_z.max()))
    return Isotropy(iso_score=score, mean_cosine=float(mean_cosine), partition_isotropy=partition,
                    n_samples=n, n_features=d)
