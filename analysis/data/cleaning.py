"""Row checks and token pooling applied to every loaded array, in bounded memory."""

from __future__ import annotations

import numpy as np

from analysis.data.formats.common import _MIB

__all__ = ["_nonfinite_rows", "_pool"]


def _nonfinite_rows(X: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(mask of rows with NaN/Inf, rows with NaN, rows with Inf), in row blocks."""
    n, d = X.shape
    bad = np.zeros(n, dtype=bool)
    nan_rows = inf_rows = 0
    step = max(1, (16 * _MIB) // max(d, 1))  # bounded temporaries even for huge files
    for start in range(0, n, step):
        block = X[start : start + step]
        has_nan = np.isnan(block).any(axis=1)
        has_inf = np.isinf(block).any(axis=1)
        nan_rows += int(has_nan.sum())
        inf_rows += int(has_inf.sum())
        bad[start : start + step] = has_nan | has_inf
    return bad, nan_rows, inf_rows


def _pool(arr: np.ndarray, pooling: str) -> np.ndarray:
    n, t, d = arr.shape
    if pooling == "mean":
        # float64 accumulation: float16/float32 sums over many tokens lose digits.
        return arr.mean(axis=1, dtype=np.float64)
    if pooling == "last":
        return arr[:, -1, :]
    return arr.reshape(n, t * d)  # "flatten": a view when the array is C-contiguous
