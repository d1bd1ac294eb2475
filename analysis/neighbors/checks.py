"""Argument checks shared by every neighbour search: the point set, k, the metric and backend names."""

from __future__ import annotations

from typing import Literal

import numpy as np

from analysis.validation import check_k, check_matrix
from analysis.validation import first_rows as _first_rows

Metric = Literal["euclidean", "cosine"]
Backend = Literal["auto", "faiss", "numpy"]

_METRICS = ("euclidean", "cosine")
_BACKENDS = ("auto", "faiss", "numpy")


def _check_X(X: object) -> np.ndarray:
    """Return ``X`` as a 2-D real ndarray (no copy when it already is one)."""
    arr = check_matrix(X, min_samples=2, action="computing neighbours")
    if arr.dtype.kind == "f":
        if arr.dtype.itemsize > 4:
            # float64 values beyond float32's range would become inf in the
            # float32 search; row max/min are reductions, no n x d temporary.
            limit = float(np.finfo(np.float32).max)
            too_big = (arr.max(axis=1) > limit) | (arr.min(axis=1) < -limit)
            if too_big.any():
                bad = np.flatnonzero(too_big)
                raise ValueError(
                    f"X has values beyond float32's range (|x| > {limit:.3g}) in "
                    f"{bad.size} rows (first: {_first_rows(bad)}). Rescale X, "
                    "e.g. X / np.abs(X).max()."
                )
    return arr


def _check_k(k: object, n_samples: int) -> int:
    """k in [1, n_samples - 1]: a point is not its own neighbour (`check_k`)."""
    return check_k(k, n=n_samples - 1, needs=f"other points each, of {n_samples}")


