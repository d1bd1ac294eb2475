"""Row blocks of an array held on the workers, as futures, whatever the input kind.

* ``dask.array.Array``: its own row chunks (the columns are joined into one
  chunk); the blocks are computed on the workers from the array's graph.
* ``numpy.memmap`` opened straight from a file: each block is read on a worker
  from the same path, so the file must be readable at that path on every
  worker (shared storage).
* any other array (numpy): each block travels to the cluster inside its own
  small task. The scheduler keeps that task, so a block lost with a worker is
  rebuilt and its dependants are retried (scattered data could not be).
"""

from __future__ import annotations

import mmap
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["RowBlocks", "row_blocks", "is_dask_array", "tree_reduce"]


def is_dask_array(X: Any) -> bool:
    """True for a ``dask.array.Array`` (without importing dask when it is absent)."""
    return type(X).__module__.startswith("dask.array") and hasattr(X, "chunks")


@dataclass(frozen=True)
class RowBlocks:
    """Futures of consecutive row blocks ``X[start:stop]`` and their bounds."""

    bounds: list[tuple[int, int]]
    futures: list[Any]
    n_rows: int
    n_features: int
    dtype: np.dtype


def _bounds(n: int, size: int) -> list[tuple[int, int]]:
    size = max(1, int(size))
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _hold(block: np.ndarray) -> np.ndarray:
    """The block itself: a task whose result lives on a worker."""
    return block


def _read_memmap(filename: str, dtype: str, shape: tuple[int, ...], offset: int,
                 start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a C-ordered array stored in ``filename`` at ``offset``."""
    data = np.memmap(filename, dtype=np.dtype(dtype), mode="r", shape=tuple(shape), offset=offset)
    return np.array(data[start:stop])


def _is_plain_memmap(X: Any) -> bool:
    """A memmap mapping a whole file region in C order (not a view of one)."""
    return (isinstance(X, np.memmap) and isinstance(X.base, mmap.mmap) and bool(X.filename)
            and X.flags.c_contiguous)


def row_blocks(client: Any, X: Any, block_rows: int | None) -> RowBlocks:
    """Put ``X``'s row blocks on the cluster (see the module docstring for each input kind).

    Parameters
    ----------
    client : distributed.Client
    X : numpy array, numpy memmap or dask.array.Array of shape (n, d)
    block_rows : int or None
        Rows per block; None keeps a dask array's own row chunks (numpy: one block).

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, is empty, or does not hold real numbers.
    """
    if is_dask_array(X):
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array of shape (n_samples, n_features); got shape {X.shape}.")
        _check_dtype(X.dtype)
        X = X.rechunk({0: block_rows if block_rows else X.chunks[0], 1: -1})
        edges = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)
        bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        futures = client.compute(list(X.to_delayed()[:, 0]))
        return RowBlocks(bounds, futures, int(X.shape[0]), int(X.shape[1]), np.dtype(X.dtype))
    if not isinstance(X, np.ndarray):
        X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array of shape (n_samples, n_features); got shape {X.shape}.")
    _check_dtype(X.dtype)
    n, d = X.shape
    if n == 0 or d == 0:
        raise ValueError(f"X is empty (shape {X.shape}). Pass at least one row and one column.")
    bounds = _bounds(n, block_rows or n)
    if _is_plain_memmap(X):
        futures = [client.submit(_read_memmap, str(X.filename), X.dtype.str, X.shape, int(X.offset),
                                 start, stop, pure=False) for start, stop in bounds]
    else:
        with warnings.catch_warnings():
            # Each block is embedded once, on purpose (the module docstring): not the
            # repeated embedding distributed's "large graph" warning is about.
            warnings.filterwarnings("ignore", message="Sending large graph")
            futures = [client.submit(_hold, np.ascontiguousarray(X[start:stop]), pure=False)
                       for start, stop in bounds]
    return RowBlocks(bounds, futures, n, d, X.dtype)


def _check_dtype(dtype: Any) -> None:
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf":  # bool is kind "b"
        raise ValueError(f"X must hold real numbers; got dtype {dtype}. Convert it first, e.g. X.astype(np.float32).")


def tree_reduce(client: Any, futures: list[Any], combine: Any, **kwargs: Any) -> Any:
    """Combine futures pairwise on the workers (a binary tree); returns one future.

    ``combine(a, b, **kwargs)`` must be associative; a tree keeps each worker's
    memory at two partial results and the depth at ``log2`` of the count.
    """
    level = list(futures)
    if not level:
        raise ValueError("nothing to reduce")
    while len(level) > 1:
        paired = [client.submit(combine, level[i], level[i + 1], pure=False, **kwargs)
                  for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
