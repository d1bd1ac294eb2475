"""Exact hubness reduction: full secondary distances streamed in row blocks.

The engine behind `reduce_hubness`'s exact mode and behind the agreement
check of its candidate mode. Every method's re-ranked lists for a set of
query rows are computed against *all* n points, one block of distance rows
at a time, keeping only each row's best k:

- the local statistics (k_scale-th distance, mean k_scale distance,
  centroid of the k_scale nearest) and the full-row normal of MP-Gaussian
  (mean and population std of the n - 1 distances, Schnitzer et al. 2012)
  come from `PointStats`;
- empirical mutual proximity needs, per pair, the overlap of two
  neighbourhoods, O(n) per pair. It is computed only for the pairs that can
  reach a row's top k: with c_x(y) = |{j != x: d(x,j) <= d(x,y)}| (one sorted
  row, searchsorted), the count |A_x u A_y| lies between
  max(c_x(y), c_y(x)) - 1 and c_x(y) + c_y(x) - 2; every y whose lower bound
  exceeds the k-th smallest upper bound is out, exactly. The overlap of the
  survivors is counted in numba (hub-toolbox counts it for all n^2 pairs,
  O(n^3)).

Distances are float64 from the Gram matrix of the centred rows (unit rows
for cosine), the full block made symmetric where both halves are at hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import ndtr

BLOCK_ELEMENTS = 1 << 22  # float64 distance rows per block: 32 MB


def as_vectors(X: np.ndarray, metric: str) -> np.ndarray:
    """float64 rows whose Gram matrix gives the distances (centred; unit length for cosine)."""
    V = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        return V / np.linalg.norm(V, axis=1, keepdims=True)
    return V - V.mean(axis=0)


def distance_rows(V: np.ndarray, sq: np.ndarray, rows: np.ndarray, metric: str) -> np.ndarray:
    """Distances (len(rows), n) from `rows` to every point; a row's own entry is +inf."""
    G = V[rows] @ V.T
    if metric == "cosine":
        D = np.clip(1.0 - G, 0.0, 2.0)
    else:
        G *= -2.0
        G += sq[rows, None]
        G += sq[None, :]
        D = np.sqrt(np.maximum(G, 0.0, out=G), out=G)
    D[np.arange(len(rows)), rows] = np.inf
    return D


def row_blocks(n: int, width: int) -> list[np.ndarray]:
    step = max(1, BLOCK_ELEMENTS // max(width, 1))
    return [np.arange(s, min(n, s + step)) for s in range(0, n, step)]


@numba.njit(cache=True, parallel=True)
def _symmetrize(D: np.ndarray) -> None:
    """D = (D + D.T) / 2 in place, tile by tile (cache-friendly)."""
    n = D.shape[0]
    t = 64
    tiles = (n + t - 1) // t
    for ti in numba.prange(tiles):
        for tj in range(ti, tiles):
            for i in range(ti * t, min(n, ti * t + t)):
                for j in range(max(i + 1, tj * t), min(n, tj * t + t)):
                    v = 0.5 * (D[i, j] + D[j, i])
                    D[i, j] = v
                    D[j, i] = v


def full_distances(V: np.ndarray, metric: str) -> np.ndarray:
    """The symmetric (n, n) float64 distance matrix, +inf on the diagonal."""
    n = V.shape[0]
    sq = np.einsum("ij,ij->i", V, V)
    D = np.empty((n, n))
    for rows in row_blocks(n, n):
        D[rows] = distance_rows(V, sq, rows, metric)
    _symmetrize(D)
    return D


@dataclass(frozen=True)
class PointStats:
    """Per-point statistics the secondary distances use, each of shape (n,).

    kth, mean_k : distance to the k_scale-th neighbour, mean distance to the k_scale nearest.
    to_centroid : squared distance to the centroid of the k_scale nearest (DisSimLocal).
    mean, std : mean and population std of the distances to all n - 1 others (MP-Gaussian).
    """

    kth: np.ndarray
    mean_k: np.ndarray
    to_centroid: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def local_stats(V: np.ndarray, nn_dist: np.ndarray, nn_idx: np.ndarray, metric: str, k_scale: int):
    """(kth, mean_k, to_centroid) from each point's k_scale nearest, sorted, in float64."""
    d = nn_dist[:, :k_scale]
    centroid = V[nn_idx[:, :k_scale]].mean(axis=1)
    return d[:, k_scale - 1].copy(), d.mean(axis=1), np.sum((V - centroid) ** 2, axis=1)


@numba.njit(cache=True, parallel=True)
def row_moments(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population std of each row's n - 1 finite entries (its own +inf left out)."""
    b, n = D.shape
    mean, std = np.empty(b), np.empty(b)
    for i in numba.prange(b):
        total = 0.0
        for j in range(n):
            if D[i, j] != np.inf:
                total += D[i, j]
        m = total / (n - 1)
        acc = 0.0
        for j in range(n):
            if D[i, j] != np.inf:
                acc += (D[i, j] - m) ** 2
        mean[i] = m
        std[i] = np.sqrt(acc / (n - 1))
    return mean, std


def streamed_moments(V: np.ndarray, metric: str, columns: np.ndarray | None = None):
    """Row means and stds of the distances to all others (or to `columns` only), block by block."""
    n = V.shape[0]
    sq = np.einsum("ij,ij->i", V, V)
    mean, std = np.empty(n), np.empty(n)
    W = V if columns is None else V[columns]
    wsq = sq if columns is None else sq[columns]
    for rows in row_blocks(n, W.shape[0]):
        G = V[rows] @ W.T
        if metric == "cosine":
            D = np.clip(1.0 - G, 0.0, 2.0)
        else:
            D = np.sqrt(np.maximum(sq[rows, None] + wsq[None, :] - 2.0 * G, 0.0))
        if columns is None:
            D[np.arange(len(rows)), rows] = np.inf
        else:
            D[columns[None, :] == rows[:, None]] = np.inf
        mean[rows], std[rows] = row_moments(np.ascontiguousarray(D))
    return mean, std


def exact_stats(D: np.ndarray, V: np.ndarray, metric: str, k_scale: int) -> PointStats:
    """All statistics from the full distance matrix."""
    n = D.shape[0]
    ks = min(k_scale, n - 1)
    nn_idx, nn_dist = np.empty((n, ks), dtype=np.int64), np.empty((n, ks))
    for rows in row_blocks(n, n):  # argpartition's index array is int64: block it
        part = np.argpartition(D[rows], ks - 1, axis=1)[:, :ks]
        pd = np.take_along_axis(D[rows], part, axis=1)
        order = np.lexsort((part, pd), axis=1)  # nearest first, equal distances by row number
        nn_idx[rows], nn_dist[rows] = np.take_along_axis(part, order, axis=1), np.take_along_axis(pd, order, axis=1)
    kth, mean_k, to_centroid = local_stats(V, nn_dist, nn_idx, metric, ks)
    mean, std = row_moments(D)
    return PointStats(kth, mean_k, to_centroid, mean, std)


# --------------------------------------------------------------------------- formulas


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator with x/0 = inf for x > 0 and 0/0 = 0 (duplicated points)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(denominator > 0, ratio, np.where(numerator > 0, np.inf, 0.0))


def gaussian_survival(d: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """P(D > d) under N(mean, std^2); a zero std is a step at the mean."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (d - mean) / std
    return np.where(std > 0, ndtr(-z), (d < mean).astype(np.float64))


def secondary(method: str, d: np.ndarray, rows: np.ndarray, cols: np.ndarray, st: PointStats,
              metric: str) -> np.ndarray:
    """Secondary distances of pairs (rows[i], cols[i, j]) at primary distance d[i, j] (not MP empirical).

    `rows` has shape (b,), `cols` (b, c) or (n,) for every column.
    """
    r = rows[:, None]
    if method == "mp_gaussian":
        return 1.0 - gaussian_survival(d, st.mean[r], st.std[r]) * gaussian_survival(d, st.mean[cols], st.std[cols])
    if method == "local_scaling":
        return 1.0 - np.exp(-safe_ratio(d**2, st.kth[r] * st.kth[cols]))
    if method == "nicdm":
        return safe_ratio(d, np.sqrt(st.mean_k[r] * st.mean_k[cols]))
    if method == "csls":
        return 2.0 * d - st.mean_k[r] - st.mean_k[cols]
    squared = d**2 if metric == "euclidean" else 2.0 * d
    return squared - st.to_centroid[r] - st.to_centroid[cols]


# --------------------------------------------------------------------------- top k


@numba.njit(cache=True)
def _sorted_prefix(cand: np.ndarray, s: np.ndarray, d: np.ndarray, k: int):
    """The k of `cand` (ascending row numbers) smallest by (s, d, row number)."""
    o1 = np.argsort(d, kind="mergesort")
    o2 = np.argsort(s[o1], kind="mergesort")
    order = o1[o2][:k]
    return cand[order], s[order]


@numba.njit(cache=True, parallel=True)
def _top_k_rows(S: np.ndarray, D: np.ndarray, kth: np.ndarray, k: int):
    b = S.shape[0]
    idx = np.empty((b, k), dtype=np.int64)
    val = np.empty((b, k))
    for i in numba.prange(b):
        cand = np.flatnonzero(S[i] <= kth[i])
        ci, cv = _sorted_prefix(cand, S[i][cand], D[i][cand], k)
        idx[i] = ci
        val[i] = cv
    return idx, val


def top_k(S: np.ndarray, D: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k columns smallest by (secondary, primary, column): (indices, secondary values)."""
    kth = np.partition(S, k - 1, axis=1)[:, k - 1]
    return _top_k_rows(S, D, kth, k)


# --------------------------------------------------------------------------- empirical MP


@numba.njit(cache=True, parallel=True)
def rank_counts(D: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """C[i, m] = |{j : D[i, j] <= D[i, columns[m]]}| (the row's own +inf entry never counts)."""
    b = D.shape[0]
    out = np.empty((b, columns.size), dtype=np.int32)
    for i in numba.prange(b):
        s = np.sort(D[i])
        out[i] = np.searchsorted(s, D[i][columns], side="right")
    return out


@numba.njit(cache=True, parallel=True)
def mp_bounds(cx: np.ndarray, cy: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Boolean (q, n): the pairs whose exact count may reach the row's top k.

    cx[i, y] = c_x(y), cy[i, y] = c_y(x) for x = rows[i]; lower bound
    max - 1, upper bound sum - 2 (see the module docstring).
    """
    q, n = cx.shape
    keep = np.zeros((q, n), dtype=np.bool_)
    for i in numba.prange(q):
        x = rows[i]
        ub = (cx[i].astype(np.int64) + cy[i]) - 2
        lb = np.maximum(cx[i], cy[i]).astype(np.int64) - 1
        ub[x] = 1 << 40
        bound = np.partition(ub, k - 1)[k - 1]
        for y in range(n):
            keep[i, y] = y != x and lb[y] <= bound
    return keep


@numba.njit(cache=True, parallel=True)
def mp_overlap(DQ: np.ndarray, DY: np.ndarray, ys: np.ndarray, keep: np.ndarray, both: np.ndarray) -> None:
    """both[i, y] = |{j : DQ[i, j] <= d and DY[m, j] <= d}|, d = DQ[i, y], for kept pairs with y = ys[m]."""
    q, n = DQ.shape
    for i in numba.prange(q):
        for m in range(ys.size):
            y = ys[m]
            if not keep[i, y]:
                continue
            d = DQ[i, y]
            c = 0
            for j in range(n):
                if DQ[i, j] <= d and DY[m, j] <= d:
                    c += 1
            both[i, y] = c


def mp_empirical_rows(DQ: np.ndarray, rows: np.ndarray, cx: np.ndarray, cy: np.ndarray, k: int, rows_of,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Exact empirical-MP top k of the query rows.

    DQ : (q, n) distance rows of `rows`; cx, cy : (q, n) int, c_x(y) and c_y(x)
    for x = rows[i]; rows_of(ys) -> distance rows of the points ys (called block by block).
    """
    q, n = DQ.shape
    keep = mp_bounds(cx, cy, rows, k)
    both = np.zeros((q, n), dtype=np.int32)
    needed = np.flatnonzero(keep.any(axis=0))
    for block in np.array_split(needed, max(1, -(-needed.size * n // BLOCK_ELEMENTS))):
        if block.size:
            mp_overlap(DQ, rows_of(block), block, keep, both)
    S = np.where(keep, (cx + cy - 2 - both) / (n - 2), np.inf)
    return top_k(S, DQ, k)


# --------------------------------------------------------------------------- drivers


_CODES = {"mp_gaussian": 0, "local_scaling": 1, "nicdm": 2, "csls": 3, "dis_sim_local": 4}


@numba.njit(cache=True)
def _survival(d: float, mean: float, std: float) -> float:
    if std > 0:
        return 0.5 * math.erfc((d - mean) / (std * math.sqrt(2.0)))
    return 1.0 if d < mean else 0.0


@numba.njit(cache=True)
def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    return np.inf if num > 0 else 0.0


@numba.njit(cache=True, parallel=True)
def _secondary_rows(code: int, D: np.ndarray, rows: np.ndarray, kth: np.ndarray, mean_k: np.ndarray,
                    to_c: np.ndarray, mean: np.ndarray, std: np.ndarray, cosine: bool) -> np.ndarray:
    """The formulas of `secondary` for full rows (one numba pass, no temporaries); self is +inf."""
    b, n = D.shape
    S = np.empty((b, n))
    for i in numba.prange(b):
        x = rows[i]
        for y in range(n):
            d = D[i, y]
            if y == x:
                v = np.inf
            elif code == 0:
                v = 1.0 - _survival(d, mean[x], std[x]) * _survival(d, mean[y], std[y])
            elif code == 1:
                v = 1.0 - math.exp(-_ratio(d * d, kth[x] * kth[y]))
            elif code == 2:
                v = _ratio(d, math.sqrt(mean_k[x] * mean_k[y]))
            elif code == 3:
                v = 2.0 * d - mean_k[x] - mean_k[y]
            else:
                v = (2.0 * d if cosine else d * d) - to_c[x] - to_c[y]
            S[i, y] = v
    return S


def _rows_secondary(method: str, DQ: np.ndarray, rows: np.ndarray, st: PointStats, metric: str) -> np.ndarray:
    return _secondary_rows(_CODES[method], DQ, rows, st.kth, st.mean_k, st.to_centroid, st.mean, st.std,
                           metric == "cosine")


def exact_lists(V: np.ndarray, metric: str, methods, k: int, k_scale: int):
    """Every row's exact re-ranked lists: ({method: (indices, secondary)}, PointStats).

    Memory: the (n, n) float64 distances, plus (n, n) int32 rank counts for
    empirical MP; the per-method work runs in blocks of query rows.
    """
    D = full_distances(V, metric)
    n = D.shape[0]
    st = exact_stats(D, V, metric, k_scale)
    C = rank_counts(D, np.arange(n)) if "mutual_proximity" in methods else None
    out = {}
    for method in methods:
        idx, val = np.empty((n, k), dtype=np.int64), np.empty((n, k))
        for rows in row_blocks(n, 4 * n):
            if method == "mutual_proximity":
                idx[rows], val[rows] = mp_empirical_rows(D[rows], rows, C[rows], np.ascontiguousarray(C[:, rows].T),
                                                         k, lambda ys: D[ys])
            else:
                idx[rows], val[rows] = top_k(_rows_secondary(method, D[rows], rows, st, metric), D[rows], k)
        out[method] = (idx, val)
    return out, st


def sample_lists(V: np.ndarray, metric: str, methods, k: int, rows: np.ndarray, st: PointStats):
    """Exact re-ranked lists of the query `rows` only, against all n points: {method: (indices, secondary)}.

    Costs one pass over all distance rows for empirical MP (each point's
    rank of the queries), two when survivors need their overlap counted.
    """
    n = V.shape[0]
    sq = np.einsum("ij,ij->i", V, V)
    DQ = distance_rows(V, sq, rows, metric)
    out = {}
    for method in methods:
        if method == "mutual_proximity":
            cy = np.empty((len(rows), n), dtype=np.int32)
            for block in row_blocks(n, n):
                cy[:, block] = rank_counts(distance_rows(V, sq, block, metric), rows).T
            cx = rank_counts(DQ, np.arange(n))
            out[method] = mp_empirical_rows(DQ, rows, cx, cy, k, lambda ys: distance_rows(V, sq, ys, metric))
        else:
            out[method] = top_k(_rows_secondary(method, DQ, rows, st, metric), DQ, k)
    return out
