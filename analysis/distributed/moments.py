"""Class statistics and the covariance spectrum through dask: exact float64 sums per row block.

Each task turns one row block into float64 sums about a common shift ``s``
(the mean of the first block, as :class:`ClassStatisticsAccumulator` takes the
mean of its first chunk), the partial sums are added pairwise on the workers,
and the client finishes with the same closed forms as the single-machine code:

.. math::

    n_c = \\sum_{y_i = c} 1, \\quad S_c = \\sum_{y_i = c} (x_i - s), \\quad
    Q_c = \\sum_{y_i = c} \\|x_i - s\\|^2, \\quad G = \\sum_i (x_i - s)(x_i - s)^\\top,

    \\mu_c = s + S_c / n_c, \\qquad
    \\Sigma_W = \\frac{1}{n}\\Big(G - \\sum_c n_c (\\mu_c - s)(\\mu_c - s)^\\top\\Big), \\qquad
    \\sigma_c^2 = Q_c / n_c - \\|\\mu_c - s\\|^2,

and for the covariance of ``y = x / 2**e`` (``e`` from the largest entry, as in
:func:`analysis.metrics.covariance_spectrum`),
``n Sigma = sum_i (y_i - s)(y_i - s)^T - n (m - s)(m - s)^T`` with ``m`` the
mean of ``y``. Sums, never per-block means, are combined, so the result equals
the in-memory one up to float64 summation order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.distributed._blocks import is_dask_array, row_blocks, tree_reduce
from analysis.distributed.client import get_client
from analysis.metrics.class_statistics import (
    ClassStatistics,
    ClassStatisticsAccumulator,
    class_sums,
    default_chunk_rows,
    iter_row_chunks,
    statistics_from_sums,
)
from analysis.metrics.spectrum import CovarianceSpectrum, covariance_spectrum, spectrum_from_scatter
from analysis.metrics.streaming import CovarianceSums, first_mean, gram_sums
from analysis.validation import first_rows, power_of_two_exponent

__all__ = ["distributed_class_statistics", "distributed_covariance_spectrum"]


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Sum two partial results key by key (row lists concatenated, extremes maxed)."""
    out = {}
    for key in a:
        if key == "bad":
            out[key] = np.concatenate([a[key], b[key]])
        elif key == "peak":
            out[key] = max(a[key], b[key])
        else:
            out[key] = a[key] + b[key]
    return out


def _bad_rows(block: np.ndarray, start: int) -> np.ndarray:
    if block.dtype.kind != "f":
        return np.empty(0, dtype=np.int64)
    finite = np.isfinite(block.sum(axis=1))
    if not finite.all():
        finite = np.isfinite(block).all(axis=1)
    return np.flatnonzero(~finite) + start


def _class_sums(block: np.ndarray, codes: np.ndarray, start: int, *, shift: np.ndarray,
                n_classes: int) -> dict[str, Any]:
    """`class_sums` of one block about the shift (NaN/Inf rows zeroed and listed)."""
    bad = _bad_rows(block, start)
    chunk = np.array(block, dtype=np.float64)
    chunk -= shift
    if bad.size:
        chunk[bad - start] = 0.0
    return class_sums(chunk, codes, n_classes) | {"bad": bad}


def _labels(labels: Any, n: int) -> tuple[np.ndarray, int]:
    codes = np.asarray(labels.compute() if is_dask_array(labels) else labels)
    if codes.ndim != 1 or codes.shape[0] != n:
        raise ValueError(f"labels must be a 1-D array with one code per row of X ({n}); got shape {codes.shape}.")
    if codes.dtype == bool or codes.dtype.kind not in "iu":
        raise ValueError(f"labels must be integer class codes; got dtype {codes.dtype}. Encode them first, "
                         "e.g. np.unique(labels, return_inverse=True)[1].")
    if n and codes.min() < 0:
        raise ValueError(f"labels must be class codes >= 0; got {int(codes.min())}.")
    return codes.astype(np.int64, copy=False), int(codes.max()) + 1 if n else 0


def distributed_class_statistics(X: Any, labels: Any, *, scheduler: Any,
                                 n_classes: int | None = None,
                                 block_rows: int | None = None) -> ClassStatistics:
    """Class counts, means, within-class covariance and class variances of ``X``, through dask.

    Equals ``ClassStatisticsAccumulator(n_classes, d)`` fed the whole array
    (to float64 summation order; see the module docstring for the sums).

    Parameters
    ----------
    X : numpy array, numpy memmap or dask.array.Array of shape (n, d)
        A dask array's row chunks are the blocks.
    labels : array-like of shape (n,)
        Integer class codes in ``[0, n_classes)`` (numpy or dask).
    scheduler : None, str or distributed.Client
        See :func:`analysis.distributed.client.get_client`; None streams the
        blocks through the accumulator in this process.
    n_classes : int, optional
        Default ``labels.max() + 1``.
    block_rows : int, optional
        Rows per block; default a dask array's chunks, else
        :func:`analysis.metrics.class_statistics.default_chunk_rows`.

    Returns
    -------
    ClassStatistics

    Raises
    ------
    ValueError
        For NaN/Inf rows, no rows, labels not integer codes in range, or an
        unreachable scheduler.
    """
    n = int(X.shape[0])
    codes, found = _labels(labels, n)
    C = found if n_classes is None else int(n_classes)
    if found > C:
        raise ValueError(f"labels must be class codes in [0, {C}); got values up to {found - 1}.")
    d = int(X.shape[1])
    rows = block_rows or (None if is_dask_array(X) else default_chunk_rows(d))
    client = get_client(scheduler)
    if client is None:
        accumulator = ClassStatisticsAccumulator(C, d)
        for part in iter_row_chunks(n, rows or X.chunks[0][0]):
            chunk = X[part]
            accumulator.update(chunk.compute() if is_dask_array(chunk) else chunk, codes[part])
        return accumulator.finalize()
    if n == 0:
        raise ValueError("features has no rows; pass at least one sample per class.")
    blocks = row_blocks(client, X, rows)
    shift = client.submit(first_mean, blocks.futures[0], pure=False)
    parts = [client.submit(_class_sums, f, codes[a:b], a, shift=shift, n_classes=C, pure=False)
             for f, (a, b) in zip(blocks.futures, blocks.bounds, strict=True)]
    total = tree_reduce(client, parts, _add).result()
    if total["bad"].size:
        bad = np.sort(total["bad"])
        raise ValueError(f"features contains NaN or Inf in {bad.size} rows (first: {first_rows(bad)}). "
                         "Drop or impute these rows before measuring neural collapse.")
    return statistics_from_sums(total["counts"], total["sums"], total["square_norms"], total["scatter"],
                                shift.result())


def _peak(block: np.ndarray, start: int) -> dict[str, Any]:
    bad = _bad_rows(block, start)
    good = np.delete(block, bad - start, axis=0) if bad.size else block
    peak = max(abs(float(good.max())), abs(float(good.min()))) if good.size else 0.0
    return {"peak": peak, "bad": bad}


def distributed_covariance_spectrum(X: Any, *, scheduler: Any,
                                    block_rows: int | None = None) -> CovarianceSpectrum:
    """Eigen-spectrum of the covariance of ``X`` through dask; equals :func:`covariance_spectrum`.

    .. math::  \\Sigma = \\frac{1}{n} \\sum_i (x_i - \\bar x)(x_i - \\bar x)^\\top, \\qquad
               r_j = \\lambda_j / \\sum_l \\lambda_l

    Two passes over the blocks: the largest entry (and NaN/Inf rows), which
    fixes the exact scaling ``2**e``; then the shifted sums of the module docstring.

    Parameters
    ----------
    X : numpy array, numpy memmap or dask.array.Array of shape (n, d)
    scheduler : None, str or distributed.Client
        None computes ``covariance_spectrum`` in memory.
    block_rows : int, optional
        Rows per block; default a dask array's chunks, else 65,536.

    Returns
    -------
    CovarianceSpectrum

    Raises
    ------
    ValueError
        As :func:`covariance_spectrum`: NaN/Inf rows, identical rows, variances beyond float64.
    """
    client = get_client(scheduler)
    if client is None:
        return covariance_spectrum(X.compute() if is_dask_array(X) else X)
    rows = block_rows or (None if is_dask_array(X) else 65_536)
    blocks = row_blocks(client, X, rows)
    n, d = blocks.n_rows, blocks.n_features
    first = tree_reduce(client, [client.submit(_peak, f, a, pure=False)
                                 for f, (a, _) in zip(blocks.futures, blocks.bounds, strict=True)], _add).result()
    if first["bad"].size:
        bad = np.sort(first["bad"])
        raise ValueError(f"X contains NaN or Inf in {bad.size} rows (first: {first_rows(bad)}). "
                         "Drop or impute these rows before computing the covariance spectrum.")
    exponent = power_of_two_exponent(first["peak"])
    shift = client.submit(first_mean, blocks.futures[0], exponent, pure=False)
    total = tree_reduce(client, [client.submit(gram_sums, f, exponent=exponent, shift=shift, pure=False)
                                 for f in blocks.futures], _add).result()
    sums = CovarianceSums(d, exponent=exponent)
    sums.add(total)
    return spectrum_from_scatter(sums.scatter(), n_samples=n, exponent=exponent, square_total=sums.square,
                                 peak=first["peak"])
