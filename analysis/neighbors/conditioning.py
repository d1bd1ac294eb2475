"""Float32 working copies for the candidate search: centred and scaled rows (Euclidean,
with the norm-augmented layout of the L2 -> inner-product reduction) or unit rows (cosine).
"""

from __future__ import annotations

import numpy as np

from analysis.validation import first_rows as _first_rows
from analysis.validation import power_of_two_exponent, scaled_norms

# Float64 elements re-scored at once, (rows, k+1, d): ~4 MiB stays in cache;
# measured 2.4x faster than 16x larger chunks at n=50,000, d=768. Other modules
# read it as `conditioning._REFINE_ELEMENTS`, so one setting governs every chunk.
_REFINE_ELEMENTS = 1 << 19


def _row_chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


def _centred(X: np.ndarray, *, augmented: bool) -> tuple[np.ndarray, int]:
    """Float32 copy of ``(X - mean) / 2**e``; with ``augmented``, the database side of
    the L2 -> inner-product reduction. Returns it and the exponent ``e``.

    Plain: shape (n, d). Augmented: shape (n, d + 1) with
    ``B[:, d] = -||B[:, :d]||^2 / 2``. (Padding the width to a multiple of
    16 was measured: no faster at d=64.)

    The mean is accumulated in float64 (a float32 running sum over 50,000
    rows would leave a residual offset); for float32 input it is then
    rounded to float32, which only shifts every row by the same vector (a
    translation: distances unchanged) and lets the cast and the centring
    fuse into one float32 pass.

    ``2**e`` is the power of two at or above the largest centred
    coordinate, so every stored coordinate lies in [-1, 1]: squared norms
    and products can neither overflow float32 (rows at 1e20 would reach
    1e40 > 3.4e38, faiss would then return index -1) nor underflow it
    (rows at 1e-30 would square to 0). Dividing by a power of two is exact,
    and neighbour ranks do not change under a global scale.
    """
    n, d = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    # max_i |x_ij - mean_j| from the column extremes: no n x d temporary.
    high = np.asarray(X.max(axis=0), dtype=np.float64) - mean
    low = mean - np.asarray(X.min(axis=0), dtype=np.float64)
    exponent = power_of_two_exponent(max(float(high.max()), float(low.max())))
    width = d + 1 if augmented else d
    database = np.empty((n, width), dtype=np.float32)
    centred = database[:, :d]
    if X.dtype == np.float32 and exponent < 127:
        np.subtract(X, mean.astype(np.float32), out=centred)
        np.ldexp(centred, -exponent, out=centred)
    else:
        # Centre and scale in float64, a block of rows at a time, before the
        # cast: values beyond float32's range become order 1 first.
        for start, stop in _row_chunks(n, max(1, _REFINE_ELEMENTS // max(1, d))):
            centred[start:stop] = np.ldexp(np.asarray(X[start:stop], dtype=np.float64) - mean, -exponent)
    if augmented:
        # Norms of the stored float32 rows, so that in exact arithmetic every
        # query scores highest against itself and its duplicates.
        np.einsum("ij,ij->i", centred, centred, out=database[:, d])
        database[:, d] *= -0.5
    return database, exponent


class _AugmentedQueries:
    """Query side ``[x - mean, 1]``, rows ``start:stop``, in one reused buffer."""

    def __init__(self, database: np.ndarray, n_features: int, max_rows: int):
        self.database = database
        self.n_features = n_features
        self.buffer = np.empty((min(max_rows, database.shape[0]), database.shape[1]), np.float32)

    def __call__(self, start: int, stop: int) -> np.ndarray:
        queries = self.buffer[: stop - start]
        np.copyto(queries, self.database[start:stop])
        queries[:, self.n_features] = 1.0
        return queries


def _normalised(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 unit rows for cosine search, and float64 ``1 / ||x_i||``.

    Norms are scale-free (`analysis.validation.scaled_norms`): a row at 1e20
    in float32 or 1e-200 in float64 keeps its direction.
    """
    n, d = X.shape
    norms = np.empty(n, dtype=np.float64)
    database = np.empty((n, d), dtype=np.float32)
    # float64 norms (the exact re-scoring divides by them), in cache-sized
    # chunks so that no n x d float64 temporary is made.
    for start, stop in _row_chunks(n, max(1, _REFINE_ELEMENTS // d)):
        block = X[start:stop].astype(np.float64, copy=False)
        norms[start:stop] = scaled_norms(block)
        with np.errstate(divide="ignore", invalid="ignore"):
            database[start:stop] = block / norms[start:stop, None]
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValueError(
            f"metric='cosine' is undefined for all-zero rows; X has {zero.size} "
            f"zero rows (first: {_first_rows(zero)}). Drop them, e.g. "
            "X[np.linalg.norm(X, axis=1) > 0], or use metric='euclidean'."
        )
    return database, 1.0 / norms

