"""The steps `bench_scale` times: RepLens's (``replens_*``) and what a user would otherwise run (``plain_*``).

Each function takes a job (``x``/``y``: the data's ``.npy`` paths, ``n``,
``d``, ``folder`` and step options), does its setup untimed (imports, opening
the data), times one call with `scale_support.timed` and returns the timing
and memory stats plus a ``detail`` and the values worth comparing. Each runs
in its own fresh process (`scale_support.run_isolated`).

RepLens opens the data as the app and the CLI do (`load_embedding`: a
memory-mapped ``.npy``); the plain competitors read it with ``np.load``
(into memory, what a user would write).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tests.bench.scale_support import blobs, graph_path, timed

K = 10
# Exact competitor search at 10^6 rows: this many query rows against all rows, scaled by n / rows.
SAMPLED_QUERIES = 10_000


def _replens_data(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The data as the app opens it (memory-mapped); with ``rows``, its first rows (a view, no copy)."""
    from analysis.data import load_embedding

    emb = load_embedding(job["x"], labels=job["y"])
    rows = job.get("rows")
    return (emb.X, emb.labels) if rows is None else (emb.X[:rows], emb.labels[:rows])


def _plain_data(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The data as a user reads it (``np.load``, in memory); with ``rows``, only its first rows."""
    rows = job.get("rows")
    if rows is None:
        return np.load(job["x"]), np.load(job["y"])
    return np.array(np.load(job["x"], mmap_mode="r")[:rows]), np.load(job["y"])[:rows]


def _warm_faiss() -> None:
    from analysis.neighbors.search import _faiss

    _faiss()


# ------------------------------------------------------------------------------------------------- load
def replens_load(job: dict[str, Any]) -> dict[str, Any]:
    from analysis.data import load_embedding_report

    (emb, rep), stats = timed(lambda: load_embedding_report(job["x"], labels=job["y"]))
    return stats | {"detail": f"load_embedding: memory-mapped {rep.memory_mapped}, NaN/Inf pass over every row"}


def plain_load(job: dict[str, Any]) -> dict[str, Any]:
    _, stats = timed(lambda: (np.load(job["x"]), np.load(job["y"])))
    return stats | {"detail": "np.load (read into memory)"}


# -------------------------------------------------------------------------------------------------- kNN
def _replens_knn(job: dict[str, Any], exact: bool) -> dict[str, Any]:
    from analysis.neighbors import NeighborGraph

    X, _ = _replens_data(job)
    _warm_faiss()
    graph, stats = timed(lambda: NeighborGraph.search(X, k_max=K, exact=exact))
    if job.get("rows") is None:  # the whole data's graph: the hubness rows read it
        np.savez(graph_path(job, exact), distances=graph.distances, indices=graph.indices)
    knn = graph.knn
    out = stats | {"method": knn.method, "recall": knn.recall, "n_queries_checked": knn.n_queries_checked}
    out["detail"] = ("NeighborGraph.search(exact=True)" if exact else
                     f"{knn.method}: recall@{K} {knn.recall:.3f} on {knn.n_queries_checked:,} rows")
    return out


def replens_knn_exact(job: dict[str, Any]) -> dict[str, Any]:
    return _replens_knn(job, exact=True)


def replens_knn_approx(job: dict[str, Any]) -> dict[str, Any]:
    return _replens_knn(job, exact=False)


def plain_knn(job: dict[str, Any]) -> dict[str, Any]:
    """scikit-learn's ``NearestNeighbors(n_neighbors=k+1).fit(X).kneighbors(Q)``, Q = X or its first rows."""
    from sklearn.neighbors import NearestNeighbors

    X, _ = _plain_data(job)
    n = X.shape[0]
    rows = min(n, int(job.get("queries") or n))
    _, stats = timed(lambda: NearestNeighbors(n_neighbors=K + 1).fit(X).kneighbors(X[:rows]))
    out = stats | {"detail": "sklearn NearestNeighbors(n_neighbors=11) (brute)"}
    if rows < n:  # exact search is linear in the queries
        out["seconds"] *= n / rows
        out["detail"] += f"; extrapolated from {rows:,} query rows x {n / rows:g}"
        out["estimated"] = True
    return out


def replens_faiss_reference(job: dict[str, Any]) -> dict[str, Any]:
    """The report target's yardstick: one bare exact ``faiss.knn`` of 100,000 of the rows against themselves."""
    from analysis.neighbors.search import _faiss, n_threads

    faiss = _faiss()
    faiss.omp_set_num_threads(n_threads())
    X, _ = _replens_data(job)
    rows = np.ascontiguousarray(X[: int(job.get("rows", 100_000))])
    _, stats = timed(lambda: faiss.knn(rows, rows, K + 1))
    return stats | {"detail": f"faiss.knn(S, S, {K + 1}), S = first {rows.shape[0]:,} rows (target yardstick)"}


def replens_blobs_approx(job: dict[str, Any]) -> dict[str, Any]:
    """Approximate kNN on isotropic Gaussian blobs, generated here (not timed): the index's worst case."""
    from analysis.neighbors import NeighborGraph

    X, _ = blobs(job["n"], job["d"])
    _warm_faiss()
    graph, stats = timed(lambda: NeighborGraph.search(X, k_max=K, exact=False))
    knn = graph.knn
    return stats | {"method": knn.method, "recall": knn.recall, "n_queries_checked": knn.n_queries_checked,
                    "detail": f"{knn.method} on 20 isotropic blobs: recall@{K} {knn.recall:.3f} "
                              f"on {knn.n_queries_checked:,} rows"}


# ---------------------------------------------------------------------------------------------- hubness
def _graph(job: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, bool]:
    exact = bool(job["graph_exact"])
    with np.load(graph_path(job, exact)) as saved:
        return saved["distances"], saved["indices"], exact


def replens_hubness(job: dict[str, Any]) -> dict[str, Any]:
    from analysis.metrics.hubness import hubness
    from analysis.neighbors import NeighborGraph

    X, _ = _replens_data(job)
    distances, indices, exact = _graph(job)
    graph = NeighborGraph(distances=distances, indices=indices, metric="euclidean")
    result, stats = timed(lambda: hubness(X, k=K, neighbors=graph))
    return stats | {"value": result.skewness,
                    "detail": f"hubness(X, neighbors=graph) on the {'exact' if exact else 'approximate'} graph: "
                              f"skewness {result.skewness:.3f}"}


def plain_hubness(job: dict[str, Any]) -> dict[str, Any]:
    from scipy.stats import skew

    _, indices, _ = _graph(job)
    n = indices.shape[0]
    value, stats = timed(lambda: float(skew(np.bincount(indices[:, :K].ravel(), minlength=n))))
    return stats | {"value": value, "detail": f"scipy.stats.skew(np.bincount(I)) on the same graph: {value:.3f}"}


# ------------------------------------------------------------------------------------------ neural collapse
def replens_nc(job: dict[str, Any]) -> dict[str, Any]:
    from analysis.metrics.neural_collapse import neural_collapse

    X, labels = _replens_data(job)
    result, stats = timed(lambda: neural_collapse(X, labels))
    return stats | {"value": result.nc1, "detail": f"neural_collapse (NC1-NC4, CDNV, ...): NC1 {result.nc1:.5g}"}


def numpy_nc1(X: np.ndarray, labels: np.ndarray) -> float:
    """NC1 = Tr(Sigma_W Sigma_B^+) / C (Papyan, Han & Donoho 2020) as a user writes it: per-class float64 loops."""
    classes = np.unique(labels)
    C, d = classes.size, X.shape[1]
    means = np.empty((C, d))
    within = np.zeros((d, d))
    for i, c in enumerate(classes):
        rows = X[labels == c].astype(np.float64)
        means[i] = rows.mean(axis=0)
        rows -= means[i]
        within += rows.T @ rows
    within /= X.shape[0]
    M = (means - means.mean(axis=0)).T
    values, vectors = np.linalg.eigh(M @ M.T / C)
    top = vectors[:, -(C - 1):] / values[-(C - 1):]  # pseudo-inverse on the top C-1 eigenpairs
    return float(np.trace(within @ top @ vectors[:, -(C - 1):].T) / C)


def plain_nc(job: dict[str, Any]) -> dict[str, Any]:
    X, labels = _plain_data(job)
    value, stats = timed(lambda: numpy_nc1(X, labels))
    return stats | {"value": value, "detail": f"numpy per-class float64 scatter, NC1 only: {value:.5g}"}


# -------------------------------------------------------------------------------------------- uniformity
def replens_uniformity(job: dict[str, Any]) -> dict[str, Any]:
    from analysis.metrics.sphere import uniformity

    X, _ = _replens_data(job)
    result, stats = timed(lambda: uniformity(X))
    how = "all pairs" if result.exact else f"{result.n_pairs:,} random pairs, se {result.standard_error:.4f}"
    return stats | {"value": result.value, "n_pairs": result.n_pairs, "exact": result.exact,
                    "detail": f"uniformity: {result.value:.4f} ({how})"}


def numpy_uniformity(X: np.ndarray, pairs: int | None, t: float = 2.0, seed: int = 0) -> float:
    """``log mean exp(-t ||u_i - u_j||^2)`` of the unit rows: scipy's pdist over all pairs, or `pairs` random ones."""
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    if pairs is None:
        from scipy.spatial.distance import pdist

        return float(np.log(np.mean(np.exp(-t * pdist(U, "sqeuclidean")))))
    rng = np.random.default_rng(seed)
    total, n = 0.0, U.shape[0]
    for start in range(0, pairs, 1_000_000):
        size = min(1_000_000, pairs - start)
        i = rng.integers(0, n, size=size)
        j = rng.integers(0, n - 1, size=size)
        j += j >= i
        total += float(np.exp(-t * ((U[i] - U[j]) ** 2).sum(axis=1)).sum())
    return math.log(total / pairs)


def plain_uniformity(job: dict[str, Any]) -> dict[str, Any]:
    X, _ = _plain_data(job)
    pairs = job.get("pairs")
    value, stats = timed(lambda: numpy_uniformity(X, pairs))
    how = "scipy pdist, all pairs" if pairs is None else f"unit-row copy, the same {pairs:,} random pairs"
    return stats | {"value": value, "detail": f"numpy {how}: {value:.4f}"}


# ---------------------------------------------------------------------------------------- effective rank
def replens_erank(job: dict[str, Any]) -> dict[str, Any]:
    from analysis.metrics.spectrum import effective_rank

    X, _ = _replens_data(job)
    result, stats = timed(lambda: effective_rank(X))
    return stats | {"value": result.effective_rank, "detail": f"effective_rank: {result.effective_rank:.4f}"}


def numpy_erank(X: np.ndarray) -> float:
    """exp(entropy of sigma / sum sigma) of the centred X (Roy & Vetterli 2007), via numpy's SVD."""
    s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    p = s[s > 0] / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def plain_erank(job: dict[str, Any]) -> dict[str, Any]:
    X, _ = _plain_data(job)
    value, stats = timed(lambda: numpy_erank(X))
    return stats | {"value": value, "detail": f"np.linalg.svd(X - mean) (float32): {value:.4f}"}


# ---------------------------------------------------------------------------------------------- projections
def _replens_project(job: dict[str, Any], method: str) -> dict[str, Any]:
    from analysis.projection import project

    X, _ = _replens_data(job)
    if method == "umap":
        import umap  # noqa: F401 - imported before the clock, as for the competitor

    import sklearn.decomposition  # noqa: F401
    import sklearn.manifold  # noqa: F401

    result, stats = timed(lambda: project(X, method=method))
    return stats | {"detail": f"project(method={method!r}) + trustworthiness {result.trustworthiness:.3f} "
                              f"on {result.trustworthiness_sample_size:,} rows"}


def replens_pca(job: dict[str, Any]) -> dict[str, Any]:
    return _replens_project(job, "pca")


def replens_umap(job: dict[str, Any]) -> dict[str, Any]:
    out = _replens_project(job, "umap")
    out["detail"] += "; umap-learn, seeded: one thread"
    return out


def plain_pca(job: dict[str, Any]) -> dict[str, Any]:
    from sklearn.decomposition import PCA

    X, _ = _plain_data(job)
    _, stats = timed(lambda: PCA(n_components=2).fit_transform(X))
    return stats | {"detail": "sklearn PCA(n_components=2).fit_transform(X) (float32)"}


def plain_umap(job: dict[str, Any]) -> dict[str, Any]:
    import umap

    X, _ = _plain_data(job)
    _, stats = timed(lambda: umap.UMAP().fit_transform(X))
    return stats | {"detail": "umap.UMAP() defaults (unseeded: all threads)"}


# ------------------------------------------------------------------------------------------------ report
def replens_report(job: dict[str, Any]) -> dict[str, Any]:
    from analysis.data import load_embedding
    from analysis.report import diagnose

    _warm_faiss()
    emb = load_embedding(job["x"], labels=job["y"])
    result, stats = timed(lambda: diagnose(emb.X, labels=emb.labels, k=K))
    knn = result.metrics["settings"]["knn"]
    stages = sorted(result.timings.items(), key=lambda item: -item[1])[:4]
    recall = "" if knn["recall"] is None else f" recall {knn['recall']:.3f}"
    return stats | {"recall": knn["recall"],
                    "detail": f"diagnose(k=10), kNN {knn['method']}{recall}; slowest stages (s): "
                              + ", ".join(f"{name} {t:.1f}" for name, t in stages)}
