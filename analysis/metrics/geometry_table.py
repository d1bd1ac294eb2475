"""Sphere, isotropy and spectrum metrics over a whole Run: one row per (layer, checkpoint)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from analysis.data.schema import Run
from analysis.metrics.collapse_table import layer_step_cells, split_rows
from analysis.metrics.intrinsic_dimension import intrinsic_dimension
from analysis.metrics.isotropy import isotropy
from analysis.metrics.spectrum import effective_rank
from analysis.metrics.sphere import alignment, uniformity
from analysis.validation import ProgressFn

__all__ = ["GEOMETRY_COLUMNS", "geometry_row", "geometry_table"]


GEOMETRY_COLUMNS = (
    "uniformity", "uniform_reference", "alignment", "iso_score", "mean_cosine", "partition_isotropy",
    "effective_rank",
    "intrinsic_dimension", "n_features", "intrinsic_dimension_recall",
)  # fmt: skip
# intrinsic_dimension_recall: recall@2 of the approximate neighbour search TwoNN read (null when exact).


def geometry_row(X: np.ndarray, labels: np.ndarray | None) -> dict[str, float | None]:
    """Every geometry number of one embedding (alignment over same-class pairs, None without labels)."""
    uni = uniformity(X)
    iso = isotropy(X)
    aligned = None
    if labels is not None:
        try:
            aligned = alignment(X, labels=labels).value
        except ValueError:  # no class with two samples: no positive pair
            aligned = None
    try:
        twonn = intrinsic_dimension(X)
        dimension, recall = twonn.dimension, twonn.knn_recall
    except ValueError:  # too few distinct points
        dimension, recall = None, None
    return {
        "uniformity": uni.value, "uniform_reference": uni.uniform_reference, "alignment": aligned,
        "iso_score": iso.iso_score, "mean_cosine": iso.mean_cosine,
        "partition_isotropy": iso.partition_isotropy, "effective_rank": effective_rank(X).effective_rank,
        "intrinsic_dimension": dimension, "n_features": float(X.shape[1]), "intrinsic_dimension_recall": recall,
    }


def geometry_table(
    run: Run,
    *,
    split: str | None = None,
    rows: np.ndarray | None = None,
    layers: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """Uniformity, alignment (same-class pairs), isotropy, effective rank and TwoNN dimension per layer and step.

    Parameters
    ----------
    run : Run
    split : str or None, default=None
        Rows of one metadata split, or all rows.
    rows : ndarray of int, optional
        Row ids to measure instead of a split's (e.g. a `Selection`'s ``row_ids``);
        give `split` or `rows`, not both.
    layers, steps : sequence, optional
    progress : callable (fraction, message) -> None, optional

    Returns
    -------
    polars.DataFrame
        Columns ``layer``, ``step``, then `GEOMETRY_COLUMNS` (null where undefined).
    """
    if rows is not None and split is not None:
        raise ValueError("give split or rows, not both.")
    rows = split_rows(run, split) if rows is None else np.asarray(rows, dtype=np.int64)
    labels = run.labels if rows is None or run.labels is None else run.labels[rows]
    records = []
    for layer, step in layer_step_cells(run, layers, steps, progress):
        X = np.asarray(run.activations[(layer, step)], dtype=np.float32)
        if rows is not None:
            X = X[rows]
        records.append({"layer": layer, "step": step} | geometry_row(X, labels))
    schema = {"layer": pl.Utf8, "step": pl.Int64} | {name: pl.Float64 for name in GEOMETRY_COLUMNS}
    return pl.DataFrame(records, schema=schema, orient="row")
