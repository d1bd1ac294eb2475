"""Two representations of the same inputs, compared in one call: `compare` -> `Comparison` (HTML / JSON).

A and B are two views of the same n inputs in the same row order: two
layers, two checkpoints, two seeds, two models. `compare` measures how alike
they are at three levels, each with a reference for what unrelated data of
the same size scores:

*Linear structure, up to rotation and scale.* Linear CKA (plain and
debiased, Kornblith et al. 2019; Song et al. 2012 for the unbiased HSIC), RBF
CKA (on at most `RBF_ROWS` seeded rows: it needs two n x n kernels) and the
orthogonal Procrustes distance. Their reference is the same pair with B's
rows shuffled (seeded), which breaks the correspondence but keeps both
spaces: plain CKA of unrelated data of few samples and many features is far
from 0, and this is that level.

*Neighbourhoods.* The mean Jaccard index of each point's k nearest
neighbours in A and in B (`knn_agreement`); its reference is the analytic
value for independent random neighbour sets.

*Relative coordinates* (Moschella et al. 2023). Each row's cosines to
`N_ANCHORS` anchor rows (seeded, spread over the classes when there are
labels), compared row by row in A and B. When A and B have the same width
the same row's absolute cosine is given beside it, and, with labels, the
zero-shot stitching accuracies (`seed_agreement`, on at most `STITCH_ROWS`
rows): a classifier fitted on A's training rows applied unchanged to B's
held-out rows (the data's own "split" column when it has one, as runs do).

When both sides come with several layers (two runs), the layer x layer CKA
matrix between them is computed as well (plain and debiased).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import hypergeom
from sklearn.decomposition import PCA

from analysis._export import Exported, Stages, json_safe
from analysis.data.schema import Embedding, encode_labels
from analysis.metrics.seed_agreement import row_cosines, seed_agreement
from analysis.metrics.similarity import (
    RBF_MAX_SAMPLES,
    choose_anchors,
    cka_matrices,
    knn_agreement,
    linear_cka,
    procrustes_distance,
    rbf_cka,
    relative_representation,
)
from analysis.projection import align_to
from analysis.validation import ProgressFn, check_matrix, max_abs, power_of_two_exponent, row_norms

__all__ = ["COMPARISON_FORMAT", "Comparison", "compare"]

COMPARISON_FORMAT = "replens-comparison/1"
RBF_ROWS = 5_000  # two 5,000 x 5,000 float64 kernels: 400 MB, about 2 s
N_ANCHORS = 100
STITCH_ROWS = 5_000  # logistic-regression probes on more rows add time, not information
SCATTER_ROWS = 4_000  # points drawn per scatter in the HTML export
assert RBF_ROWS <= RBF_MAX_SAMPLES


@dataclass(frozen=True)
class Comparison(Exported):
    """How alike two representations of the same inputs are (see `compare`).

    Attributes
    ----------
    name_a, name_b : str
    n_samples, n_features_a, n_features_b : int
    metrics : dict
        ``linear_cka``, ``linear_cka_debiased``, ``linear_cka_shuffled``,
        ``rbf_cka`` (with ``rbf_rows``), ``procrustes_distance``,
        ``procrustes_shuffled``, ``knn_jaccard``, ``knn_chance``, ``k``,
        ``metric``, ``relative_cosine``, ``n_anchors``, ``absolute_cosine``
        (None unless the widths match) and ``stitching``: None, or the three
        accuracies with ``rows``, ``train_rows``, ``test_rows``, ``protocol``
        ("train/test split" or "random 75/25") and ``chance`` (the majority
        class's share of the test rows).
    layers : dict or None
        With two multi-layer sides: ``rows``, ``columns`` (layer names),
        ``cka`` and ``cka_debiased`` (matrices as nested lists).
    series : dict
        What the figures need: ``shared_neighbours`` (how many points share
        m = 0..k of their k neighbours), and ``points`` (a seeded subsample's
        PCA coordinates in A and in B, per-point Jaccard and labels).
    seconds : float
    timings : dict of str to float
    """

    name_a: str
    name_b: str
    n_samples: int
    n_features_a: int
    n_features_b: int
    metrics: dict[str, Any]
    layers: dict[str, Any] | None = None
    series: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (Python numbers, lists, None; never NaN)."""
        return json_safe({
            "format": COMPARISON_FORMAT, "a": self.name_a, "b": self.name_b, "n_samples": self.n_samples,
            "n_features_a": self.n_features_a, "n_features_b": self.n_features_b, "seconds": self.seconds,
            "metrics": self.metrics, "layers": self.layers, "timings": self.timings, "series": self.series,
        })

    def _html(self) -> str:
        from analysis.views.comparison import comparison_html  # plotly lives in analysis.views only

        return comparison_html(self)


def _side(value: Any, name: str) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...] | None, str]:
    """(X, labels, label names, display name) of an Embedding or a bare matrix."""
    if isinstance(value, Embedding):
        return value.X, value.labels, value.label_names, value.name or name
    return check_matrix(value, name=name, action="compare it"), None, None, name


def _pca_2d(X: np.ndarray, rows: np.ndarray, seed: int) -> np.ndarray:
    """The first two principal components of all of X, at `rows` (a zero column for 1-D data).

    scikit-learn's PCA directly, not `analysis.projection.project`: the layout's
    trustworthiness score (the bulk of that call's time) is not shown here.
    """
    if X.shape[1] == 1:
        centred = X[rows, :1] - X[:, :1].mean()
        return np.hstack([centred, np.zeros_like(centred)])
    # PCA is linear: fit on X / 2**e (exact) and scale the coordinates back, so
    # rows at 1e20 in float32 do not overflow the covariance (LinAlgError).
    exponent = power_of_two_exponent(max_abs(X))
    scaled = np.ldexp(X, -exponent)
    coords = PCA(n_components=2, random_state=seed).fit(scaled).transform(scaled[rows])
    return np.ldexp(coords.astype(np.float64), exponent)


def _layer_matrix(layers_a: Mapping[str, Any], layers_b: Mapping[str, Any], stages: Stages) -> dict[str, Any]:
    reps_a, reps_b = list(layers_a.values()), list(layers_b.values())
    stages.start("layers", 0.85, f"CKA between {len(reps_a)} x {len(reps_b)} layers…")
    plain, debiased = cka_matrices(reps_a, reps_b)
    return {"rows": list(layers_a), "columns": list(layers_b), "cka": plain, "cka_debiased": debiased}


def compare(
    a: Any,
    b: Any,
    *,
    labels: Any = None,
    k: int = 10,
    metric: str = "euclidean",
    seed: int = 0,
    layers_a: Mapping[str, Any] | None = None,
    layers_b: Mapping[str, Any] | None = None,
    progress: ProgressFn | None = None,
) -> Comparison:
    """Compare two representations of the same inputs (row i of each is the same input).

    Parameters
    ----------
    a, b : Embedding or array-like of shape (n_samples, n_features_a / n_features_b)
        Widths may differ; row counts must match.
    labels : array-like of shape (n_samples,), optional
        Class of each row; default the labels of `a` (an Embedding), else of
        `b`. Used for per-class anchors, stitching and colouring the export.
    k : int, default=10
        Neighbours for the k-NN agreement.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Neighbour metric in both spaces.
    seed : int, default=0
        Seeds the shuffled reference, the anchors, the RBF and stitching
        subsamples and the drawn points.
    layers_a, layers_b : mapping of layer name to array-like, optional
        Every layer of each side (same rows); both given -> the layer x layer
        CKA matrix.
    progress : callable (fraction, message) -> None, optional

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        Different row counts, fewer than `k` + 1 rows, constant data, or any
        input the metrics refuse; the message names the problem.

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee and G. Hinton, "Similarity of neural
       network representations revisited", ICML 2019.
    .. [2] L. Song, A. Smola, A. Gretton, J. Bedo and K. Borgwardt, "Feature
       selection via dependence maximization", JMLR 13, 2012.
    .. [3] L. Moschella et al., "Relative representations enable zero-shot latent
       space communication", ICLR 2023.
    .. [4] M. Klabunde, T. Schumacher, M. Strohmaier and F. Lemmerich, "Similarity
       of neural network models: a survey of functional and representational
       measures", ACM Computing Surveys, 2025 (k-NN Jaccard).
    """
    started = time.perf_counter()
    X, labels_a, names_a, name_a = _side(a, "A")
    Y, labels_b, names_b, name_b = _side(b, "B")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"A has {X.shape[0]:,} rows and B has {Y.shape[0]:,}: compare needs the same inputs in "
                         "the same order in both (row i of each is one input). Pass two layers, checkpoints or "
                         "models run on the same samples.")
    n = X.shape[0]
    for side, M in (("A", X), ("B", Y)):
        if n >= 2 and np.array_equal(M.min(axis=0), M.max(axis=0)):
            raise ValueError(f"{side} is constant: all {n:,} rows are the same vector, so no similarity is defined. "
                             "Pass a representation that varies across inputs (check the layer and checkpoint).")
    if labels is None:
        labels, names = (labels_a, names_a) if labels_a is not None else (labels_b, names_b)
    else:
        if np.shape(labels) != (n,):
            raise ValueError(f"labels has shape {np.shape(labels)}; expected ({n},), one per row of A and B.")
        labels, names = encode_labels(labels)
    rng = np.random.default_rng(seed)
    stages = Stages(progress)

    stages.start("cka", 0.0, "Linear CKA…")
    shuffled = rng.permutation(n)
    plain, debiased = cka_matrices([X], [Y])  # both estimators from one set of products
    metrics: dict[str, Any] = {
        "linear_cka": float(plain[0, 0]), "linear_cka_debiased": float(debiased[0, 0]),
        "linear_cka_shuffled": linear_cka(X, Y[shuffled]),
    }
    stages.start("procrustes", 0.1, "Procrustes distance…")
    metrics["procrustes_distance"] = procrustes_distance(X, Y)
    metrics["procrustes_shuffled"] = procrustes_distance(X, Y[shuffled])
    stages.start("rbf", 0.2, "RBF CKA…")
    rbf_rows = np.sort(rng.choice(n, size=min(n, RBF_ROWS), replace=False))
    metrics["rbf_cka"], metrics["rbf_rows"] = rbf_cka(X[rbf_rows], Y[rbf_rows]), int(rbf_rows.size)

    stages.start("neighbours", 0.35, f"{k} nearest neighbours in both spaces…")
    agreement = knn_agreement(X, Y, k=k, metric=metric)
    shared = np.rint(2 * k * agreement.per_point / (1 + agreement.per_point)).astype(np.int64)  # J = m / (2k - m)
    metrics.update(knn_jaccard=agreement.mean_jaccard, knn_chance=agreement.chance_jaccard, k=k, metric=metric)

    stages.start("relative", 0.7, "Relative representations…")
    # Cosines are undefined for all-zero rows (common in small ReLU layers): relative representations and
    # stitching use the rows that are non-zero in both spaces, and say how many.
    usable = np.flatnonzero((row_norms(X) > 0) & (row_norms(Y) > 0))
    usable_labels = None if labels is None else np.asarray(labels)[usable]
    has_classes = usable_labels is not None and np.unique(usable_labels).size >= 2
    metrics.update(relative_cosine=None, n_anchors=0, relative_rows=int(usable.size))
    anchors = np.empty(0, dtype=np.int64)
    if usable.size >= 2:
        n_anchors = min(N_ANCHORS, usable.size)
        per_class = has_classes and np.unique(usable_labels).size <= n_anchors
        anchors = usable[choose_anchors(usable.size, method="per_class" if per_class else "random",
                                        n_anchors=n_anchors, labels=usable_labels if per_class else None, seed=seed)]
        rel_a = relative_representation(X[usable], X[anchors])
        rel_b = relative_representation(Y[usable], Y[anchors])
        metrics.update(relative_cosine=float(row_cosines(rel_a, rel_b).mean()), n_anchors=int(anchors.size))
    same_width = X.shape[1] == Y.shape[1]
    metrics["absolute_cosine"] = float(row_cosines(X, Y).mean()) if same_width else None
    metrics["stitching"] = None
    n_usable_classes = 0 if usable_labels is None else int(np.unique(usable_labels).size)
    if same_width and has_classes and anchors.size and n_usable_classes > usable.size // 2:
        # More classes than half the rows (e.g. one label per row: sample ids): a probe cannot
        # learn them, its accuracies would be 0 by construction, and it fits one weight row per class.
        metrics["stitching_note"] = (f"not computed: {n_usable_classes:,} classes for {usable.size:,} rows, so most "
                                     "classes have a single row and a linear probe has nothing to learn")
    elif same_width and has_classes and anchors.size:
        stages.start("stitching", 0.78, "Zero-shot stitching…")
        split = next((part for part in (_split_of(a), _split_of(b)) if part is not None), None)
        metrics["stitching"] = _stitching(X, Y, np.asarray(labels), anchors, usable, split, rng)

    layers = None
    if layers_a is not None and layers_b is not None:
        layers = _layer_matrix(layers_a, layers_b, stages)

    stages.start("points", 0.95, "PCA of both spaces for the figures…")
    drawn = np.sort(rng.choice(n, size=min(n, SCATTER_ROWS), replace=False))
    coords_a = _pca_2d(X, drawn, seed)  # B's layout is rotated onto A's so the two read alike
    series: dict[str, Any] = {
        "shared_neighbours": {"m": list(range(k + 1)), "count": np.bincount(shared, minlength=k + 1).tolist(),
                              # m ~ Hypergeometric(n - 1 others, k marked, k drawn) for unrelated spaces
                              "chance_count": n * hypergeom.pmf(np.arange(k + 1), n - 1, k, k)},
        "points": {"rows": drawn, "a": coords_a, "b": align_to(coords_a, _pca_2d(Y, drawn, seed)),
                   "jaccard": agreement.per_point[drawn], "shared": shared[drawn],
                   "labels": None if labels is None else np.asarray(labels)[drawn],
                   "label_names": None if names is None else list(names)},
    }
    stages.stop()
    if progress is not None:
        progress(1.0, "Done")
    return Comparison(name_a=name_a, name_b=name_b, n_samples=n, n_features_a=X.shape[1], n_features_b=Y.shape[1],
                      metrics=metrics, layers=layers, series=series, seconds=time.perf_counter() - started,
                      timings=stages.timings)


def _split_of(side: Any) -> np.ndarray | None:
    """The "split" metadata column of an Embedding (e.g. a run's train/test split), as strings, or None."""
    splits = side.splits() if hasattr(side, "splits") and hasattr(side, "rows") else []
    if not splits:
        return None
    values = np.full(side.n_samples, None, dtype=object)  # rows without a split stay None
    for split in splits:  # `rows` is the one reader of the split column (issue 16)
        values[side.rows(split)] = split
    return values


def _stitching(X: np.ndarray, Y: np.ndarray, labels: np.ndarray, anchors: np.ndarray, pool: np.ndarray,
               split: np.ndarray | None, rng: np.random.Generator) -> dict[str, Any]:
    """`seed_agreement` on at most STITCH_ROWS rows of `pool`: the probe is fitted on A's training rows and
    tested on A's and B's test rows. Training and test rows are the data's own "train"/"test" split when
    it has one with both parts among the rows used (a run's held-out rows), else a seeded random 75/25."""
    rows = np.sort(rng.choice(pool, size=min(pool.size, STITCH_ROWS), replace=False))
    rows = np.union1d(rows, anchors)  # anchors index the full matrices: keep them among the rows used
    part = None if split is None else split[rows]
    train, test = (np.flatnonzero(part == "train"), np.flatnonzero(part == "test")) if part is not None else ([], [])
    protocol = "train/test split"
    if len(train) == 0 or len(test) == 0:
        order = rng.permutation(rows.size)
        cut = int(0.75 * rows.size)
        train, test, protocol = order[:cut], order[cut:], "random 75/25"
    position = {row: i for i, row in enumerate(rows)}
    result = seed_agreement(X[rows], Y[rows], labels[rows], anchors=[position[a] for a in anchors],
                            train_rows=train, test_rows=test)
    return {"accuracy_same": result.accuracy_same, "accuracy_stitched_absolute": result.accuracy_stitched_absolute,
            "accuracy_stitched_relative": result.accuracy_stitched_relative, "rows": int(rows.size),
            "train_rows": int(len(train)), "test_rows": int(len(test)), "protocol": protocol,
            "chance": float(np.bincount(labels[rows][test]).max() / len(test))}
