"""Project embeddings to 2-D or 3-D for drawing: PCA, UMAP, t-SNE, LDA.

Every projection comes with its trustworthiness (how well it keeps each
point's nearest neighbours), so a view can say how far to trust the picture.
Sequences of checkpoints are aligned with orthogonal Procrustes so that the
cloud does not flip or spin from one step to the next, and UMAP and t-SNE fit
each checkpoint starting from its neighbour's layout (far fewer iterations than
a fresh fit). UMAP's neighbours come from `analysis.neighbors` (exact, faiss),
not umap-learn's own search; `analysis.projection_warmup` compiles its numba
code ahead of use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy.linalg import orthogonal_procrustes
from threadpoolctl import threadpool_limits

from analysis.data.schema import encode_labels
from analysis.validation import check_matrix

__all__ = [
    "Projection",
    "project",
    "align_to",
    "project_sequence",
    "METHODS",
    "TRUSTWORTHINESS_MAX_SAMPLES",
    "TRUSTWORTHINESS_SAMPLE_SIZE",
    "UMAP_EXACT_KNN_MAX_ROWS",
    "WARM_TSNE_ITERATIONS",
    "WARM_UMAP_EPOCHS",
]

Method = Literal["pca", "umap", "tsne", "lda"]
METHODS: tuple[str, ...] = ("pca", "umap", "tsne", "lda")

#: Above this many rows, trustworthiness (O(n^2) memory and an n x n argsort
#: in scikit-learn) is estimated on a seeded random subsample ...
TRUSTWORTHINESS_MAX_SAMPLES = 5_000
#: ... of this many rows.
TRUSTWORTHINESS_SAMPLE_SIZE = 2_000
#: Neighbourhood size for trustworthiness (capped below n / 2, scikit-learn's limit).
TRUSTWORTHINESS_K = 10

ProgressCallback = Callable[[float, str], None]

#: Up to this many rows UMAP is given exact neighbours from `analysis.neighbors.kneighbors`
#: (faiss). umap-learn's own search below 4,096 rows calls its numba distance once per pair
#: through scikit-learn's Python loop (1.6 million calls on the 1,797-row digits sample): that
#: fit took 18.7-31.7 s, and 3.9-4.0 s with these neighbours (tests/bench/bench_projection.py on
#: 2 cores shared with other work, load 9-11; the search itself 0.4 s). Above, umap-learn's
#: NN-descent (approximate, no n x n work) is left to it.
UMAP_EXACT_KNN_MAX_ROWS = 20_000
#: Epochs of a UMAP fit that starts from a neighbouring checkpoint's layout (`init=`); a fresh fit
#: of up to 10,000 rows runs 500. Measured on the digits sample (layer hidden3): 100 epochs kept
#: trustworthiness within 0.005 of a fresh fit at all 10 checkpoints; at the first checkpoint, the
#: farthest from the last, 50 epochs lost 0.007 and 200 lost 0.003.
WARM_UMAP_EPOCHS = 100
#: Iterations of a t-SNE fit started from a neighbouring checkpoint's layout: scikit-learn's
#: minimum (its first phase has a fixed 250), run without early exaggeration, which only serves
#: to untangle clusters from a random or PCA start; a fresh fit runs 1,000.
WARM_TSNE_ITERATIONS = 250

# umap-learn warns that a precomputed neighbour list without its NN-descent index cannot
# `transform` new rows; nothing here calls transform.
warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)


@dataclass(frozen=True, eq=False)
class Projection:
    """A low-dimensional layout of n points plus how much to trust it.

    Attributes
    ----------
    coords : ndarray of shape (n_samples, n_components), float32
        Row ``i`` is where sample ``i`` is drawn.
    method : {"pca", "umap", "tsne", "lda"}
    n_components : int
        2 or 3.
    trustworthiness : float
        ``sklearn.manifold.trustworthiness`` of ``coords`` w.r.t. the input,
        in [0, 1] (1: every point's ``trustworthiness_k`` nearest neighbours
        in the layout are also near in the original space).
    trustworthiness_k : int
        Neighbourhood size used, ``min(10, (m - 1) // 2)`` for ``m`` rows.
    trustworthiness_sample_size : int
        Rows it was computed on: ``n_samples`` when ``n_samples <= 5000``,
        else a seeded random subsample of 2000 rows (an estimate).
    explained_variance_ratio : ndarray of shape (n_components,) or None
        Share of variance (PCA) or of between-class variance (LDA) per
        component; None for UMAP and t-SNE.
    params : dict
        The settings actually used (after clamping, e.g. perplexity for
        small n), the seed, and ``aligned`` for sequence members.
    """

    coords: np.ndarray
    method: str
    n_components: int
    trustworthiness: float
    trustworthiness_k: int
    trustworthiness_sample_size: int
    explained_variance_ratio: np.ndarray | None
    params: dict[str, Any]

    @property
    def n_samples(self) -> int:
        return int(self.coords.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays become nested lists)."""
        evr = self.explained_variance_ratio
        return {
            "coords": self.coords.tolist(),
            "method": self.method,
            "n_components": self.n_components,
            "n_samples": self.n_samples,
            "trustworthiness": self.trustworthiness,
            "trustworthiness_k": self.trustworthiness_k,
            "trustworthiness_sample_size": self.trustworthiness_sample_size,
            "explained_variance_ratio": None if evr is None else evr.tolist(),
            "params": dict(self.params),
        }


def project(
    X: np.ndarray,
    *,
    method: Method = "pca",
    n_components: int = 2,
    labels: np.ndarray | None = None,
    seed: int = 0,
    metric: Literal["euclidean", "cosine"] = "euclidean",
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    perplexity: float = 30.0,
    init: np.ndarray | None = None,
) -> Projection:
    """Project the rows of ``X`` to 2-D or 3-D.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        One point per row; at least 3 rows. Checked and stored as float32;
        PCA and LDA are fitted in float64 for accurate variance ratios.
    method : {"pca", "umap", "tsne", "lda"}, default="pca"
        ``"pca"``: ``sklearn.decomposition.PCA`` (linear, deterministic up
        to sign). ``"umap"``: ``umap.UMAP`` [3]_ with ``random_state=seed``
        (single-threaded, hence reproducible). ``"tsne"``:
        ``sklearn.manifold.TSNE`` [4]_ with ``init="pca"``,
        ``learning_rate="auto"``, ``random_state=seed``. ``"lda"``:
        ``sklearn.discriminant_analysis.LinearDiscriminantAnalysis`` (linear,
        supervised: needs ``labels``).
    n_components : {2, 3}, default=2
    labels : array-like of shape (n_samples,), optional
        Class codes. Required for ``"lda"``; ignored by the other methods.
    seed : int, default=0
        Random state for UMAP, t-SNE, randomised PCA solvers and the
        trustworthiness subsample.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Input-space metric for UMAP, t-SNE and trustworthiness. PCA and LDA
        are Euclidean by construction.
    n_neighbors : int, default=15
        UMAP neighbourhood size (clamped to ``n_samples - 1``).
    min_dist : float, default=0.1
        UMAP minimum distance in the layout.
    perplexity : float, default=30.0
        t-SNE perplexity (clamped to ``(n_samples - 1) / 3`` so that small
        data sets still work; the value used is in ``params``).
    init : array-like of shape (n_samples, n_components), optional
        UMAP and t-SNE only: start from this layout (e.g. the same rows at
        the neighbouring checkpoint) instead of a spectral / PCA one, and
        refine it briefly: ``WARM_UMAP_EPOCHS`` epochs (a fresh UMAP fit of
        up to 10,000 rows runs 500), or ``WARM_TSNE_ITERATIONS`` t-SNE
        iterations without early exaggeration (a fresh fit runs 1,000).
        ``params["warm_start"]`` says whether it was used.

    Returns
    -------
    Projection
        ``coords`` of shape (n_samples, n_components), float32, plus
        trustworthiness, explained variance (PCA/LDA) and the parameters used.

    Raises
    ------
    ValueError
        Bad ``X`` (not 2-D, fewer than 3 rows, NaN/Inf), unknown ``method``
        or ``metric``, ``n_components`` not 2 or 3 or more than the number of
        features; for LDA, missing labels, fewer than 2 classes, or
        ``n_components > n_classes - 1``; ``init`` with PCA or LDA, or of
        the wrong shape, or not finite.

    Notes
    -----
    Trustworthiness [1]_ [2]_ penalises points that are neighbours in the
    layout but not in the input space; above 5000 rows it is estimated on a
    seeded subsample of 2000 rows (``trustworthiness_sample_size`` says
    which). Only PCA's and LDA's axes mean something; UMAP and t-SNE
    distances between clusters are not to be read quantitatively [5]_.

    UMAP's ``n_neighbors`` nearest neighbours (itself included, as umap-learn
    counts them) come from `analysis.neighbors.kneighbors` (exact) up to
    ``UMAP_EXACT_KNN_MAX_ROWS`` rows and are passed as ``precomputed_knn``;
    umap-learn computes the same exact neighbours itself below 4,096 rows,
    only slower.

    References
    ----------
    .. [1] J. Venna and S. Kaski, "Neighborhood preservation in nonlinear
       projection methods: An experimental study", ICANN 2001.
    .. [2] scikit-learn, ``sklearn.manifold.trustworthiness``.
    .. [3] L. McInnes, J. Healy and J. Melville, "UMAP: Uniform Manifold
       Approximation and Projection for Dimension Reduction",
       arXiv:1802.03426, 2018.
    .. [4] L. van der Maaten and G. Hinton, "Visualizing data using t-SNE",
       JMLR 9, 2008.
    .. [5] M. Wattenberg, F. Viegas and I. Johnson, "How to use t-SNE
       effectively", Distill, 2016.
    """
    data = _check_X(X)
    n_samples, n_features = data.shape
    if method not in METHODS:
        raise ValueError(
            f"method must be one of {METHODS}; got {method!r}. Use 'pca' for a fast "
            "linear view, 'umap' or 'tsne' for local structure, 'lda' with labels."
        )
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"metric must be 'euclidean' or 'cosine'; got {metric!r}.")
    if isinstance(n_components, bool) or n_components not in (2, 3):
        raise ValueError(f"n_components must be 2 or 3 (a drawable layout); got {n_components!r}.")
    if n_components > n_features and method in ("pca", "lda"):
        raise ValueError(
            f"X has {n_features} feature(s), so method={method!r} gives at most "
            f"{n_features} component(s); got n_components={n_components}. "
            "Use n_components=2 (or plot a 1-feature X directly)."
        )

    start = _check_init(init, method, data.shape[0], n_components)
    params: dict[str, Any] = {"seed": int(seed)}
    if method in ("umap", "tsne"):
        params["warm_start"] = start is not None
    explained: np.ndarray | None = None
    if method == "pca":
        from sklearn.decomposition import PCA

        model = PCA(n_components=n_components, random_state=seed)
        # float64: scikit-learn's covariance solver forms X^T X, which in
        # float32 misreports explained variance by ~1e-4 on offset data.
        coords = model.fit_transform(data.astype(np.float64))
        explained = np.asarray(model.explained_variance_ratio_, dtype=np.float64)
    elif method == "lda":
        codes = _check_labels(labels, n_samples)
        n_classes = int(np.unique(codes).size)
        if n_classes < 2:
            raise ValueError(
                f"method='lda' needs labels with at least 2 classes; got {n_classes}. "
                "Choose method='pca' for unlabelled data."
            )
        if n_components > n_classes - 1:
            raise ValueError(
                f"method='lda' with {n_classes} classes gives at most {n_classes - 1} "
                f"component(s); got n_components={n_components}. Choose method='pca', "
                f"or n_components <= {n_classes - 1} with more classes."
            )
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        model = LinearDiscriminantAnalysis(n_components=n_components, solver="svd")
        data64 = data.astype(np.float64)  # as for PCA: accurate variance ratios
        coords = model.fit(data64, codes).transform(data64)
        explained = np.asarray(model.explained_variance_ratio_[:n_components], dtype=np.float64)
        params["n_classes"] = n_classes
    elif method == "umap":
        # umap-learn pulls in numba/pynndescent: seconds to import, so only
        # when asked for.
        import umap

        n_neighbors_used = int(min(n_neighbors, n_samples - 1))
        model = umap.UMAP(
            n_components=n_components,
            n_neighbors=n_neighbors_used,
            min_dist=float(min_dist),
            metric=metric,
            random_state=seed,
            # random_state forces one thread anyway; saying so avoids a warning.
            n_jobs=1,
            init="spectral" if start is None else start,
            n_epochs=None if start is None else WARM_UMAP_EPOCHS,
            precomputed_knn=_umap_neighbours(data, n_neighbors_used, metric),
        )
        coords = model.fit_transform(data)
        params.update(n_neighbors=n_neighbors_used, min_dist=float(min_dist), metric=metric)
    else:  # tsne
        from sklearn.manifold import TSNE

        # scikit-learn requires perplexity < n_samples; a third of n keeps
        # ~3 perplexities of neighbours available, as the usual rule of thumb.
        perplexity_used = float(min(perplexity, max(1.0, (n_samples - 1) / 3)))
        # From a given layout: no early exaggeration (it pulls clusters apart from a PCA start,
        # which a neighbouring checkpoint's layout has already done) and the fewest iterations
        # scikit-learn allows. "auto" then sets the learning rate to n / 4 (n / 48 with the
        # default exaggeration of 12): measured on the digits sample, n / 48 left the first
        # checkpoint's layout stuck near its init (trustworthiness 0.94 against 0.98 fresh).
        model = TSNE(
            n_components=n_components,
            perplexity=perplexity_used,
            init="pca" if start is None else start,
            learning_rate="auto",
            metric=metric,
            random_state=seed,
            **({} if start is None else {"early_exaggeration": 1.0, "max_iter": WARM_TSNE_ITERATIONS}),
        )
        # One OpenMP thread: scikit-learn's Barnes-Hut gradient spin-waits
        # between its many short parallel loops, and with any other busy
        # process on a small machine that made n=300 take 20-40 s instead
        # of 1 s (measured on a 2-core box).
        with threadpool_limits(limits=1, user_api="openmp"):
            coords = model.fit_transform(data)
        params.update(perplexity=perplexity_used, metric=metric)

    coords = np.ascontiguousarray(coords, dtype=np.float32)
    trust, trust_k, trust_rows = _trustworthiness(data, coords, metric=metric, seed=seed)
    return Projection(
        coords=coords,
        method=method,
        n_components=int(n_components),
        trustworthiness=trust,
        trustworthiness_k=trust_k,
        trustworthiness_sample_size=trust_rows,
        explained_variance_ratio=explained,
        params=params,
    )


def align_to(reference: np.ndarray, coords: np.ndarray, *, scale: bool = False) -> np.ndarray:
    """Rotate/reflect and translate ``coords`` onto ``reference`` (Procrustes).

    Solves ``min_R ||(coords - mean_c) R - (reference - mean_r)||_F`` over
    orthogonal ``R`` (rotations *and* reflections, so a PCA sign flip is
    undone) [1]_ and returns ``(coords - mean_c) R + mean_r``. The shape of
    the layout is unchanged: distances between points are preserved, so
    trustworthiness is too.

    Parameters
    ----------
    reference : array-like of shape (n_samples, n_components)
        The layout to match (e.g. the previous checkpoint's coordinates).
    coords : array-like of shape (n_samples, n_components)
        The layout to move; row ``i`` must be the same sample as in
        ``reference``.
    scale : bool, default=False
        Also apply the optimal global scale factor ``trace(S) / ||coords_c||^2``
        (``S`` the singular values of ``coords_c^T reference_c``). Off by
        default, so each layout keeps its own scale and a growing or shrinking
        cloud stays visible across checkpoints.

    Returns
    -------
    ndarray of shape (n_samples, n_components)
        The aligned coordinates, same dtype as ``coords`` (float32 stays
        float32); computed in float64.

    Raises
    ------
    ValueError
        Shapes differ, are not 2-D, or contain NaN/Inf.

    References
    ----------
    .. [1] P. H. Schonemann, "A generalized solution of the orthogonal
       Procrustes problem", Psychometrika 31(1), 1966.
    """
    ref = np.asarray(reference)
    cur = np.asarray(coords)
    if ref.ndim != 2 or cur.ndim != 2 or ref.shape != cur.shape:
        raise ValueError(
            f"reference and coords must be 2-D arrays of the same shape (the same rows "
            f"in the same order); got {ref.shape} and {cur.shape}."
        )
    if not (np.isfinite(ref).all() and np.isfinite(cur).all()):
        raise ValueError("reference and coords must not contain NaN or Inf.")
    ref64 = ref.astype(np.float64)
    cur64 = cur.astype(np.float64)
    ref_mean = ref64.mean(axis=0)
    cur_mean = cur64.mean(axis=0)
    ref_c = ref64 - ref_mean
    cur_c = cur64 - cur_mean
    rotation, singular_sum = orthogonal_procrustes(cur_c, ref_c)
    aligned = cur_c @ rotation
    if scale:
        norm2 = float((cur_c**2).sum())
        if norm2 > 0:
            aligned *= singular_sum / norm2
    aligned += ref_mean
    out_dtype = cur.dtype if np.issubdtype(cur.dtype, np.floating) else np.float64
    return aligned.astype(out_dtype, copy=False)


def project_sequence(
    X_seq: Sequence[np.ndarray],
    *,
    method: Method = "pca",
    n_components: int = 2,
    labels: np.ndarray | None = None,
    seed: int = 0,
    scale: bool = False,
    progress: ProgressCallback | None = None,
    anchor: int = 0,
    anchor_projection: Projection | None = None,
    warm_start: bool = True,
    **kwargs: Any,
) -> list[Projection]:
    """Project each checkpoint, outward from one anchor, each aligned to its neighbour.

    ``X_seq[anchor]`` is projected with :func:`project` (or ``anchor_projection``
    is used as it is, e.g. the layout already on screen). Then the later steps
    in order ``anchor + 1, anchor + 2, ...`` and the earlier ones in order
    ``anchor - 1, anchor - 2, ...``: each step's neighbour is the one before
    it on that walk. With ``warm_start`` (UMAP and t-SNE), a step is fitted
    starting from its neighbour's layout (``project(..., init=...)``: a fifth
    of UMAP's epochs, a quarter of t-SNE's iterations), so the animation
    reuses the fitted layout rather than starting over. Every step but the
    anchor is then moved onto its neighbour with :func:`align_to` (orthogonal
    Procrustes), so a point moves on screen only when its representation
    moved, and the anchor keeps its own coordinates.

    Why not ``UMAP.transform`` of the other steps with the anchor's model:
    it places each step's rows by the anchor step's neighbour graph, which an
    early checkpoint's representation does not share (on the digits sample,
    the first checkpoint transformed by the last one's model had
    trustworthiness 0.68, against 0.97 for its own fit), and t-SNE has no
    transform at all.

    Parameters
    ----------
    X_seq : sequence of array-like, each of shape (n_samples, n_features_t)
        The same ``n_samples`` rows (same order) at successive checkpoints;
        the number of features may differ between steps.
    method, n_components, labels, seed
        As in :func:`project`; ``labels`` are shared by all steps.
    scale : bool, default=False
        Passed to :func:`align_to`.
    progress : callable ``progress(fraction, message)``, optional
        Called with ``fraction`` in [0, 1] before the first step and after
        each step (e.g. to drive ``st.progress``). Raising from it stops
        the sequence.
    anchor : int, default=0
        The step fitted first and from scratch (negative counts from the end).
    anchor_projection : Projection, optional
        A projection of ``X_seq[anchor]`` with this method and
        ``n_components``, used instead of fitting it again.
    warm_start : bool, default=True
        Fit UMAP and t-SNE steps from their neighbour's layout; False fits
        every step from scratch (PCA and LDA always are: they are exact).
    **kwargs
        Other keyword options of :func:`project` (``metric``,
        ``n_neighbors``, ``min_dist``, ``perplexity``).

    Returns
    -------
    list of Projection
        One per checkpoint, in the order of ``X_seq``; ``params["aligned"]``
        is True for all but the anchor, ``params["neighbour"]`` is the index
        of the step it was aligned to (and started from, if warm) or None.
        Trustworthiness is unaffected by the alignment.

    Raises
    ------
    ValueError
        Empty sequence, steps with different numbers of rows, an anchor out
        of range, or an ``anchor_projection`` that does not fit.
    """
    steps = list(X_seq)
    if not steps:
        raise ValueError("X_seq is empty; pass at least one checkpoint.")
    n_rows = [np.shape(x)[0] if np.ndim(x) >= 1 else 0 for x in steps]
    for t, n in enumerate(n_rows):
        if n != n_rows[0]:
            raise ValueError(
                f"all checkpoints must hold the same samples; X_seq[{t}] has {n} rows "
                f"but X_seq[0] has {n_rows[0]}. Select the same rows at every step."
            )
    total = len(steps)
    if not -total <= anchor < total:
        raise ValueError(f"anchor must index X_seq (0 to {total - 1}, or negative from the end); got {anchor}.")
    anchor = anchor % total
    _check_anchor_projection(anchor_projection, method, n_components, n_rows[0])
    warm = warm_start and method in ("umap", "tsne")
    # The anchor, then outward: later steps from their predecessor, earlier ones from their successor.
    order = [anchor, *range(anchor + 1, total), *range(anchor - 1, -1, -1)]
    if progress is not None:
        progress(0.0, f"Projecting checkpoint {anchor + 1} of {total} with {method}")
    out: dict[int, Projection] = {}
    for done, t in enumerate(order, start=1):
        neighbour = None if t == anchor else (t - 1 if t > anchor else t + 1)
        if neighbour is None:
            proj = anchor_projection if anchor_projection is not None else project(
                steps[t], method=method, n_components=n_components, labels=labels, seed=seed, **kwargs)
            proj = replace(proj, params={**proj.params, "aligned": False, "neighbour": None})
        else:
            start = out[neighbour].coords if warm else None
            proj = project(steps[t], method=method, n_components=n_components, labels=labels, seed=seed,
                           **({"init": start} if start is not None else {}), **kwargs)
            coords = align_to(out[neighbour].coords, proj.coords, scale=scale)
            proj = replace(proj, coords=coords, params={**proj.params, "aligned": True, "neighbour": neighbour})
        out[t] = proj
        if progress is not None:
            progress(done / total, f"Projected {done} of {total} checkpoints (checkpoint {t + 1})")
    return [out[t] for t in range(total)]


# --------------------------------------------------------------------------
# helpers


def _check_X(X: object) -> np.ndarray:
    arr = check_matrix(X, min_samples=3, action="projecting")
    data = np.ascontiguousarray(arr, dtype=np.float32)
    finite_rows = np.isfinite(data).all(axis=1)
    if not finite_rows.all():
        bad = int(np.count_nonzero(~finite_rows))
        raise ValueError(
            f"X contains NaN or Inf (or values beyond float32 range) in {bad} rows. "
            "Drop or impute these rows before projecting."
        )
    return data


def _check_init(init: object, method: str, n_samples: int, n_components: int) -> np.ndarray | None:
    """`init` as a float32 (n_samples, n_components) array, or None; ValueError says what to fix."""
    if init is None:
        return None
    if method not in ("umap", "tsne"):
        raise ValueError(f"init (a starting layout) applies to method='umap' or 'tsne'; got method={method!r}. "
                         "PCA and LDA have a single solution: leave init=None.")
    start = np.asarray(init, dtype=np.float32)
    if start.shape != (n_samples, n_components):
        raise ValueError(f"init must have shape ({n_samples}, {n_components}), one row per row of X; "
                         f"got {start.shape}. Pass the layout of the same rows at the same n_components.")
    if not np.isfinite(start).all():
        raise ValueError("init contains NaN or Inf; pass a layout with a position for every row.")
    return np.ascontiguousarray(start)


def _umap_neighbours(data: np.ndarray, n_neighbors: int, metric: str) -> tuple:
    """umap-learn's ``precomputed_knn``: each row's `n_neighbors` nearest rows, itself first at
    distance 0 (umap-learn's convention), exact from `analysis.neighbors.kneighbors`; or
    ``(None, None, None)`` (umap-learn searches itself) above `UMAP_EXACT_KNN_MAX_ROWS` rows or
    where the exact search refuses the data (cosine with an all-zero row)."""
    from analysis.neighbors import kneighbors

    n = data.shape[0]
    if n > UMAP_EXACT_KNN_MAX_ROWS:
        return (None, None, None)
    try:
        distances, indices = kneighbors(data, n_neighbors - 1, metric=metric)
    except ValueError:
        return (None, None, None)
    own = np.arange(n)[:, None]
    knn_indices = np.hstack([own, indices]).astype(np.int32)
    knn_dists = np.hstack([np.zeros((n, 1), dtype=np.float32), distances]).astype(np.float32)
    return (knn_indices, knn_dists)


def _check_anchor_projection(proj: Projection | None, method: str, n_components: int, n_samples: int) -> None:
    if proj is None:
        return
    if proj.method != method or proj.n_components != n_components or proj.n_samples != n_samples:
        raise ValueError(
            f"anchor_projection is a {proj.n_components}-D {proj.method} of {proj.n_samples} rows; this sequence "
            f"needs a {n_components}-D {method} of {n_samples} rows. Pass the projection of X_seq[anchor] "
            "made with the same method and n_components, or None to fit it."
        )


def _check_labels(labels: object, n_samples: int) -> np.ndarray:
    if labels is None:
        raise ValueError(
            "method='lda' needs labels (one class code per row). Pass labels=..., "
            "or choose method='pca' for unlabelled data."
        )
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(
            f"labels must have shape ({n_samples},), one per row of X; got shape {arr.shape}."
        )
    # Any values work as classes for LDA: codes 0..C-1 (NaN refused there).
    codes, _ = encode_labels(arr)
    return codes


def _trustworthiness(
    data: np.ndarray, coords: np.ndarray, *, metric: str, seed: int
) -> tuple[float, int, int]:
    """(trustworthiness, k, rows used); subsampled above 5000 rows."""
    from sklearn.manifold import trustworthiness

    n = data.shape[0]
    if n > TRUSTWORTHINESS_MAX_SAMPLES:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(n, size=TRUSTWORTHINESS_SAMPLE_SIZE, replace=False))
        data, coords = data[rows], coords[rows]
    m = data.shape[0]
    # scikit-learn requires n_neighbors < m / 2.
    k = max(1, min(TRUSTWORTHINESS_K, (m - 1) // 2))
    value = trustworthiness(data, coords, n_neighbors=k, metric=metric)
    return float(value), int(k), int(m)
