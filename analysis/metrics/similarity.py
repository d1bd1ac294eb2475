"""Similarity between two representations of the same inputs: CKA, Procrustes, anchors, shared neighbours.

Every function here compares two matrices whose row i describes the same
input (one image, one token) in two spaces: two layers, two checkpoints, two
models or two seeds. The numbers of features may differ.

How linear CKA stays cheap
--------------------------
Linear CKA only needs ``||Xc^T Yc||_F^2``, ``||Xc^T Xc||_F^2``,
``||Yc^T Yc||_F^2`` and the squared row norms of the centred matrices
(Kornblith et al. 2019, section 3). Those are computed in float64 from
row chunks of the centred data (memory ``O(d^2 + chunk x d)``, never a
float64 copy of the whole input), in one pass: the chunks of X and Y side by
side go through one symmetric rank-k update (BLAS ``syrk``), which yields the
``X^T X``, ``Y^T Y`` and ``X^T Y`` blocks for about the flops of two matrix
products. When there are fewer samples than features (``n`` below the cost
cross-over, see `_choose_mode`) the same four quantities are read from the
``n x n`` centred Gram matrices instead, which is then both cheaper and
smaller than the ``d x d`` products. The debiased estimator uses the same
quantities (see :func:`linear_cka`), so it costs no more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk
from scipy.stats import hypergeom

from analysis.data.limits import format_bytes, memory_budget_bytes
from analysis.metrics._result import MetricResult
from analysis.neighbors import kneighbors
from analysis.validation import check_matrix, first_rows, row_norms, unit_scaled_if_huge

__all__ = [
    "NeighborAgreement",
    "RBF_MAX_SAMPLES",
    "choose_anchors",
    "cka_matrices",
    "cka_matrix",
    "knn_agreement",
    "linear_cka",
    "procrustes_distance",
    "rbf_cka",
    "relative_representation",
]

ProgressFn = Callable[[float, str], None]

RBF_MAX_SAMPLES = 10_000  # two n x n float64 kernels: 1.6 GB at 10,000 rows
# Float64 elements of one centred chunk (32 MiB): bounds the working copy of any input.
_CHUNK_ELEMENTS = 1 << 22
# Widest side-by-side stack whose (sum of widths)^2 product is computed in one syrk (512 MiB).
_STACK_MAX_FEATURES = 8192
# A debiased self-similarity below this share of the biased one is rounding noise around 0.
_DEBIASED_REL_TOL = 1e-9
_ANCHOR_METHODS = ("random", "per_class", "ids")
_KNN_METRICS = ("euclidean", "cosine")


# --------------------------------------------------------------------------- validation


def _check_pair(X: Any, Y: Any, *, min_samples: int, why: str, action: str) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as validated 2-D arrays with the same number of rows, at least `min_samples`."""
    x = check_matrix(X, name="X", action=action)
    y = check_matrix(Y, name="Y", action=action)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and Y must describe the same inputs in the same order (row i of each is one input); "
            f"got {x.shape[0]} rows in X and {y.shape[0]} in Y. Pass the representations of the same "
            "samples, e.g. both from one Run."
        )
    if x.shape[0] < min_samples:
        raise ValueError(f"{why} needs at least {min_samples} samples; got {x.shape[0]}. Pass more rows.")
    return x, y


def _refuse_constant(arr: np.ndarray, name: str, what: str) -> None:
    """ValueError when every row equals the first: the centred matrix is 0 and `what` is 0/0."""
    first = arr[0]
    step = max(1, _CHUNK_ELEMENTS // arr.shape[1])
    for start in range(0, arr.shape[0], step):
        if not np.all(arr[start : start + step] == first):
            return
    raise ValueError(
        f"{name} is constant: all {arr.shape[0]} rows are identical, so its centred representation is "
        f"zero and {what} is undefined (0/0). Pass a representation that varies across the samples."
    )


def _check_budget(needed: float, what: str) -> None:
    budget = memory_budget_bytes()
    if needed > budget:
        raise ValueError(
            f"{what} needs about {format_bytes(needed)} of working memory, above the budget of "
            f"{format_bytes(budget)} (REPLENS_MEMORY_BUDGET). Subsample the rows or reduce the "
            "features (e.g. PCA) first, or raise the budget."
        )


# --------------------------------------------------------------------------- centred products


class _Centred:
    """One representation, its float64 column means and a power-of-two scale; centred chunks on demand.

    Every measure here is invariant to scaling each input, so the chunks are
    multiplied by ``scale = 2^-e`` with ``max |x| * scale`` in [0.5, 1): exact
    in floating point, and fourth powers (``||X^T X||_F^2``) of entries like
    1e100 or 1e-100 neither overflow nor underflow float64.
    """

    def __init__(self, arr: np.ndarray, name: str) -> None:
        self.arr = arr
        self.name = name
        self.n, self.d = arr.shape
        self.mean = arr.mean(axis=0, dtype=np.float64)
        step = max(1, _CHUNK_ELEMENTS // self.d)
        peak = max(float(np.max(np.abs(arr[start : start + step]))) for start in range(0, self.n, step))
        self.scale = 2.0 ** -math.frexp(peak)[1] if peak > 0 else 1.0

    def fill(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        np.subtract(self.arr[start:stop], self.mean, out=out)
        out *= self.scale
        return out

    def rows(self, start: int, stop: int) -> np.ndarray:
        return self.fill(start, stop, np.empty((stop - start, self.d)))

    def columns(self, start: int, stop: int) -> np.ndarray:
        block = np.subtract(self.arr[:, start:stop], self.mean[start:stop], dtype=np.float64)
        block *= self.scale
        return block


@dataclass
class _Terms:
    """What CKA needs of one representation: ||Xc^T Xc||_F^2 and the centred squared row norms."""

    self_sq: float
    row_sq: np.ndarray


def _upper_frobenius_sq(U: np.ndarray) -> float:
    """||S||_F^2 of the symmetric S whose upper triangle U holds (zeros below, as syrk leaves them)."""
    diag = np.diagonal(U)
    return float(2.0 * np.einsum("ij,ij->", U, U) - diag @ diag)


def _upper_inner(U: np.ndarray, V: np.ndarray) -> float:
    """<S, T>_F of two symmetric matrices given by their upper triangles."""
    return float(2.0 * np.einsum("ij,ij->", U, V) - np.diagonal(U) @ np.diagonal(V))


def _centred_gram(rep: _Centred) -> np.ndarray:
    """Upper triangle of Xc Xc^T (n x n, float64), accumulated over column chunks."""
    gram = np.zeros((rep.n, rep.n), order="F")
    step = max(1, _CHUNK_ELEMENTS // rep.n)
    for start in range(0, rep.d, step):
        block = rep.columns(start, min(start + step, rep.d))
        # block.T is a Fortran view; trans=1 gives block @ block.T without a copy.
        gram = dsyrk(1.0, block.T, beta=1.0, c=gram, trans=1, overwrite_c=1)
    return gram


def _feature_terms(rep: _Centred) -> _Terms:
    """||Xc^T Xc||_F^2 from a d x d syrk over row chunks, and the centred row norms."""
    acc = np.zeros((rep.d, rep.d), order="F")
    row_sq = np.empty(rep.n)
    step = max(1, _CHUNK_ELEMENTS // rep.d)
    for start in range(0, rep.n, step):
        stop = min(start + step, rep.n)
        block = rep.rows(start, stop)
        row_sq[start:stop] = np.einsum("ij,ij->i", block, block)
        acc = dsyrk(1.0, block.T, beta=1.0, c=acc, overwrite_c=1)
    return _Terms(_upper_frobenius_sq(acc), row_sq)


def _feature_cross(a: _Centred, b: _Centred) -> float:
    """||Xc^T Yc||_F^2 from a d_x x d_y product accumulated over row chunks."""
    acc = np.zeros((a.d, b.d), order="F")
    step = max(1, _CHUNK_ELEMENTS // (a.d + b.d))
    for start in range(0, a.n, step):
        stop = min(start + step, a.n)
        # Fortran views of the C-ordered chunks: dgemm computes A^T B with no copies.
        acc = dgemm(1.0, a.rows(start, stop).T, b.rows(start, stop).T, beta=1.0, c=acc,
                    trans_b=1, overwrite_c=1)
    return float(np.einsum("ij,ij->", acc, acc))


def _stacked_products(reps: list[_Centred], progress: ProgressFn | None
                      ) -> tuple[list[_Terms], dict[tuple[int, int], float]]:
    """All self and cross terms in one pass: a syrk of the centred chunks side by side.

    The product of [X1 | X2 | ...] with itself holds every X_i^T X_j as a block,
    for the flops of the upper triangle only.
    """
    n = reps[0].n
    offsets = np.concatenate([[0], np.cumsum([r.d for r in reps])]).astype(int)
    total = int(offsets[-1])
    acc = np.zeros((total, total), order="F")
    row_sq = [np.empty(n) for _ in reps]
    step = max(1, _CHUNK_ELEMENTS // total)
    for start in range(0, n, step):
        stop = min(start + step, n)
        stacked = np.empty((stop - start, total))
        for i, rep in enumerate(reps):
            part = rep.fill(start, stop, stacked[:, offsets[i] : offsets[i + 1]])
            row_sq[i][start:stop] = np.einsum("ij,ij->i", part, part)
        acc = dsyrk(1.0, stacked.T, beta=1.0, c=acc, overwrite_c=1)
        if progress is not None:
            progress(stop / n, f"centred products: {stop:,} of {n:,} rows")
    terms = [_Terms(_upper_frobenius_sq(acc[offsets[i] : offsets[i + 1], offsets[i] : offsets[i + 1]]),
                    row_sq[i]) for i in range(len(reps))]
    cross = {}
    for i in range(len(reps)):
        for j in range(i + 1, len(reps)):
            block = acc[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]]
            cross[(i, j)] = float(np.einsum("ij,ij->", block, block))
    return terms, cross


Mode = Literal["gram", "stacked", "pairwise"]


def _choose_mode(n: int, widths: list[int], pairs: list[tuple[int, int]], *, may_stack: bool) -> Mode:
    """The cheapest way to get every term that fits the memory budget.

    Feature space costs ``n sum d_r^2 + 2 n sum_pairs d_i d_j`` flops and
    ``d_i d_j`` floats; sample space (centred Grams, kept for every
    representation) costs ``n^2 sum d_r + 2 n^2 |pairs|`` flops and
    ``len(reps) n^2`` floats. Sample space wins when n is small next to the widths.
    """
    budget = memory_budget_bytes()
    feature_cost = n * sum(d * d for d in widths) + 2 * n * sum(widths[i] * widths[j] for i, j in pairs)
    gram_cost = n * n * sum(widths) + 2 * n * n * len(pairs)
    gram_bytes = 8.0 * len(widths) * n * n
    total = sum(widths)
    feature_bytes = 8.0 * max([d * d for d in widths] + [widths[i] * widths[j] for i, j in pairs])
    feature_bytes += 8.0 * min(n * total, 2 * _CHUNK_ELEMENTS)  # the centred chunks
    stacked_bytes = 8.0 * (total * total + min(n * total, _CHUNK_ELEMENTS))
    if gram_cost < feature_cost and gram_bytes <= budget:
        return "gram"
    if may_stack and total <= _STACK_MAX_FEATURES and stacked_bytes <= budget:
        return "stacked"
    if feature_bytes <= budget:
        return "pairwise"
    if gram_bytes <= budget:
        return "gram"
    _check_budget(min(feature_bytes, gram_bytes), f"CKA of {len(widths)} representations of {n:,} samples "
                  f"(widths {', '.join(str(d) for d in widths)})")
    raise AssertionError("unreachable")  # pragma: no cover


def _terms_and_cross(reps: list[_Centred], pairs: list[tuple[int, int]], *, may_stack: bool,
                     progress: ProgressFn | None) -> tuple[list[_Terms], dict[tuple[int, int], float]]:
    n = reps[0].n
    mode = _choose_mode(n, [r.d for r in reps], pairs, may_stack=may_stack)
    if mode == "stacked":
        terms, cross = _stacked_products(reps, progress)
        _refuse_rounding_constant(reps, terms)
        return terms, cross
    steps = len(reps) + len(pairs)
    done = 0
    terms: list[_Terms] = []
    grams: list[np.ndarray] = []
    for rep in reps:
        if mode == "gram":
            gram = _centred_gram(rep)
            grams.append(gram)
            terms.append(_Terms(_upper_frobenius_sq(gram), np.diagonal(gram).copy()))
        else:
            terms.append(_feature_terms(rep))
        done += 1
        if progress is not None:
            progress(done / steps, f"self-products: {rep.name}")
    cross = {}
    for i, j in pairs:
        if mode == "gram":
            cross[(i, j)] = _upper_inner(grams[i], grams[j])
        else:
            cross[(i, j)] = _feature_cross(reps[i], reps[j])
        done += 1
        if progress is not None:
            progress(done / steps, f"cross-products: {reps[i].name} x {reps[j].name}")
    _refuse_rounding_constant(reps, terms)
    return terms, cross


def _refuse_rounding_constant(reps: list[_Centred], terms: list[_Terms]) -> None:
    """ValueError when a representation is constant up to float64 rounding.

    Centring rows that differ only in their last bits leaves residuals of the
    size of the column mean's rounding error, ``||Xc||_F`` at most about
    ``max(n, d) eps ||X||_F``; CKA's self-term ``||Xc^T Xc||_F`` then holds
    that error squared, and a ratio of it is noise (0.001 or 1.0 by chance).
    """
    eps = np.finfo(np.float64).eps
    for rep, term in zip(reps, terms, strict=True):
        centred_sq = float(term.row_sq.sum())  # ||Xc||_F^2 in units of the rep's scale
        uncentred_sq = centred_sq + rep.n * float(np.sum((rep.mean * rep.scale) ** 2))
        if not centred_sq > (max(rep.n, rep.d) * eps) ** 2 * uncentred_sq:
            raise ValueError(
                f"{rep.name} is constant up to float64 rounding (its rows differ by at most a few ulps), "
                "so its centred representation is rounding noise and CKA is undefined (0/0). Pass a "
                "representation that varies across the samples."
            )


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


# --------------------------------------------------------------------------- Procrustes


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


# --------------------------------------------------------------------------- relative representations


def relative_representation(X: Any, anchors: Any) -> np.ndarray:
    """Cosine similarity of every sample to every anchor (Moschella et al. 2023).

    .. math::  r(x_i)_j = \\cos(x_i, a_j) = \\frac{x_i \\cdot a_j}{\\|x_i\\| \\, \\|a_j\\|}

    Two spaces that differ by a rotation and a scale (e.g. two training seeds)
    give the same relative representation when their anchors are the same
    inputs: pick the anchor rows once (:func:`choose_anchors`) and pass
    ``X1[ids]`` and ``X2[ids]``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    anchors : array-like of shape (n_anchors, n_features)
        Anchor vectors in the space of X (usually rows of X).

    Returns
    -------
    ndarray of shape (n_samples, n_anchors), float64
        Values in [-1, 1].

    Raises
    ------
    ValueError
        A 1-D or empty input, different numbers of features, NaN/Inf, or an
        all-zero row of X or anchor (a zero vector has no direction).

    Notes
    -----
    Invariant to an orthogonal transform applied to both X and the anchors,
    and to scaling any row of X or any anchor; *not* to translation (the cosine is
    taken about the origin, as in [1]_; centre both first if that is wanted).

    References
    ----------
    .. [1] L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello and
       E. Rodola, "Relative representations enable zero-shot latent space
       communication", ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> relative_representation(np.array([[3.0, 4.0, 0.0]]), np.eye(3)).round(12).tolist()
    [[0.6, 0.8, 0.0]]
    """
    x = check_matrix(X, name="X", action="computing relative representations")
    a = check_matrix(anchors, name="anchors", action="computing relative representations")
    if a.shape[1] != x.shape[1]:
        raise ValueError(
            f"anchors must live in the space of X: X has {x.shape[1]} features but anchors has "
            f"{a.shape[1]}. Take the anchors from the same representation, e.g. anchors = X[ids]."
        )
    anchor_norms = row_norms(a)
    zero = np.flatnonzero(anchor_norms == 0)
    if zero.size:
        raise ValueError(f"anchors has {zero.size} all-zero rows (first: {first_rows(zero)}), which have no "
                         "direction to compare with. Choose other anchors.")
    norms = row_norms(x)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(f"X has {zero.size} all-zero rows (first: {first_rows(zero)}), whose cosine to any "
                         "anchor is undefined. Drop them first.")
    unit_anchors = a.astype(np.float64) / anchor_norms[:, None]
    out = np.empty((x.shape[0], a.shape[0]))
    step = max(1, _CHUNK_ELEMENTS // x.shape[1])
    for start in range(0, x.shape[0], step):
        stop = min(start + step, x.shape[0])
        out[start:stop] = np.asarray(x[start:stop], dtype=np.float64) @ unit_anchors.T
        out[start:stop] /= norms[start:stop, None]
    np.clip(out, -1.0, 1.0, out=out)
    return out


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def choose_anchors(
    n_samples: int,
    *,
    method: str = "random",
    n_anchors: int | None = None,
    labels: Any = None,
    ids: Any = None,
    seed: int = 0,
) -> np.ndarray:
    """Row indices to use as anchors for :func:`relative_representation`.

    The same indices serve every space being compared (two seeds, two
    layers): anchors are the same *inputs*, seen in each space.

    Parameters
    ----------
    n_samples : int
        Number of rows to choose from.
    method : {"random", "per_class", "ids"}, default="random"
        ``"random"``: `n_anchors` distinct rows drawn uniformly (returned in
        ascending order). ``"per_class"``: rows spread over the classes of
        `labels`, round-robin in sorted class order, each class's rows taken
        in a seeded random order; without `n_anchors`, one row per class.
        ``"ids"``: the rows given in `ids`, checked (integers, distinct, in
        range) and returned in the given order.
    n_anchors : int, optional
        Number of anchors (required for "random"; with "per_class" at least the
        number of classes; with "ids", if given, must equal ``len(ids)``).
    labels : array-like of shape (n_samples,), optional
        Class of each row (required for "per_class"; ignored otherwise).
    ids : array-like of int, optional
        The user's anchor rows (only with "ids").
    seed : int, default=0
        Seeds the draws; the same seed gives the same anchors.

    Returns
    -------
    ndarray of shape (n_anchors,), int64
        Row indices.

    Raises
    ------
    ValueError
        An unknown method, a missing or inconsistent argument, more anchors
        than rows (or than a class can supply), ids out of range or repeated.

    References
    ----------
    .. [1] L. Moschella et al., "Relative representations enable zero-shot
       latent space communication", ICLR 2023 (random and per-class anchors).
    """
    n_samples = _positive_int(n_samples, "n_samples")
    if method not in _ANCHOR_METHODS:
        raise ValueError(f"method must be one of {_ANCHOR_METHODS}; got {method!r}.")
    if ids is not None and method != "ids":
        raise ValueError(f"ids are only used with method='ids'; got method={method!r}. "
                         "Pass method='ids' or drop ids.")
    rng = np.random.default_rng(seed)
    if method == "ids":
        if ids is None:
            raise ValueError("method='ids' needs ids: the row numbers to use as anchors.")
        chosen = np.asarray(ids)
        if chosen.ndim != 1 or chosen.size == 0:
            raise ValueError(f"ids must be a non-empty 1-D list of row numbers; got shape {chosen.shape}.")
        if chosen.dtype == bool or chosen.dtype.kind not in "iu":
            raise ValueError(f"ids must be integers (row numbers); got dtype {chosen.dtype}.")
        bad = np.flatnonzero((chosen < 0) | (chosen >= n_samples))
        if bad.size:
            raise ValueError(
                f"ids must lie in [0, {n_samples}); {bad.size} do not (first: "
                f"{', '.join(str(int(v)) for v in chosen[bad[:5]])}). Negative indices are not accepted."
            )
        unique, counts = np.unique(chosen, return_counts=True)
        if unique.size != chosen.size:
            repeated = unique[counts > 1]
            raise ValueError(f"ids must be distinct; {first_rows(repeated)} appear more than once. "
                             "Remove the repeats.")
        if n_anchors is not None and _positive_int(n_anchors, "n_anchors") != chosen.size:
            raise ValueError(f"n_anchors={n_anchors} disagrees with the {chosen.size} ids given; "
                             "leave n_anchors out with method='ids'.")
        return chosen.astype(np.int64)
    if method == "random":
        if n_anchors is None:
            raise ValueError("method='random' needs n_anchors (how many rows to draw).")
        count = _positive_int(n_anchors, "n_anchors")
        if count > n_samples:
            raise ValueError(f"n_anchors={count} exceeds the {n_samples} rows; use at most {n_samples}.")
        return np.sort(rng.choice(n_samples, size=count, replace=False)).astype(np.int64)
    # per_class
    if labels is None:
        raise ValueError("method='per_class' needs labels (the class of each row).")
    codes = np.asarray(labels)
    if codes.shape != (n_samples,):
        raise ValueError(f"labels must have shape ({n_samples},), one per row; got {codes.shape}.")
    if codes.dtype.kind == "f" and not np.all(np.isfinite(codes)):
        raise ValueError("labels contain NaN or Inf; drop or fill those rows first.")
    classes, inverse = np.unique(codes, return_inverse=True)
    order = rng.permutation(n_samples)
    queues = [order[inverse[order] == c] for c in range(classes.size)]  # each class's rows, shuffled
    count = classes.size if n_anchors is None else _positive_int(n_anchors, "n_anchors")
    if count < classes.size:
        raise ValueError(f"per_class anchors cover every class: n_anchors={count} is below the "
                         f"{classes.size} classes. Use n_anchors >= {classes.size}, or method='random'.")
    if count > n_samples:
        raise ValueError(f"n_anchors={count} exceeds the {n_samples} rows; use at most {n_samples}.")
    chosen_list: list[int] = []
    depth = 0
    while len(chosen_list) < count:
        for queue in queues:  # round-robin: the depth-th row of every class that still has one
            if depth < queue.size and len(chosen_list) < count:
                chosen_list.append(int(queue[depth]))
        depth += 1
    return np.asarray(chosen_list, dtype=np.int64)


# --------------------------------------------------------------------------- k-NN agreement


@dataclass(frozen=True, eq=False)
class NeighborAgreement(MetricResult):
    """Result of :func:`knn_agreement`.

    Attributes
    ----------
    mean_jaccard : float
        Mean over points of the Jaccard index of their two k-NN sets, in [0, 1].
    per_point : ndarray of shape (n_samples,), float64
        ``|N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)|`` for each point.
    k : int
    metric : str
    chance_jaccard : float
        Expected Jaccard index of two independent uniformly random k-subsets of
        the other n - 1 points: what unrelated spaces score on average.
    """

    mean_jaccard: float
    per_point: np.ndarray
    k: int
    metric: str
    chance_jaccard: float

    SCALARS: ClassVar[tuple[str, ...]] = ("mean_jaccard", "chance_jaccard")


def _chance_jaccard(n_others: int, k: int) -> float:
    """E[m / (2k - m)] with m ~ Hypergeometric(population n_others, k marked, k drawn)."""
    overlap = np.arange(0, k + 1)
    pmf = hypergeom.pmf(overlap, n_others, k, k)
    return float(np.sum(pmf * overlap / (2.0 * k - overlap)))


def knn_agreement(X: Any, Y: Any, *, k: int = 10, metric: str = "euclidean",
                  neighbors: tuple[Any, Any] | None = None) -> NeighborAgreement:
    """How many of each point's k nearest neighbours are shared by two spaces (k-NN Jaccard).

    .. math::

        J_i = \\frac{|N^X_k(i) \\cap N^Y_k(i)|}{|N^X_k(i) \\cup N^Y_k(i)|}, \\qquad
        \\bar J = \\frac{1}{n} \\sum_i J_i

    where ``N^X_k(i)`` are the k nearest other rows of row i in X (self
    excluded, `analysis.neighbors.kneighbors`). With m shared neighbours,
    ``J_i = m / (2k - m)``. The measure is surveyed as "k-NN Jaccard
    similarity" by Klabunde et al. [1]_.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)
    k : int, default=10
        ``1 <= k <= n_samples - 1``; at ``k = n_samples - 1`` every set is
        all other points and the index is trivially 1.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Used in both spaces.
    neighbors : (NeighborGraph, NeighborGraph), optional
        Searches of X and of Y with this metric and ``k_max >= k``
        (`analysis.neighbors.NeighborGraph.search`), read instead of
        searching again; the same result wherever no row has a distance tie
        at its k-th place, and always when ``k == k_max``.

    Returns
    -------
    NeighborAgreement
        With ``chance_jaccard``, the level of unrelated spaces.

    Raises
    ------
    ValueError
        Different row counts, fewer than 2 rows, k out of range, an unknown
        metric, NaN/Inf, all rows identical (neighbours undefined), or all-zero
        rows with the cosine metric.

    Notes
    -----
    Invariant to rotations, translations and isotropic scaling of either
    space (Euclidean) and to scaling any row (cosine); symmetric in X and Y.
    Rows tied for the k-th place are broken by row number in each space, so
    exactly tied distances (e.g. points on an integer grid) can lower the
    index.

    References
    ----------
    .. [1] M. Klabunde, T. Schumacher, M. Strohmaier and F. Lemmerich,
       "Similarity of neural network models: a survey of functional and
       representational measures", arXiv:2305.06329, 2023 (ACM Computing
       Surveys 2025), section on neighbourhood-based measures.
    """
    if metric not in _KNN_METRICS:
        raise ValueError(f"metric must be one of {_KNN_METRICS}; got {metric!r}.")
    x, y = _check_pair(X, Y, min_samples=2, why="k-NN agreement", action="finding neighbours")
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an integer in [1, {n - 1}] (each of the {n} points has {n - 1} "
                         f"others); got {k!r}.")
    k = int(k)
    for arr, name in ((x, "X"), (y, "Y")):
        if np.all(arr == arr[0]):
            raise ValueError(f"{name} holds {n} identical rows: every distance is 0, so nearest "
                             "neighbours are undefined. Pass varied data.")
        if metric == "cosine":
            zero = np.flatnonzero(row_norms(arr) == 0)
            if zero.size:
                raise ValueError(f"{name} has {zero.size} all-zero rows (first: {first_rows(zero)}), which "
                                 "have no cosine distance. Drop them or use metric='euclidean'.")
    if neighbors is not None:
        if not isinstance(neighbors, tuple) or len(neighbors) != 2:
            raise ValueError("neighbors must be a pair (graph of X, graph of Y) of NeighborGraph.search results.")
        for graph, arr, name in ((neighbors[0], x, "neighbors[0], X's graph"),
                                 (neighbors[1], y, "neighbors[1], Y's graph")):
            graph.check_matches(arr, metric=metric, name=name)
        neighbours_x, neighbours_y = neighbors[0].top(k)[1], neighbors[1].top(k)[1]
    else:
        # Neighbour sets are scale-free: values beyond float32's range are scaled down exactly.
        _, neighbours_x = kneighbors(unit_scaled_if_huge(x), k, metric=metric)
        _, neighbours_y = kneighbors(unit_scaled_if_huge(y), k, metric=metric)
    # Each list holds k distinct rows, so after sorting the two side by side a shared row is
    # exactly a pair of equal neighbours.
    both = np.sort(np.concatenate([neighbours_x, neighbours_y], axis=1), axis=1)
    shared = np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)
    per_point = shared / (2.0 * k - shared)
    return NeighborAgreement(mean_jaccard=float(per_point.mean()), per_point=per_point, k=k, metric=metric,
                             chance_jaccard=_chance_jaccard(n - 1, k))
