"""The Information plane page's numbers: each run's plane table, the runs' notes, and the estimator check.

The page plots every layer of each chosen run over every checkpoint and
every input (train and test rows alike: each row of a 12-bit run is one of
the 4,096 inputs, and I(X;T) is over the whole input distribution, as in
Shwartz-Ziv & Tishby 2017), so nothing here takes the sidebar's Selection;
a panel takes a whole `Run`.

- `plane_panel`: `information_plane_table` of one run under one estimator
  setting, with the layers whose I(X;T) sits at the ceiling log2(n).
- `saturation_note` and `combined_table`: the sentence and the table the
  page shows across the chosen runs (no computation beyond the tables).
- `validation_panel`: `estimator_validation` (estimate against exact truth
  on Gaussian and bit cases) with its largest error in words.
- `lab_config` and the re-exported `INFORMATION_PRESETS` /
  `train_information_lab`: the Train tab's 12-bit network.

References: R. Shwartz-Ziv and N. Tishby, arXiv:1703.00810 (2017); A. M. Saxe
et al., ICLR 2018; A. Kolchinsky and B. D. Tracey, Entropy 19(7), 2017;
A. Kraskov, H. Stögbauer and P. Grassberger, Phys. Rev. E 69, 2004.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from analysis.data import Run
from analysis.metrics.information_table import RANGE_MODES, information_plane_table
from analysis.metrics.information_validation import EstimatorSettings, estimator_validation
from analysis.models.information_lab import (
    INFORMATION_PRESETS,
    InformationLabConfig,
    train_information_lab,
)
from analysis.validation import ProgressFn

__all__ = [
    "ADAPTIVE_RANGE_LABELS",
    "ESTIMATOR_LABELS",
    "RANGE_LABELS",
    "RANGE_MODES",
    "SATURATION_MARGIN",
    "INFORMATION_PRESETS",
    "EstimatorSettings",
    "InformationLabConfig",
    "PlanePanel",
    "ValidationPanel",
    "clipping_note",
    "combined_table",
    "describe_settings",
    "lab_config",
    "plane_panel",
    "saturation_note",
    "train_information_lab",
    "validation_panel",
]

ESTIMATOR_LABELS = {"binning": "Binning", "adaptive_binning": "Adaptive binning (equal-mass bins)",
                    "kde": "KDE upper bound", "adaptive_kde": "Adaptive KDE (noise scaled to the layer)",
                    "ksg": "KSG (k nearest neighbours)"}
# The "Bins cover" choice in words for adaptive binning: where each unit's equal-mass edges come from.
ADAPTIVE_RANGE_LABELS = {"run": "unit's values over all checkpoints", "checkpoint": "unit's values at each checkpoint"}
RANGE_LABELS = {"run": "layer's range over all checkpoints", "checkpoint": "each checkpoint's own range"}
# A layer counts as at the ceiling when its I(X;T) is within this many bits of log2(n).
SATURATION_MARGIN = 0.05


def describe_settings(settings: EstimatorSettings, range_mode: str) -> str:
    """The estimator's settings in words ("30 bins per unit over the layer's range over all checkpoints")."""
    if settings.estimator == "binning":
        bins = f"{settings.n_bins} bins" if settings.bin_width is None else f"bins {settings.bin_width:g} wide"
        return f"{bins} per unit over the {RANGE_LABELS[range_mode]}"
    if settings.estimator == "adaptive_binning":
        return f"{settings.n_bins} equal-mass bins per unit, edges from the {ADAPTIVE_RANGE_LABELS[range_mode]}"
    if settings.estimator == "adaptive_kde":
        return f"noise variance {settings.noise_variance:g} × the layer's largest activation squared, max|t|²"
    k = f", k = {settings.k}" if settings.estimator == "ksg" else ""
    return f"noise variance {settings.noise_variance:g}{k}"


@dataclass(frozen=True, eq=False)
class PlanePanel:
    """One run's information plane under one estimator setting.

    Attributes
    ----------
    table : polars.DataFrame
        `information_plane_table(run, ...)`: one row per (layer, checkpoint) with i_xt and i_ty in bits.
    n_samples : int
        Inputs of the run (every row).
    ceiling : float
        log2(n_samples): no sample-based estimate of I(X;T) exceeds it (each input in its own bin or kernel).
    saturated_layers : list of str
        Layers with some checkpoint whose I(X;T) > ceiling - `SATURATION_MARGIN`, sorted: there the
        estimate cannot show compression.
    """

    table: pl.DataFrame
    n_samples: int
    ceiling: float
    saturated_layers: list[str]


def plane_panel(run: Run, *, settings: EstimatorSettings, range_mode: str = "run",
                progress: ProgressFn | None = None) -> PlanePanel:
    """`information_plane_table` of every layer and checkpoint of `run` on all its rows, and its saturated layers."""
    table = information_plane_table(run, estimator=settings.estimator, n_bins=settings.n_bins,
                                    bin_width=settings.bin_width, range_mode=range_mode,
                                    noise_variance=settings.noise_variance, k=settings.k, progress=progress)
    ceiling = math.log2(run.n_samples)
    stuck = table.filter(pl.col("i_xt") > ceiling - SATURATION_MARGIN)["layer"].unique().to_list()
    return PlanePanel(table=table, n_samples=int(run.n_samples), ceiling=ceiling, saturated_layers=sorted(stuck))


def saturation_note(panels: Mapping[str, PlanePanel]) -> str | None:
    """One sentence naming, per run label, the layers at log2(n); None when no layer is there."""
    lines = [f"{label}: {', '.join(p.saturated_layers)}" for label, p in panels.items() if p.saturated_layers]
    if not lines:
        return None
    return (f"At log2(n), the most n inputs can give (every input in its own bin or kernel), I(X;T) cannot show "
            f"compression: {'; '.join(lines)}. Fewer bins or more noise make room.")


def clipping_note(panels: Mapping[str, PlanePanel], settings: EstimatorSettings) -> str | None:
    """For KSG, one sentence: the plot shows max(0, raw), why a raw estimate can be negative, the lowest here.

    KSG (Kraskov et al. 2004; Ross 2014) is a difference of digamma averages whose
    sampling noise straddles the true value, so where the truth is near 0 a raw
    estimate can fall below it; mutual information itself is never negative
    (`analysis.metrics.ksg`). None for the other estimators.
    """
    if settings.estimator != "ksg" or not panels:
        return None
    lowest = None
    for label, p in panels.items():
        for column, name in (("i_xt_raw", "I(X;T)"), ("i_ty_raw", "I(T;Y)")):
            row = p.table.sort(column).row(0, named=True)
            if lowest is None or row[column] < lowest[0]:
                lowest = (row[column], f"{name} of {row['layer']} at step {row['step']:,} in {label}")
    value, where = lowest
    found = (f"the lowest raw estimate here is {value:+.4f} bits ({where})" if value < 0 else
             "none of the raw estimates here is negative")
    return ("KSG's raw estimate can dip slightly below 0 where the true information is near 0: the estimator's "
            "sampling noise straddles the truth, but mutual information is never negative. The plot shows the "
            f"clipped reading max(0, raw); the table under \"The numbers\" lists both (i_xt_raw, i_ty_raw); {found}.")


def combined_table(panels: Mapping[str, PlanePanel]) -> pl.DataFrame:
    """Every run's table, one after the other, with a "run" column holding its label."""
    return pl.concat([p.table.with_columns(pl.lit(label).alias("run")) for label, p in panels.items()])


_TRUTH_NOTE = {
    "binning": "For binning the truth is I(X; binned T) = H(binned T), exact from the normal CDF over bins spanning "
               "±4 standard deviations. The plug-in estimate falls short once the bins outnumber the samples "
               "(d = 5 and 10 here): I(X;T) is then about log2(n), whatever the layer does.",
    "kde": "The truth is I(X; T + noise) = d/2 · log2(1 + 1/σ²). The KDE estimate is an upper bound "
           "(Kolchinsky & Tracey 2017): about 0.65 bits per dimension too high at σ² = 0.1 in one dimension, and "
           "capped at log2(n) in many dimensions.",
    "adaptive_binning": "Equal-mass bins make every coordinate uniform over its bins, so the truth is "
                        "I(X; binned T) = d · log2(bins), and I(binned T; Y) = 1 bit when the bin count is even (a "
                        "bin edge at the median 0), else 1 − 1/bins. Like fixed binning, the estimate stops at "
                        "log2(n) once the bins' combinations outnumber the samples.",
    "adaptive_kde": "The noise variance is the chosen factor times this sample's max|t|², and the truth is "
                    "I(X; T + noise) = d/2 · log2(1 + 1/σ²) at that σ². An upper bound like KDE (Kolchinsky & "
                    "Tracey 2017); the scaling makes it the same for T and cT (Chelombiev et al. 2019).",
    "ksg": "The truth is I(X; T + noise) = d/2 · log2(1 + 1/σ²). KSG is nearly unbiased in one or two "
           "dimensions and underestimates more and more as d and the information grow (Kraskov et al. 2004; "
           "Gao et al. 2015).",
}


@dataclass(frozen=True, eq=False)
class ValidationPanel:
    """The Estimator check tab for one setting.

    Attributes
    ----------
    table : polars.DataFrame
        `estimator_validation(settings)`: family, n, d, quantity, truth, estimate, error (bits).
    worst : dict
        The row with the largest absolute error (first such row in the table's order).
    summary : str
        That row in words.
    truth_note : str
        How the truth is computed for this estimator, and where it is known to be biased.
    """

    table: pl.DataFrame
    worst: dict[str, Any]
    summary: str
    truth_note: str


def validation_panel(settings: EstimatorSettings, *, progress: ProgressFn | None = None) -> ValidationPanel:
    """`estimator_validation(settings)` and its largest error in words."""
    table = estimator_validation(settings, progress=progress)
    worst = table.sort(pl.col("error").abs(), descending=True).row(0, named=True)
    summary = (f"Largest error: {worst['error']:+.2f} bits on {worst['quantity']} of the {worst['family']} case "
               f"(n = {worst['n']:,}, d = {worst['d']}; truth {worst['truth']:.2f}). Points below the diagonal "
               "underestimate: no sample-based estimate exceeds log2(n) bits.")
    return ValidationPanel(table=table, worst=worst, summary=summary, truth_note=_TRUTH_NOTE[settings.estimator])


def lab_config(*, activation: str, epochs: int, lr: float, seed: int, batch_size: int, train_fraction: float,
               n_checkpoints: int) -> InformationLabConfig:
    """The Train tab's form: the shipped tanh preset with these settings (`InformationLabConfig` checks them)."""
    return replace(INFORMATION_PRESETS["tanh"], activation=activation, epochs=int(epochs), lr=float(lr),
                   seed=int(seed), batch_size=int(batch_size), train_fraction=float(train_fraction),
                   n_checkpoints=int(n_checkpoints))
