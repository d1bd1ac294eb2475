"""Neural collapse over a whole Run: one row per (layer, checkpoint)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl

from analysis.data.schema import Run
from analysis.metrics.collapse_centring import check_centring
from analysis.metrics.neural_collapse import NeuralCollapse, neural_collapse
from analysis.validation import ProgressFn

__all__ = ["collapse_inputs", "layer_step_cells", "neural_collapse_table", "split_rows"]


def split_rows(run: Run, split: str | None) -> np.ndarray | None:
    """Row indices of a split ("train", "test", ...); None means all rows (`Run.rows`)."""
    return run.rows(split)


def layer_step_cells(
    run: Run,
    layers: Sequence[str] | None,
    steps: Sequence[int] | None,
    progress: ProgressFn | None,
) -> Iterator[tuple[str, int]]:
    """Every (layer, step) of a per-cell table, in layer then step order, reporting progress after each."""
    layers = list(run.layers if layers is None else layers)
    steps = [int(s) for s in (run.steps if steps is None else steps)]
    total = len(layers) * len(steps)
    done = 0
    for layer in layers:
        for step in steps:
            yield layer, step
            done += 1
            if progress is not None:
                progress(done / total, f"{layer} · step {step} ({done}/{total})")


def collapse_inputs(run: Run, layer: str, step: int, rows: np.ndarray | None) -> dict:
    """Keyword arguments of `neural_collapse` for one layer and checkpoint of `run`.

    The network's predictions (argmax of the recorded logits) serve NC4 at every
    layer: at the last hidden layer it is Papyan's NC4, at earlier ones it says
    how far a nearest-class-mean rule on that layer agrees with the network
    (as in Rangamani et al. 2023, "Feature learning in deep classifiers
    through intermediate neural collapse"). The classifier (NC3) applies only
    to the layer that feeds it: the last one, when its width matches. Rows of
    classes the head has no row for (held-out classes) get neither.
    """
    if run.labels is None:
        raise ValueError(
            f"run {run.name or ''!r} has no labels; neural collapse needs a class per sample."
        )
    X = run.activations[(layer, int(step))]
    labels = run.labels
    predictions = run.predictions(step)
    if rows is not None:
        X, labels = X[rows], labels[rows]
        predictions = None if predictions is None else predictions[rows]
    head = run.classifier.get(int(step))
    logits = run.logits.get(int(step))
    n_head = head[0].shape[0] if head is not None else None if logits is None else logits.shape[1]
    if n_head is not None and labels.size and int(labels.max()) >= n_head:
        # Rows of classes the network never trained on (a lab's held-out classes): the head has no row
        # for them, so NC3 and NC4 are undefined on these rows.
        return {"features": X, "labels": labels, "predictions": None}
    kwargs: dict = {"features": X, "labels": labels, "predictions": predictions}
    if head is not None and layer == run.layers[-1] and head[0].shape[1] == X.shape[1]:
        kwargs["classifier"], kwargs["bias"] = head
    return kwargs


def neural_collapse_table(
    run: Run,
    *,
    split: str | None = "train",
    rows: np.ndarray | None = None,
    layers: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    progress: ProgressFn | None = None,
    mu_g: str = "class_means",
) -> pl.DataFrame:
    """Every scalar of `neural_collapse` for each layer and checkpoint of a run.

    Parameters
    ----------
    run : Run
        Needs labels; classifier weights and logits are used when present
        (see `collapse_inputs`).
    split : str or None, default="train"
        Rows of this metadata split ("train", "test", ...); None or "all" for
        every row. Neural collapse is a statement about the training data, so
        train is the default; test shows how far it generalises.
    rows : ndarray of int, optional
        Row ids to measure instead of the split's (e.g. a `Selection`'s
        ``row_ids``); `split` then only names them in the ``split`` column.
    layers, steps : sequence, optional
        Subsets of ``run.layers`` / ``run.steps`` (default all).
    progress : callable (fraction, message) -> None, optional
    mu_g : {"class_means", "samples"}, default="class_means"
        The centring of the class means (`neural_collapse`'s ``mu_g``).

    Returns
    -------
    polars.DataFrame
        Columns ``layer``, ``step``, ``split``, ``n_samples``, then the names in
        ``NeuralCollapse.SCALARS`` (null where undefined, e.g. ``nc3`` away from
        the last layer). Rows ordered by layer (input to output) then step.
    """
    mu_g = check_centring(mu_g)  # refused before the first cell, not after a layer's worth of work
    rows = split_rows(run, split) if rows is None else np.asarray(rows)
    records = []
    for layer, step in layer_step_cells(run, layers, steps, progress):
        result = neural_collapse(**collapse_inputs(run, layer, step, rows), mu_g=mu_g)
        records.append(
            {"layer": layer, "step": step, "split": split or "all", "n_samples": result.n_samples}
            | result.scalars()
        )
    schema = {"layer": pl.Utf8, "step": pl.Int64, "split": pl.Utf8, "n_samples": pl.Int64} | {
        name: pl.Float64 for name in NeuralCollapse.SCALARS
    }
    return pl.DataFrame(records, schema=schema, orient="row")
