"""Adaptive information-plane estimators (Chelombiev, Houghton & O'Donnell 2019): bins and noise that follow the layer.

Fixed bins and a fixed noise variance measure a layer on a ruler that does not
move while the layer's activity grows or shrinks, so a ReLU layer whose values
spread out looks like it gains information and a tanh layer that saturates
looks like it compresses. Chelombiev et al. adapt both estimators to the
activity:

``adaptive_bin_edges`` / ``adaptive_binned_symbols``
    Entropy-based adaptive binning (EBAB): the bin edges of each unit are
    quantiles of that unit's activations, so each of the ``n_bins`` bins holds
    the same share of them and the unit's binned entropy is as large as the
    bin count allows. The edges are data values chosen by rank, so the
    binning depends on the ranks of the values only: any strictly increasing
    map of a unit (tanh of it, a positive scale) leaves every symbol, and
    hence I(X;T) and I(T;Y), unchanged. Chelombiev et al.'s code pools a
    layer's units and counts distinct values per bin; here each unit gets its
    own equal-mass edges, which is what makes the per-unit invariance hold.

``activity_scale``
    Adaptive KDE: the noise added to the layer has standard deviation
    proportional to the layer's largest absolute activation, i.e. variance
    ``noise_variance * max|t|^2``; the KDE bound is then invariant to a
    rescaling of the layer.

References
----------
.. [1] I. Chelombiev, C. J. Houghton and C. O'Donnell, "Adaptive estimators
   show information compression in deep neural networks", ICLR 2019.
.. [2] R. Kohavi and M. Sahami, "Error-based and entropy-based discretization
   of continuous features", KDD 1996.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["activity_scale", "adaptive_bin_edges", "adaptive_binned_symbols"]


def adaptive_bin_edges(values: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Per unit (column), the edges that cut its N sorted values nearest to the ranks j N / n_bins, j = 1 .. n_bins - 1.

    ``values`` is (N, n_units): the activations the bins adapt to (one
    checkpoint's rows, or every checkpoint's stacked). A cut can only fall
    between two distinct values, so each ideal rank j N / n_bins moves to the
    nearest place where the sorted values change, and an edge is the first
    value above its cut (a bin is [e_j, e_j+1)). Without ties every bin holds
    N / n_bins values (up to rounding), the most entropy n_bins bins allow;
    tied values (ReLU's zeros, tanh saturated at exactly 1) stay in one bin,
    so such a unit gets fewer, never empty, bins. Only ranks matter, so a
    strictly increasing map of a unit moves its edges with its values.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2; got {n_bins!r}.")
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"values must be a non-empty (n_values, n_units) matrix; got shape {arr.shape}.")
    ideal = np.arange(1, int(n_bins)) * (arr.shape[0] / int(n_bins))
    edges = []
    for column in arr.T:
        ordered = np.sort(column)
        cuts = np.flatnonzero(ordered[1:] > ordered[:-1]) + 1  # the first rank above each change of value
        if cuts.size == 0:  # a constant unit: one bin
            edges.append(np.empty(0))
            continue
        above = np.clip(np.searchsorted(cuts, ideal), 0, cuts.size - 1)
        below = np.clip(above - 1, 0, cuts.size - 1)
        nearest = np.where(np.abs(cuts[below] - ideal) <= np.abs(cuts[above] - ideal), cuts[below], cuts[above])
        edges.append(ordered[np.unique(nearest)])
    return edges


def adaptive_binned_symbols(T: np.ndarray, edges: Sequence[np.ndarray]) -> np.ndarray:
    """Each row's per-unit bin indices under `edges` (bins [e_j, e_j+1)) as one integer symbol per row."""
    if len(edges) != T.shape[1]:
        raise ValueError(f"bin_edges has {len(edges)} units' edges but T has {T.shape[1]} units; pass one edge "
                         "array per column of T (adaptive_bin_edges of the layer's values).")
    index = np.column_stack([np.searchsorted(np.asarray(e, dtype=np.float64), T[:, j], side="right")
                             for j, e in enumerate(edges)])
    _, symbols = np.unique(index, axis=0, return_inverse=True)
    return symbols.ravel()


def activity_scale(T: np.ndarray) -> float:
    """The layer's largest absolute activation max_ij |t_ij|: the adaptive KDE's noise scale (1 for a zero layer)."""
    scale = float(np.max(np.abs(T)))
    return scale if scale > 0 else 1.0  # every row equal: any noise gives I = 0
