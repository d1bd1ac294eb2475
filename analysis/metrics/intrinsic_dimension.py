"""Intrinsic dimension from nearest-neighbour distances: TwoNN and the Levina-Bickel MLE."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.metrics._result import MetricResult
from analysis.neighbors import kneighbors
from analysis.validation import check_matrix, max_abs, power_of_two_exponent

__all__ = ["IntrinsicDimension", "intrinsic_dimension"]

METHODS = ("twonn", "mle")


@dataclass(frozen=True, eq=False)
class IntrinsicDimension(MetricResult):
    """Result of :func:`intrinsic_dimension`.

    Attributes
    ----------
    dimension : float
    method : str
    k : int
        Neighbours used (2 for TwoNN).
    n_used : int
        Distinct points the estimate is based on.
    n_duplicates : int
        Rows dropped because they repeat an earlier row (a zero distance
        would divide by zero; duplicates carry no information on dimension).
    """

    dimension: float
    method: str
    k: int
    n_used: int
    n_duplicates: int

    SCALARS: ClassVar[tuple[str, ...]] = ("dimension",)


def intrinsic_dimension(X: Any, *, method: str = "twonn", k: int = 10) -> IntrinsicDimension:
    """Intrinsic dimension of a point cloud from its nearest-neighbour distances.

    - ``"twonn"`` (Facco et al. 2017): with r1, r2 each point's first and
      second neighbour distances, mu = r2 / r1 is Pareto(d)-distributed, and
      the maximum-likelihood estimate is ``d = n / sum_i log mu_i``.
    - ``"mle"`` (Levina & Bickel 2005) with k neighbours: per point
      ``m_i = [ (1/(k-1)) sum_{j<k} log(T_k / T_j) ]^{-1}``, averaged as
      ``[mean_i 1/m_i]^{-1}`` (the correction of MacKay & Ghahramani 2005).

    Duplicate rows are dropped first (reported in ``n_duplicates``): a zero
    neighbour distance would divide by zero. Both estimates depend only on
    ratios of distances, so they are invariant to a global scale ``c X`` at
    any magnitude (the search runs on ``X / 2**e``, an exact rescaling).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    method : {"twonn", "mle"}, default="twonn"
    k : int, default=10
        Neighbours for ``"mle"`` (>= 2); TwoNN always uses 2.

    Returns
    -------
    IntrinsicDimension

    Raises
    ------
    ValueError
        Unknown method, k < 2, fewer than k + 1 distinct points, NaN/Inf.

    References
    ----------
    .. [1] E. Facco, M. d'Errico, A. Rodriguez and A. Laio, "Estimating the
       intrinsic dimension of datasets by a minimal neighborhood
       information", Scientific Reports 7, 2017.
    .. [2] E. Levina and P. J. Bickel, "Maximum likelihood estimation of
       intrinsic dimension", NIPS 2005.
    .. [3] D. J. C. MacKay and Z. Ghahramani, "Comments on 'Maximum likelihood
       estimation of intrinsic dimension' by E. Levina and P. Bickel", 2005.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    arr = np.asarray(check_matrix(X, action="estimating the intrinsic dimension"), dtype=np.float64)
    k = 2 if method == "twonn" else k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"k must be an integer >= 2; got {k!r}.")
    unique = np.unique(arr, axis=0)
    duplicates = arr.shape[0] - unique.shape[0]
    if unique.shape[0] <= k:
        raise ValueError(
            f"X has {unique.shape[0]} distinct points; estimating the intrinsic dimension with k = {k} needs at "
            f"least {k + 1}."
        )
    # Distance ratios are scale-free: search X / 2**e (exact), which keeps rows
    # at 1e160 inside the float32 search and rows at 1e-200 out of underflow.
    distances, _ = kneighbors(np.ldexp(unique, -power_of_two_exponent(max_abs(unique))), int(k))
    distances = distances.astype(np.float64)
    if method == "twonn":
        log_mu = np.log(distances[:, 1] / distances[:, 0])
        total = log_mu.sum()
        if not total > 0:
            raise ValueError("every point's two nearest neighbours are equally far: TwoNN is undefined here.")
        dimension = unique.shape[0] / total
    else:
        logs = np.log(distances[:, -1:] / distances[:, :-1])  # log(T_k / T_j), j < k
        inverse = logs.mean(axis=1)  # 1 / m_i
        if not inverse.mean() > 0:
            raise ValueError("all k nearest neighbours are equally far: the MLE is undefined here.")
        dimension = 1.0 / inverse.mean()
    return IntrinsicDimension(dimension=float(dimension), method=method, k=int(k), n_used=int(unique.shape[0]),
                              n_duplicates=int(duplicates))
