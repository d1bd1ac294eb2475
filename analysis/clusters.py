"""Automatic clusters of an embedding (HDBSCAN) and how well they agree with the class labels.

Where the clusters are found, and why:

* On the embedding itself, not on the 2-D projection the page draws: clusters are then a
  property of the representation being diagnosed, the same whichever projection is shown, and
  free of the clumps t-SNE and UMAP can create or exaggerate (Wattenberg, Viégas & Johnson,
  "How to use t-SNE effectively", Distill 2016).
* Reduced to its first `PCA_COMPONENTS` principal components when it has more features (the
  caller reduces: `analysis.panels.explore.clusters` streams the PCA of every row):
  HDBSCAN's core distances come from a tree search whose cost grows quickly with the dimension.
  Measured with scikit-learn 1.8 on this project's 2 shared cores: 5,000 x 20 in 0.7 s,
  5,000 x 50 in 2-3.5 s, 20,000 x 10 in 8-10 s, 20,000 x 50 in 46 s.
* Fitted on at most `FIT_MAX_ROWS` rows (a seeded uniform sample); every other row takes the
  cluster of its nearest fitted row in the same PCA space (exact 1-NN), so the cost stays bounded
  at any n.

HDBSCAN: Campello, Moulavi & Sander, "Density-based clustering based on hierarchical density
estimates", PAKDD 2013; scikit-learn's `sklearn.cluster.HDBSCAN`. Rows in no cluster are noise
(label -1). Purity is the share of a cluster's rows that carry its most common class label
(Manning, Raghavan & Schütze, *Introduction to Information Retrieval*, 2008, §16.3); the overall
purity sums each cluster's majority count over all clustered (non-noise) rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Features kept (principal components) before clustering a wider embedding.
PCA_COMPONENTS = 20
# Rows HDBSCAN is fitted on; the others join the cluster of their nearest fitted row.
FIT_MAX_ROWS = 5_000
# Neighbours in HDBSCAN's core distance (its `min_samples`): fixed, so a larger smallest cluster does
# not make the core-distance search deeper (measured: min_samples 100 on 20,000 2-D rows, 4.3 s; 10, 3.6 s).
MIN_SAMPLES = 10
NOISE = -1

__all__ = ["FIT_MAX_ROWS", "NOISE", "PCA_COMPONENTS", "Clusters", "cluster_purity", "default_min_cluster_size",
           "hdbscan_clusters"]


@dataclass(frozen=True, eq=False)
class Clusters:
    """HDBSCAN clusters of every row, their sizes and their label purity.

    Attributes
    ----------
    labels : ndarray of shape (n_samples,), int64
        Cluster of each row, 0 .. n_clusters - 1, or -1 (noise).
    sizes : ndarray of shape (n_clusters,), int64
    majority : ndarray of shape (n_clusters,), int64, or None
        Each cluster's most common class code (the smallest code on a tie); None without labels.
    purity : ndarray of shape (n_clusters,), float64, or None
        Share of each cluster's rows carrying its majority class; None without labels.
    overall_purity : float or None
        Sum of the clusters' majority counts / rows in a cluster (noise excluded).
    min_cluster_size : int
    fitted_rows : int
        Rows HDBSCAN was fitted on (the others were assigned to their nearest fitted row's cluster).
    space : str
        What was clustered, for the page ("the 32-D embedding", "the PCA-20 of the 256-D embedding").
    """

    labels: np.ndarray
    sizes: np.ndarray
    majority: np.ndarray | None
    purity: np.ndarray | None
    overall_purity: float | None
    min_cluster_size: int
    fitted_rows: int
    space: str

    @property
    def n_clusters(self) -> int:
        return int(self.sizes.size)

    @property
    def n_noise(self) -> int:
        return int(np.count_nonzero(self.labels == NOISE))

    def describe(self) -> str:
        """One sentence on how the clusters were found."""
        n = int(self.labels.size)
        how = f"on all {n:,} rows" if self.fitted_rows == n else (
            f"on a sample of {self.fitted_rows:,} of {n:,} rows (the others join their nearest sampled row's cluster)")
        return (f"HDBSCAN (smallest cluster {self.min_cluster_size}) of {self.space} {how}: "
                f"{self.n_clusters} clusters, {self.n_noise:,} noise rows.")


def cluster_purity(cluster_labels: np.ndarray, class_labels: np.ndarray,
                   n_clusters: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """Sizes, majority class, per-cluster purity and overall purity of a clustering (noise -1 ignored).

    Parameters
    ----------
    cluster_labels : ndarray of shape (n_samples,), int
        Cluster ids 0 .. n_clusters - 1, or -1 for noise.
    class_labels : ndarray of shape (n_samples,), int
        Class codes >= 0.
    n_clusters : int, optional
        Number of clusters (default: the largest id + 1).

    Returns
    -------
    sizes, majority : ndarray of shape (n_clusters,), int64
    purity : ndarray of shape (n_clusters,), float64
        majority count / size.
    overall : float or None
        Sum of majority counts / rows in any cluster; None when every row is noise.
    """
    clusters = np.asarray(cluster_labels, dtype=np.int64)
    classes = np.asarray(class_labels, dtype=np.int64)
    if clusters.shape != classes.shape or clusters.ndim != 1:
        raise ValueError(f"cluster_labels and class_labels must be 1-D of the same length; got shapes "
                         f"{clusters.shape} and {classes.shape}.")
    if classes.size and classes.min() < 0:
        raise ValueError("class_labels must be codes >= 0 (encode the labels first).")
    k = int(clusters.max()) + 1 if n_clusters is None else int(n_clusters)
    k = max(k, 0)
    clustered = clusters >= 0
    n_classes = int(classes.max()) + 1 if classes.size else 1
    counts = np.zeros((k, n_classes), dtype=np.int64)
    np.add.at(counts, (clusters[clustered], classes[clustered]), 1)
    sizes = counts.sum(axis=1)
    majority = counts.argmax(axis=1) if k else np.zeros(0, dtype=np.int64)
    top = counts.max(axis=1) if k else np.zeros(0, dtype=np.int64)
    purity = np.divide(top, sizes, out=np.zeros(k), where=sizes > 0)
    total = int(sizes.sum())
    overall = float(top.sum() / total) if total else None
    return sizes.astype(np.int64), majority.astype(np.int64), purity, overall


def default_min_cluster_size(n_samples: int) -> int:
    """The smallest cluster offered by default: 0.5% of the rows, at least 10 (HDBSCAN's own default,
    5, splits a class of a few hundred rows into many small clusters)."""
    return max(10, int(round(0.005 * n_samples)))


def hdbscan_clusters(Z: np.ndarray, *, labels: np.ndarray | None = None, min_cluster_size: int | None = None,
                     fit_max_rows: int = FIT_MAX_ROWS, seed: int = 0, space: str = "the embedding") -> Clusters:
    """HDBSCAN clusters of every row of Z (see the module docstring for where and why).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_features)
        The rows to cluster, already reduced (e.g. to `PCA_COMPONENTS` principal components).
    labels : ndarray of shape (n_samples,), int, optional
        Class codes, for the purity of each cluster.
    min_cluster_size : int, optional
        HDBSCAN's smallest cluster (default `default_min_cluster_size`); at least 2.
    fit_max_rows, seed
        At most this many rows (a seeded uniform sample) are fitted; the others join the cluster of
        their nearest fitted row (exact 1-NN, `kneighbors_between`).
    space : str
        What Z is, for `Clusters.describe`.
    """
    from sklearn.cluster import HDBSCAN

    from analysis.neighbors import kneighbors_between

    Z = np.asarray(Z, dtype=np.float32)
    if Z.ndim != 2:
        raise ValueError(f"Z must be a 2-D array (n_samples, n_features); got shape {Z.shape}.")
    n = int(Z.shape[0])
    size = default_min_cluster_size(n) if min_cluster_size is None else int(min_cluster_size)
    if size < 2:
        raise ValueError(f"min_cluster_size must be at least 2; got {size}.")
    if n < size:
        raise ValueError(f"Clustering needs at least min_cluster_size={size} rows; got {n}. "
                         "Choose a smaller cluster size or more rows.")
    if labels is not None and np.shape(labels) != (n,):
        raise ValueError(f"labels must have shape ({n},); got {np.shape(labels)}.")
    bad = ~np.isfinite(Z).all(axis=1)
    if bad.any():
        raise ValueError(f"Z contains NaN or Inf in {int(bad.sum())} rows; drop or impute them before clustering.")
    fitted = np.arange(n) if n <= fit_max_rows else np.sort(
        np.random.default_rng(seed).choice(n, size=fit_max_rows, replace=False))
    model = HDBSCAN(min_cluster_size=size, min_samples=min(MIN_SAMPLES, size), copy=True)
    fitted_labels = model.fit_predict(Z[fitted]).astype(np.int64)
    cluster_of = np.full(n, NOISE, dtype=np.int64)
    cluster_of[fitted] = fitted_labels
    if fitted.size < n:
        rest = np.setdiff1d(np.arange(n), fitted, assume_unique=True)
        _, nearest = kneighbors_between(Z[rest], Z[fitted], 1)
        cluster_of[rest] = fitted_labels[nearest[:, 0]]
    k = int(fitted_labels.max()) + 1 if fitted_labels.size else 0
    if labels is not None:
        sizes, majority, purity, overall = cluster_purity(cluster_of, np.asarray(labels), k)
    else:
        sizes = np.bincount(cluster_of[cluster_of >= 0], minlength=k).astype(np.int64)
        majority = purity = overall = None
    return Clusters(labels=cluster_of, sizes=sizes, majority=majority, purity=purity, overall_purity=overall,
                    min_cluster_size=size, fitted_rows=int(fitted.size), space=space)
