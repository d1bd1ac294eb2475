"""Isotropy remedies as transforms: PCA and ZCA whitening, all-but-the-top, Zipfian (frequency-weighted) whitening.

Each function fits on the rows it is given and returns a `WhiteningTransform`
holding the fitted mean and matrix (``Z = (X - mean) @ matrix``) and the
transformed rows; ``transform.apply(other_rows)`` applies the same map to
rows it was not fitted on (fit on a train split, apply to the test split).
`compare_whitening` measures isotropy, uniformity, alignment, kNN accuracy
and effective rank before and after each remedy.

Covariances are population covariances (divided by n, or weighted by
frequencies summing to 1), so the whitened fit rows have covariance exactly
``I`` in that normalisation (``np.cov(Z, rowvar=False, bias=True)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from analysis.metrics._result import MetricResult
from analysis.metrics.hubness import knn_accuracy
from analysis.metrics.isotropy import isotropy
from analysis.metrics.spectrum import effective_rank
from analysis.metrics.sphere import alignment, uniformity
from analysis.neighbor_graph import NeighborGraph
from analysis.validation import (
    check_k,
    check_labels,
    check_matrix,
    check_option,
    max_abs,
    power_of_two_exponent,
)

__all__ = [
    "WHITENING_METHODS",
    "WhiteningComparison",
    "WhiteningTransform",
    "all_but_the_top",
    "compare_whitening",
    "pca_whitening",
    "whiten",
    "zca_whitening",
    "zipfian_whitening",
]

WHITENING_METHODS = ("none", "pca", "zca", "abtt", "zipfian")
_LABELS = {"none": "original", "pca": "PCA whitening", "zca": "ZCA whitening", "abtt": "all-but-the-top",
           "zipfian": "Zipfian whitening"}


@dataclass(frozen=True, eq=False)
class WhiteningTransform(MetricResult):
    """A fitted linear map ``Z = (X - mean) @ matrix`` and the fit rows it transformed.

    Attributes
    ----------
    method : {"none", "pca", "zca", "abtt", "zipfian"}
    mean : ndarray of shape (n_features,)
        The (frequency-weighted for Zipfian) mean of the fit rows.
    matrix : ndarray of shape (n_features, n_features_out)
        PCA whitening: ``U_r diag((lambda_r + eps_abs)^-1/2)`` (one column per kept direction);
        ZCA: ``U_r diag(...) U_r^T`` (symmetric, d x d); all-but-the-top: ``I - U_D U_D^T``.
    transformed : ndarray of shape (n_samples, n_features_out)
        The fit rows, transformed (float64).
    variance_ratio : ndarray of shape (n_features,)
        Share of the fit rows' variance along each principal direction (weighted for Zipfian),
        descending (covariance eigenvalues over their sum: scale-free, never overflows).
    rank : int
        Directions with variance above the null tolerance (``lambda_max * max(n, d) * eps_machine``).
    eps : float
        Regularisation, as a share of the mean variance (0: exact whitening).
    n_removed : int
        All-but-the-top's D (0 for the other methods).
    notes : tuple of str
        What was dropped or assumed, in words.
    """

    method: str
    mean: np.ndarray
    matrix: np.ndarray
    transformed: np.ndarray
    variance_ratio: np.ndarray
    rank: int
    eps: float
    n_removed: int
    notes: tuple[str, ...] = ()

    SCALARS: ClassVar[tuple[str, ...]] = ("rank", "eps", "n_removed")

    @property
    def n_features_out(self) -> int:
        return int(self.matrix.shape[1])

    def apply(self, X: Any) -> np.ndarray:
        """``(X - mean) @ matrix`` for any rows with the fit's features (e.g. a held-out split), float64."""
        arr = check_matrix(X, action="whitening")
        if arr.shape[1] != self.mean.shape[0]:
            raise ValueError(f"X has {arr.shape[1]} features but the transform was fitted on "
                             f"{self.mean.shape[0]}; pass rows of the same representation.")
        return (np.asarray(arr, dtype=np.float64) - self.mean) @ self.matrix


def _check_frequencies(frequencies: Any, n: int) -> np.ndarray:
    p = np.asarray(frequencies, dtype=np.float64) if frequencies is not None else None
    if p is None or p.shape != (n,):
        shape = None if p is None else p.shape
        raise ValueError(f"frequencies must hold one weight per row of X ({n} values); got shape {shape}. "
                         "Pass counts or probabilities p(w), e.g. a metadata column of counts.")
    if not np.isfinite(p).all() or (p < 0).any():
        bad = np.flatnonzero(~np.isfinite(p) | (p < 0))
        raise ValueError(f"frequencies must be finite and non-negative; {bad.size} are not (first row {bad[0]}). "
                         "Use counts or probabilities; give a row weight 0 to leave it out.")
    if np.count_nonzero(p) < 2:
        raise ValueError("frequencies give positive weight to fewer than 2 rows: a covariance needs at least 2. "
                         "Give more rows a positive weight.")
    return p / p.sum()


def _moments(X: Any, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """(mean, eigenvalues descending, eigenvectors, rank, exponent) of the (weighted) covariance of ``X / 2**e``.

    The exact power-of-two scaling keeps rows at 1e160 from overflowing the covariance.
    """
    arr = check_matrix(X, min_samples=2, action="whitening")
    n, d = arr.shape
    exponent = power_of_two_exponent(max_abs(arr))
    scaled = np.ldexp(np.asarray(arr, dtype=np.float64), -exponent)
    if weights is None:
        mean = scaled.mean(axis=0)
        centred = scaled - mean
        covariance = centred.T @ centred / n
    else:
        mean = weights @ scaled
        centred = scaled - mean
        covariance = (centred * weights[:, None]).T @ centred
    values, vectors = np.linalg.eigh(0.5 * (covariance + covariance.T))
    values, vectors = np.clip(values[::-1], 0.0, None), vectors[:, ::-1]
    # A deterministic sign (as scikit-learn's svd_flip): the largest loading of each direction is positive.
    peak = np.argmax(np.abs(vectors), axis=0)
    vectors = vectors * np.sign(vectors[peak, np.arange(d)])
    tolerance = values[0] * max(n, d) * np.finfo(np.float64).eps
    rank = int(np.count_nonzero(values > tolerance))
    # Rows identical up to rounding leave a variance of rounding noise (at most about (d eps)^2 times the
    # mean squared norm, as `analysis.metrics.isotropy` says): whitening would blow that noise up to unit variance.
    square_norms = np.einsum("ij,ij->i", scaled, scaled)
    mean_square = float(square_norms.mean()) if weights is None else float(weights @ square_norms)
    if rank == 0 or not values.sum() > (d * np.finfo(np.float64).eps) ** 2 * mean_square:
        raise ValueError("X has identical rows (up to float64 rounding): its covariance is zero and there is "
                         "nothing to whiten. Pass rows that vary.")
    return mean, values, vectors, rank, exponent


def _check_eps(eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0 (a share of the mean variance); got {eps!r}. "
                         "Use 0 for exact whitening, e.g. 1e-3 to damp near-null directions.")
    return float(eps)


def _whitening(X: Any, *, form: str, eps: float, weights: np.ndarray | None, method: str,
               notes: Sequence[str] = ()) -> WhiteningTransform:
    eps = _check_eps(eps)
    arr = check_matrix(X, min_samples=2, action="whitening")
    mean, values, vectors, rank, exponent = _moments(arr, weights)
    d = values.size
    kept, basis = values[:rank], vectors[:, :rank]
    shift = eps * float(values.sum()) / d
    scale = 1.0 / np.sqrt(kept + shift)
    matrix = basis * scale if form == "pca" else (basis * scale) @ basis.T
    matrix = np.ldexp(matrix, -exponent)  # the map of X itself: X / 2**e was whitened
    said = list(notes)
    if rank < d:
        fate = "dropped (the output has one column per kept direction)" if form == "pca" else "mapped to 0"
        said.append(f"{d - rank} of {d} directions have zero variance (rank {rank}); they are {fate}, since "
                    "whitening would divide by zero there.")
    if eps > 0:
        said.append(f"eps = {eps:g}: every variance gets eps x the mean variance added before the inverse square "
                    "root, so the whitened covariance is diag(lambda / (lambda + eps mean)) rather than I.")
    mean_x = np.ldexp(mean, exponent)
    transformed = (np.asarray(arr, dtype=np.float64) - mean_x) @ matrix
    return WhiteningTransform(method=method, mean=mean_x, matrix=matrix, transformed=transformed,
                              variance_ratio=values / values.sum(), rank=rank, eps=eps,
                              n_removed=0, notes=tuple(said))


def pca_whitening(X: Any, *, eps: float = 0.0) -> WhiteningTransform:
    """PCA whitening: rotate onto the principal axes and scale each to unit variance.

    .. math::  \\Sigma = U \\Lambda U^\\top,\\qquad Z = (X - \\mu)\\, U \\Lambda^{-1/2}

    so ``Cov(Z) = I`` (population covariance). Of all whitening matrices it
    maximally compresses X into the leading components of Z (Kessy et al.).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows to fit on (and transform); at least 2, no NaN/Inf.
    eps : float, default=0.0
        Regularisation: ``Lambda + eps * mean(lambda)`` replaces ``Lambda`` (0 is exact).
        Directions with variance at most ``lambda_max * max(n, d) * eps_machine`` are
        dropped in any case (rank-deficient X): the output then has ``rank`` columns.

    Returns
    -------
    WhiteningTransform
        ``matrix`` of shape (n_features, rank).

    Raises
    ------
    ValueError
        Fewer than 2 rows, NaN/Inf, identical rows, eps negative or not finite.

    Notes
    -----
    Eigenvector signs are fixed (largest loading positive), so the result is
    deterministic; PCA whitening is unique only up to such signs.
    ``PCA(XR) = PCA(X)`` for any rotation R (up to those signs).

    References
    ----------
    .. [1] A. Kessy, A. Lewin and K. Strimmer, "Optimal whitening and
       decorrelation", The American Statistician 72(4), 2018.
    """
    return _whitening(X, form="pca", eps=eps, weights=None, method="pca")


def zca_whitening(X: Any, *, eps: float = 0.0) -> WhiteningTransform:
    """ZCA (Mahalanobis) whitening: the symmetric inverse square root of the covariance.

    .. math::  Z = (X - \\mu)\\, \\Sigma^{-1/2},\\qquad \\Sigma^{-1/2} = U \\Lambda^{-1/2} U^\\top

    ``Cov(Z) = I``; of all whitening matrices ZCA keeps Z closest to the
    centred X: it minimises ``E ||x - z||^2`` and maximises the trace of the
    cross-covariance ``Cov(Z, X)`` (Kessy et al. 2018, Table 1). It is
    rotation-equivariant: ``ZCA(X R) = ZCA(X) R`` for orthogonal R.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    eps : float, default=0.0
        As in :func:`pca_whitening`. Zero-variance directions are mapped to 0
        (the output keeps n_features columns; its covariance is the projector
        onto the data's span).

    Returns
    -------
    WhiteningTransform
        ``matrix`` symmetric, of shape (n_features, n_features).

    References
    ----------
    .. [1] A. Kessy, A. Lewin and K. Strimmer, "Optimal whitening and
       decorrelation", The American Statistician 72(4), 2018.
    .. [2] A. J. Bell and T. J. Sejnowski, "The 'independent components' of
       natural scenes are edge filters", Vision Research 37(23), 1997.
    """
    return _whitening(X, form="zca", eps=eps, weights=None, method="zca")


def zipfian_whitening(X: Any, frequencies: Any = None, *, form: str = "pca", eps: float = 0.0) -> WhiteningTransform:
    """Zipfian whitening: whiten with the mean and covariance weighted by each item's frequency p(w).

    .. math::

        \\mu_p = \\sum_i p_i x_i,\\qquad
        \\Sigma_p = \\sum_i p_i (x_i - \\mu_p)(x_i - \\mu_p)^\\top,\\qquad
        Z = (X - \\mu_p)\\, W,

    with ``W = U \\Lambda^{-1/2}`` (``form="pca"``, the paper's Algorithm 1) or
    ``U \\Lambda^{-1/2} U^T`` (``form="zca"``) from ``Sigma_p = U Lambda U^T``;
    then ``sum_i p_i z_i = 0`` and ``sum_i p_i z_i z_i^T = I``. Word embeddings
    are one row per word type while text is drawn by token: weighting by
    frequency whitens the distribution words are actually used under.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        One row per item (e.g. word type).
    frequencies : array-like of shape (n_samples,), optional
        Counts or probabilities (normalised to sum 1 here); non-negative, at
        least 2 positive. The app reads them from a metadata column of counts.
        None: uniform weights, and the result *is* :func:`pca_whitening`
        (or :func:`zca_whitening` with ``form="zca"``).
    form : {"pca", "zca"}, default="pca"
    eps : float, default=0.0
        As in :func:`pca_whitening`.

    Returns
    -------
    WhiteningTransform
        ``method="zipfian"``.

    References
    ----------
    .. [1] S. Yokoi, H. Bao, H. Kurita and H. Shimodaira, "Zipfian whitening",
       NeurIPS 2024.
    """
    form = check_option(form, ("pca", "zca"), what="form")
    n = np.shape(X)[0] if np.ndim(X) == 2 else 0
    if frequencies is None:
        return _whitening(X, form=form, eps=eps, weights=None, method="zipfian",
                          notes=(f"No frequencies: uniform weights, so this is plain {form.upper()} whitening.",))
    weights = _check_frequencies(frequencies, n)
    return _whitening(X, form=form, eps=eps, weights=weights, method="zipfian")


def all_but_the_top(X: Any, *, n_components: int | None = None) -> WhiteningTransform:
    """All-but-the-top (Mu & Viswanath 2018): remove the mean and the top D principal directions.

    .. math::  \\tilde x = x - \\mu,\\qquad x' = \\tilde x - \\sum_{i=1}^{D} (u_i^\\top \\tilde x)\\, u_i

    with ``u_1..u_D`` the leading eigenvectors of the covariance of X, i.e.
    ``matrix = I - U_D U_D^T``. The output is mean zero and orthogonal to the
    removed directions; all other variances are left as they are.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int, optional
        D, in ``[1, n_features - 1]``. Default ``max(1, round(d / 100))``, the
        paper's rule of thumb.

    Returns
    -------
    WhiteningTransform
        ``method="abtt"``, ``n_removed=D``, ``matrix`` of shape (d, d).

    References
    ----------
    .. [1] J. Mu and P. Viswanath, "All-but-the-top: simple and effective
       postprocessing for word representations", ICLR 2018.
    """
    arr = check_matrix(X, min_samples=2, action="removing the top directions")
    d = arr.shape[1]
    if d < 2:
        raise ValueError("all-but-the-top needs at least 2 features: removing the top direction of a line leaves "
                         "nothing. Pass a wider representation.")
    D = max(1, round(d / 100)) if n_components is None else check_k(n_components, n=d - 1, what="n_components",
                                                                      needs="features minus one")
    mean, values, vectors, rank, exponent = _moments(arr, None)
    top = vectors[:, :D]
    matrix = np.eye(d) - top @ top.T
    mean_x = np.ldexp(mean, exponent)
    notes = []
    if D >= rank:
        notes.append(f"D = {D} removes every direction with variance (rank {rank}): the output is 0.")
    return WhiteningTransform(method="abtt", mean=mean_x, matrix=matrix,
                              transformed=(np.asarray(arr, dtype=np.float64) - mean_x) @ matrix,
                              variance_ratio=values / values.sum(), rank=rank, eps=0.0,
                              n_removed=D, notes=tuple(notes))


def whiten(X: Any, *, method: str, fit_rows: Any = None, frequencies: Any = None, eps: float = 0.0,
           n_components: int | None = None) -> tuple[WhiteningTransform, np.ndarray]:
    """Fit `method` on ``X[fit_rows]`` (default all rows) and apply it to every row of X.

    Returns the transform and the transformed X of shape (n_samples, n_features_out).
    ``method="none"`` is the identity (mean 0, matrix I). `frequencies` (one per
    row of X) are used by "zipfian" only.
    """
    method = check_option(method, WHITENING_METHODS, what="method")
    arr = check_matrix(X, min_samples=2, action="whitening")
    rows = np.arange(arr.shape[0]) if fit_rows is None else np.asarray(fit_rows)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows) if rows.shape == (arr.shape[0],) else rows
    if rows.dtype.kind not in "iu" or rows.ndim != 1 or (rows.size and (rows.min() < 0 or rows.max() >= len(arr))):
        raise ValueError(f"fit_rows must be row numbers in [0, {len(arr)}) or a boolean mask of length {len(arr)}.")
    fit = arr[rows]
    if method == "none":
        d = arr.shape[1]
        identity = WhiteningTransform(method="none", mean=np.zeros(d), matrix=np.eye(d),
                                      transformed=np.asarray(fit, dtype=np.float64), variance_ratio=np.zeros(0),
                                      rank=d, eps=0.0, n_removed=0)
        return identity, np.asarray(arr, dtype=np.float64)
    if method == "pca":
        transform = pca_whitening(fit, eps=eps)
    elif method == "zca":
        transform = zca_whitening(fit, eps=eps)
    elif method == "abtt":
        transform = all_but_the_top(fit, n_components=n_components)
    else:
        weights = None if frequencies is None else _check_frequencies(frequencies, arr.shape[0])[rows]
        transform = zipfian_whitening(fit, weights, eps=eps)
    return transform, transform.apply(arr)


@dataclass(frozen=True, eq=False)
class WhiteningComparison(MetricResult):
    """Result of :func:`compare_whitening`: one row per method.

    Attributes
    ----------
    table : polars.DataFrame
        Columns ``method``, ``label``, ``iso_score``, ``mean_cosine``, ``uniformity``,
        ``alignment`` (null without pairs), ``knn_accuracy`` (null without labels),
        ``effective_rank``, ``n_features_out``.
    k : int
        Neighbours voting in the kNN accuracy (cosine, leave-one-out).
    n_fit : int
        Rows the transforms were fitted on.
    notes : tuple of str
    """

    table: pl.DataFrame
    k: int
    n_fit: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table.to_dicts(), "k": self.k, "n_fit": self.n_fit, "notes": list(self.notes)}

    def row(self, method: str) -> dict[str, Any]:
        """The table's row of one method."""
        return self.table.filter(pl.col("method") == method).to_dicts()[0]


def _measure(Z: np.ndarray, labels: np.ndarray | None, y: np.ndarray | None, k: int,
             graph: NeighborGraph | None, notes: list[str], label: str) -> dict[str, Any]:
    """Isotropy, uniformity, alignment, kNN accuracy (cosine) and effective rank of one transformed X."""
    numbers: dict[str, Any] = {}
    try:
        iso = isotropy(Z)
        numbers |= {"iso_score": iso.iso_score, "mean_cosine": iso.mean_cosine}
        numbers["uniformity"] = uniformity(Z).value
        if y is not None:
            numbers["alignment"] = alignment(Z, y).value
        elif labels is not None:
            numbers["alignment"] = alignment(Z, labels=labels).value
        if labels is not None:
            graph = graph if graph is not None else NeighborGraph.search(Z, k_max=k, metric="cosine")
            numbers["knn_accuracy"] = knn_accuracy(graph, labels, k=k)
    except ValueError as exc:  # e.g. a row equal to the mean: centred to 0, no direction on the sphere
        notes.append(f"{label}: {exc}")
    numbers["effective_rank"] = effective_rank(Z).effective_rank
    return numbers


def compare_whitening(
    X: Any,
    labels: Any = None,
    *,
    methods: Sequence[str] = ("none", "pca", "zca", "abtt"),
    y: Any = None,
    frequencies: Any = None,
    fit_rows: Any = None,
    eps: float = 0.0,
    n_components: int | None = None,
    k: int = 10,
    neighbors: NeighborGraph | None = None,
    baseline: Mapping[str, Any] | None = None,
) -> WhiteningComparison:
    """Isotropy, uniformity, alignment, kNN accuracy and effective rank before and after each remedy.

    Each method of `methods` is fitted on ``X[fit_rows]`` and applied to all
    of X (and to `y`); every number is then measured on all rows:
    IsoScore and mean cosine (:func:`analysis.metrics.isotropy`), uniformity
    and alignment (Wang & Isola 2020, rows unit-normalised), leave-one-out
    kNN accuracy with cosine distance and majority vote of `k` neighbours,
    and the centred effective rank.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,), optional
        Class per row: kNN accuracy, and same-class pairs for the alignment.
    methods : sequence of {"none", "pca", "zca", "abtt", "zipfian"}
    y : array-like of shape (n_samples, n_features), optional
        Paired views (row i of y is the positive of row i of X): alignment of
        these pairs, both transformed by the same fitted map, instead of same-class pairs.
    frequencies : array-like of shape (n_samples,), optional
        Item frequencies for "zipfian" (without them it is PCA whitening).
    fit_rows : array-like of int or bool, optional
        Rows to fit the transforms on (e.g. the train split); default all.
    eps, n_components
        As in :func:`pca_whitening` and :func:`all_but_the_top`.
    k : int, default=10
    neighbors : NeighborGraph, optional
        A cosine graph of X itself (k_max >= k) for the "none" row, so a
        search already done is not repeated.
    baseline : mapping, optional
        Numbers of X already measured (``iso_score``, ``mean_cosine``,
        ``uniformity``, ``alignment``, ``effective_rank``, as
        `analysis.metrics.geometry_table.geometry_row` gives them) for the "none" row.

    Returns
    -------
    WhiteningComparison

    Notes
    -----
    PCA and ZCA whitening differ by a rotation, so every number here (all
    rotation-invariant) is the same for both; they differ in how close Z
    stays to X. Whitening sets every variance to 1, so IsoScore is 1 and
    the effective rank is the rank by construction: the informative columns are
    uniformity, alignment and kNN accuracy, which show what equalising the
    directions costs or gains.

    References
    ----------
    .. [1] A. Kessy, A. Lewin and K. Strimmer, "Optimal whitening and decorrelation", 2018.
    .. [2] J. Mu and P. Viswanath, "All-but-the-top", ICLR 2018.
    .. [3] S. Yokoi, H. Bao, H. Kurita and H. Shimodaira, "Zipfian whitening", NeurIPS 2024.
    .. [4] T. Wang and P. Isola, "Understanding contrastive representation learning
       through alignment and uniformity on the hypersphere", ICML 2020.
    """
    arr = check_matrix(X, min_samples=3, action="comparing whitening")
    n = arr.shape[0]
    methods = tuple(check_option(m, WHITENING_METHODS, what="method") for m in methods)
    if not methods:
        raise ValueError(f"methods is empty; pass some of {WHITENING_METHODS}.")
    codes = None if labels is None else check_labels(labels, n)
    k = check_k(k, n=n - 1, needs="other rows each")
    pairs = None if y is None else check_matrix(y, name="y", min_samples=2, action="measuring alignment")
    if pairs is not None and pairs.shape != arr.shape:
        raise ValueError(f"y must have the shape of X {arr.shape} (row i of y pairs with row i of X); got {pairs.shape}.")
    if neighbors is not None and (neighbors.n != n or neighbors.k_max < k or neighbors.metric != "cosine"):
        raise ValueError(f"neighbors must be a cosine NeighborGraph of X's {n} rows with k_max >= {k}; got "
                         f"{neighbors.n} rows, k_max {neighbors.k_max}, metric {neighbors.metric!r}.")
    notes: list[str] = []
    records = []
    n_fit = n
    # PCA and ZCA whitening (and Zipfian without frequencies, which is PCA whitening) differ by a rotation
    # when no direction is dropped: every number measured here is rotation-invariant, so one measurement
    # serves all of them (compute once).
    whitened: dict[str, Any] | None = None
    for method in methods:
        transform, Z = whiten(arr, method=method, fit_rows=fit_rows, frequencies=frequencies, eps=eps,
                              n_components=n_components)
        n_fit = transform.transformed.shape[0]
        label = _LABELS[method] + (f" (D = {transform.n_removed})" if method == "abtt" else "")
        notes.extend(f"{label}: {note}" for note in transform.notes)
        Y = None if pairs is None else (pairs if method == "none" else transform.apply(pairs))
        rotated_whitening = (method in ("pca", "zca") or (method == "zipfian" and frequencies is None)) \
            and transform.rank == arr.shape[1]
        if method == "none" and baseline is not None and pairs is None:
            numbers = {name: baseline.get(name) for name in
                       ("iso_score", "mean_cosine", "uniformity", "alignment", "effective_rank")}
            if codes is not None:
                graph = neighbors or NeighborGraph.search(arr, k_max=k, metric="cosine")
                numbers["knn_accuracy"] = knn_accuracy(graph, codes, k=k)
        elif rotated_whitening and whitened is not None:
            numbers = dict(whitened)
        else:
            numbers = _measure(Z, codes, Y, k, neighbors if method == "none" else None, notes, label)
            if rotated_whitening:
                whitened = numbers
        records.append({"method": method, "label": label} | numbers | {"n_features_out": Z.shape[1]})
    schema = {"method": pl.Utf8, "label": pl.Utf8} | {
        name: pl.Float64 for name in ("iso_score", "mean_cosine", "uniformity", "alignment", "knn_accuracy",
                                      "effective_rank")} | {"n_features_out": pl.Int64}
    table = pl.DataFrame([{name: r.get(name) for name in schema} for r in records], schema=schema, orient="row")
    return WhiteningComparison(table=table, k=k, n_fit=n_fit, notes=tuple(dict.fromkeys(notes)))
