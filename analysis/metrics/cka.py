"""Centred kernel alignment (CKA): linear (plain and debiased, one pair or every pair of layers) and RBF.

`linear_cka` compares two matrices whose row i is the same input; `cka_matrix`
and `cka_matrices` compare every pair of a list of layers (or of two models'
layers), computing each representation's self-product once. The centred
products come from `cka_products`, which explains how they stay cheap.
`rbf_cka` uses Gaussian kernels instead: two n x n centred kernels, so at
most `RBF_MAX_SAMPLES` rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
from analysis.metrics.cka_products import _Terms, _terms_and_cross
from analysis.validation import ProgressFn, check_matrix

__all__ = ["RBF_MAX_SAMPLES", "cka_matrices", "cka_matrix", "linear_cka", "rbf_cka"]

RBF_MAX_SAMPLES = 10_000  # two n x n float64 kernels: 1.6 GB at 10,000 rows
# A debiased self-similarity below this share of the biased one is rounding noise around 0.
_DEBIASED_REL_TOL = 1e-9


# --------------------------------------------------------------------------- CKA from the products


def _debiased_hsic(cross_sq: float, row_sq_x: np.ndarray, row_sq_y: np.ndarray, n: int) -> float:
    """n(n-3) times the unbiased HSIC of two linear kernels on centred data (see `linear_cka`)."""
    return (cross_sq - n / (n - 2.0) * float(row_sq_x @ row_sq_y)
            + float(row_sq_x.sum()) * float(row_sq_y.sum()) / ((n - 1.0) * (n - 2.0)))


def _debiased_self(terms: _Terms, n: int, name: str) -> float:
    value = _debiased_hsic(terms.self_sq, terms.row_sq, terms.row_sq, n)
    if not value > _DEBIASED_REL_TOL * terms.self_sq:
        raise ValueError(
            f"the debiased (unbiased-HSIC) self-similarity of {name} is {value / (n * (n - 3.0)):.3g}, "
            f"not positive, so debiased CKA is undefined for it (0 in the denominator). This happens "
            f"when its variation is all in one or two samples at small n ({n}). Use debiased=False or "
            "pass more varied samples."
        )
    return value


def _cka_from_terms(cross_sq: float, tx: _Terms, ty: _Terms, n: int, *, debiased: bool,
                    names: tuple[str, str]) -> float:
    if not all(math.isfinite(v) for v in (cross_sq, tx.self_sq, ty.self_sq)):
        raise ValueError(
            f"CKA of {names[0]} and {names[1]} overflowed float64 (entries too large to square and sum). "
            "Rescale the inputs first (CKA is invariant to scaling each of them)."
        )
    if debiased:
        hxx = _debiased_self(tx, n, names[0])
        hyy = _debiased_self(ty, n, names[1])
        value = _debiased_hsic(cross_sq, tx.row_sq, ty.row_sq, n) / (math.sqrt(hxx) * math.sqrt(hyy))
        low = -1.0
    else:
        value = cross_sq / (math.sqrt(tx.self_sq) * math.sqrt(ty.self_sq))
        low = 0.0
    if not math.isfinite(value):  # pragma: no cover - finite terms with positive denominators
        raise ValueError(f"CKA of {names[0]} and {names[1]} is not finite ({value}); rescale the inputs.")
    # Cauchy-Schwarz bounds the exact value; clip only the last-bit rounding.
    return float(min(1.0, max(low, value)))


# --------------------------------------------------------------------------- linear CKA


def linear_cka(X: Any, Y: Any, *, debiased: bool = False) -> float:
    """Linear centred kernel alignment (CKA) between two representations of the same inputs.

    With the columns of X and Y centred (Xc, Yc), biased linear CKA is

    .. math::

        \\mathrm{CKA}(X, Y) = \\frac{\\|Y_c^\\top X_c\\|_F^2}
                                   {\\|X_c^\\top X_c\\|_F \\, \\|Y_c^\\top Y_c\\|_F}
                           = \\frac{\\mathrm{HSIC}(K, L)}{\\sqrt{\\mathrm{HSIC}(K, K)\\,\\mathrm{HSIC}(L, L)}}

    with linear kernels ``K = X X^T``, ``L = Y Y^T`` [1]_. ``debiased=True``
    replaces each HSIC by the unbiased estimator of Song et al. [2]_, as in
    Kornblith's code and Nguyen et al. [3]_: with ``K~``, ``L~`` the Grams
    with their diagonals set to zero,

    .. math::

        \\mathrm{HSIC}_u(K, L) = \\frac{1}{n(n-3)} \\Big[ \\mathrm{tr}(\\tilde K \\tilde L)
            + \\frac{\\mathbf 1^\\top \\tilde K \\mathbf 1 \\; \\mathbf 1^\\top \\tilde L \\mathbf 1}{(n-1)(n-2)}
            - \\frac{2}{n-2} \\mathbf 1^\\top \\tilde K \\tilde L \\mathbf 1 \\Big].

    Every term has a feature-space form, so the ``n x n`` Grams are never
    needed: with ``a_i = ||x_i||^2``, ``b_i = ||y_i||^2`` and column sums
    ``s_x = X^T 1``, ``s_y = Y^T 1``,
    ``tr(K~ L~) = ||X^T Y||_F^2 - a.b``, ``1^T K~ 1 = ||s_x||^2 - sum(a)``,
    ``1^T K~ L~ 1 = (X s_x - a).(Y s_y - b)``. HSIC_u is translation
    invariant (it is an inner product of U-centred Grams [4]_), so it is
    computed on the centred X, Y, where ``s_x = s_y = 0`` and

    .. math::

        n(n-3)\\,\\mathrm{HSIC}_u = \\|X_c^\\top Y_c\\|_F^2 - \\frac{n}{n-2}\\, a \\cdot b
            + \\frac{\\sum_i a_i \\sum_i b_i}{(n-1)(n-2)}

    (a, b now the centred row norms); the ``n(n-3)`` cancels in the ratio.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)
        Row i of X and row i of Y are the same input; the feature counts may differ.
    debiased : bool, default=False
        Use the unbiased HSIC estimator. Biased CKA of independent data is
        inflated (towards 1 when the features outnumber the samples);
        debiased CKA is near 0 for independent data and can be slightly negative.

    Returns
    -------
    float
        A scalar similarity (a Python float, not a result object): in [0, 1]
        biased, in [-1, 1] debiased; 1 when Y is X up to the invariances below.

    Raises
    ------
    ValueError
        Different row counts, fewer than 2 rows (4 debiased), NaN or Inf, a
        constant X or Y (CKA is 0/0), a debiased self-similarity that is not
        positive, or inputs whose products exceed the memory budget.

    Notes
    -----
    Invariant to orthogonal transforms (rotations, reflections, permuting
    features), to isotropic scaling and to translation of either argument; *not*
    invariant to anisotropic scaling or to general invertible linear maps [1]_.
    Symmetric in X and Y.

    Computed in float64 from row chunks of the centred inputs (memory
    ``O(d^2 + chunk x d)``, cost ``O(n (d_x + d_y)^2)``). When the samples are
    fewer than the features the same terms come from the centred ``n x n``
    Grams instead (cost ``O(n^2 (d_x + d_y))``), which is then the smaller
    matrix as well.

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of
       neural network representations revisited", ICML 2019.
    .. [2] L. Song, A. Smola, A. Gretton, J. Bedo and K. Borgwardt, "Feature
       selection via dependence maximization", JMLR 13, 2012.
    .. [3] T. Nguyen, M. Raghu and S. Kornblith, "Do wide and deep networks
       learn the same things? Uncovering how neural network representations
       vary with width and depth", ICLR 2021.
    .. [4] G. J. Szekely and M. L. Rizzo, "Partial distance correlation with
       methods for dissimilarities", Annals of Statistics 42(6), 2014.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0], [2.0], [3.0], [5.0]])
    >>> round(linear_cka(x, 3 * x + 1), 12)
    1.0
    """
    minimum, why = (4, "debiased CKA (the unbiased HSIC divides by n(n-3))") if debiased else (2, "CKA")
    x, y = _check_pair(X, Y, min_samples=minimum, why=why, action="computing CKA")
    _refuse_constant(x, "X", "CKA")
    _refuse_constant(y, "Y", "CKA")
    reps = [_Centred(x, "X"), _Centred(y, "Y")]
    terms, cross = _terms_and_cross(reps, [(0, 1)], may_stack=True, progress=None)
    return _cka_from_terms(cross[(0, 1)], terms[0], terms[1], x.shape[0], debiased=debiased,
                           names=("X", "Y"))


def cka_matrix(
    reps_a: Sequence[Any],
    reps_b: Sequence[Any] | None = None,
    *,
    debiased: bool = False,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Linear CKA between every pair of representations (e.g. layer x layer, or model A x model B).

    Entry (i, j) is ``linear_cka(reps_a[i], reps_b[j], debiased=debiased)``
    (see :func:`linear_cka` for the formula). Each representation's centred
    self-product ``||X^T X||_F`` and row norms are computed once and reused,
    so an L-layer matrix costs L self-products and L(L-1)/2 cross products,
    L(L+1)/2 in all, instead of 3 L^2.

    Parameters
    ----------
    reps_a : sequence of array-like of shape (n_samples, n_features_i)
        All with the same rows (the same inputs); widths may differ.
    reps_b : sequence of array-like of shape (n_samples, n_features_j), optional
        None compares `reps_a` with itself.
    debiased : bool, default=False
    progress : callable (fraction, message) -> None, optional
        Called as the products are computed.

    Returns
    -------
    ndarray of shape (len(reps_a), len(reps_b)), float64
        With ``reps_b=None``, symmetric with a diagonal of exactly 1.

    Raises
    ------
    ValueError
        An empty sequence, different row counts, or any input `linear_cka` refuses
        (the message names the offending entry, e.g. ``reps_a[3]``).

    Notes
    -----
    With ``reps_b=None`` and total width up to 8,192 every block comes from
    one pass over the rows (the centred representations side by side in one
    symmetric product); otherwise pairwise products over row chunks, or
    centred Grams when the samples are fewer than the features.

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of
       neural network representations revisited", ICML 2019.
    """
    return _cka_matrices(reps_a, reps_b, (debiased,), progress)[0]


def cka_matrices(
    reps_a: Sequence[Any],
    reps_b: Sequence[Any] | None = None,
    *,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain and debiased linear CKA matrices at once: ``(cka_matrix(...), cka_matrix(..., debiased=True))``.

    Both estimators read the same centred products (see :func:`linear_cka`),
    so this costs one :func:`cka_matrix`, not two. Arguments, errors and
    references as for :func:`cka_matrix`; the debiased one needs n >= 4.
    """
    plain, debiased = _cka_matrices(reps_a, reps_b, (False, True), progress)
    return plain, debiased


def _cka_matrices(reps_a: Sequence[Any], reps_b: Sequence[Any] | None, kinds: tuple[bool, ...],
                  progress: ProgressFn | None) -> list[np.ndarray]:
    """One CKA matrix per entry of `kinds` (False plain, True debiased), from one set of products."""
    square = reps_b is None
    groups = [("reps_a", reps_a)] + ([] if square else [("reps_b", reps_b)])
    reps: list[_Centred] = []
    counts: list[int] = []
    for group, seq in groups:
        if isinstance(seq, np.ndarray) and seq.ndim == 2:
            raise ValueError(f"{group} must be a sequence of 2-D arrays (one per layer); got one 2-D array. "
                             f"Wrap it in a list: [{group}].")
        items = list(seq)
        if not items:
            raise ValueError(f"{group} is empty. Pass at least one representation.")
        counts.append(len(items))
        for i, item in enumerate(items):
            name = f"{group}[{i}]"
            arr = check_matrix(item, name=name, action="computing CKA")
            reps.append(_Centred(arr, name))
    n = reps[0].n
    for rep in reps[1:]:
        if rep.n != n:
            raise ValueError(
                f"{rep.name} has {rep.n} rows but {reps[0].name} has {n}: every representation must "
                "describe the same inputs in the same order. Pass activations of the same samples."
            )
    minimum = 4 if any(kinds) else 2
    if n < minimum:
        why = "debiased CKA (the unbiased HSIC divides by n(n-3))" if any(kinds) else "CKA"
        raise ValueError(f"{why} needs at least {minimum} samples; got {n}. Pass more rows.")
    for rep in reps:
        _refuse_constant(rep.arr, rep.name, "CKA")
    n_a = counts[0]
    if square:
        pairs = [(i, j) for i in range(n_a) for j in range(i + 1, n_a)]
    else:
        pairs = [(i, n_a + j) for i in range(n_a) for j in range(len(reps) - n_a)]
    terms, cross = _terms_and_cross(reps, pairs, may_stack=square, progress=progress)
    if any(kinds):
        for rep, term in zip(reps, terms, strict=True):
            _debiased_self(term, n, rep.name)
    outs = []
    for debiased in kinds:
        out = np.eye(n_a) if square else np.empty((n_a, len(reps) - n_a))
        for i, j in pairs:
            value = _cka_from_terms(cross[(i, j)], terms[i], terms[j], n, debiased=debiased,
                                    names=(reps[i].name, reps[j].name))
            if square:
                out[i, j] = out[j, i] = value
            else:
                out[i, j - n_a] = value
        outs.append(out)
    if progress is not None:
        progress(1.0, f"CKA matrix {outs[0].shape[0]} x {outs[0].shape[1]} done")
    return outs


# --------------------------------------------------------------------------- RBF CKA


def _centred_rbf_kernel(arr: np.ndarray, sigma_fraction: float, name: str) -> np.ndarray:
    """H K H for K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)), sigma = fraction x median distance (i < j)."""
    n = arr.shape[0]
    rep = _Centred(arr, name)  # centring first: distances unchanged, less cancellation below
    sq = np.empty(n)
    step = max(1, _CHUNK_ELEMENTS // rep.d)
    for start in range(0, n, step):
        block = rep.rows(start, min(n, start + step))
        sq[start : start + block.shape[0]] = np.einsum("ij,ij->i", block, block)
    kernel = np.zeros((n, n), order="F")
    step = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, rep.d, step):
        block = rep.columns(start, min(start + step, rep.d))
        kernel = dgemm(-2.0, block.T, block.T, beta=1.0, c=kernel, trans_a=1, overwrite_c=1)
    kernel += sq[:, None]
    kernel += sq[None, :]
    np.maximum(kernel, 0.0, out=kernel)
    np.fill_diagonal(kernel, 0.0)  # now squared distances
    # Median over the n(n-1)/2 pairs i < j (the lower triangle's columns are contiguous in F order).
    pair_distances = np.empty(n * (n - 1) // 2)
    at = 0
    for j in range(n - 1):
        column = kernel[j + 1 :, j]
        pair_distances[at : at + column.size] = column
        at += column.size
    np.sqrt(pair_distances, out=pair_distances)
    median = float(np.median(pair_distances, overwrite_input=True))
    del pair_distances
    if not median > 0:
        raise ValueError(
            f"the median pairwise distance of {name} is 0 (more than half of its row pairs are "
            "duplicates), so the RBF bandwidth sigma_fraction x median is 0. Drop duplicate rows first."
        )
    sigma = sigma_fraction * median
    kernel *= -1.0 / (2.0 * sigma * sigma)
    # exp(.) - 1 instead of exp(.): centring removes the constant, and expm1 keeps the digits
    # of near-1 kernels (large sigma), where exp would round them away.
    np.expm1(kernel, out=kernel)
    kernel -= kernel.mean(axis=0)[None, :]
    kernel -= kernel.mean(axis=1)[:, None]
    return kernel


def rbf_cka(X: Any, Y: Any, *, sigma_fraction: float = 0.5) -> float:
    """CKA with Gaussian (RBF) kernels, bandwidth a fraction of the median distance (Kornblith et al. 2019).

    .. math::

        K_{ij} = \\exp\\!\\Big(-\\frac{\\|x_i - x_j\\|^2}{2\\sigma_X^2}\\Big), \\quad
        \\sigma_X = \\text{sigma\\_fraction} \\times \\operatorname{median}_{i<j} \\|x_i - x_j\\|,
        \\qquad
        \\mathrm{CKA} = \\frac{\\langle HKH, HLH \\rangle_F}{\\|HKH\\|_F \\, \\|HLH\\|_F}

    with ``H = I - 11^T / n`` and L the same kernel on Y (its own sigma).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)
    sigma_fraction : float, default=0.5
        Bandwidth as a fraction of the median pairwise distance. Large
        values approach linear CKA (``exp(-t) ~ 1 - t``); small ones compare
        only the nearest neighbourhoods.

    Returns
    -------
    float
        In [0, 1]; 1 for identical inputs (and for inputs equal up to rotation,
        translation and isotropic scaling).

    Raises
    ------
    ValueError
        More than 10,000 samples (two n x n float64 kernels; subsample first),
        different row counts, fewer than 2 rows, NaN/Inf, constant inputs,
        a zero median distance (mostly duplicate rows), sigma_fraction not positive.

    Notes
    -----
    Cost ``O(n^2 d)`` time and two ``n x n`` float64 matrices (1.6 GB at
    n = 10,000). The median runs over the distinct pairs i < j; Kornblith's
    reference code takes it over the full matrix including the zero diagonal,
    which gives a slightly smaller sigma at small n.

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of
       neural network representations revisited", ICML 2019.
    .. [2] A. Gretton, O. Bousquet, A. Smola and B. Scholkopf, "Measuring
       statistical dependence with Hilbert-Schmidt norms", ALT 2005 (HSIC).
    """
    if isinstance(sigma_fraction, bool) or not isinstance(sigma_fraction, (int, float, np.number)) \
            or not (math.isfinite(sigma_fraction) and sigma_fraction > 0):
        raise ValueError(f"sigma_fraction must be a positive finite number (e.g. 0.5); got {sigma_fraction!r}.")
    x, y = _check_pair(X, Y, min_samples=2, why="RBF CKA", action="computing RBF CKA")
    n = x.shape[0]
    if n > RBF_MAX_SAMPLES:
        raise ValueError(
            f"rbf_cka builds two {n:,} x {n:,} kernel matrices; at most {RBF_MAX_SAMPLES:,} samples are "
            "accepted. Subsample the rows first (the same rows of X and Y), e.g. "
            f"idx = np.random.default_rng(0).choice({n}, {RBF_MAX_SAMPLES}, replace=False)."
        )
    _check_budget(8.0 * n * n * 2.5, f"RBF CKA of {n:,} samples")
    _refuse_constant(x, "X", "RBF CKA")
    _refuse_constant(y, "Y", "RBF CKA")
    kx = _centred_rbf_kernel(x, float(sigma_fraction), "X")
    norm_x = math.sqrt(float(np.einsum("ij,ij->", kx, kx)))
    ky = _centred_rbf_kernel(y, float(sigma_fraction), "Y")
    norm_y = math.sqrt(float(np.einsum("ij,ij->", ky, ky)))
    if not (norm_x > 0 and norm_y > 0):
        raise ValueError(
            "a centred RBF kernel is zero (sigma_fraction so small that every kernel value underflows "
            "to 0). Use a larger sigma_fraction."
        )
    value = float(np.einsum("ij,ij->", kx, ky)) / (norm_x * norm_y)
    return float(min(1.0, max(0.0, value)))
