"""Approximate k nearest neighbours for large point sets: a faiss IVF-Flat index with measured recall.

Exact search costs ``O(n^2 d)``: about 10^13 multiply-adds at n = 200,000,
d = 256 (minutes on two cores) and 2.6 x 10^14 at n = 10^6 (hours). Above
`EXACT_LIMIT` rows RepLens searches an inverted-file index instead (Jégou,
Douze & Schmid, "Product quantization for nearest neighbor search", TPAMI
2011, section on the inverted file; faiss's ``IndexIVFFlat``):

* ``nlist = 4 sqrt(n)`` k-means cells (faiss's guideline of 4-16 sqrt(n)),
  trained (10 k-means iterations) on at most ``40 nlist`` rows (faiss warns below 39 per cell);
* each query scans its ``nprobe`` nearest cells with exact float32 distances,
  so what it returns is exact among the rows it scanned;
* ``nprobe`` starts at 8 and doubles until recall@k on a seeded sample of
  `RECALL_QUERIES` rows reaches the target (0.95 by default), measured
  against exact brute-force search of those rows over all n (faiss.knn).

Recall is the share of a query's k exact neighbours' distance range that
the index found: ``|{j in approx(i) : d(i, j) <= d_k(i)}| / k`` with
``d_k(i)`` the exact k-th distance, so ties at the cut do not count as misses
(the "recall with distance ties" of ann-benchmarks, Aumüller et al. 2020).
The measured recall and the number of queries checked travel with the
result (`KnnSettings`) and are printed beside every kNN-based number.

IVF-Flat was chosen over HNSW (its graph costs minutes to build at 10^6 on two
cores and ~2x the data's memory in links) and over IVF-PQ (lossy codes cap
recall well below 0.95 without re-ranking); it needs no extra memory beyond
one copy of X and its recall is tunable after the index is built.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from analysis.neighbor_graph import KnnSettings
from analysis.neighbors.search import _faiss, n_threads
from analysis.validation import ProgressFn, check_k, check_option

__all__ = ["EXACT_LIMIT", "RECALL_QUERIES", "KnnSettings", "approximate_kneighbors", "recall_at_k", "use_exact"]

# Largest n searched exactly by default: above it an exact search costs more than ~2 minutes
# on two cores at d = 256 (n^2 d = 10^13 multiply-adds at 2e5 rows).
EXACT_LIMIT = 200_000
# Query rows whose exact neighbours check the index's recall (seeded sample).
RECALL_QUERIES = 1_000
TARGET_RECALL = 0.95
_FIRST_NPROBE = 8
_TRAIN_PER_CELL = 40  # faiss warns below 39 training points per cell
_SEARCH_CHUNK = 16_384
# k-means iterations of the coarse quantiser: cells only route queries (their exact shape matters little for
# recall, which nprobe tunes), and each iteration costs a pass of n_train x nlist x d.
_KMEANS_ITERATIONS = 10


def use_exact(n_samples: int, *, exact: bool | None = None) -> bool:
    """Whether a search of `n_samples` rows is exact: forced by `exact`, else up to `EXACT_LIMIT`."""
    return bool(exact) if exact is not None else n_samples <= EXACT_LIMIT


def _prepared(X: np.ndarray, metric: str) -> np.ndarray:
    """C-contiguous float32 rows; unit rows for cosine (inner product then ranks by cosine)."""
    arr = np.ascontiguousarray(X, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        if not np.all(norms > 0):
            raise ValueError("cosine neighbours need non-zero rows; drop or fix the all-zero rows.")
        arr = arr / norms
    return arr


def _distances(scores: np.ndarray, metric: str) -> np.ndarray:
    """faiss scores -> RepLens distances: sqrt of squared L2, or 1 - cosine."""
    if metric == "cosine":
        return np.clip(1.0 - scores, 0.0, 2.0).astype(np.float32)
    return np.sqrt(np.maximum(scores, 0.0)).astype(np.float32)


def _drop_self(D: np.ndarray, ids: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's own row from its k + 1 candidates (or the last one when it is absent)."""
    is_self = ids == rows[:, None]
    missing = ~is_self.any(axis=1)
    is_self[missing, -1] = True  # a duplicate pushed self out: drop the farthest candidate instead
    keep = ~is_self
    return D[keep].reshape(len(rows), k), ids[keep].reshape(len(rows), k)


def _search_filled(index: Any, queries: np.ndarray, width: int, nprobe: int,
                   nlist: int) -> tuple[np.ndarray, np.ndarray]:
    """`index.search` with `nprobe` cells, repeated with twice the cells for the rows whose scanned cells
    held fewer than `width` points (faiss pads those with id -1), until every row is full: at
    ``nprobe = nlist`` every row is a candidate, and n > k."""
    index.nprobe = nprobe
    scores, ids = index.search(queries, width)
    ids = ids.astype(np.int64)
    short = np.flatnonzero((ids < 0).any(axis=1))
    while short.size:
        nprobe = min(nlist, nprobe * 2)
        index.nprobe = nprobe
        more_scores, more_ids = index.search(queries[short], width)
        scores[short], ids[short] = more_scores, more_ids.astype(np.int64)
        short = short[(ids[short] < 0).any(axis=1)]
        if nprobe == nlist and short.size:  # cannot happen with n > width; guard the loop anyway
            raise ValueError(f"the IVF index holds fewer than {width} rows; use exact search.")
    return scores, ids


def recall_at_k(approx_distances: np.ndarray, exact_distances: np.ndarray) -> float:
    """Mean share of each row's k approximate neighbours within its exact k-th distance (ties count as found).

    Both arrays have shape (n_queries, k) and hold distances ascending per row.
    A relative tolerance of 1e-5 absorbs float32 rounding between the two searches.
    """
    cut = exact_distances[:, -1:]
    found = approx_distances <= cut + 1e-5 * np.maximum(np.abs(cut), 1e-12)
    return float(found.mean())


def approximate_kneighbors(
    X: np.ndarray,
    k: int,
    *,
    metric: str = "euclidean",
    target_recall: float = TARGET_RECALL,
    n_check: int = RECALL_QUERIES,
    nlist: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray, KnnSettings]:
    """k nearest other rows of every row through an IVF-Flat index tuned to a target recall.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    k : int
        ``1 <= k <= n_samples - 1``.
    metric : {"euclidean", "cosine"}
    target_recall : float
        nprobe doubles until recall@k on the check sample reaches it (or every cell is scanned).
    n_check : int
        Sampled query rows whose exact neighbours measure the recall.
    nlist : int, optional
        Cells of the inverted file; default ``4 sqrt(n)`` clipped to [1, n / 39].

    Returns
    -------
    distances : ndarray (n_samples, k) float32, ascending per row
    indices : ndarray (n_samples, k) int64
    settings : KnnSettings
        method "ivf_flat", the measured recall and the queries checked.
    """
    faiss = _faiss()
    if faiss is None:
        raise ImportError("approximate kNN needs faiss (pip install faiss-cpu).")
    check_option(metric, ("euclidean", "cosine"), what="metric")
    n, d = X.shape
    k = check_k(k, n=n - 1, needs="other rows")
    started = time.perf_counter()
    faiss.omp_set_num_threads(n_threads())
    data = _prepared(X, metric)
    if nlist is None:
        nlist = int(4 * math.sqrt(n))
    nlist = max(1, min(int(nlist), n // 39 or 1))
    faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
    quantiser = faiss.IndexFlatIP(d) if metric == "cosine" else faiss.IndexFlatL2(d)
    index = faiss.IndexIVFFlat(quantiser, d, nlist, faiss_metric)
    rng = np.random.default_rng(seed)
    train_rows = np.sort(rng.choice(n, size=min(n, _TRAIN_PER_CELL * nlist), replace=False))
    index.cp.seed = seed
    index.cp.niter = _KMEANS_ITERATIONS
    index.train(data[train_rows])
    index.add(data)
    if progress is not None:
        progress(0.1, f"Built an IVF index of {nlist:,} cells")

    check_rows = np.sort(rng.choice(n, size=min(n, int(n_check)), replace=False)).astype(np.int64)
    exact_scores, exact_ids = faiss.knn(data[check_rows], data, k + 1, metric=faiss_metric)
    exact_d, _ = _drop_self(_distances(exact_scores, metric), exact_ids.astype(np.int64), check_rows, k)

    # Start where the scanned cells hold, on average, twice the k + 1 candidates each row needs.
    nprobe, recall = min(nlist, max(_FIRST_NPROBE, math.ceil(2 * (k + 1) * nlist / n))), 0.0
    while True:
        scores, ids = _search_filled(index, data[check_rows], k + 1, nprobe, nlist)
        approx_d, _ = _drop_self(_distances(scores, metric), ids, check_rows, k)
        recall = recall_at_k(approx_d, exact_d)
        if recall >= target_recall or nprobe >= nlist:
            break
        nprobe = min(nlist, nprobe * 2)
    if progress is not None:
        progress(0.2, f"nprobe {nprobe}: recall@{k} {recall:.3f} on {check_rows.size:,} rows")

    distances = np.empty((n, k), dtype=np.float32)
    indices = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _SEARCH_CHUNK):
        stop = min(n, start + _SEARCH_CHUNK)
        scores, ids = _search_filled(index, data[start:stop], k + 1, nprobe, nlist)
        block_d, block_i = _drop_self(_distances(scores, metric), ids, np.arange(start, stop), k)
        distances[start:stop], indices[start:stop] = block_d, block_i
        if progress is not None:
            progress(0.2 + 0.8 * stop / n, f"Searched {stop:,} of {n:,} rows")
    settings = KnnSettings(method="ivf_flat", exact=False, recall=recall, n_queries_checked=int(check_rows.size),
                           params={"nlist": nlist, "nprobe": nprobe,
                                   "seconds": round(time.perf_counter() - started, 3)})
    return distances, indices, settings
