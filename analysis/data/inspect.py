"""Quick facts about an embedding or a file, for `replens info FILE` and the Data page.

`summarize_embedding` describes an `Embedding` already in memory;
`describe_file` loads a file safely (a RepLens run or a single embedding) and
describes it, returning ``{"ok": False, "error": message}`` instead of raising,
so the CLI can print any problem without a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from analysis.data.limits import format_bytes
from analysis.data.loaders import load_embedding_report
from analysis.data.runs import is_run_file, load_run
from analysis.data.schema import Embedding
from analysis.errors import USER_ERRORS, user_message

__all__ = ["describe_file", "summarize_embedding"]

# Rows per block when scanning a matrix: bounded temporaries even for memory-mapped files.
_BLOCK_VALUES = 1 << 22


def _rows_per_block(d: int) -> int:
    return max(1, _BLOCK_VALUES // max(d, 1))


def _hash_coefficients(d: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per feature (odd: no word is ever ignored)."""
    return np.random.default_rng(0x5EED).integers(1, 2**63, size=d, dtype=np.uint64) | np.uint64(1)


def _count_duplicate_rows(X: np.ndarray) -> int:
    """Rows whose bytes equal those of an earlier row (so n - distinct rows).

    Each row gets a 64-bit hash of its bytes (a random linear combination of its
    32-bit words, modulo 2**64); only rows sharing a hash are compared exactly,
    so a hash collision can never inflate the count.
    """
    n, d = X.shape
    if n < 2 or d == 0:
        return 0
    coeffs = _hash_coefficients(d)
    hashes = np.empty(n, dtype=np.uint64)
    step = _rows_per_block(d)
    for start in range(0, n, step):
        words = np.ascontiguousarray(X[start : start + step], dtype=np.float32).view(np.uint32)
        hashes[start : start + step] = (words.astype(np.uint64) * coeffs).sum(
            axis=1, dtype=np.uint64
        )
    order = np.argsort(hashes, kind="stable")
    same = hashes[order][1:] == hashes[order][:-1]
    if not same.any():
        return 0
    in_group = np.zeros(n, dtype=bool)
    in_group[1:] |= same
    in_group[:-1] |= same
    candidates = np.sort(order[in_group])
    rows = np.ascontiguousarray(X[candidates], dtype=np.float32)
    distinct = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * d))).ravel()).size
    return int(candidates.size - distinct)


def _stat(values: np.ndarray, fn: Any) -> float | None:
    return None if values.size == 0 else float(fn(values))


def _norms_finite_zero(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the L2 norm, whether every entry is finite, whether every entry is zero (one blocked pass)."""
    n, d = X.shape
    norms = np.empty(n, dtype=np.float64)
    finite = np.empty(n, dtype=bool)
    zero = np.empty(n, dtype=bool)
    step = _rows_per_block(d)
    for start in range(0, n, step):
        block = np.asarray(X[start : start + step], dtype=np.float64)
        stop = start + block.shape[0]
        finite[start:stop] = np.isfinite(block).all(axis=1)
        zero[start:stop] = ~(block != 0).any(axis=1)
        # float64 accumulation: a float32 sum of squares of many features loses digits.
        norms[start:stop] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms, finite, zero


def summarize_embedding(emb: Embedding, *, norms: np.ndarray | None = None) -> dict[str, Any]:
    """Shape, classes, norms, duplicates and bad rows of an embedding.

    Parameters
    ----------
    emb : Embedding
    norms : ndarray of shape (n,), optional
        The rows' norms from `analysis.validation.row_norms` (NaN or Inf for a
        row holding NaN or Inf, 0 for an all-zero row), when the caller has
        them: the norm, finiteness and zero-row pass is then skipped and only
        the duplicate hashing reads X.

    Returns
    -------
    dict
        JSON-ready: ``n``, ``d``, ``n_classes``, ``class_sizes`` (class name ->
        count, in code order; empty without labels), ``norm_min``,
        ``norm_mean``, ``norm_median``, ``norm_max`` (L2 norms of the finite
        rows; None if there are none), ``n_duplicate_rows`` (rows byte-identical
        to an earlier row), ``n_nonfinite_rows`` (rows with NaN/Inf),
        ``n_zero_rows`` (all-zero rows), ``dtype`` and ``memory_bytes`` (of X).
    """
    X = emb.X
    n, d = X.shape
    if norms is None:
        norms, finite, zero = _norms_finite_zero(X)
    else:
        norms = np.asarray(norms, dtype=np.float64)
        if norms.shape != (n,):
            raise ValueError(f"norms must hold one value per row ({n}); got shape {norms.shape}. "
                             "Pass analysis.validation.row_norms(emb.X), or leave norms out.")
        finite = np.isfinite(norms)  # a NaN or Inf entry makes its row's norm NaN or Inf
        zero = norms == 0
    good = norms[finite]
    class_sizes: dict[str, int] = {}
    if emb.labels is not None:
        codes, counts = np.unique(emb.labels, return_counts=True)
        class_sizes = {emb.class_name(int(c)): int(k) for c, k in zip(codes, counts, strict=True)}
    return {
        "name": emb.name,
        "n": int(n),
        "d": int(d),
        "n_classes": emb.n_classes,
        "class_sizes": class_sizes,
        "norm_min": _stat(good, np.min),
        "norm_mean": _stat(good, np.mean),
        "norm_median": _stat(good, np.median),
        "norm_max": _stat(good, np.max),
        "n_duplicate_rows": _count_duplicate_rows(X),
        "n_nonfinite_rows": int(n - finite.sum()),
        "n_zero_rows": int((zero & finite).sum()),
        "dtype": str(X.dtype),
        "memory_bytes": int(X.nbytes),
        "has_metadata": emb.metadata is not None,
        "metadata_columns": [] if emb.metadata is None else list(emb.metadata.columns),
    }


def describe_file(
    path: str | os.PathLike,
    *,
    key: str | None = None,
    pooling: str | None = None,
    label_column: str | None = None,
) -> dict[str, Any]:
    """Describe a RepLens run or an embedding file, never raising.

    Parameters
    ----------
    path : str or os.PathLike
    key, pooling, label_column
        Passed to `load_embedding_report` for embedding files (needed for a
        container with several arrays, or for 3-D activations).

    Returns
    -------
    dict
        ``{"ok": False, "error": message}`` for any problem. Otherwise ``ok``,
        ``kind`` ("run" or "embedding"), ``path``, ``file_size_bytes`` and
        ``file_size`` (human-readable), then for a run its ``Run.describe()``
        and for an embedding: ``format``, ``shape`` and ``dtype`` as stored
        (before pooling, casting and dropping rows),
        the `summarize_embedding` fields (rows with NaN/Inf are counted in
        ``n_nonfinite_rows`` and left out of the other statistics) and the
        load report's ``cast_from``, ``pooling``, ``key``, ``labels_from``,
        ``memory_mapped`` and ``notes``.
    """
    p = Path(path)
    try:
        if not p.is_file():
            what = "is a directory, not a file" if p.is_dir() else "no such file"
            return {"ok": False, "error": f"{p.name or p}: {what} ({p})."}
        size = p.stat().st_size
        base = {
            "ok": True,
            "path": str(p),
            "file_size_bytes": int(size),
            "file_size": format_bytes(size),
        }
        if p.suffix.lower() == ".safetensors" and is_run_file(p):
            run = load_run(p)
            return {**base, "kind": "run", **run.describe()}
        # "drop" so that rows with NaN/Inf are counted rather than fatal: info should
        # report a broken file's problems, not stop at the first one.
        emb, report = load_embedding_report(
            p, key=key, pooling=pooling, label_column=label_column, nonfinite="drop"
        )
        summary = summarize_embedding(emb)
        summary["n_nonfinite_rows"] = report.dropped_nonfinite_rows
        return {
            **base,
            "kind": "embedding",
            "format": report.format,
            "shape": list(report.original_shape),
            **summary,
            "dtype": report.original_dtype,  # as stored; X itself is always float32
            "cast_from": report.cast_from,
            "pooling": report.pooling,
            "key": report.key,
            "labels_from": report.labels_from,
            "memory_mapped": report.memory_mapped,
            "notes": list(report.notes),
        }
    except USER_ERRORS as exc:  # what bad input raises: the user's message, by kind
        return {"ok": False, "error": user_message(exc, p.name)}
    except Exception as exc:  # the CLI prints this instead of a traceback
        return {
            "ok": False,
            "error": f"{p.name}: could not be read ({type(exc).__name__}: {exc}).",
        }
