"""Canonical correlation analysis between two representations of the same inputs: CCA, SVCCA and PWCCA.

Every function compares two matrices whose row i describes the same input
(two layers, two checkpoints, two seeds). Canonical correlations are
computed in closed form from orthonormal bases of the two centred column
spaces (Bjorck & Golub 1973): with ``Xc = U_x S_x V_x^T`` and
``Yc = U_y S_y V_y^T`` (thin SVDs), the canonical correlations are the
singular values of ``U_x^T U_y``, the cosines of the principal angles
between the two spans. No covariance matrix is formed or inverted, so the
result stays accurate when a covariance is ill-conditioned, and there is no
iteration: scikit-learn's ``CCA`` runs a NIPALS loop per component (slow,
and approximate until it converges), this is two SVDs of the data and one
of a small ``r_x x r_y`` matrix.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from analysis.metrics._result import MetricResult
from analysis.metrics._similarity_inputs import (
    _Centred,
    _check_budget,
    _check_pair,
    _refuse_constant,
)
from analysis.validation import ProgressFn, check_matrix

__all__ = ["CcaResult", "PwccaResult", "SvccaResult", "cca_correlations", "cca_matrices", "pwcca", "svcca"]

# Singular values below this share of the largest, scaled by max(n, d), are rank deficiency (numpy's
# matrix_rank rule): exactly repeated, dead or linearly dependent units add no direction.
_EPS = np.finfo(np.float64).eps


def _one_thread() -> contextlib.AbstractContextManager[object]:
    """One BLAS/LAPACK thread for CCA's SVDs and products.

    The SVD's bidiagonalisation is memory-bound level-2 BLAS, and OpenBLAS's threads spin-wait between its
    many short calls: with other busy processes on a 2-core machine, a 10,000 x 384 SVD took 41 s on two
    threads and 2.8 s on one, and the checkpoint x checkpoint matrix of a shipped digits run (144 SVDs of
    64 x 64, 1,797 rows) 26 s instead of 0.65 s (measured). One thread loses at most the core count on an
    idle machine; many threads on a busy one lose 15x.
    """
    return threadpool_limits(limits=1, user_api="blas")


# --------------------------------------------------------------------------- bases


@dataclass(frozen=True)
class _Basis:
    """Thin SVD of one centred (and power-of-two scaled) representation, rank-truncated."""

    u: np.ndarray  # (n, r) orthonormal basis of the centred column space
    s: np.ndarray  # (r,) singular values, descending
    vt: np.ndarray  # (r, d) right singular vectors
    n: int
    d: int

    @property
    def rank(self) -> int:
        return int(self.s.size)

    def top(self, k: int) -> _Basis:
        return _Basis(self.u[:, :k], self.s[:k], self.vt[:k], self.n, self.d)

    def explained(self) -> np.ndarray:
        """Cumulative share of the variance explained by the first 1, 2, ... directions."""
        var = self.s**2
        return np.cumsum(var) / var.sum()


def _basis(arr: np.ndarray, name: str) -> _Basis:
    rep = _Centred(arr, name)
    _check_budget(8.0 * rep.n * rep.d * 3, f"CCA's SVD of {name} of shape {arr.shape}")
    with _one_thread():
        u, s, vt = np.linalg.svd(rep.rows(0, rep.n), full_matrices=False)
    rank = int(np.count_nonzero(s > s[0] * max(rep.n, rep.d) * _EPS)) if s.size and s[0] > 0 else 0
    return _Basis(u[:, :rank], s[:rank], vt[:rank], rep.n, rep.d)


def _bases(X: Any, Y: Any, what: str) -> tuple[_Basis, _Basis]:
    x, y = _check_pair(X, Y, min_samples=3, why=what, action=f"computing {what}")
    _refuse_constant(x, "X", what)
    _refuse_constant(y, "Y", what)
    return _basis(x, "X"), _basis(y, "Y")


def _check_room(rank_x: int, rank_y: int, n: int, what: str, fix: str) -> None:
    """Refuse when the dimension count alone forces canonical correlations of 1.

    Centred data live in an (n - 1)-dimensional space; two subspaces of
    dimensions r_x and r_y in it share at least r_x + r_y - (n - 1)
    directions, each a canonical correlation of exactly 1 whatever X and Y are.
    """
    if rank_x + rank_y > n - 1:
        forced = rank_x + rank_y - (n - 1)
        raise ValueError(
            f"{what} compares {rank_x} directions of X with {rank_y} of Y on {n} samples: centred data span at "
            f"most n - 1 = {n - 1} dimensions, so at least {forced} canonical correlations would be 1 by "
            f"dimension count alone, whatever X and Y are. {fix}"
        )


def _principal(bx: _Basis, by: _Basis) -> tuple[np.ndarray, np.ndarray]:
    """Canonical correlations (descending, min(r_x, r_y) of them) and X's canonical directions in U_x's basis."""
    with _one_thread():
        a, rho, _ = np.linalg.svd(bx.u.T @ by.u, full_matrices=False)
    k = min(bx.rank, by.rank)
    # Cosines of principal angles lie in [0, 1]; clip only the last-bit rounding.
    return np.clip(rho[:k], 0.0, 1.0), a[:, :k]


# --------------------------------------------------------------------------- CCA


@dataclass(frozen=True)
class CcaResult(MetricResult):
    """Canonical correlations between two representations.

    Attributes
    ----------
    correlations : ndarray of shape (min(rank_x, rank_y),)
        Canonical correlations rho_1 >= rho_2 >= ... in [0, 1].
    mean : float
        Their mean.
    rank_x, rank_y : int
        Dimensions of the centred column spaces compared (rank-deficient directions dropped).
    n_samples : int
    """

    correlations: np.ndarray
    mean: float
    rank_x: int
    rank_y: int
    n_samples: int

    SCALARS: ClassVar[tuple[str, ...]] = ("mean",)


def cca_correlations(X: Any, Y: Any) -> CcaResult:
    """Canonical correlations of two representations of the same inputs, by QR/SVD (no matrix inverses).

    CCA finds pairs of unit-variance projections ``x w_i``, ``y v_i``, each
    uncorrelated with the earlier ones, with the largest correlation

    .. math::

        \\rho_i = \\max_{w, v} \\operatorname{corr}(X_c w, Y_c v)
                = \\sigma_i\\big(U_x^\\top U_y\\big)

    where ``U_x``, ``U_y`` are orthonormal bases of the column spaces of the
    centred ``X_c``, ``Y_c`` (from their thin SVDs) and ``sigma_i`` the i-th
    singular value: the canonical correlations are the cosines of the
    principal angles between the two spans [1]_, [2]_. This is the textbook
    ``Sigma_xx^{-1/2} Sigma_xy Sigma_yy^{-1/2}`` without forming or inverting
    a covariance, hence stable when they are ill-conditioned; it is exact
    (not iterative like scikit-learn's NIPALS ``CCA``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)

    Returns
    -------
    CcaResult
        ``min(rank_x, rank_y)`` correlations, descending, and their mean.

    Raises
    ------
    ValueError
        Different row counts, fewer than 3 rows, NaN/Inf, a constant X or Y,
        or ``rank_x + rank_y > n - 1``: then the two spans must share
        directions and that many correlations are 1 whatever the data (with
        fewer samples than features CCA always "matches"). Use more samples,
        or reduce the features first (`svcca`).

    Notes
    -----
    Rank deficiency (dead units, duplicated or linearly dependent units) is
    handled by dropping singular directions below ``s_max * max(n, d) * eps``
    (numpy's ``matrix_rank`` rule); no ridge term is added. Invariant to any
    invertible linear map (and translation) of either argument, not only to
    rotations as linear CKA is; symmetric. Every direction counts equally
    however little variance it carries, which is why `svcca` and `pwcca`
    exist. Raghu et al. [3]_ advise many more samples than features.

    References
    ----------
    .. [1] H. Hotelling, "Relations between two sets of variates",
       Biometrika 28, 1936.
    .. [2] A. Bjorck and G. H. Golub, "Numerical methods for computing
       angles between linear subspaces", Mathematics of Computation 27, 1973.
    .. [3] M. Raghu, J. Gilmer, J. Yosinski and J. Sohl-Dickstein, "SVCCA:
       Singular vector canonical correlation analysis for deep learning
       dynamics and interpretability", NeurIPS 2017.
    """
    bx, by = _bases(X, Y, "CCA")
    _check_room(bx.rank, by.rank, bx.n, "CCA",
                "Pass more samples than features (many more), or reduce them first with svcca(X, Y, keep=0.99).")
    rho, _ = _principal(bx, by)
    return CcaResult(correlations=rho, mean=float(rho.mean()), rank_x=bx.rank, rank_y=by.rank, n_samples=bx.n)


# --------------------------------------------------------------------------- SVCCA


@dataclass(frozen=True)
class SvccaResult(MetricResult):
    """SVCCA: canonical correlations between the top singular directions of two representations.

    Attributes
    ----------
    correlations : ndarray of shape (min(kept_x, kept_y),)
        Canonical correlations of the reduced representations, descending, in [0, 1].
    mean : float
        Their mean: the SVCCA similarity (1 - mean is the distance).
    kept_x, kept_y : int
        Singular directions kept on each side.
    variance_x, variance_y : float
        Share of each side's variance those directions explain.
    n_samples : int
    """

    correlations: np.ndarray
    mean: float
    kept_x: int
    kept_y: int
    variance_x: float
    variance_y: float
    n_samples: int

    SCALARS: ClassVar[tuple[str, ...]] = ("mean",)


def _kept(basis: _Basis, keep: float, n_components: int | None, name: str) -> int:
    if n_components is not None:
        if n_components > basis.rank:
            raise ValueError(f"n_components={n_components} but {name} has only {basis.rank} non-degenerate "
                             f"directions (rank of the centred {name}). Pass n_components <= {basis.rank}.")
        return n_components
    # The fewest directions explaining at least `keep` of the variance (a 1e-12 slack absorbs rounding at keep=1).
    return int(np.searchsorted(basis.explained(), keep - 1e-12) + 1)


def svcca(X: Any, Y: Any, *, keep: float = 0.99, n_components: int | None = None) -> SvccaResult:
    """Singular vector CCA (Raghu et al. 2017): CCA between the top singular directions of each representation.

    Each centred representation is reduced to its first ``k`` singular
    directions, ``X' = U_{x,k} S_{x,k}`` (k the fewest explaining at least
    ``keep`` of the variance, ``sum_{i<=k} s_i^2 / sum_i s_i^2 >= keep``, or
    exactly ``n_components``), then CCA compares the reduced sets:

    .. math::

        \\rho_i = \\sigma_i\\big(U_{x,k_x}^\\top U_{y,k_y}\\big), \\qquad
        \\mathrm{SVCCA}(X, Y) = \\frac{1}{\\min(k_x, k_y)} \\sum_i \\rho_i .

    Dropping the low-variance directions keeps CCA from matching noise, to
    which it gives as much weight as to signal [1]_.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)
    keep : float in (0, 1], default 0.99
        Share of each side's variance kept (Raghu et al. keep 99%).
    n_components : int or None
        Keep exactly this many directions on each side instead of `keep`.

    Returns
    -------
    SvccaResult
        The correlations (descending), their mean, and what was kept.

    Raises
    ------
    ValueError
        As `cca_correlations` (for the kept directions), a `keep` outside
        (0, 1], or `n_components` above a side's rank.

    Notes
    -----
    Invariant to rotations, isotropic scaling and translation of either
    side; with every direction kept (``keep=1``) it is CCA, invariant to any
    invertible linear map. Symmetric.

    References
    ----------
    .. [1] M. Raghu, J. Gilmer, J. Yosinski and J. Sohl-Dickstein, "SVCCA:
       Singular vector canonical correlation analysis for deep learning
       dynamics and interpretability", NeurIPS 2017.
    """
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < float(keep) <= 1.0:
        raise ValueError(f"keep must be a share of the variance in (0, 1], e.g. 0.99; got {keep!r}.")
    if n_components is not None and (isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer))
                                     or n_components < 1):
        raise ValueError(f"n_components must be a positive integer or None; got {n_components!r}.")
    bx, by = _bases(X, Y, "SVCCA")
    fixed = None if n_components is None else int(n_components)
    kx, ky = _kept(bx, float(keep), fixed, "X"), _kept(by, float(keep), fixed, "Y")
    _check_room(kx, ky, bx.n, "SVCCA", "Keep fewer directions (a lower keep or n_components) or pass more samples.")
    rho, _ = _principal(bx.top(kx), by.top(ky))
    return SvccaResult(correlations=rho, mean=float(rho.mean()), kept_x=kx, kept_y=ky,
                       variance_x=float(bx.explained()[kx - 1]), variance_y=float(by.explained()[ky - 1]),
                       n_samples=bx.n)


# --------------------------------------------------------------------------- PWCCA


@dataclass(frozen=True)
class PwccaResult(MetricResult):
    """PWCCA: canonical correlations weighted by how much of X each canonical variate accounts for.

    Attributes
    ----------
    correlations : ndarray of shape (min(rank_x, rank_y),)
        Canonical correlations, descending, in [0, 1].
    weights : ndarray of shape (min(rank_x, rank_y),)
        Each canonical variate's share of X, summing to 1.
    similarity : float
        ``sum_i weights_i correlations_i`` in [0, 1].
    distance : float
        ``1 - similarity`` (Morcos et al.'s convention).
    n_samples : int
    """

    correlations: np.ndarray
    weights: np.ndarray
    similarity: float
    distance: float
    n_samples: int

    SCALARS: ClassVar[tuple[str, ...]] = ("similarity", "distance")


def _pwcca_parts(bx: _Basis, by: _Basis, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Canonical correlations and their PWCCA weights (from X's centred units)."""
    _check_room(bx.rank, by.rank, bx.n, what,
                "Pass more samples than features (many more), or reduce the features first (e.g. PCA).")
    rho, a = _principal(bx, by)
    return rho, _weights(a, bx)


def _weights(a: np.ndarray, bx: _Basis) -> np.ndarray:
    """PWCCA weights of X's canonical variates ``H = U_x a``: ``sum_j |<h_i, x_j>|``, normalised to sum 1."""
    # H^T X_c = A^T S_x V_x^T: each canonical variate's projections on X's centred units.
    raw = np.abs((a.T * bx.s) @ bx.vt).sum(axis=1)
    return raw / raw.sum()


def pwcca(X: Any, Y: Any) -> PwccaResult:
    """Projection-weighted CCA (Morcos, Raghu & Bengio 2018): correlations weighted by their share of X.

    With ``h_i = X_c a_i`` the i-th canonical variate of X (unit norm, the
    ``h_i`` orthonormal) and ``x_j`` the j-th centred unit (column) of X,

    .. math::

        \\tilde\\alpha_i = \\sum_j |\\langle h_i, x_j \\rangle|, \\qquad
        \\alpha_i = \\frac{\\tilde\\alpha_i}{\\sum_k \\tilde\\alpha_k}, \\qquad
        d_{\\mathrm{PWCCA}}(X, Y) = 1 - \\sum_i \\alpha_i \\rho_i ,

    so directions that account for much of X's units count more than the
    low-variance directions plain CCA weighs equally [1]_. ``similarity`` is
    ``sum_i alpha_i rho_i``, ``distance`` is ``1 - similarity``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The representation whose units weigh the correlations.
    Y : array-like of shape (n_samples, n_features_y)

    Returns
    -------
    PwccaResult

    Raises
    ------
    ValueError
        As `cca_correlations`.

    Notes
    -----
    Not symmetric: the weights come from X, the first argument, as in the
    paper's definition (the reference code weights by whichever side has
    fewer units: pass the narrower layer first to reproduce it; it also
    projects the uncentred units, this uses the centred ones so the result
    is translation invariant). The canonical variates come in closed form
    from the SVDs (``h_i = U_x a_i`` with ``a_i`` the left singular vectors
    of ``U_x^T U_y``), and so do the projections:
    ``H^T X_c = A^T S_x V_x^T``. Invariant to any invertible linear map of Y,
    to permutation, sign flips and common scaling of X's units, and to
    translation; not to rotations of X (the weights sum absolute values).

    References
    ----------
    .. [1] A. S. Morcos, M. Raghu and S. Bengio, "Insights on
       representational similarity in neural networks with canonical
       correlation", NeurIPS 2018.
    """
    bx, by = _bases(X, Y, "PWCCA")
    rho, weights = _pwcca_parts(bx, by, "PWCCA")
    similarity = float(np.clip(weights @ rho, 0.0, 1.0))
    return PwccaResult(correlations=rho, weights=weights, similarity=similarity, distance=1.0 - similarity,
                       n_samples=bx.n)


# --------------------------------------------------------------------------- every pair of two lists


def cca_matrices(reps_a: Sequence[Any], reps_b: Sequence[Any] | None = None, *, keep: float = 0.99,
                 names_a: Sequence[str] | None = None, names_b: Sequence[str] | None = None,
                 progress: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SVCCA and PWCCA between every representation of `reps_a` and every one of `reps_b` (default `reps_a`).

    Each representation is centred and decomposed once (its SVD serves every
    pair), then each pair costs one ``n x r_a x r_b`` product and an SVD of
    ``r_a x r_b``: the values equal ``svcca(a, b, keep=keep).mean`` and
    ``pwcca(a, b).similarity`` (see those for the formulas and references).

    Parameters
    ----------
    reps_a, reps_b : sequences of array-like of shape (n_samples, n_features_i)
        The same n inputs, in the same order, in every representation.
    keep : float, default 0.99
        SVCCA's share of variance kept on each side.
    names_a, names_b : sequences of str, optional
        Names for error messages (e.g. layer names).
    progress : callable(fraction, message) or None
        Called after each representation's SVD and each pair with the share done.

    Returns
    -------
    svcca_matrix, pwcca_matrix : ndarray of shape (len(reps_a), len(reps_b))
        ``pwcca_matrix[i, j]`` weights by the units of ``reps_a[i]`` (PWCCA is not symmetric).

    Raises
    ------
    ValueError
        As `svcca` and `pwcca` for any pair, naming the representations.
    """
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < float(keep) <= 1.0:
        raise ValueError(f"keep must be a share of the variance in (0, 1], e.g. 0.99; got {keep!r}.")
    same = reps_b is None
    list_b = list(reps_a if reps_b is None else reps_b)
    list_a = list(reps_a)
    if not list_a or not list_b:
        raise ValueError("cca_matrices needs at least one representation on each side; got an empty list.")
    labels_a = list(names_a) if names_a is not None else [f"reps_a[{i}]" for i in range(len(list_a))]
    labels_b = (labels_a if same else list(names_b) if names_b is not None
                else [f"reps_b[{j}]" for j in range(len(list_b))])
    # One SVD per representation; with one list, each unordered pair once (SVCCA is symmetric, and the SVD of
    # U_i^T U_j gives both PWCCA(i, j) from its left and PWCCA(j, i) from its right singular vectors).
    pairs = [(i, j) for i in range(len(list_a)) for j in range(len(list_b)) if not same or j >= i]
    total = len(list_a) + (0 if same else len(list_b)) + len(pairs)
    done = 0

    def tick(message: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / total, message)

    def bases(reps: list[Any], labels: list[str]) -> list[_Basis]:
        out = []
        for rep, label in zip(reps, labels, strict=True):
            arr = check_matrix(rep, name=label, min_samples=3, action="comparing it")
            if arr.shape[0] != np.shape(list_a[0])[0]:
                raise ValueError(f"{label} has {arr.shape[0]} rows and {labels_a[0]} {np.shape(list_a[0])[0]}: "
                                 "every representation must hold the same inputs in the same order.")
            _refuse_constant(arr, label, "SVCCA and PWCCA")
            out.append(_basis(arr, label))
            tick(f"SVD of {label}")
        return out

    bases_a = bases(list_a, labels_a)
    bases_b = bases_a if same else bases(list_b, labels_b)
    kept_a = [_kept(bx, float(keep), None, "") for bx in bases_a]
    kept_b = kept_a if same else [_kept(by, float(keep), None, "") for by in bases_b]
    sv = np.empty((len(bases_a), len(bases_b)))
    pw = np.empty_like(sv)
    with _one_thread():
        _fill(pairs, bases_a, bases_b, kept_a, kept_b, labels_a, labels_b, same, sv, pw, tick)
    return sv, pw


def _fill(pairs: list[tuple[int, int]], bases_a: list[_Basis], bases_b: list[_Basis], kept_a: list[int],
          kept_b: list[int], labels_a: list[str], labels_b: list[str], same: bool, sv: np.ndarray, pw: np.ndarray,
          tick: Any) -> None:
    """`cca_matrices`' pair loop: SVCCA and PWCCA of each pair into `sv` and `pw`."""
    for i, j in pairs:
        bx, by, names = bases_a[i], bases_b[j], f"{labels_a[i]} and {labels_b[j]}"
        _check_room(kept_a[i], kept_b[j], bx.n, f"SVCCA of {names}", "Keep less of the variance or pass more samples.")
        _check_room(bx.rank, by.rank, bx.n, f"PWCCA of {names}",
                    "Pass more samples than features (many more), or reduce the features first (e.g. PCA).")
        cross = bx.u.T @ by.u  # U_x^T U_y; SVCCA's reduced bases are its leading columns: it reads a block
        top = np.linalg.svd(cross[: kept_a[i], : kept_b[j]], compute_uv=False)[: min(kept_a[i], kept_b[j])]
        a, rho, bt = np.linalg.svd(cross, full_matrices=False)
        sv[i, j] = float(np.clip(top, 0.0, 1.0).mean())
        k = min(bx.rank, by.rank)
        rho = np.clip(rho[:k], 0.0, 1.0)
        pw[i, j] = float(np.clip(_weights(a[:, :k], bx) @ rho, 0.0, 1.0))
        if same and i != j:
            sv[j, i] = sv[i, j]
            pw[j, i] = float(np.clip(_weights(bt[:k].T, by) @ rho, 0.0, 1.0))
        tick(f"SVCCA and PWCCA of {names}")
