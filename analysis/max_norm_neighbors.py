"""Exact neighbour queries in the max-norm (Chebyshev distance), for the KSG estimators.

Kraskov, Stögbauer & Grassberger (2004) need, for every point, the distance
to its k-th neighbour in the joint space under the max-norm and then how
many points of each marginal space lie strictly closer than that. faiss
(the backend of `analysis.neighbors`) has no radius counts, so this small
companion uses scikit-learn's KD-tree, which does both exactly for the
Chebyshev metric; the information-plane layers it serves have at most a few
dozen dimensions and thousands of rows, where a KD-tree is fast.
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KDTree

from analysis.validation import check_k

__all__ = ["max_norm_count_within", "max_norm_kth_distance"]


def max_norm_kth_distance(Z: np.ndarray, k: int) -> np.ndarray:
    """Max-norm distance from each row of `Z` to its k-th nearest *other* row.

    The query asks for k + 1 neighbours, the row itself among them at
    distance 0, so a duplicated row correctly finds its twin at distance 0.
    """
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    k = check_k(k, n=Z.shape[0] - 1, needs="other rows each")
    distances, _ = KDTree(Z, metric="chebyshev").query(Z, k=k + 1)
    return distances[:, -1]


def max_norm_count_within(Z: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """For each row i, the number of *other* rows at max-norm distance strictly less than ``radii[i]``.

    KD-tree radius queries count ``distance <= r``; the largest float below
    each radius turns that into the strict inequality of Kraskov et al.
    """
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    radii = np.broadcast_to(np.asarray(radii, dtype=np.float64), (Z.shape[0],))
    strict = np.nextafter(radii, 0.0)
    counts = KDTree(Z, metric="chebyshev").query_radius(Z, r=np.maximum(strict, 0.0), count_only=True)
    counts = np.asarray(counts, dtype=np.int64) - 1  # the row itself is at distance 0
    # Nothing is strictly closer than a radius <= 0 (the query above would count exact duplicates).
    return np.where(radii > 0, counts, 0)
