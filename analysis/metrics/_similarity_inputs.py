"""What the similarity measures share: the checks on a pair of inputs and a chunked, centred view of one.

Every measure in `cka`, `procrustes`, `anchors` and `neighbor_agreement`
compares two matrices whose row i describes the same input; the helpers here
validate such a pair, refuse constant inputs and oversized work before
allocating, and give float64 centred row or column chunks of one input
(`_Centred`) without a float64 copy of the whole matrix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from analysis.data.limits import format_bytes, memory_budget_bytes
from analysis.validation import check_matrix

# Float64 elements of one centred chunk (32 MiB): bounds the working copy of any input.
_CHUNK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- validation


def _check_pair(X: Any, Y: Any, *, min_samples: int, why: str, action: str) -> tuple[np.ndarray, np.ndarray]:
    """Both inputs as validated 2-D arrays with the same number of rows, at least `min_samples`."""
    x = check_matrix(X, name="X", action=action)
    y = check_matrix(Y, name="Y", action=action)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"X and Y must describe the same inputs in the same order (row i of each is one input); "
            f"got {x.shape[0]} rows in X and {y.shape[0]} in Y. Pass the representations of the same "
            "samples, e.g. both from one Run."
        )
    if x.shape[0] < min_samples:
        raise ValueError(f"{why} needs at least {min_samples} samples; got {x.shape[0]}. Pass more rows.")
    return x, y


def _refuse_constant(arr: np.ndarray, name: str, what: str) -> None:
    """ValueError when every row equals the first: the centred matrix is 0 and `what` is 0/0."""
    first = arr[0]
    step = max(1, _CHUNK_ELEMENTS // arr.shape[1])
    for start in range(0, arr.shape[0], step):
        if not np.all(arr[start : start + step] == first):
            return
    raise ValueError(
        f"{name} is constant: all {arr.shape[0]} rows are identical, so its centred representation is "
        f"zero and {what} is undefined (0/0). Pass a representation that varies across the samples."
    )


def _check_budget(needed: float, what: str) -> None:
    budget = memory_budget_bytes()
    if needed > budget:
        raise ValueError(
            f"{what} needs about {format_bytes(needed)} of working memory, above the budget of "
            f"{format_bytes(budget)} (REPLENS_MEMORY_BUDGET). Subsample the rows or reduce the "
            "features (e.g. PCA) first, or raise the budget."
        )


# --------------------------------------------------------------------------- centred representations


class _Centred:
    """One representation, its float64 column means and a power-of-two scale; centred chunks on demand.

    Every measure here is invariant to scaling each input, so the chunks are
    multiplied by ``scale = 2^-e`` with ``max |x| * scale`` in [0.5, 1): exact
    in floating point, and fourth powers (``||X^T X||_F^2``) of entries like
    1e100 or 1e-100 neither overflow nor underflow float64.
    """

    def __init__(self, arr: np.ndarray, name: str) -> None:
        self.arr = arr
        self.name = name
        self.n, self.d = arr.shape
        self.mean = arr.mean(axis=0, dtype=np.float64)
        step = max(1, _CHUNK_ELEMENTS // self.d)
        peak = max(float(np.max(np.abs(arr[start : start + step]))) for start in range(0, self.n, step))
        self.scale = 2.0 ** -math.frexp(peak)[1] if peak > 0 else 1.0

    def fill(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        np.subtract(self.arr[start:stop], self.mean, out=out)
        out *= self.scale
        return out

    def rows(self, start: int, stop: int) -> np.ndarray:
        return self.fill(start, stop, np.empty((stop - start, self.d)))

    def columns(self, start: int, stop: int) -> np.ndarray:
        block = np.subtract(self.arr[:, start:stop], self.mean[start:stop], dtype=np.float64)
        block *= self.scale
        return block
