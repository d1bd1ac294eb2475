"""Codebook usage of a vector quantiser: how many of its K codes a model really uses, and for what."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from analysis.data.limits import format_bytes, memory_budget_bytes
from analysis.metrics._result import MetricResult
from analysis.validation import check_labels, check_matrix, check_squares

__all__ = ["CodebookUsage", "codebook_usage", "codebook_usage_table"]


@dataclass(frozen=True, eq=False)
class CodebookUsage(MetricResult):
    """Result of :func:`codebook_usage`.

    Attributes
    ----------
    counts : ndarray of shape (K,), int64
        How often each code is used.
    perplexity : float
        ``exp(H)`` of the usage distribution (nats, 0 log 0 = 0): the number of
        equally used codes with the same entropy; between 1 and K.
    dead_codes : ndarray of int64
        Ids of codes never used (ascending).
    dead_fraction : float
        ``len(dead_codes) / K``.
    utilization : float
        ``1 - dead_fraction``: share of codes used at least once.
    normalized_entropy : float
        ``H / log K`` in [0, 1] (1 for K = 1 by convention, see `codebook_usage`).
    codebook_size, n_codes : int
    mutual_information, purity : float or None
        With labels: I(code; label) in nats, and the share of samples whose label is
        their code's most common label.
    quantization_error : ndarray of shape (K,) or None
        With codebook and vectors: mean squared distance of each code's vectors to the
        code (NaN for a dead code).
    dead_code_distance : ndarray of shape (n_dead,) or None
        With codebook and vectors: each dead code's distance to its nearest vector.
    """

    counts: np.ndarray
    perplexity: float
    dead_codes: np.ndarray
    dead_fraction: float
    utilization: float
    normalized_entropy: float
    codebook_size: int
    n_codes: int
    mutual_information: float | None = None
    purity: float | None = None
    quantization_error: np.ndarray | None = None
    dead_code_distance: np.ndarray | None = None

    SCALARS: ClassVar[tuple[str, ...]] = ("perplexity", "dead_fraction", "utilization", "normalized_entropy",
                                          "mutual_information", "purity")


def _check_codes(codes: Any, codebook_size: Any) -> tuple[np.ndarray, int]:
    if isinstance(codebook_size, bool) or not isinstance(codebook_size, (int, np.integer)) or codebook_size < 1:
        raise ValueError(f"codebook_size must be a positive integer K; got {codebook_size!r}.")
    K = int(codebook_size)
    # counts, probabilities and the dead-code list are K-long arrays: check the
    # declared size against the memory budget before allocating them.
    needed = 4 * 8 * K
    if needed > memory_budget_bytes():
        raise ValueError(
            f"codebook_size={K:,} needs {format_bytes(needed)} for its per-code counts, over the memory "
            f"budget of {format_bytes(memory_budget_bytes())} (REPLENS_MEMORY_BUDGET). Pass the "
            "codebook's real size K."
        )
    arr = np.asarray(codes)
    if arr.size == 0:
        raise ValueError("codes is empty: usage is undefined without any code. Pass the codes the model assigned.")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"codes must be integer code ids; got dtype {arr.dtype}.")
    flat = arr.reshape(-1).astype(np.int64, copy=False)
    low, high = int(flat.min()), int(flat.max())
    if low < 0 or high >= K:
        raise ValueError(
            f"codes must lie in [0, {K}) for codebook_size={K}; found values from {low} to {high}. "
            "Pass the codebook's real size K, or check the codes."
        )
    return flat, K


def _entropy(probabilities: np.ndarray) -> float:
    nonzero = probabilities[probabilities > 0]  # 0 log 0 = 0
    return float(-(nonzero * np.log(nonzero)).sum())


def codebook_usage(
    codes: Any,
    *,
    codebook_size: int,
    labels: Any = None,
    codebook: Any = None,
    vectors: Any = None,
) -> CodebookUsage:
    """How a vector quantiser's K codes are used.

    .. math::

        p_k = \\frac{c_k}{\\sum_j c_j},\\quad H = -\\sum_k p_k \\log p_k,\\quad
        \\mathrm{perplexity} = e^{H},\\quad \\text{dead} = \\{k : c_k = 0\\}

    (natural logs, 0 log 0 = 0). ``normalized_entropy`` is H / log K (1 when K = 1).

    Parameters
    ----------
    codes : array-like of int
        Code ids in [0, K), any shape (flattened: e.g. (n,) or (n, tokens)).
    codebook_size : int
        K (codes never used still count: that is the point).
    labels : array-like of shape (n_codes,), optional
        One label per code occurrence: adds ``mutual_information`` I(code; label)
        (nats, plug-in estimate) and ``purity``.
    codebook : array-like of shape (K, d), optional
    vectors : array-like of shape (n_codes, d), optional
        The pre-quantisation vectors; with `codebook` adds each code's
        ``quantization_error`` and each dead code's distance to the data.

    Returns
    -------
    CodebookUsage

    Raises
    ------
    ValueError
        Empty codes, codes outside [0, K), K < 1, non-integer codes, or
        labels / codebook / vectors whose shapes do not match.

    Notes
    -----
    Counting uses ``np.bincount`` (one pass, O(n + K)): ten million codes
    with K = 65,536 take a fraction of a second. Invariant to permuting the
    code ids (except the id lists) and to the order of the codes.

    References
    ----------
    .. [1] A. van den Oord, O. Vinyals and K. Kavukcuoglu, "Neural discrete
       representation learning", NeurIPS 2017 (VQ-VAE; codebook perplexity).
    .. [2] A. Razavi, A. van den Oord and O. Vinyals, "Generating diverse
       high-fidelity images with VQ-VAE-2", NeurIPS 2019.
    """
    flat, K = _check_codes(codes, codebook_size)
    counts = np.bincount(flat, minlength=K).astype(np.int64)
    p = counts / flat.size
    entropy = _entropy(p)
    dead = np.flatnonzero(counts == 0).astype(np.int64)
    dead_fraction = dead.size / K
    mutual_information = purity = None
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        if y.size != flat.size:
            raise ValueError(f"labels has {y.size} entries but there are {flat.size} codes; give one label per code.")
        check_labels(y, flat.size, rows_of="codes")  # NaN is a missing label, not a class
        _, y_codes = np.unique(y, return_inverse=True)
        n_labels = int(y_codes.max()) + 1
        # Only the (code, label) pairs that occur: a dense K x L table would be
        # 10 GB for K = 65,536 codes and 20,000 labels.
        pairs, pair_counts = np.unique(flat * n_labels + y_codes.ravel(), return_counts=True)
        label_p = np.bincount(y_codes.ravel(), minlength=n_labels) / flat.size
        mutual_information = max(0.0, entropy + _entropy(label_p) - _entropy(pair_counts / flat.size))
        # pairs are sorted, so each code's pairs are contiguous: its largest count is the majority label's.
        pair_code = pairs // n_labels
        starts = np.flatnonzero(np.r_[True, pair_code[1:] != pair_code[:-1]])
        purity = float(np.maximum.reduceat(pair_counts, starts).sum() / flat.size)
    quantization_error = dead_distance = None
    if codebook is not None or vectors is not None:
        if codebook is None or vectors is None:
            raise ValueError("quantisation error needs both codebook (K, d) and vectors (n_codes, d).")
        C = np.asarray(codebook, dtype=np.float64)
        V = np.asarray(vectors, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] != K:
            raise ValueError(f"codebook must have shape ({K}, d); got {C.shape}.")
        if V.ndim != 2 or V.shape != (flat.size, C.shape[1]):
            raise ValueError(f"vectors must have shape ({flat.size}, {C.shape[1]}), one per code; got {V.shape}.")
        for name, values in (("codebook", C), ("vectors", V)):
            check_matrix(values, name=name, action="measuring the quantisation error")
            check_squares(values, name=name, action="measuring the quantisation error")
        squared = np.sum((V - C[flat]) ** 2, axis=1)
        sums = np.bincount(flat, weights=squared, minlength=K)
        with np.errstate(invalid="ignore", divide="ignore"):
            quantization_error = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        if dead.size:
            dead_distance = np.empty(dead.size)
            for start in range(0, dead.size, 256):  # (256 x n) distances at a time
                block = C[dead[start : start + 256]]
                d2 = (block**2).sum(1)[:, None] - 2 * block @ V.T + (V**2).sum(1)[None, :]
                dead_distance[start : start + 256] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
        else:
            dead_distance = np.empty(0)
    return CodebookUsage(
        counts=counts,
        perplexity=float(math.exp(entropy)),
        dead_codes=dead,
        dead_fraction=float(dead_fraction),
        utilization=float(1.0 - dead_fraction),
        normalized_entropy=1.0 if K == 1 else float(entropy / math.log(K)),
        codebook_size=K,
        n_codes=int(flat.size),
        mutual_information=None if mutual_information is None else float(mutual_information),
        purity=purity,
        quantization_error=quantization_error,
        dead_code_distance=dead_distance,
    )


def codebook_usage_table(run: Any, *, split: str | None = None, rows: Any = None,
                         layers: Any = None) -> Any:
    """Codebook usage for every (layer, checkpoint) of a Run that has codes.

    Parameters
    ----------
    run : analysis.data.Run
        With ``codes[(layer, step)]``; ``codebooks`` give K (else the largest code + 1).
    split : str, optional
        Rows of one metadata split ("train", "test"); default all rows.
    rows : ndarray of int, optional
        Row ids to count instead of a split's (e.g. a `Selection`'s ``row_ids``);
        give `split` or `rows`, not both.
    layers : sequence of str, optional
        Only these layers' codes (default every layer with codes).

    Returns
    -------
    polars.DataFrame
        ``layer``, ``step``, ``codebook_size``, then ``CodebookUsage.SCALARS``.
    """
    import polars as pl

    from analysis.metrics.collapse_table import split_rows

    if not run.codes:
        raise ValueError("this run has no VQ codes; codebook usage needs codes[(layer, step)].")
    if rows is not None and split is not None:
        raise ValueError("give split or rows, not both.")
    rows = split_rows(run, split) if rows is None else np.asarray(rows, dtype=np.int64)
    cells = {cell: codes for cell, codes in run.codes.items() if layers is None or cell[0] in layers}
    records = []
    for (layer, step), codes in sorted(cells.items(), key=lambda item: (run.layers.index(item[0][0])
                                                                             if item[0][0] in run.layers else 0,
                                                                             item[0][1])):
        codebook = run.codebooks.get((layer, step))
        selected = np.asarray(codes) if rows is None else np.asarray(codes)[rows]
        K = int(codebook.shape[0]) if codebook is not None else int(np.asarray(codes).max()) + 1
        labels = None if run.labels is None else (run.labels if rows is None else run.labels[rows])
        result = codebook_usage(selected, codebook_size=K, labels=labels)
        records.append({"layer": layer, "step": int(step), "codebook_size": K} | result.scalars())
    schema = {"layer": pl.Utf8, "step": pl.Int64, "codebook_size": pl.Int64} | {
        name: pl.Float64 for name in CodebookUsage.SCALARS}
    return pl.DataFrame(records, schema=schema, orient="row")
