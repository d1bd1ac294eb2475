"""One exact neighbour search, sliced for every k: `NeighborGraph`.

Hubness, its reductions, intrinsic dimension, kNN accuracy, kNN agreement
and the report all start from each point's nearest neighbours. Searching is
the expensive part (``O(n^2 d)``); reading the first k columns of a search
for ``k_max >= k`` is free. A `NeighborGraph` is that search, done once per
(data, metric, k_max) through `analysis.neighbors.kneighbors`, and handed to
every consumer (``neighbors=`` arguments) instead of searching again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.validation import ProgressFn, check_k  # ProgressFn: the one definition (issue 16)

__all__ = ["KnnSettings", "NeighborGraph"]


@dataclass(frozen=True)
class KnnSettings:
    """How a neighbour search was done, as the report's ``metrics.settings.knn`` records it (issue 17).

    Attributes
    ----------
    method : str
        ``"exact"`` or ``"ivf_pq_fastscan_refine"`` (`analysis.neighbors.approximate.METHOD`).
    exact : bool
    recall : float or None
        Measured recall@k of an approximate search on `n_queries_checked`
        sampled rows against exact search; None for an exact search.
    n_queries_checked : int
    params : dict
        Index parameters (its readable ``index`` name, nlist, nprobe, k_factor) and the seconds spent.
    """

    method: str
    exact: bool
    recall: float | None = None
    n_queries_checked: int = 0
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def exact_search(cls) -> KnnSettings:
        return cls(method="exact", exact=True)

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "exact": self.exact, "recall": self.recall,
                "n_queries_checked": self.n_queries_checked}

    def describe(self) -> str:
        """One phrase for a caption or a report line, e.g. "approximate kNN (recall@10 0.97 on 1,000 rows)"."""
        if self.exact:
            return "exact kNN"
        index = self.params.get("index", self.method)
        return (f"approximate kNN ({index}, {self.params.get('nprobe')} of {self.params.get('nlist'):,} "
                f"cells scanned): recall {self.recall:.3f} on {self.n_queries_checked:,} sampled rows")


@dataclass(frozen=True, eq=False)
class NeighborGraph:
    """The k_max nearest other rows of every row of one point set, nearest first.

    Build it with :meth:`search`; read any ``k <= k_max`` with :meth:`top`.

    Attributes
    ----------
    distances : ndarray of shape (n_samples, k_max), float32
        ``distances[i, j]``: distance from row ``i`` to its ``j``-th nearest
        other row, ascending along each row (as `kneighbors` returns it).
    indices : ndarray of shape (n_samples, k_max), int64
        Row numbers of those neighbours; row ``i`` never appears in line ``i``
        (duplicates of it do, at distance 0).
    metric : {"euclidean", "cosine"}
        The distance searched with.

    Notes
    -----
    **Ties.** `kneighbors` sorts each line by (float64 distance, row
    number) before rounding the distances to float32, so ``top(k)`` lists
    exactly equal distances in row-number order, like ``kneighbors(X, k)``.
    The guarantee, tested on data full of duplicates and grid ties:

    * the same distances as ``kneighbors(X, k)`` for every ``k <= k_max``;
    * the same indices on every row whose k-th and (k+1)-th distances in the
      graph differ, and always the same neighbours strictly nearer than the
      k-th distance;
    * where several rows tie for the k-th place, `kneighbors` leaves open
      which of them it returns; the graph's slice returns those with the
      lowest row numbers among the ones its k_max search found (all of them
      whenever the tied group ends within the first ``k_max`` neighbours).

    So on data without exact distance ties at the cut (any continuous data;
    duplicates tie only among themselves) ``top(k)`` *is* ``kneighbors(X,
    k)``, and ``top(k_max)`` always is. One more caveat: with the cosine
    metric and 256 features or more, the float64 re-scoring uses BLAS
    products whose last bit can depend on the candidate count, so
    near-zero distances between exact duplicates (1 - cos of about 1e-16)
    may differ between k values by that rounding.

    The arrays are made read-only: consumers share one graph and must not
    change it.
    """

    distances: np.ndarray
    indices: np.ndarray
    metric: str
    knn: KnnSettings = field(default_factory=KnnSettings.exact_search)

    def __post_init__(self) -> None:
        distances = np.asarray(self.distances)
        indices = np.asarray(self.indices)
        if distances.ndim != 2 or distances.shape != indices.shape or distances.shape[1] < 1:
            raise ValueError(
                f"distances and indices must be arrays of the same shape (n_samples, k_max), k_max >= 1; got "
                f"{distances.shape} and {indices.shape}. Build the graph with NeighborGraph.search(X, k_max=...)."
            )
        if indices.dtype.kind not in "iu":
            raise ValueError(f"indices must hold integer row numbers; got dtype {indices.dtype}.")
        for arr in (distances, indices):
            arr.flags.writeable = False
        object.__setattr__(self, "distances", distances)
        object.__setattr__(self, "indices", indices)

    @property
    def n(self) -> int:
        """Number of rows (points) searched."""
        return int(self.indices.shape[0])

    @property
    def k_max(self) -> int:
        """Neighbours kept per row; every ``k <= k_max`` is a slice."""
        return int(self.indices.shape[1])

    @classmethod
    def search(
        cls,
        X: Any,
        *,
        k_max: int,
        metric: str = "euclidean",
        exact: bool | None = None,
        progress: ProgressFn | None = None,
        scheduler: Any = None,
    ) -> NeighborGraph:
        """The ``k_max`` nearest neighbours of every row of ``X``: one exact `kneighbors` call, or above
        `analysis.neighbors.approximate.EXACT_LIMIT` rows an approximate IVF search with measured recall.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        k_max : int
            Most neighbours any consumer will read, ``1 <= k_max <= n_samples - 1``.
        metric : {"euclidean", "cosine"}, default="euclidean"
            As in `analysis.neighbors.kneighbors`.
        exact : bool, optional
            True forces exact search, False forces the approximate index; None
            (default) searches exactly up to ``EXACT_LIMIT`` rows. The graph's
            `knn` says which was done and, if approximate, the recall measured.
        progress : callable (fraction, message) -> None, optional
            Called at the start and the end of the search.
        scheduler : str or distributed.Client, optional
            Search exactly across a dask.distributed cluster
            (`analysis.distributed.distributed_kneighbors`, equal to `kneighbors`);
            `exact` is then ignored.

        Returns
        -------
        NeighborGraph

        Raises
        ------
        ValueError
            Whatever `kneighbors` refuses: not 2-D, NaN/Inf, fewer than 2 rows,
            k_max out of range, an unknown metric, all-zero rows with cosine,
            distances beyond float32's range.
        """
        # Looked up at call time, so one patched backend counts every search.
        from analysis import neighbors

        n = np.shape(X)[0] if np.ndim(X) == 2 else None
        k_max = check_k(k_max, n=None if n is None else n - 1, what="k_max",
                        needs=f"other rows each, of {n}")
        from analysis.neighbors import approximate

        if scheduler is not None:
            from analysis.distributed import distributed_kneighbors

            distances, indices = distributed_kneighbors(X, k_max, metric=metric, scheduler=scheduler)
            return cls(distances=distances, indices=indices, metric=metric,
                       knn=KnnSettings(method="exact", exact=True, params={"distributed": True}))
        if not approximate.use_exact(n or 0, exact=exact):
            checked = neighbors.checks._check_X(X)
            distances, indices, settings = approximate.approximate_kneighbors(checked, k_max, metric=metric,
                                                                              progress=progress)
            return cls(distances=distances, indices=indices, metric=metric, knn=settings)
        if progress is not None:
            progress(0.0, f"Finding the {k_max} nearest neighbours of {np.shape(X)[0]:,} points")
        distances, indices = neighbors.kneighbors(X, k_max, metric=metric)
        if progress is not None:
            progress(1.0, "Neighbours found")
        return cls(distances=distances, indices=indices, metric=metric)

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest neighbours of every row: ``(distances[:, :k], indices[:, :k])``.

        Parameters
        ----------
        k : int
            ``1 <= k <= k_max``.

        Returns
        -------
        distances : ndarray of shape (n_samples, k), float32 (a read-only view)
        indices : ndarray of shape (n_samples, k), int64 (a read-only view)
        """
        k = self.check_k(k)
        return self.distances[:, :k], self.indices[:, :k]

    def check_k(self, k: Any, *, name: str = "k") -> int:
        """``k`` as an int in ``[1, k_max]``, or a ValueError naming both and the fix."""
        k = check_k(k, what=name)
        return check_k(k, n=self.k_max, what=name, needs="neighbours per row: the graph's k_max",
                       hint=f"Or search deeper: NeighborGraph.search(X, k_max={k}).")

    def unit_chords(self) -> NeighborGraph:
        """The Euclidean graph of the unit rows ``x / ||x||``, from a cosine graph (no search).

        On unit vectors ``||u - v|| = sqrt(2 (1 - cos))``, a monotone map of the
        cosine distance, so the neighbours and their order are those of this
        graph; the distances become float64 chords ``sqrt(2 d_cos)`` (equal to a
        Euclidean search of the unit rows up to rounding).
        """
        if self.metric != "cosine":
            raise ValueError(
                f"unit_chords needs a graph searched with metric='cosine'; this one is {self.metric!r}. "
                "Search with NeighborGraph.search(X, k_max=..., metric='cosine')."
            )
        return NeighborGraph(distances=np.sqrt(2.0 * self.distances.astype(np.float64)), indices=self.indices,
                             metric="euclidean")

    def check_matches(self, X: Any, *, metric: str | None = None, name: str = "neighbors") -> None:
        """Refuse a graph of another point set (row count) or, when given, another metric."""
        n = np.shape(X)[0]
        if self.n != n:
            raise ValueError(
                f"{name} is a graph of {self.n} rows but X has {n}: pass the graph searched on this X "
                "(NeighborGraph.search(X, ...))."
            )
        if metric is not None and self.metric != metric:
            raise ValueError(
                f"{name} was searched with metric={self.metric!r} but metric={metric!r} was asked for: "
                f"pass metric={self.metric!r} or a graph searched with {metric!r}."
            )
