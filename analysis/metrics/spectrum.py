"""Spectral summaries of a representation: how many directions it really uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.metrics.streaming import CovarianceSums
from analysis.validation import ProgressFn, check_matrix, max_abs, power_of_two_exponent

__all__ = ["CovarianceSpectrum", "EffectiveRank", "covariance_spectrum", "covariance_sums", "effective_rank",
           "effective_rank_from_scatter", "spectrum_and_effective_rank", "spectrum_from_scatter"]

# Above this many elements the SVD's float64 copy of X is replaced by a
# streamed d x d Gram matrix (one float64 block at a time).
_SVD_MAX_ELEMENTS = 20_000_000
_GRAM_BLOCK_ROWS = 65_536


@dataclass(frozen=True, eq=False)
class CovarianceSpectrum:
    """Result of :func:`covariance_spectrum`.

    Attributes
    ----------
    eigenvalues : ndarray of shape (n_features,)
        Covariance eigenvalues (population, divided by n), descending, clipped at 0.
    explained_variance_ratio : ndarray of shape (n_features,)
        ``eigenvalues / eigenvalues.sum()``.
    cumulative : ndarray of shape (n_features,)
        Running sum of the ratios (ends at 1).
    n_samples, n_features : int
    """

    eigenvalues: np.ndarray
    explained_variance_ratio: np.ndarray
    cumulative: np.ndarray
    n_samples: int
    n_features: int

    def components_for(self, share: float) -> int:
        """Fewest leading directions explaining at least `share` of the variance."""
        return int(np.searchsorted(self.cumulative, share - 1e-12) + 1)

    def to_dict(self) -> dict[str, Any]:
        return {"eigenvalues": self.eigenvalues.tolist(),
                "explained_variance_ratio": self.explained_variance_ratio.tolist(),
                "cumulative": self.cumulative.tolist(), "n_samples": self.n_samples,
                "n_features": self.n_features}


def _gram(arr: np.ndarray, *, center: bool, exponent: int = 0) -> tuple[np.ndarray, int]:
    """Sum of y y^T over rows ``y = x / 2**exponent`` (centred on the column means when `center`), float64, streamed.

    The exact power-of-two scaling keeps the products of rows at 1e160 from
    overflowing and of rows at 1e-200 from underflowing.
    """
    n, d = arr.shape
    shift = np.zeros(d)
    if center:
        for start in range(0, n, _GRAM_BLOCK_ROWS):
            block = np.ldexp(np.asarray(arr[start : start + _GRAM_BLOCK_ROWS], dtype=np.float64), -exponent)
            shift += block.sum(axis=0)
        shift /= n
    gram = np.zeros((d, d))
    for start in range(0, n, _GRAM_BLOCK_ROWS):
        block = np.ldexp(np.asarray(arr[start : start + _GRAM_BLOCK_ROWS], dtype=np.float64), -exponent)
        block -= shift
        gram += block.T @ block
    return 0.5 * (gram + gram.T), n


def _square_total(arr: np.ndarray, exponent: int) -> float:
    """``sum_i ||x_i / 2**exponent||^2`` in float64, streamed."""
    total = 0.0
    for start in range(0, arr.shape[0], _GRAM_BLOCK_ROWS):
        block = np.ldexp(np.asarray(arr[start : start + _GRAM_BLOCK_ROWS], dtype=np.float64), -exponent)
        total += float(np.einsum("ij,ij->", block, block))
    return total


def _floor(n: int, d: int, square_total: float) -> float:
    """Frobenius norm of X / 2**exponent times ``max(n, d) eps``: centred data below it is rounding noise.

    Centring identical rows leaves residuals of a few ulps of each entry
    (the column mean is rounded), so the centred matrix's largest singular
    value is then at most about ``max(n, d) eps ||X||_F``; a spectrum, an
    entropy or a ratio of that noise means nothing.
    """
    return max(n, d) * np.finfo(np.float64).eps * float(np.sqrt(square_total))


def _rounding_floor(arr: np.ndarray, exponent: int) -> float:
    """`_floor` of an array (one streamed pass)."""
    return _floor(arr.shape[0], arr.shape[1], _square_total(arr, exponent))


def covariance_spectrum(X: Any) -> CovarianceSpectrum:
    """Eigen-spectrum of the covariance of X and the explained variance of each direction.

    .. math::  \\Sigma = \\frac{1}{n} \\sum_i (x_i - \\bar x)(x_i - \\bar x)^\\top, \\qquad
               r_j = \\lambda_j / \\sum_l \\lambda_l

    (PCA's explained variance ratios). Streamed over row blocks in float64,
    so a memory-mapped array is never copied whole.

    Raises
    ------
    ValueError
        For input that is not a finite 2-D real array, or rows that are all identical.
    """
    arr = check_matrix(X, action="computing the covariance spectrum")
    peak = max_abs(arr)
    sums = covariance_sums(arr, exponent=power_of_two_exponent(peak))
    return spectrum_from_scatter(sums.scatter(), n_samples=sums.n, exponent=sums.exponent,
                                 square_total=sums.square, peak=peak)


def covariance_sums(arr: np.ndarray, *, exponent: int, progress: ProgressFn | None = None) -> CovarianceSums:
    """`CovarianceSums` of ``arr / 2**exponent`` in one streamed pass (float64 blocks; a memory map is read once).

    ``arr`` is a checked 2-D real array (`check_matrix`); ``progress(fraction, message)`` is called per block.
    """
    n = arr.shape[0]
    sums = CovarianceSums(arr.shape[1], exponent=exponent)
    for start in range(0, n, _GRAM_BLOCK_ROWS):
        sums.update(arr[start : start + _GRAM_BLOCK_ROWS])
        if progress is not None:
            progress(min(start + _GRAM_BLOCK_ROWS, n) / n, f"Covariance: {min(start + _GRAM_BLOCK_ROWS, n):,} of {n:,} rows")
    return sums


def spectrum_and_effective_rank(X: Any, *, progress: ProgressFn | None = None, sums: CovarianceSums | None = None,
                                ) -> tuple[CovarianceSpectrum, EffectiveRank]:
    """``(covariance_spectrum(X), effective_rank(X))`` from one streamed pass over X (none when `sums` is given).

    ``sums``: the `CovarianceSums` of X already accumulated by another pass
    (e.g. neural collapse's, `analysis.metrics.collapse_pair`); any exponent.

    Both read the centred scatter: the spectrum its eigenvalues over n, the
    effective rank (above ``_SVD_MAX_ELEMENTS``, where :func:`effective_rank`
    itself uses the Gram matrix) the square roots of the same eigenvalues.
    Smaller X takes :func:`effective_rank`'s exact SVD, as before. Equal to
    the two calls up to float64 summation order.
    """
    arr = check_matrix(X, action="computing the covariance spectrum")
    peak = max_abs(arr)
    if sums is None:
        sums = covariance_sums(arr, exponent=power_of_two_exponent(peak), progress=progress)
    elif sums.n != arr.shape[0] or sums.gram.shape[0] != arr.shape[1]:
        raise ValueError(f"sums of {sums.n} rows and {sums.gram.shape[0]} features do not describe X of shape "
                         f"{arr.shape}; pass the sums of this very array.")
    scatter = sums.scatter()
    spectrum = spectrum_from_scatter(scatter, n_samples=sums.n, exponent=sums.exponent, square_total=sums.square,
                                     peak=peak)
    if arr.size <= _SVD_MAX_ELEMENTS:
        return spectrum, effective_rank(arr)
    return spectrum, effective_rank_from_scatter(scatter, n_samples=sums.n, exponent=sums.exponent,
                                                 square_total=sums.square)


def spectrum_from_scatter(scatter: np.ndarray, *, n_samples: int, exponent: int, square_total: float,
                          peak: float) -> CovarianceSpectrum:
    """`CovarianceSpectrum` from the centred scatter of ``Y = X / 2**exponent``, ``sum_i (y_i - ybar)(y_i - ybar)^T``.

    The finish shared by :func:`covariance_spectrum`, the streamed sums of
    `analysis.metrics.streaming` (the report's Gaussian baseline) and
    `analysis.distributed`. ``square_total`` is ``sum_i ||y_i||^2`` (the
    rounding floor below which centred data are noise), ``peak`` the
    largest ``|x|`` (named in the overflow error).
    """
    n, d = int(n_samples), int(scatter.shape[0])
    scaled = np.clip(np.linalg.eigvalsh(scatter)[::-1] / n, 0.0, None)  # eigenvalues of Sigma / 4**exponent
    total = scaled.sum()
    # The rows are centred before the products, so identical rows leave a total
    # squared spread of rounding noise only, at most (max(n, d) eps ||X||_F)^2.
    if not total * n > _floor(n, d, square_total) ** 2:
        raise ValueError(
            "X has identical rows (up to float64 rounding): its covariance is zero and the spectrum "
            "is empty. Pass rows that vary."
        )
    ratio = scaled / total
    # In X's own units. The ratios above are scale free, but a variance beyond
    # float64 (rows at 1e160) cannot be returned as a number: refuse it rather
    # than hand back Inf.
    with np.errstate(over="ignore"):
        eigenvalues = np.ldexp(scaled, 2 * exponent)
    if not np.isfinite(eigenvalues).all():
        raise ValueError(
            f"X has values up to {peak:.3g}: their variances (squares) overflow float64, so the "
            "eigenvalues cannot be returned. Rescale X first, e.g. X / np.abs(X).max(); the explained-"
            "variance ratios do not change."
        )
    return CovarianceSpectrum(eigenvalues=eigenvalues, explained_variance_ratio=ratio,
                              cumulative=np.minimum(np.cumsum(ratio), 1.0), n_samples=n, n_features=d)


@dataclass(frozen=True, eq=False)
class EffectiveRank:
    """Result of :func:`effective_rank`.

    Attributes
    ----------
    effective_rank : float
        ``exp(H(p))`` with ``p = s / sum(s)``; between 1 and ``min(n, d)``.
    singular_values : ndarray of shape (min(n_samples, n_features),)
        Singular values of the (centred, if ``centered``) data, descending,
        float64. Values below the numerical-rank tolerance are set to 0.
    n_samples : int
    n_features : int
    centered : bool
        Whether the column means were subtracted before the SVD.
    """

    effective_rank: float
    singular_values: np.ndarray
    n_samples: int
    n_features: int
    centered: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (arrays become lists)."""
        return {
            "effective_rank": self.effective_rank,
            "singular_values": self.singular_values.tolist(),
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "centered": self.centered,
        }


def effective_rank(X: np.ndarray, *, center: bool = True) -> EffectiveRank:
    """Effective rank: exp of the entropy of the normalised singular values.

    .. math::

        p_i = \\frac{\\sigma_i}{\\sum_j \\sigma_j}, \\qquad
        \\operatorname{erank}(X) = \\exp\\Big(-\\sum_i p_i \\log p_i\\Big),

    with :math:`0 \\log 0 = 0`. It equals the number of non-zero singular
    values when they are all equal, 1 for a rank-1 matrix, and varies
    smoothly in between, so it reads as "how many directions the
    representation spreads over". RankMe [2]_ uses it (uncentred, on
    embeddings) as a label-free proxy for downstream quality; a value that
    falls during training signals dimensional collapse.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        One representation per row. Computed in float64.
    center : bool, default=True
        Subtract the column means first (**the default**), so the score
        describes the spread of the point cloud around its centre, not its
        offset from the origin; a constant shift of every row then does not
        change the result. ``center=False`` gives the plain matrix effective
        rank of Roy & Vetterli [1]_ and RankMe [2]_ (with it, ``erank(I_d) = d``).

    Returns
    -------
    EffectiveRank
        ``effective_rank`` (float), ``singular_values`` (descending, float64),
        ``n_samples``, ``n_features``, ``centered``.

    Raises
    ------
    ValueError
        If ``X`` is not a 2-D real array, is empty, contains NaN or Inf, or is
        all zero (after centring when ``center=True``: e.g. a single row, or
        identical rows), where the entropy is undefined.

    Notes
    -----
    Invariant to rotations ``X Q`` (``Q`` orthogonal), to a global scale
    ``c X`` (``c != 0``, at any magnitude: the SVD runs on ``X / 2**e``, an
    exact rescaling, so 1e-30 X and 1e160 X score as X), and to the order
    of the rows. Rows identical up to rounding (centred largest singular
    value at most ``max(n, d) eps ||X||_F``) count as identical: ValueError,
    not a score of rounding noise. Singular values below
    ``max(n, d) * eps * sigma_max`` (the tolerance of
    ``numpy.linalg.matrix_rank``) are rounding noise and are set to 0, so a
    rank-r matrix with equal singular values scores exactly r up to rounding.

    References
    ----------
    .. [1] O. Roy and M. Vetterli, "The effective rank: A measure of effective
       dimensionality", 15th European Signal Processing Conference
       (EUSIPCO), 2007.
    .. [2] Q. Garrido, R. Balestriero, L. Najman and Y. LeCun, "RankMe:
       Assessing the downstream performance of pretrained self-supervised
       representations by their rank", ICML 2023.

    Examples
    --------
    >>> import numpy as np
    >>> round(effective_rank(np.eye(4), center=False).effective_rank, 6)
    4.0
    """
    arr = check_matrix(X, action="computing the effective rank")
    # Work on X / 2**e (exact): products of rows at 1e160 would overflow, at 1e-200 underflow.
    exponent = power_of_two_exponent(max_abs(arr))
    n, d = arr.shape
    if arr.size > _SVD_MAX_ELEMENTS and center:
        # Large X (a million rows): singular values are the square roots of the
        # Gram matrix's eigenvalues, accumulated block by block without a copy of X.
        sums = covariance_sums(arr, exponent=exponent)
        return effective_rank_from_scatter(sums.scatter(), n_samples=n, exponent=exponent, square_total=sums.square)
    if arr.size > _SVD_MAX_ELEMENTS:
        gram, _ = _gram(arr, center=False, exponent=exponent)
        return effective_rank_from_scatter(gram, n_samples=n, exponent=exponent,
                                           square_total=_square_total(arr, exponent), center=center)
    data = np.ldexp(np.asarray(arr, dtype=np.float64), -exponent)
    if center:
        data -= data.mean(axis=0)
    singular_values = np.linalg.svd(data, compute_uv=False)
    return _from_singular_values(singular_values, n, d, exponent=exponent, center=center,
                                 floor=lambda: _rounding_floor(arr, exponent), from_gram=False)


def effective_rank_from_scatter(scatter: np.ndarray, *, n_samples: int, exponent: int, square_total: float,
                                center: bool = True) -> EffectiveRank:
    """`EffectiveRank` from the scatter ``sum_i y_i y_i^T`` of ``Y = X / 2**exponent`` (rows centred when `center`).

    The singular values of Y are the square roots of the scatter's
    eigenvalues. Shared by :func:`effective_rank` (above ``_SVD_MAX_ELEMENTS``)
    and the streamed sums of `analysis.metrics.streaming` (the report's
    Gaussian baseline); ``square_total`` is ``sum_i ||y_i||^2`` (uncentred).
    """
    n, d = int(n_samples), int(scatter.shape[0])
    singular_values = np.sqrt(np.clip(np.linalg.eigvalsh(scatter)[::-1], 0.0, None))
    return _from_singular_values(singular_values, n, d, exponent=exponent, center=center,
                                 floor=lambda: _floor(n, d, square_total), from_gram=True)


def _from_singular_values(singular_values: np.ndarray, n: int, d: int, *, exponent: int, center: bool,
                          floor: Any, from_gram: bool) -> EffectiveRank:
    """exp(entropy) of the singular values of ``X / 2**exponent``, rounding noise set to 0."""
    sigma_max = float(singular_values[0]) if singular_values.size else 0.0
    # Centring identical rows leaves rounding residuals, not zeros: below
    # this floor the "spectrum" is noise and its entropy meaningless.
    if center and sigma_max > 0.0 and sigma_max <= floor():
        sigma_max = 0.0
    if not sigma_max > 0.0:
        if center:
            raise ValueError(
                "X is all zero after centring (rows identical up to float64 rounding, or a single row); the "
                "effective rank is undefined. Pass rows that vary, or use center=False "
                "to measure the uncentred matrix."
            )
        raise ValueError(
            "X is all zero; the effective rank is undefined. Pass a matrix with a non-zero entry."
        )
    tolerance = max(n, d) * np.finfo(np.float64).eps * sigma_max
    if from_gram:
        # Squaring loses half the digits: rounding noise in the Gram matrix
        # shows up as singular values up to sqrt(eps) * sigma_max.
        tolerance = max(tolerance, np.sqrt(max(n, d) * np.finfo(np.float64).eps) * sigma_max)
    singular_values = np.where(singular_values > tolerance, singular_values, 0.0)
    p = singular_values / singular_values.sum()
    nonzero = p[p > 0]  # 0 log 0 = 0
    entropy = float(-(nonzero * np.log(nonzero)).sum())
    return EffectiveRank(
        effective_rank=float(np.exp(entropy)),
        singular_values=np.ldexp(singular_values, exponent),  # in X's own units
        n_samples=int(n),
        n_features=int(d),
        centered=bool(center),
    )


