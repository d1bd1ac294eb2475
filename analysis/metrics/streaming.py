"""One-pass float64 sums over row chunks: the kernels shared by the metrics, the report's baseline and
`analysis.distributed`.

For rows ``y_i = x_i / 2**e`` (an exact power-of-two rescaling, so rows at
1e160 cannot overflow their squares) and a shift ``s`` (the mean of the first
chunk), one pass accumulates

.. math::

    n, \\qquad t = \\sum_i (y_i - s), \\qquad G = \\sum_i (y_i - s)(y_i - s)^\\top, \\qquad
    q = \\sum_i \\|y_i\\|^2 ,

and the centred scatter follows as ``G - t t^T / n`` (the covariance times n).
Taking the sums about ``s`` rather than 0 keeps that subtraction from
cancelling catastrophically when the rows sit far from the origin (Chan,
Golub & LeVeque 1983, "Algorithms for computing the sample variance"). Sums,
never per-chunk means, are combined, so chunked, distributed and in-memory
results agree up to float64 summation order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CovarianceSums", "first_mean", "gram_sums"]


def first_mean(block: np.ndarray, exponent: int = 0) -> np.ndarray:
    """Column means of ``block / 2**exponent`` in float64: the shift of the sums."""
    return np.ldexp(np.asarray(block, dtype=np.float64), -exponent).mean(axis=0)


def gram_sums(block: np.ndarray, *, exponent: int, shift: np.ndarray) -> dict[str, Any]:
    """For ``y = block / 2**exponent``: ``sum(y - s)``, ``sum (y - s)(y - s)^T``, ``sum ||y||^2`` and the row count.

    One float64 copy of the block (the chunk), nothing of the size of X.
    """
    y = np.ldexp(np.asarray(block, dtype=np.float64), -exponent)
    square = float(np.einsum("ij,ij->", y, y))
    y -= shift
    # NumPy hands ``A.T @ A`` to BLAS syrk (half the flops of a general GEMM).
    return {"sum": y.sum(axis=0), "gram": y.T @ y, "square": square, "n": y.shape[0]}


class CovarianceSums:
    """Streaming `gram_sums` of row chunks fed with `update` (see the module docstring).

    Parameters
    ----------
    n_features : int
    exponent : int, default=0
        Rows are divided by ``2**exponent`` (exact) before any product.
    """

    def __init__(self, n_features: int, *, exponent: int = 0) -> None:
        d = int(n_features)
        self.exponent = int(exponent)
        self.n = 0
        self.shift: np.ndarray | None = None
        self.sum = np.zeros(d)
        self.gram = np.zeros((d, d))
        self.square = 0.0

    def update(self, block: np.ndarray) -> None:
        """Add the rows of one chunk (any real dtype; a memory-map slice is read once)."""
        if block.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = first_mean(block, self.exponent)
        self.add(gram_sums(block, exponent=self.exponent, shift=self.shift))

    def add(self, part: dict[str, Any]) -> None:
        """Add sums computed elsewhere (a worker) about the same shift."""
        self.sum += part["sum"]
        self.gram += part["gram"]
        self.square += float(part["square"])
        self.n += int(part["n"])

    def scatter(self) -> np.ndarray:
        """``sum_i (y_i - ybar)(y_i - ybar)^T`` (symmetrised): n times the covariance of ``X / 2**exponent``."""
        if self.n == 0:
            raise ValueError("no rows were fed; pass at least one row.")
        m = self.sum / self.n  # mean of y - s
        scatter = self.gram - self.n * np.outer(m, m)
        return 0.5 * (scatter + scatter.T)
