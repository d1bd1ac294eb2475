"""The centred products linear CKA is computed from, in float64 and bounded memory.

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

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.linalg.blas import dgemm, dsyrk

from analysis.data.limits import memory_budget_bytes
from analysis.metrics._similarity_inputs import _CHUNK_ELEMENTS, _Centred, _check_budget
from analysis.validation import ProgressFn

__all__ = ["ProgressFn"]


# Widest side-by-side stack whose (sum of widths)^2 product is computed in one syrk (512 MiB).
_STACK_MAX_FEATURES = 8192


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
