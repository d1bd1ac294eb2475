"""The estimators side by side: does each say the last hidden layer compresses, run by run, in numbers and words.

Fixed binning (Shwartz-Ziv & Tishby 2017) shows a tanh network compressing
and, per Saxe et al. (2018), a ReLU network not; Chelombiev, Houghton &
O'Donnell (2019) found compression with ReLU too once the bins (entropy-based
adaptive binning) and the KDE noise (adaptive KDE) follow the layer's
activity. `compression_panel` measures what each estimator says on the chosen
runs: for the last hidden layer, the peak of I(X;T) over training, its value
at the end, and the drop between them; `COMPRESSION_MIN_BITS` decides the
verdict. Nothing here is fixed in advance: the sentences are read off the
numbers.

References: R. Shwartz-Ziv and N. Tishby, arXiv:1703.00810 (2017); A. M. Saxe
et al., ICLR 2018; I. Chelombiev, C. J. Houghton and C. O'Donnell, ICLR 2019.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from analysis.data import Run
from analysis.metrics.information_table import information_plane_table
from analysis.metrics.information_validation import EstimatorSettings
from analysis.validation import ProgressFn

__all__ = [
    "COMPARED_SETTINGS",
    "COMPRESSION_MIN_BITS",
    "CompressionPanel",
    "compression_panel",
    "compression_table",
    "last_hidden_layer",
]

# The estimators compared, each at its paper's setting: 30 bins (Shwartz-Ziv & Tishby), noise variance
# 0.1 (Saxe et al.), and the adaptive ones at the same numbers (30 equal-mass bins; 0.1 x max|t|^2).
COMPARED_SETTINGS = {
    "binning": EstimatorSettings(estimator="binning"),
    "adaptive_binning": EstimatorSettings(estimator="adaptive_binning"),
    "kde": EstimatorSettings(estimator="kde"),
    "adaptive_kde": EstimatorSettings(estimator="adaptive_kde"),
}
# A drop of I(X;T) from its peak to the end of training smaller than this is no compression.
COMPRESSION_MIN_BITS = 0.1


def last_hidden_layer(run: Run) -> str:
    """The layer the comparison reads: the run's last recorded layer (before the softmax output)."""
    if not run.layers:
        raise ValueError(f"run {run.name!r} records no layers; the comparison needs a hidden layer.")
    return run.layers[-1]


def compression_table(run: Run, *, settings: EstimatorSettings, range_mode: str = "run",
                      progress: ProgressFn | None = None) -> pl.DataFrame:
    """`information_plane_table` of the last hidden layer only, every checkpoint, under `settings`."""
    return information_plane_table(run, estimator=settings.estimator, n_bins=settings.n_bins,
                                   bin_width=settings.bin_width, range_mode=range_mode,
                                   noise_variance=settings.noise_variance, k=settings.k,
                                   layers=[last_hidden_layer(run)], include_output=False, progress=progress)


@dataclass(frozen=True, eq=False)
class CompressionPanel:
    """What each estimator says about each run's last hidden layer.

    Attributes
    ----------
    table : polars.DataFrame
        One row per (estimator, run): ``estimator``, ``run``, ``layer``, ``peak_i_xt`` (bits),
        ``peak_time`` (epoch, or step without an epoch curve), ``final_i_xt``, ``drop``
        (peak - final, bits), ``compresses`` (drop >= `COMPRESSION_MIN_BITS`), ``time_unit``.
    sentences : list of str
        One per estimator, read off the table ("Adaptive binning: ib_tanh compresses (...); ...").
    """

    table: pl.DataFrame
    sentences: list[str]


def _summary(table: pl.DataFrame) -> dict:
    """Peak, time of the peak, final value and drop of I(X;T) of one layer's table."""
    ordered = table.sort("step")
    unit = "epoch" if ordered["epoch"].null_count() == 0 else "step"
    values = ordered["i_xt"].to_list()
    peak = max(range(len(values)), key=values.__getitem__)  # the first checkpoint at the maximum
    return {"layer": ordered["layer"][0], "peak_i_xt": values[peak], "peak_time": float(ordered[unit][peak]),
            "final_i_xt": values[-1], "drop": values[peak] - values[-1], "time_unit": unit}


def _when(row: dict) -> str:
    """The peak's time in words: "initialisation", "epoch 0.57", "epoch 119", "step 2,000"."""
    t = row["peak_time"]
    if t == 0:
        return "initialisation"
    return f"{row['time_unit']} {t:,.0f}" if t >= 10 else f"{row['time_unit']} {t:.2g}"


def _verdict(run: str, row: dict, first: bool | None) -> str:
    """One run's clause: compresses (by how much, from when) or not; "too" / "either" after a first run alike."""
    if row["compresses"]:
        word = "compresses too" if first is True else "compresses"
        return (f"{run} {word} (I(X;T) of {row['layer']} falls by {row['drop']:.2f} bits after {_when(row)}, "
                f"from {row['peak_i_xt']:.2f} to {row['final_i_xt']:.2f})")
    word = "does not either" if first is False else "does not compress"
    return (f"{run} {word} (I(X;T) of {row['layer']} ends {row['drop']:.2f} bits below its peak of "
            f"{row['peak_i_xt']:.2f}, under the {COMPRESSION_MIN_BITS:g}-bit threshold)")


def compression_panel(tables: Mapping[tuple[str, str], pl.DataFrame], *,
                      labels: Mapping[str, str] | None = None,
                      estimators: Sequence[str] | None = None) -> CompressionPanel:
    """The comparison from per-(estimator, run label) tables of one layer (`compression_table`).

    ``labels`` names the estimators in the sentences (default their keys);
    ``estimators`` orders them (default the order of first appearance).
    """
    if not tables:
        raise ValueError("compression_panel needs at least one (estimator, run) table.")
    order = list(estimators) if estimators is not None else list(dict.fromkeys(e for e, _ in tables))
    rows, sentences = [], []
    for estimator in order:
        runs = [run for e, run in tables if e == estimator]
        clauses, first = [], None
        for i, run in enumerate(runs):
            row = {"estimator": estimator, "run": run, **_summary(tables[(estimator, run)])}
            row["compresses"] = bool(row["drop"] >= COMPRESSION_MIN_BITS)
            rows.append(row)
            clauses.append(_verdict(run, row, first))
            if i == 0:
                first = row["compresses"]
        name = (labels or {}).get(estimator, estimator)
        sentences.append(f"{name}: {'; '.join(clauses)}.")
    columns = ["estimator", "run", "layer", "peak_i_xt", "peak_time", "final_i_xt", "drop", "compresses",
               "time_unit"]
    return CompressionPanel(table=pl.DataFrame(rows).select(columns), sentences=sentences)
