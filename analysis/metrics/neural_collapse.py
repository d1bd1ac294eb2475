"""Neural collapse (Papyan, Han & Donoho 2020): NC1-NC4 and the variants of the literature.

All quantities come from the class counts, class means and within-class
covariance (`analysis.metrics.class_statistics`, one float64 pass over row
chunks) plus one more chunked pass for the per-sample questions (which class
mean is nearest, what the classifier predicts, each class's share of NC1).
Neither pass copies the whole feature matrix, so memory-mapped arrays of a
million rows work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.stats import spearmanr

from analysis.metrics._result import MetricResult
from analysis.metrics.class_statistics import (
    ClassStatistics,
    ClassStatisticsAccumulator,
    default_chunk_rows,
    iter_row_chunks,
)
from analysis.metrics.collapse_centring import check_centring, global_mean
from analysis.metrics.collapse_inputs import (
    _check_class_budget,
    _check_features,
    _encode_present_classes,
    check_class_labels,
    check_classifier,
)
from analysis.metrics.collapse_second_pass import CollapsePlan, PassTally, second_pass
from analysis.validation import power_of_two_exponent

__all__ = ["NeuralCollapse", "check_class_labels", "check_classifier", "neural_collapse", "simplex_etf_gram"]


@dataclass(frozen=True, eq=False)
class NeuralCollapse(MetricResult):
    """Result of :func:`neural_collapse` (all floats are Python floats).

    Attributes
    ----------
    nc1 : float
        ``Tr(Sigma_W pinv(Sigma_B)) / C`` (Papyan et al. 2020). 0 when every
        sample sits on its class mean.
    nc1_trace_quotient : float
        ``Tr(Sigma_W) / Tr(Sigma_B)`` (Tirer, Huang & Niles-Weed 2023).
    cdnv : float
        Mean over class pairs c != c' of the class-distance normalised
        variance ``(Var_c + Var_c') / (2 ||mu_c - mu_c'||^2)`` (Galanti et al. 2022).
    nc2_equinorm : float
        ``std / mean`` of ``||mu_c - mu_G||`` (std with ddof=1).
    nc2_equiangular : float
        Standard deviation (ddof=0) of the off-diagonal cosines between centred class means.
    nc2_max_angle : float
        Mean over c != c' of ``|cos(mu_c - mu_G, mu_c' - mu_G) + 1/(C-1)|``.
    etf_distance : float
        ``|| M^T M / ||M^T M||_F - (I - 11^T/C) / sqrt(C-1) ||_F``.
    orthogonal_frame_distance : float
        ``|| G/||G||_F - diag(G)/||diag(G)||_F ||_F`` with ``G`` the Gram matrix of the
        *uncentred* class means: 0 when they are mutually orthogonal, the
        geometry predicted for imbalanced classes (see Notes of `neural_collapse`).
    size_norm_spearman : float or None
        Spearman correlation of class size with uncentred class-mean norm; None
        when all classes have the same size (undefined).
    nc3 : float or None
        ``|| W^T/||W||_F - M/||M||_F ||_F^2``; None without a classifier.
    nc4 : float or None
        Share of samples whose nearest class mean disagrees with the classifier's
        prediction; None without a classifier or predictions.
    ncc_accuracy : float
        Share of samples whose nearest class mean is their own class's.
    class_counts : ndarray of shape (C,), int64
    class_mean_norms : ndarray of shape (C,)
        ``||mu_c - mu_G||``.
    class_mean_norms_uncentred : ndarray of shape (C,)
        ``||mu_c||``.
    class_means : ndarray of shape (C, d)
        Uncentred class means mu_c, float64.
    gram : ndarray of shape (C, C)
        ``M^T M / ||M^T M||_F``, the normalised Gram matrix of the centred means
        (compare with `simplex_etf_gram`).
    nc1_class_share : ndarray of shape (C,)
        Each class's share of ``nc1``, ``(n_c/n) Tr(Sigma_W,c pinv(Sigma_B)) / (C nc1)``:
        sums to 1, or all 0 when the within-class spread is zero up to rounding:
        when ``sum_i ||pinv(Sigma_B)^(1/2) (x_i - mu_c)||^2`` is at most
        ``(d eps)^2 sum_i ||x_i||^2 ||pinv(Sigma_B)^(1/2)||_F^2`` (float64 eps), the
        error bound of that sum, a ratio of rounding noise would be meaningless.
    class_variances : ndarray of shape (C,)
        ``E_{x in c} ||x - mu_c||^2``.
    sigma_b_rank : int
        Eigenpairs of Sigma_B kept in the pseudo-inverse (C-1 unless the
        class means span fewer directions, e.g. when d < C-1).
    n_samples, n_features, n_classes : int
    class_labels : ndarray of shape (C,), int64
        The label code of each class, in the order of every per-class array
        (``class_counts``, ``class_means``, ...): without a classifier the
        labels are re-encoded to the classes that occur (``np.unique``), so
        codes {0, 1e9} are two classes; with one it is ``arange(C)``.
    mu_g : str
        The centring used for mu_G: ``"class_means"`` or ``"samples"`` (see `neural_collapse`).
    """

    nc1: float
    nc1_trace_quotient: float
    cdnv: float
    nc2_equinorm: float
    nc2_equiangular: float
    nc2_max_angle: float
    etf_distance: float
    orthogonal_frame_distance: float
    size_norm_spearman: float | None
    nc3: float | None
    nc4: float | None
    ncc_accuracy: float
    class_counts: np.ndarray
    class_mean_norms: np.ndarray
    class_mean_norms_uncentred: np.ndarray
    class_means: np.ndarray
    gram: np.ndarray
    nc1_class_share: np.ndarray
    class_variances: np.ndarray
    sigma_b_rank: int
    n_samples: int
    n_features: int
    n_classes: int
    class_labels: np.ndarray
    mu_g: str = "class_means"

    SCALARS: ClassVar[tuple[str, ...]] = (
        "nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "nc2_equiangular",
        "nc2_max_angle", "etf_distance", "orthogonal_frame_distance",
        "size_norm_spearman", "nc3", "nc4", "ncc_accuracy",
    )  # fmt: skip



def simplex_etf_gram(n_classes: int) -> np.ndarray:
    """The normalised Gram matrix of a simplex ETF: ``(I - 11^T/C) / sqrt(C-1)``.

    Unit Frobenius norm, diagonal ``(C-1)/C / sqrt(C-1)``, off-diagonal cosines
    ``-1/(C-1)`` after normalising the diagonal (Papyan et al. 2020, Definition 1).
    """
    C = int(n_classes)
    if C < 2:
        raise ValueError(f"n_classes must be >= 2 for a simplex ETF; got {n_classes}.")
    return (np.eye(C) - np.full((C, C), 1.0 / C)) / np.sqrt(C - 1)


def _between_class_whitener(M: np.ndarray, C: int) -> tuple[np.ndarray, np.ndarray]:
    """Top eigenpairs of Sigma_B = M M^T / C, at most C-1 of them, as (eigenvalues, U).

    Sigma_B has rank at most C-1 (a weighted sum of the centred means is zero:
    with weight 1 each, or n_c when mu_G is the samples' mean), so its
    pseudo-inverse keeps only those eigenpairs: a generic pinv would also
    invert rounding noise in the null space (values like -1e7 in float32).
    Computed through the C x C matrix M^T M / C, which shares the non-zero
    eigenvalues, so the cost is O(d C^2) whatever d is.
    """
    small = M.T @ M / C
    eigenvalues, V = np.linalg.eigh(small)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, V = eigenvalues[order], V[:, order]
    top = eigenvalues[0] if eigenvalues.size else 0.0
    tolerance = max(M.shape) * np.finfo(np.float64).eps * top
    rank = int(min(C - 1, np.count_nonzero(eigenvalues > tolerance)))
    if rank == 0 or not top > 0:
        raise ValueError(
            "all class means coincide (Sigma_B is zero), so neural collapse is undefined: "
            "the features carry no class information. Check that labels match the rows."
        )
    eigenvalues, V = eigenvalues[:rank], V[:, :rank]
    # u_k = M v_k / sqrt(C lambda_k): unit eigenvectors of M M^T / C.
    U = M @ V / np.sqrt(C * eigenvalues)
    return eigenvalues, U


def _mean_rounding_floor(stats: ClassStatistics) -> float:
    """Squared distance below which two computed class means are equal up to float64 rounding.

    A class mean summed from n_c rows carries a rounding error of up to about
    ``n_c eps ||x||`` per row norm (``eps`` float64), so squared differences of
    means below ``(max(d, max n_c) eps)^2 E||x||^2`` are rounding noise: dividing
    by them gave NC1 = 1.7e32 for classes holding the same rows in another order.
    ``E||x||^2 = Tr(Sigma_W) + sum_c (n_c / n) ||mu_c||^2`` comes from the statistics.
    """
    counts = stats.counts
    scale = max(stats.n_features, int(counts.max())) * np.finfo(np.float64).eps
    return scale**2 * max(_mean_square_norm(stats), 0.0)


def _in_units(values: np.ndarray, exponent: int) -> np.ndarray:
    """values * 2**exponent, or ValueError where a squared length leaves float64's range.

    The NC ratios are computed on rescaled statistics and are finite at any
    magnitude, but a squared length in the data's own units (features near
    1e160) cannot be returned as a number, and Inf would be a silently wrong one.
    """
    with np.errstate(over="ignore"):
        scaled = np.ldexp(values, exponent)
    if not np.isfinite(scaled).all():
        raise ValueError(
            "features are so large (squared lengths beyond float64, about 1e308) that the class "
            "variances cannot be returned. Rescale the features first, e.g. features / np.abs(features).max(): "
            "NC1-NC4 and the CDNV are scale invariant."
        )
    return scaled


def _off_diagonal(A: np.ndarray) -> np.ndarray:
    return A[~np.eye(A.shape[0], dtype=bool)]


def neural_collapse(
    features: Any,
    labels: Any,
    *,
    classifier: Any = None,
    bias: Any = None,
    predictions: Any = None,
    chunk_rows: int | None = None,
    mu_g: str = "class_means",
) -> NeuralCollapse:
    """Neural-collapse metrics NC1-NC4 of features with class labels.

    With class means :math:`\\mu_c`, :math:`\\mu_G = \\frac{1}{C}\\sum_c \\mu_c`
    (the mean of the class means; ``mu_g="samples"``: the mean of all samples,
    :math:`\\frac{1}{n}\\sum_i x_i`, Papyan et al.'s definition [1]_),
    :math:`M = [\\mu_c - \\mu_G]_c` (d x C),

    .. math::

        \\Sigma_W = \\frac{1}{n}\\sum_i (x_i - \\mu_{y_i})(x_i - \\mu_{y_i})^\\top,
        \\qquad \\Sigma_B = \\frac{1}{C} M M^\\top,

    - NC1 (variability collapse): :math:`\\operatorname{Tr}(\\Sigma_W \\Sigma_B^{+}) / C`,
      with :math:`\\Sigma_B^{+}` restricted to the top C-1 eigenpairs [1]_;
      the trace quotient :math:`\\operatorname{Tr}\\Sigma_W / \\operatorname{Tr}\\Sigma_B` [2]_;
      the CDNV, mean over :math:`c \\ne c'` of
      :math:`(\\sigma_c^2 + \\sigma_{c'}^2) / (2\\|\\mu_c - \\mu_{c'}\\|^2)` [3]_.
    - NC2 (simplex ETF): ``nc2_equinorm`` = std(ddof=1)/mean of
      :math:`\\|\\mu_c - \\mu_G\\|`; ``nc2_equiangular`` = std of the off-diagonal
      cosines; ``nc2_max_angle`` = mean of :math:`|\\cos + 1/(C-1)|`;
      ``etf_distance`` = :math:`\\| M^\\top M/\\|M^\\top M\\|_F - (I - \\mathbf{1}\\mathbf{1}^\\top/C)/\\sqrt{C-1}\\|_F`.
    - NC3 (self-duality): :math:`\\| W^\\top/\\|W\\|_F - M/\\|M\\|_F \\|_F^2`.
    - NC4 (nearest class centre): share of samples whose nearest class mean
      (Euclidean, uncentred) differs from the classifier's prediction
      (``predictions``, else ``argmax(W x + b)``).

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        Any real dtype; may be a memory map (read in row chunks, never copied whole).
    labels : array-like of shape (n_samples,)
        Non-negative integer class codes. Without a classifier they are
        re-encoded to the C classes that occur (``np.unique(labels,
        return_inverse=True)``; ``class_labels`` maps back), so any codes
        work and memory does not grow with the largest code. With a
        classifier they index its rows: codes 0..C-1, every class with a sample.
    classifier : array-like of shape (n_classes, n_features), optional
        Last-layer weight W (rows are classes, like ``nn.Linear.weight``).
        Its row count fixes C.
    bias : array-like of shape (n_classes,), optional
    predictions : array-like of shape (n_samples,), optional
        The network's predicted class codes; used for NC4 instead of ``argmax(W x + b)``.
    chunk_rows : int, optional
        Rows per chunk (default: about 64 MiB of float64).
    mu_g : {"class_means", "samples"}, default="class_means"
        The global mean every centred quantity uses (M, hence Sigma_B, NC1,
        the trace quotient, NC2, the ETF distance and NC3):
        ``"class_means"`` = :math:`\\frac{1}{C}\\sum_c \\mu_c` (every class
        weighs the same); ``"samples"`` = :math:`\\frac{1}{n}\\sum_i x_i
        = \\sum_c \\frac{n_c}{n}\\mu_c`, as Papyan et al. [1]_ define
        :math:`\\mu_G`. Equal for balanced classes; on long-tailed classes
        they differ (`analysis.metrics.collapse_centring`). The CDNV, NC4, the
        NCC accuracy and the orthogonal-frame distance do not use mu_G.

    Returns
    -------
    NeuralCollapse

    Raises
    ------
    ValueError
        Fewer than two classes; a class with no samples; labels that are not
        integer codes or do not match the rows; a classifier, bias or
        predictions whose shape does not match; NaN or Inf in the features;
        an all-zero classifier (NC3 would be 0/0); class means that all
        coincide, or two class means (or a class mean and mu_G) that coincide,
        up to float64 rounding: squared distance at most
        ``(max(d, max_c n_c) eps)^2 E||x||^2``, the rounding error of a mean of
        n_c rows. Ratios such as NC1, the trace quotient and the CDNV divide by
        these distances; above the floor they are defined, below it they would
        be ratios of rounding noise (NC1 = 1.7e32 for classes holding the same
        rows in another order), so they raise instead.
        More classes than the memory budget allows for the C x C matrices
        (about ``8 (12 C^2 + 4 C d + 3 d^2)`` bytes against
        ``analysis.data.limits.memory_budget_bytes()``).

    Notes
    -----
    Everything is computed in float64. NC1 is invariant to rotations,
    translations and uniform scaling of the features (at any magnitude:
    features beyond about 1e60 or below 1e-60 are rescaled exactly by a
    power of two and the statistics taken again; lengths and variances are
    reported in the features' units, inf where a variance exceeds float64), and to permutations of
    samples and of class ids; NC2 and the CDNV too; NC3 is invariant to
    rotating features and classifier together.

    Imbalanced classes do not collapse to a simplex ETF: with a bias-free
    last layer theory predicts class means that are mutually *orthogonal*
    with lengths growing with class size (the "general orthogonal frame" of
    Dang et al. [5]_; Thrampoulidis et al. [6]_ describe the cross-entropy
    variant, and Fang et al. [7]_ the collapse of minority classes).
    ``orthogonal_frame_distance`` measures the uncentred class means against
    the orthogonal frame with their own lengths, and ``size_norm_spearman``
    whether lengths grow with class size; compare it with ``etf_distance``
    to see which target a model is nearer.

    Two passes over row chunks: the first accumulates counts, class means and
    Sigma_W (shifted sums, float64); the second asks per sample for the
    nearest class mean, the classifier's prediction, and the whitened
    within-class distance that gives ``nc1_class_share``.

    References
    ----------
    .. [1] V. Papyan, X. Y. Han and D. L. Donoho, "Prevalence of neural
       collapse during the terminal phase of deep learning training", PNAS
       117(40), 2020.
    .. [2] T. Tirer, H. Huang and J. Niles-Weed, "Perturbation analysis of
       neural collapse", ICML 2023.
    .. [3] T. Galanti, A. György and M. Hutter, "On the role of neural collapse
       in transfer learning", ICLR 2022.
    .. [4] X. Y. Han, V. Papyan and D. L. Donoho, "Neural collapse under MSE
       loss: proximity to and dynamics on the central path", ICLR 2022.
    .. [5] H. Dang, T. Tran, S. Osher, H. Tran-The, N. Ho and T. Nguyen,
       "Neural collapse in deep linear networks: from balanced to imbalanced
       data", ICML 2023.
    .. [6] C. Thrampoulidis, G. R. Kini, V. Vakilian and T. Behnia, "Imbalance
       trouble: revisiting neural-collapse geometry", NeurIPS 2022.
    .. [7] C. Fang, H. He, Q. Long and W. J. Su, "Exploring deep neural
       networks via layer-peeled model: minority collapse in imbalanced
       training", PNAS 118(43), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> means = np.array([[1.0, 0.0], [-0.5, 0.866025403784], [-0.5, -0.866025403784]])
    >>> X, y = np.repeat(means, 4, axis=0), np.repeat(np.arange(3), 4)
    >>> result = neural_collapse(X, y, classifier=means)
    >>> round(result.nc1, 6), round(result.etf_distance, 6), round(result.nc3, 6)
    (0.0, 0.0, 0.0)
    """
    mu_g = check_centring(mu_g)
    X = _check_features(features)
    n, d = X.shape
    W, b, preds = check_classifier(classifier, bias, predictions, n_samples=n, n_features=d)
    if W is None:
        y, class_labels = _encode_present_classes(labels, n)
        C = int(class_labels.size)
    else:
        y, C = check_class_labels(labels, n, n_classes=W.shape[0])
        class_labels = np.arange(C, dtype=np.int64)
    _check_class_budget(C, d)
    if preds is not None and W is None:
        # Predictions are in the labels' own code space: map them to the re-encoded classes.
        position = np.clip(np.searchsorted(class_labels, preds), 0, C - 1)
        unknown = class_labels[position] != preds
        if unknown.any():
            allowed = (f"in [0, {C})" if class_labels[-1] == C - 1 else
                       f"among the {C} label codes that occur ({', '.join(str(int(c)) for c in class_labels[:5])}"
                       f"{', ...' if C > 5 else ''})")
            raise ValueError(
                f"predictions must be class codes {allowed}; got {int(preds[unknown][0])}. Pass "
                "logits.argmax(axis=1) for the same rows and label codes."
            )
        preds = position
    elif preds is not None and (preds.min() < 0 or preds.max() >= C):
        raise ValueError(f"predictions must be class codes in [0, {C}); got values up to {int(preds.max())}.")
    rows = default_chunk_rows(d) if chunk_rows is None else int(chunk_rows)
    if rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")

    stats = _accumulate(X, y, C, rows, exponent=0)
    exponent = 0
    if _outside_safe_range(stats):
        # Features at 1e160 (or 1e-200): Gram matrices of the class means hold
        # fourth powers that overflow (underflow) float64. Every NC quantity is
        # scale-free, so the statistics are taken again of X / 2**e (exact).
        peak = 0.0
        for part in iter_row_chunks(n, rows):
            peak = max(peak, float(np.max(np.abs(np.asarray(X[part], dtype=np.float64)))))
        exponent = power_of_two_exponent(peak)
        stats = _accumulate(X, y, C, rows, exponent=exponent)
    return _from_statistics(stats, X, y, W=W, b=b, preds=preds, rows=rows, class_labels=class_labels,
                            exponent=exponent, mu_g=mu_g)


# E||x||^2 outside [2**-400, 2**400]: fourth powers (||M^T M||_F) would leave float64's range.
_SAFE_SQUARE_EXPONENT = 400


def _mean_square_norm(stats: ClassStatistics) -> float:
    """E||x||^2 = Tr(Sigma_W) + sum_c (n_c / n) ||mu_c||^2, from the statistics."""
    counts = stats.counts
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.trace(stats.sigma_w)) + float(
            counts @ np.einsum("ij,ij->i", stats.means, stats.means)
        ) / max(int(counts.sum()), 1)


def _outside_safe_range(stats: ClassStatistics) -> bool:
    m = _mean_square_norm(stats)
    if not np.isfinite(m) or not np.isfinite(stats.sigma_w).all():
        return True
    return m > 2.0**_SAFE_SQUARE_EXPONENT or m < 2.0**-_SAFE_SQUARE_EXPONENT  # 0: maybe underflowed


def _accumulate(X: np.ndarray, y: np.ndarray, C: int, rows: int, *, exponent: int) -> ClassStatistics:
    """Class statistics of X / 2**exponent, one pass over row chunks."""
    accumulator = ClassStatisticsAccumulator(C, X.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for part in iter_row_chunks(X.shape[0], rows):
            chunk = X[part] if exponent == 0 else np.ldexp(np.asarray(X[part], dtype=np.float64), -exponent)
            accumulator.update(chunk, y[part])
        return accumulator.finalize()  # inf/nan at extreme scales: detected, then rescaled


def _from_statistics(
    stats: ClassStatistics,
    X: np.ndarray,
    y: np.ndarray,
    *,
    W: np.ndarray | None,
    b: np.ndarray | None,
    preds: np.ndarray | None,
    rows: int,
    class_labels: np.ndarray,
    exponent: int = 0,
    mu_g: str = "class_means",
) -> NeuralCollapse:
    """Every NC quantity from the statistics of X / 2**exponent; lengths reported in X's units."""
    plan = _plan(stats, y, W=W, b=b, preds=preds, class_labels=class_labels, exponent=exponent, mu_g=mu_g)
    return second_pass(X, [plan], rows=rows)[0]


def _plan(
    stats: ClassStatistics,
    y: np.ndarray,
    *,
    W: np.ndarray | None,
    b: np.ndarray | None,
    preds: np.ndarray | None,
    class_labels: np.ndarray,
    exponent: int = 0,
    mu_g: str = "class_means",
) -> CollapsePlan:
    """The closed-form NC quantities of the statistics of X / 2**exponent, and the per-sample pass that
    completes them (`analysis.metrics.collapse_second_pass`); raises ValueError where NC is undefined."""
    C, n = stats.n_classes, stats.n_samples
    means = stats.means
    # mu_G by the chosen centring (collapse_centring): the samples' mean is sum_c n_c mu_c / n, no extra pass.
    M = (means - global_mean(means, stats.counts, check_centring(mu_g))).T  # d x C
    sigma_w = stats.sigma_w
    mean_floor = _mean_rounding_floor(stats)
    trace_b = float(np.einsum("ij,ij->", M, M)) / C
    if not trace_b > mean_floor:
        raise ValueError(
            "all class means coincide up to float64 rounding (Sigma_B is zero or rounding noise: "
            f"Tr(Sigma_B) = {trace_b:.3g}), so neural collapse is undefined: the features carry no "
            "class information. Check that labels match the rows."
        )
    eigenvalues, U = _between_class_whitener(M, C)

    # NC1: Tr(Sigma_W U diag(1/lambda) U^T) / C.
    # Sigma_W is positive semi-definite; the shifted-sum subtraction can leave
    # -1e-17 for perfectly collapsed features, which is 0.
    nc1 = max(0.0, float(np.einsum("ik,ij,jk->k", U, sigma_w, U) @ (1.0 / eigenvalues)) / C)
    nc1_trace_quotient = max(0.0, float(np.trace(sigma_w)) / trace_b)

    # CDNV over pairs c != c'.
    # Row by row: a (C, C, d) difference array would be 3 GB at C = 1,000, d = 384.
    square_dists = np.empty((C, C))
    for c in range(C):
        square_dists[c] = np.einsum("ij,ij->i", means - means[c], means - means[c])
    off = ~np.eye(C, dtype=bool)
    if np.any(square_dists[off] <= 2.0 * mean_floor):
        first = np.argwhere(np.triu(square_dists <= 2.0 * mean_floor, k=1))[0]
        raise ValueError(
            f"two classes have identical means (classes {int(first[0])} and {int(first[1])}, equal up to "
            "float64 rounding), so the CDNV (and the ETF geometry) is undefined. Check that labels match the rows."
        )
    variance_sums = stats.class_variances[:, None] + stats.class_variances[None, :]
    cdnv = float(np.mean(variance_sums[off] / (2.0 * square_dists[off])))

    # NC2 on the centred means.
    norms = np.linalg.norm(M, axis=0)
    if np.any(norms**2 <= mean_floor):
        raise ValueError(
            "a class mean equals the global mean mu_G, so its angle to the others is undefined."
        )
    nc2_equinorm = float(np.std(norms, ddof=1) / np.mean(norms))
    unit = M / norms
    cosines = unit.T @ unit
    nc2_equiangular = float(np.std(_off_diagonal(cosines)))
    nc2_max_angle = float(np.mean(np.abs(_off_diagonal(cosines) + 1.0 / (C - 1))))
    gram_raw = M.T @ M
    gram = gram_raw / np.linalg.norm(gram_raw)
    etf_distance = float(np.linalg.norm(gram - simplex_etf_gram(C)))

    # Orthogonal frame (imbalanced target) on the uncentred means.
    uncentred_gram = means @ means.T
    diagonal = np.diag(np.diag(uncentred_gram))
    orthogonal_frame_distance = float(
        np.linalg.norm(uncentred_gram / np.linalg.norm(uncentred_gram) - diagonal / np.linalg.norm(diagonal))
    )
    uncentred_norms = np.linalg.norm(means, axis=1)
    counts = stats.counts
    size_norm_spearman = None
    if np.unique(counts).size > 1 and np.unique(uncentred_norms).size > 1:
        size_norm_spearman = float(spearmanr(counts, uncentred_norms).statistic)

    nc3 = None
    if W is not None:
        nc3 = float(np.linalg.norm(W.T / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)

    # The per-sample pass (NCC, classifier agreement, per-class NC1 shares) finishes the result.
    whitener = U / np.sqrt(eigenvalues)  # d x r

    def finish(tally: PassTally, square_norm_total: float) -> NeuralCollapse:
        share_total = tally.per_class_whitened.sum()
        # Each residual coordinate carries a float64 rounding error up to about
        # d eps ||x_i|| ||whitener||_F, so a total below that floor is rounding noise:
        # nothing varies within classes, and dividing by it would hand out shares of
        # noise (e.g. [0.12, 0, 0, 0, 0.88] for a perfect ETF under some BLAS kernels).
        rounding_floor = (stats.n_features * np.finfo(np.float64).eps) ** 2 * square_norm_total * float(
            np.einsum("ij,ij->", whitener, whitener)
        )
        nc1_class_share = tally.per_class_whitened / share_total if share_total > rounding_floor else np.zeros(C)
        ncc_correct, disagreements = tally.ncc_correct, tally.disagreements
        return NeuralCollapse(
            nc1=nc1,
            nc1_trace_quotient=nc1_trace_quotient,
            cdnv=cdnv,
            nc2_equinorm=nc2_equinorm,
            nc2_equiangular=nc2_equiangular,
            nc2_max_angle=nc2_max_angle,
            etf_distance=etf_distance,
            orthogonal_frame_distance=orthogonal_frame_distance,
            size_norm_spearman=size_norm_spearman,
            nc3=nc3,
            nc4=None if (W is None and preds is None) else disagreements / n,
            ncc_accuracy=ncc_correct / n,
            class_counts=counts,
            class_mean_norms=np.ldexp(norms, exponent),
            class_mean_norms_uncentred=np.ldexp(uncentred_norms, exponent),
            class_means=np.ldexp(means, exponent),
            gram=gram,
            nc1_class_share=nc1_class_share,
            class_variances=_in_units(stats.class_variances, 2 * exponent),
            sigma_b_rank=int(eigenvalues.size),
            n_samples=n,
            n_features=stats.n_features,
            n_classes=C,
            class_labels=class_labels,
            mu_g=mu_g,
        )

    return CollapsePlan(codes=y, means=means, whitener=whitener, preds=preds, W=W, b=b, exponent=exponent,
                        finish=finish)
