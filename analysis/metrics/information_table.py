"""The information plane of a whole Run: I(X;T) and I(T;Y) per (layer, checkpoint)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.special import softmax

from analysis.data.schema import Run
from analysis.metrics.collapse_table import layer_step_cells
from analysis.metrics.information import information_plane_point
from analysis.metrics.information_adaptive import adaptive_bin_edges
from analysis.validation import ProgressFn, check_option

__all__ = ["OUTPUT_LAYER", "RANGE_MODES", "information_plane_table", "layer_values"]


OUTPUT_LAYER = "output"
# "run": one bin range per layer, its min and max over every checkpoint, so a
# layer's bins stay put while it trains (Shwartz-Ziv & Tishby bin tanh layers
# over the fixed [-1, 1]); "checkpoint": each checkpoint's own min and max.
RANGE_MODES = ("run", "checkpoint")


def layer_values(run: Run, layer: str, step: int) -> np.ndarray:
    """A hidden layer's activations, or the softmax of the logits for `OUTPUT_LAYER`, as float64."""
    if layer == OUTPUT_LAYER:
        return softmax(np.asarray(run.logits[int(step)], dtype=np.float64), axis=1)
    return np.asarray(run.activations[(layer, int(step))], dtype=np.float64)


def _epochs(run: Run, steps: Sequence[int]) -> list[float | None]:
    """Each step's epoch, when the run's curves record epochs against steps."""
    curve_steps, epochs = run.curves.get("step"), run.curves.get("epoch")
    if not curve_steps or not epochs:
        return [None] * len(steps)
    return [float(e) for e in np.interp(steps, curve_steps, epochs)]


def information_plane_table(
    run: Run,
    *,
    estimator: str = "binning",
    n_bins: int = 30,
    bin_width: float | None = None,
    range_mode: str = "run",
    noise_variance: float = 0.1,
    k: int = 3,
    layers: Sequence[str] | None = None,
    steps: Sequence[int] | None = None,
    include_output: bool = True,
    progress: ProgressFn | None = None,
) -> pl.DataFrame:
    """`information_plane_point` for each layer and checkpoint of a run, on all its rows.

    Every row of the run is one input x (the 12-bit task records all 4,096),
    so the estimates describe the whole input distribution, as in
    Shwartz-Ziv & Tishby (2017). With ``include_output`` the network's output
    layer, the softmax of the recorded logits, comes last as ``"output"``.

    Parameters
    ----------
    run : Run
        Needs labels.
    estimator, n_bins, bin_width, noise_variance, k
        As in `information_plane_point`.
    range_mode : {"run", "checkpoint"}, default="run"
        Binning only: bins over each layer's range across all checkpoints
        (fixed in time; fixed-width bins start at that range's minimum), or
        over each checkpoint's own range. Adaptive binning: each unit's
        equal-mass edges from its activations at every checkpoint (the
        edges stay put, so a unit that concentrates shows it), or from each
        checkpoint's own (every unit's bins equally full at every checkpoint).
    layers, steps : sequence, optional
        Subsets of ``run.layers`` / ``run.steps`` (default all).
    include_output : bool, default=True
        Add the softmax output layer when the run has logits at every step.
    progress : callable (fraction, message) -> None, optional

    Returns
    -------
    polars.DataFrame
        Columns ``layer``, ``step``, ``epoch`` (null without an epoch curve),
        ``i_xt``, ``i_ty`` (bits, clipped at 0), ``i_xt_raw``, ``i_ty_raw``
        (the estimates before clipping: KSG's can dip below 0, see
        `InformationPoint`), ``n_units``, ``setting``; rows by layer
        (input to output) then step.
    """
    if run.labels is None:
        raise ValueError("the information plane needs labels (I(T;Y)); this run has none.")
    check_option(range_mode, RANGE_MODES, what="range_mode")
    steps = [int(s) for s in (run.steps if steps is None else steps)]
    layers = list(run.layers if layers is None else layers)
    if include_output and OUTPUT_LAYER not in layers and run.logits and all(s in run.logits for s in steps):
        layers.append(OUTPUT_LAYER)
    ranges: dict[str, tuple[float, float] | None] = {}
    edges: dict[str, list[np.ndarray] | None] = {}
    for layer in layers:
        ranges[layer], edges[layer] = None, None
        if estimator == "binning" and range_mode == "run":
            values = [layer_values(run, layer, s) for s in steps]
            ranges[layer] = (min(float(v.min()) for v in values), max(float(v.max()) for v in values))
        elif estimator == "adaptive_binning" and range_mode == "run":
            edges[layer] = adaptive_bin_edges(np.vstack([layer_values(run, layer, s) for s in steps]), n_bins)
    epochs = dict(zip(steps, _epochs(run, steps), strict=True))
    records = []
    for layer, step in layer_step_cells(run, layers, steps, progress):
        T = layer_values(run, layer, step)
        point = information_plane_point(T, run.labels, estimator=estimator, n_bins=n_bins, bin_width=bin_width,
                                        value_range=ranges[layer], noise_variance=noise_variance, k=k,
                                        bin_edges=edges[layer])
        records.append({"layer": layer, "step": step, "epoch": epochs[step], "i_xt": point.i_xt,
                        "i_ty": point.i_ty, "i_xt_raw": point.i_xt_raw, "i_ty_raw": point.i_ty_raw,
                        "n_units": T.shape[1], "setting": point.setting})
    schema = {"layer": pl.Utf8, "step": pl.Int64, "epoch": pl.Float64, "i_xt": pl.Float64, "i_ty": pl.Float64,
              "i_xt_raw": pl.Float64, "i_ty_raw": pl.Float64, "n_units": pl.Int64, "setting": pl.Utf8}
    return pl.DataFrame(records, schema=schema, orient="row")
