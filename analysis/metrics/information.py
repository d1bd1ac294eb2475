"""Information-plane estimates (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018): I(X;T) and I(T;Y) in bits.

Each row of T is the layer's output for one distinct input x, so X -> T is
deterministic. The estimators here: binning (discretise T; then
I(X;T) = H(T)), the KDE upper bound for T plus Gaussian noise
(Kolchinsky & Tracey 2017, as used by Saxe et al. 2018), the KSG
k-nearest-neighbour estimators (Kraskov et al. 2004; Ross 2014) on the same
noisy T, and the adaptive binning and adaptive KDE of Chelombiev et al. 2019
(`analysis.metrics.information_adaptive`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.metrics._result import MetricResult
from analysis.metrics.information_adaptive import (
    activity_scale,
    adaptive_bin_edges,
    adaptive_binned_symbols,
)
from analysis.metrics.ksg import ksg_discrete_mutual_information, ksg_mutual_information
from analysis.validation import check_labels, check_matrix, check_option, check_squares

__all__ = ["ESTIMATORS", "InformationPoint", "binned_symbols", "information_plane_point"]

ESTIMATORS = ("binning", "adaptive_binning", "kde", "adaptive_kde", "ksg")
_LOG2 = math.log(2.0)


@dataclass(frozen=True, eq=False)
class InformationPoint(MetricResult):
    """One layer's point in the information plane (bits).

    Attributes
    ----------
    i_xt, i_ty : float
        I(X;T) and I(T;Y) in bits, clipped at 0 (mutual information is never
        negative): what the information plane plots.
    estimator : str
    setting : str
        The estimator's parameter, e.g. "30 bins over [min, max]", "bin width 0.5", "noise variance 0.1".
    n_samples : int
    i_xt_raw, i_ty_raw : float
        The estimates before clipping (equal to ``i_xt``, ``i_ty`` when not
        negative). KSG's can dip slightly below 0 where the truth is near 0:
        its sampling noise straddles the true value (`analysis.metrics.ksg`);
        a binned or KDE I(T;Y) can be -1e-16 by rounding.
    """

    i_xt: float
    i_ty: float
    estimator: str
    setting: str
    n_samples: int
    i_xt_raw: float
    i_ty_raw: float

    SCALARS: ClassVar[tuple[str, ...]] = ("i_xt", "i_ty")


def _entropy_bits(symbols: np.ndarray) -> float:
    """Plug-in entropy (bits) of the rows' discrete symbols."""
    _, counts = np.unique(symbols, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


# Above this many bins the edges are not materialised (8 MiB of float64 edges).
_MAX_EDGE_BINS = 1 << 20


def binned_symbols(T: np.ndarray, n_bins: int | None, bin_width: float | None,
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
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            positions = np.floor((T - low) / bin_width)
        if not np.all(np.abs(positions) < 2.0**62):
            raise ValueError(
                f"bin_width={bin_width!r} is too small for the layer's range ({float(T.min()):.3g} to "
                f"{float(T.max()):.3g}): bin indices would overflow int64. Use a larger bin_width or n_bins."
            )
        index = positions.astype(np.int64)
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
        if int(n_bins) <= _MAX_EDGE_BINS:
            edges = np.linspace(low, high, int(n_bins) + 1)
            index = np.clip(np.searchsorted(edges, T, side="right") - 1, 0, int(n_bins) - 1)
        else:
            # No (n_bins + 1) edge array: n_bins = 1e12 would ask for 7.3 TiB. The bin of
            # each value by arithmetic (the same bins up to rounding at the edges).
            width = (high - low) / int(n_bins)
            if not width > 0:
                raise ValueError(f"n_bins={n_bins} splits the range [{low:.3g}, {high:.3g}] into bins of width 0.")
            index = np.clip(np.floor((T - low) / width), 0, int(n_bins) - 1).astype(np.int64)
        setting = f"{n_bins} bins over [{low:.3g}, {high:.3g}]"
    # Rows -> one symbol each (the bin index vector), via unique rows.
    _, symbols = np.unique(index, axis=0, return_inverse=True)
    return symbols.ravel(), setting


# Rows of the kernel matrix computed per block: 1,024 x n float64 stays under
# ~35 MB at n = 4,096, and the blocks run on the cores in parallel (numpy
# releases the GIL in matmul and exp).
_KDE_BLOCK_ROWS = 1024
_ONE_HOT_MAX_BYTES = 64 * 2**20


def _kde_log_row_sums(T: np.ndarray, codes: np.ndarray, n_classes: int, variance: float) -> tuple[np.ndarray, np.ndarray]:
    """log sum_j K_ij over all j, and over the j of i's class, with K_ij = exp(-||t_i - t_j||^2 / (2 variance)).

    Each row's sum includes K_ii = 1, the largest term, so its log needs no
    max-shift (logsumexp) to stay finite.
    """
    # The bound is translation invariant: centre in float64 first, so that the Gram
    # expansion ||a||^2 + ||b||^2 - 2 a.b below does not lose the distances to an
    # offset (a shift of 1e4 made every kernel 0); on the median, which one far row
    # does not drag away from all the others as it would the mean. float32 kernels
    # (exp is the cost, twice as fast as float64) only while the expansion's
    # rounding, about 1e-7 ||t||^2, stays far below the kernel width; the sums
    # accumulate in float64.
    centred = T - np.median(T, axis=0)
    dtype = np.float32 if np.einsum("ij,ij->i", centred, centred).max() <= 1e3 * variance else np.float64
    T32 = np.ascontiguousarray(centred, dtype=dtype)
    sq = np.einsum("ij,ij->i", T32, T32)
    # Same-class sums by a one-hot product (BLAS) while the (n, C) table is small;
    # with many classes (one label per row: 1.6 GB at n = 20,000) by a same-class
    # mask of each block instead, O(block x n) like the kernel itself.
    one_hot = None
    if T.shape[0] * n_classes * 4 <= _ONE_HOT_MAX_BYTES:
        one_hot = np.zeros((T.shape[0], n_classes), dtype=dtype)
        one_hot[np.arange(T.shape[0]), codes] = 1.0
    total = np.empty(T.shape[0])
    own = np.empty(T.shape[0])

    def block(start: int) -> None:
        rows = slice(start, min(start + _KDE_BLOCK_ROWS, T.shape[0]))
        kernel = T32[rows] @ T32.T  # becomes exp(-d2 / 2 variance) in place
        kernel *= -2.0
        kernel += sq[rows, None]
        kernel += sq[None, :]
        np.maximum(kernel, 0.0, out=kernel)
        kernel *= np.float32(-0.5 / variance)
        np.exp(kernel, out=kernel)
        total[rows] = kernel.sum(axis=1, dtype=np.float64)
        if one_hot is not None:
            own[rows] = (kernel @ one_hot)[np.arange(kernel.shape[0]), codes[rows]]
        else:
            same = codes[rows, None] == codes[None, :]
            own[rows] = np.where(same, kernel, np.float32(0.0)).sum(axis=1, dtype=np.float64)

    starts = range(0, T.shape[0], _KDE_BLOCK_ROWS)
    with ThreadPoolExecutor(max_workers=max(1, min(len(starts), os.cpu_count() or 1))) as pool:
        list(pool.map(block, starts))
    # Each sum holds K_ii = 1 exactly in exact arithmetic; float32 rounding of the self-distance
    # could leave it a hair below, and the bound a hair above log n.
    return np.log(np.maximum(total, 1.0)), np.log(np.maximum(own, 1.0))


def information_plane_point(
    T: Any,
    y: Any,
    *,
    estimator: str = "binning",
    n_bins: int = 30,
    bin_width: float | None = None,
    value_range: tuple[float, float] | None = None,
    noise_variance: float = 0.1,
    k: int = 3,
    seed: int = 0,
    bin_edges: Sequence[np.ndarray] | None = None,
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

    Adaptive binning (entropy-based adaptive binning, Chelombiev et al.
    2019): unit j's inner edges e_j1 <= ... are the quantiles k / n_bins of its
    activations (`bin_edges`, default T's own: `adaptive_bin_edges`), value
    t goes to bin #{e_jk < t}, and then as for binning
    ``I(X;T) = H(T) = -sum_t p(t) log2 p(t)``, ``I(T;Y) = H(T) - sum_c p_c H(T | Y = c)``.
    Only the ranks of each unit's values matter: a strictly increasing map
    of any unit changes nothing.

    Adaptive KDE (Chelombiev et al. 2019): the KDE bound with noise variance
    ``s^2 = noise_variance * max_ij |t_ij|^2``, scaled to the layer's largest
    activation, so a rescaled layer cT gives the same estimate as T.

    KSG (Kraskov, Stögbauer & Grassberger 2004; Ross 2014): the same noisy
    layer ``T' = T + Z``, Z ~ N(0, noise_variance I), drawn once with `seed`.
    Because T is a function of X and Z is independent of X,
    ``I(X;T') = I(T;T')``, two continuous variables: KSG's algorithm 1 with
    `k` neighbours estimates it. ``I(T';Y)`` comes from Ross's estimator for a
    continuous and a discrete variable. (KSG directly on X fails here: the
    12-bit inputs are binary, all at max-norm distance 1 from each other.)

    Parameters
    ----------
    T : array-like of shape (n_samples, n_units)
        One row per distinct input.
    y : array-like of shape (n_samples,)
        Labels (any hashable values).
    estimator : {"binning", "adaptive_binning", "kde", "adaptive_kde", "ksg"}
    n_bins : int, default=30
        Bins per unit (for ``"adaptive_binning"`` the most per unit: tied quantiles merge).
    bin_width : float, optional
        Fixed-width bins instead of `n_bins`.
    value_range : (low, high), optional
        Range for the bins (values outside go to the edge bins); default the layer's own.
    noise_variance : float, default=0.1
        For ``"kde"`` and ``"ksg"``: the variance of the Gaussian noise added to T; for
        ``"adaptive_kde"``: the variance relative to the squared largest activation, max|t|^2.
    k : int, default=3
        For ``"ksg"``: the number of neighbours.
    seed : int, default=0
        For ``"ksg"``: seeds the noise draw.
    bin_edges : sequence of arrays, optional
        For ``"adaptive_binning"``: each unit's inner edges, e.g. `adaptive_bin_edges` of the
        layer's activations over every checkpoint of a run; default the quantiles of T itself.

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
    .. [4] A. Kraskov, H. Stögbauer and P. Grassberger, "Estimating mutual
       information", Physical Review E 69, 066138, 2004.
    .. [5] B. C. Ross, "Mutual information between discrete and continuous
       data sets", PLoS ONE 9(2), e87357, 2014.
    .. [6] I. Chelombiev, C. J. Houghton and C. O'Donnell, "Adaptive estimators
       show information compression in deep neural networks", ICLR 2019.
    """
    check_option(estimator, ESTIMATORS, what="estimator")
    arr = np.asarray(check_matrix(T, name="T", min_samples=2, action="estimating information"), dtype=np.float64)
    labels = check_labels(y, arr.shape[0], name="y", rows_of="T")
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.ravel()
    if estimator in ("binning", "adaptive_binning"):
        if estimator == "binning":
            symbols, setting = binned_symbols(arr, n_bins if bin_width is None else None, bin_width, value_range)
        else:
            edges = adaptive_bin_edges(arr, n_bins) if bin_edges is None else bin_edges
            symbols = adaptive_binned_symbols(arr, edges)
            setting = f"{n_bins} equal-mass bins per unit"
        h_t = _entropy_bits(symbols)
        h_t_given_y = sum((codes == c).mean() * _entropy_bits(symbols[codes == c]) for c in np.unique(codes))
        return _clipped(h_t, float(h_t - h_t_given_y), estimator=estimator, setting=setting, n_samples=arr.shape[0])
    if not noise_variance > 0:
        raise ValueError(f"noise_variance must be positive; got {noise_variance!r}.")
    setting = f"noise variance {noise_variance:g}"
    if estimator == "adaptive_kde":
        # Noise variance noise_variance * max|t|^2 on T is the same bound as noise_variance on T / max|t|:
        # the latter keeps the kernels' float32 squares in range whatever the layer's scale.
        scale = activity_scale(arr)
        setting = f"noise variance {noise_variance:g} x max|t|^2, max|t| = {scale:.4g}"
        arr = arr / scale
    if estimator == "ksg":
        noisy = arr + np.random.default_rng(seed).normal(scale=math.sqrt(noise_variance), size=arr.shape)
        i_xt = ksg_mutual_information(arr, noisy, k=k).value
        i_ty = ksg_discrete_mutual_information(noisy, codes, k=k).value
        return _clipped(i_xt, i_ty, estimator=estimator, setting=f"{setting}, k = {k}", n_samples=arr.shape[0])
    if arr.shape[0] > 20_000:
        raise ValueError(f"the KDE estimator uses all n^2 pairs; n = {arr.shape[0]} is too many (max 20,000). "
                         "Subsample the rows first.")
    check_squares(arr, name="T", action="the KDE estimator's squared distances (rescale noise_variance too)")
    n_classes = int(codes.max()) + 1
    log_total, log_own = _kde_log_row_sums(arr, codes, n_classes, noise_variance)
    class_sizes = np.bincount(codes, minlength=n_classes)
    # Pairwise upper bounds (nats): H(T') - h(Z) <= -1/n sum_i log 1/n sum_j K_ij, and within class c the
    # same over c's rows; sum_c p_c (mean over c) is the mean over all rows.
    i_xt = float(-np.mean(log_total - math.log(arr.shape[0])))
    within = float(-np.mean(log_own - np.log(class_sizes[codes])))
    return _clipped(i_xt / _LOG2, float(i_xt - within) / _LOG2, estimator=estimator, setting=setting,
                    n_samples=arr.shape[0])


def _clipped(i_xt: float, i_ty: float, *, estimator: str, setting: str, n_samples: int) -> InformationPoint:
    """The point with both raw estimates and their readings max(0, raw) (mutual information is >= 0)."""
    return InformationPoint(i_xt=max(0.0, float(i_xt)), i_ty=max(0.0, float(i_ty)), estimator=estimator,
                            setting=setting, n_samples=int(n_samples), i_xt_raw=float(i_xt), i_ty_raw=float(i_ty))
