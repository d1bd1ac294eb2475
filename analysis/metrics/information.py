"""Information-plane estimates (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018): I(X;T) and I(T;Y) in bits.

Each row of T is the layer's output for one distinct input x, so X -> T is
deterministic. Two estimators here: binning (discretise T; then
I(X;T) = H(T)) and the KDE upper bound for T plus Gaussian noise
(Kolchinsky & Tracey 2017, as used by Saxe et al. 2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import logsumexp

from analysis.metrics._result import MetricResult
from analysis.validation import check_matrix

__all__ = ["InformationPoint", "information_plane_point"]

ESTIMATORS = ("binning", "kde")
_LOG2 = math.log(2.0)


@dataclass(frozen=True, eq=False)
class InformationPoint(MetricResult):
    """One layer's point in the information plane (bits).

    Attributes
    ----------
    i_xt, i_ty : float
        I(X;T) and I(T;Y) in bits.
    estimator : str
    setting : str
        The estimator's parameter, e.g. "30 bins over [min, max]", "bin width 0.5", "noise variance 0.1".
    n_samples : int
    """

    i_xt: float
    i_ty: float
    estimator: str
    setting: str
    n_samples: int

    SCALARS: ClassVar[tuple[str, ...]] = ("i_xt", "i_ty")


def _entropy_bits(symbols: np.ndarray) -> float:
    """Plug-in entropy (bits) of the rows' discrete symbols."""
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _binned(T: np.ndarray, n_bins: int | None, bin_width: float | None,
            value_range: tuple[float, float] | None) -> tuple[np.ndarray, str]:
    """Each row's bin indices as one integer symbol per row.

    Values outside the range are clipped into the edge bins. (The reference
    code of Shwartz-Ziv & Tishby wraps values below the range around to the
    last bin through negative indexing: a bug, not a convention.)
    """
    if bin_width is not None:
        if not bin_width > 0:
            raise ValueError(f"bin_width must be positive; got {bin_width!r}.")
        low = float(T.min()) if value_range is None else float(value_range[0])
        index = np.floor((T - low) / bin_width).astype(np.int64)
        if value_range is not None:
            n_edges = int(math.ceil((value_range[1] - value_range[0]) / bin_width))
            index = np.clip(index, 0, max(n_edges - 1, 0))
        setting = f"bin width {bin_width:g}"
    else:
        if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
            raise ValueError(f"n_bins must be an integer >= 2; got {n_bins!r}.")
        low, high = (float(T.min()), float(T.max())) if value_range is None else map(float, value_range)
        if not high > low:
            high = low + 1.0  # a constant layer: every value in one bin
        edges = np.linspace(low, high, int(n_bins) + 1)
        index = np.clip(np.searchsorted(edges, T, side="right") - 1, 0, int(n_bins) - 1)
        setting = f"{n_bins} bins over [{low:.3g}, {high:.3g}]"
    # Rows -> one symbol each (the bin index vector), via unique rows.
    _, symbols = np.unique(index, axis=0, return_inverse=True)
    return symbols.ravel(), setting


def _kde_entropy_upper(T: np.ndarray, variance: float) -> float:
    """-(1/n) sum_i log (1/n) sum_j exp(-||t_i - t_j||^2 / (2 variance)), in nats (pairwise upper bound)."""
    sq = np.sum(T**2, axis=1)
    d2 = np.maximum(sq[:, None] - 2 * T @ T.T + sq[None, :], 0.0)
    return float(-np.mean(logsumexp(-d2 / (2.0 * variance), axis=1) - math.log(T.shape[0])))


def information_plane_point(
    T: Any,
    y: Any,
    *,
    estimator: str = "binning",
    n_bins: int = 30,
    bin_width: float | None = None,
    value_range: tuple[float, float] | None = None,
    noise_variance: float = 0.1,
) -> InformationPoint:
    """I(X;T) and I(T;Y) of one layer, in bits.

    Binning (Shwartz-Ziv & Tishby 2017): every coordinate of T is put in one
    of `n_bins` equal bins over the layer's range (or `value_range`), or in
    bins of fixed width `bin_width` (Saxe et al. 2018, for unbounded
    activations); each row becomes one discrete symbol and, since every row
    is a distinct input, ``I(X;T) = H(T)`` and ``I(T;Y) = H(T) - H(T|Y)``.

    KDE (Kolchinsky & Tracey 2017; Saxe et al. 2018): T is taken with added
    Gaussian noise of variance `noise_variance`; the pairwise-distance upper
    bound gives ``I(X;T) <= -1/n sum_i log 1/n sum_j exp(-||t_i - t_j||^2 / 2 s^2)``
    and ``I(T;Y) = I(X;T) - sum_c p_c I_c`` with I_c the same bound within class c.

    Parameters
    ----------
    T : array-like of shape (n_samples, n_units)
        One row per distinct input.
    y : array-like of shape (n_samples,)
        Labels (any hashable values).
    estimator : {"binning", "kde"}
    n_bins : int, default=30
    bin_width : float, optional
        Fixed-width bins instead of `n_bins`.
    value_range : (low, high), optional
        Range for the bins (values outside go to the edge bins); default the layer's own.
    noise_variance : float, default=0.1
        For ``"kde"``.

    Returns
    -------
    InformationPoint

    References
    ----------
    .. [1] R. Shwartz-Ziv and N. Tishby, "Opening the black box of deep neural
       networks via information", arXiv:1703.00810, 2017.
    .. [2] A. M. Saxe et al., "On the information bottleneck theory of deep
       learning", ICLR 2018.
    .. [3] A. Kolchinsky and B. D. Tracey, "Estimating mixture entropy with
       pairwise distances", Entropy 19(7), 2017.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}.")
    arr = np.asarray(check_matrix(T, name="T", min_samples=2, action="estimating information"), dtype=np.float64)
    labels = np.asarray(y)
    if labels.shape != (arr.shape[0],):
        raise ValueError(f"y must have shape ({arr.shape[0]},), one label per row of T; got {labels.shape}.")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    if estimator == "binning":
        symbols, setting = _binned(arr, n_bins if bin_width is None else None, bin_width, value_range)
        h_t = _entropy_bits(symbols)
        h_t_given_y = sum((codes == c).mean() * _entropy_bits(symbols[codes == c]) for c in np.unique(codes))
        return InformationPoint(i_xt=max(0.0, h_t), i_ty=max(0.0, float(h_t - h_t_given_y)), estimator=estimator,
                                setting=setting, n_samples=arr.shape[0])
    if not noise_variance > 0:
        raise ValueError(f"noise_variance must be positive; got {noise_variance!r}.")
    if arr.shape[0] > 20_000:
        raise ValueError(f"the KDE estimator uses all n^2 pairs; n = {arr.shape[0]} is too many (max 20,000). "
                         "Subsample the rows first.")
    i_xt = _kde_entropy_upper(arr, noise_variance)
    within = sum((codes == c).mean() * _kde_entropy_upper(arr[codes == c], noise_variance) for c in np.unique(codes))
    return InformationPoint(i_xt=max(0.0, i_xt / _LOG2), i_ty=max(0.0, float(i_xt - within) / _LOG2), estimator=estimator,
                            setting=f"noise variance {noise_variance:g}", n_samples=arr.shape[0])
