"""Orthogonal Procrustes distance between two representations of the same inputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.linalg.blas import dgemm

from analysis.metrics._similarity_inputs import (
    _CHUNK_ELEMENTS,
    _Centred,
    _check_budget,
    _check_pair,
    _refuse_constant,
)

__all__ = ["procrustes_distance"]


def _unit_factor(arr: np.ndarray, name: str) -> _Centred:
    """Centred X, or (more features than rows) an n x n factor with the same Gram, for products."""
    rep = _Centred(arr, name)
    if rep.d <= rep.n:
        return rep
    # More features than samples: Xc^T = Q R (Q orthonormal d x n), so Xc^T Yc = Q (R Yc) has the
    # singular values of R Yc, and R^T (n x n, already centred) can stand in for Xc.
    _check_budget(8.0 * rep.n * rep.d * 2, f"Procrustes distance with {name} of shape {arr.shape}")
    r = np.linalg.qr(rep.rows(0, rep.n).T, mode="r")
    return _Centred(np.ascontiguousarray(r.T), name)


def procrustes_distance(X: Any, Y: Any) -> float:
    """Orthogonal Procrustes distance between centred, unit-Frobenius-norm representations.

    With the columns centred and each matrix scaled to ``||X||_F = ||Y||_F = 1``
    (the narrower one padded with zero columns, which changes nothing below),

    .. math::

        d(X, Y) = \\min_{Q^\\top Q = I} \\|X - Y Q\\|_F = \\sqrt{\\max(0,\\; 2 - 2\\,\\|X^\\top Y\\|_*)}

    where ``||.||_*`` is the nuclear norm (sum of singular values), the value of
    the orthogonal Procrustes problem [1]_. It is a metric on shapes up to
    rotation, translation and scale [2]_; ``d^2`` is the Procrustes distance of
    Ding et al. [3]_, and ``arccos ||X^T Y||_*`` the angular form of [2]_.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)

    Returns
    -------
    float
        In [0, sqrt(2)]: 0 when Y is a rotated (or reflected), scaled and
        translated copy of X; sqrt(2) when every centred feature of X is
        orthogonal to every centred feature of Y (``X^T Y = 0``).

    Raises
    ------
    ValueError
        Different row counts, fewer than 2 rows, NaN/Inf, a constant X or Y.

    Notes
    -----
    Invariant to orthogonal transforms, isotropic scaling and translation of
    either argument; symmetric. Cost ``O(n d_x d_y)`` plus an SVD of the
    ``d_x x d_y`` cross product; a side with more features than rows is
    first reduced to an ``n x n`` factor with the same Gram (a QR), which
    leaves the singular values of the cross product unchanged.

    References
    ----------
    .. [1] P. H. Schonemann, "A generalized solution of the orthogonal
       Procrustes problem", Psychometrika 31, 1966.
    .. [2] A. H. Williams, E. Kunz, S. Kornblith and S. W. Linderman,
       "Generalized shape metrics on neural representations", NeurIPS 2021.
    .. [3] F. Ding, J.-S. Denain and J. Steinhardt, "Grounding representation
       similarity through statistical testing", NeurIPS 2021.
    """
    x, y = _check_pair(X, Y, min_samples=2, why="the Procrustes distance",
                       action="computing the Procrustes distance")
    _refuse_constant(x, "X", "the Procrustes distance (no shape to normalise)")
    _refuse_constant(y, "Y", "the Procrustes distance (no shape to normalise)")
    a, b = _unit_factor(x, "X"), _unit_factor(y, "Y")
    _check_budget(8.0 * (a.d * b.d + _CHUNK_ELEMENTS * 2), "the Procrustes cross product")
    cross = np.zeros((a.d, b.d), order="F")
    norm_a = norm_b = 0.0
    step = max(1, _CHUNK_ELEMENTS // (a.d + b.d))
    for start in range(0, a.n, step):
        stop = min(start + step, a.n)
        block_a, block_b = a.rows(start, stop), b.rows(start, stop)
        norm_a += float(np.einsum("ij,ij->", block_a, block_a))
        norm_b += float(np.einsum("ij,ij->", block_b, block_b))
        cross = dgemm(1.0, block_a.T, block_b.T, beta=1.0, c=cross, trans_b=1, overwrite_c=1)
    nuclear = float(np.linalg.svd(cross, compute_uv=False).sum()) / (math.sqrt(norm_a) * math.sqrt(norm_b))
    if not math.isfinite(nuclear):
        raise ValueError("the Procrustes distance overflowed float64; rescale X and Y first "
                         "(the distance is invariant to scaling each).")
    return math.sqrt(max(0.0, 2.0 - 2.0 * min(1.0, nuclear)))
