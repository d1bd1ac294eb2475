"""The Sphere & spectrum page's "Remedies: whitening" tab: the selection before and after each isotropy remedy.

`whitening_panel` fits each chosen remedy (`analysis.metrics.whitening`) on
the selection's rows (the sidebar's split), measures the transformed rows
(IsoScore, mean cosine, uniformity, same-class alignment, kNN accuracy,
effective rank) beside the original, and says in one sentence what to try.
The original's numbers come from the page's layer table and its neighbours
from the selection's shared cosine graph, so nothing is measured twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from analysis.data import Selection
from analysis.metrics.whitening import WhiteningComparison, compare_whitening
from analysis.neighbor_graph import NeighborGraph

__all__ = ["DEFAULT_METHODS", "KNN_K", "REMEDIES", "NeighborGraph", "WhiteningPanel", "fit_splits", "frequency_columns",
           "whitening_panel"]

REMEDIES = {"pca": "PCA whitening", "zca": "ZCA whitening", "abtt": "All-but-the-top",
            "zipfian": "Zipfian whitening (frequency-weighted)"}
DEFAULT_METHODS = ("zca", "abtt")
KNN_K = 10
# kNN accuracies closer than this (about 2 of 1,000 queries) read as "the same" in the advice.
_SAME = 0.002
# A metadata column is offered as item frequencies when its name says so (ids and row numbers are numeric
# and non-negative too, but weighting by them would be meaningless).
_FREQUENCY_NAME = re.compile(r"count|freq|weight|occurr|tokens", re.IGNORECASE)

_COLUMNS = {"label": "", "iso_score": "IsoScore", "mean_cosine": "mean cosine", "uniformity": "uniformity",
            "alignment": "alignment (same class)", "knn_accuracy": f"kNN accuracy (k = {KNN_K}, cosine)",
            "effective_rank": "effective rank", "n_features_out": "d out"}


def fit_splits(sel: Selection) -> list[str]:
    """Values of the selection's metadata column "split" with at least 2 rows, when it holds more than one:
    each can be the rows the remedies are fitted on (e.g. fit on "train", measure on every row)."""
    meta = sel.metadata
    if meta is None or "split" not in meta.columns:
        return []
    counts = meta["split"].cast(pl.Utf8).value_counts()
    values = sorted(str(v) for v, c in zip(counts["split"], counts["count"], strict=True) if v is not None and c >= 2)
    return values if len(values) > 1 else []


def frequency_columns(sel: Selection) -> list[str]:
    """Metadata columns usable as Zipfian item frequencies: numeric, finite, non-negative, named like counts."""
    meta = sel.metadata
    if meta is None:
        return []
    found = []
    for name, dtype in meta.schema.items():
        if dtype.is_numeric() and _FREQUENCY_NAME.search(name):
            values = meta[name].to_numpy().astype(np.float64)
            if np.isfinite(values).all() and (values >= 0).all() and np.count_nonzero(values) >= 2:
                found.append(name)
    return found


@dataclass(frozen=True, eq=False)
class WhiteningPanel:
    """What the Remedies tab draws.

    Attributes
    ----------
    comparison : WhiteningComparison
        The library's result (one row per method, "none" first).
    table : polars.DataFrame
        The same, with readable column names, for display.
    advice : str
        The "try this" sentence, from the numbers.
    notes : tuple of str
        What was dropped or assumed (rank, eps, frequencies).
    """

    comparison: WhiteningComparison
    table: pl.DataFrame
    advice: str
    notes: tuple[str, ...]


def whitening_panel(sel: Selection, *, methods: Sequence[str], frequency_column: str | None = None,
                    eps: float = 0.0, fit_split: str | None = None, baseline: Mapping[str, Any] | None = None,
                    neighbors: NeighborGraph | None = None) -> WhiteningPanel:
    """The selection's rows before ("none") and after each of `methods`, fitted on those rows
    (or on its rows of split `fit_split` only, then applied to all of them).

    `baseline` is the page's `geometry_row` of the selection (the original's
    numbers), `neighbors` its cosine graph (the original's kNN accuracy);
    `frequency_column` names a metadata column of counts for Zipfian whitening.
    """
    X = np.asarray(sel.X)
    notes = []
    frequencies = None
    if frequency_column is not None:
        frequencies = sel.metadata[frequency_column].to_numpy().astype(np.float64)
        notes.append(f"Zipfian whitening weights each row by its '{frequency_column}' (normalised to sum 1).")
    elif "zipfian" in methods:
        notes.append("No frequency column chosen: Zipfian whitening weights every row equally, which is plain "
                     "PCA whitening. It differs on data with item counts in a metadata column (e.g. word "
                     "frequencies).")
    fit_rows = None
    if fit_split is not None:
        if fit_split not in fit_splits(sel):
            raise ValueError(f"fit_split {fit_split!r} is not a split of these rows with 2 or more rows; choose one "
                             f"of {fit_splits(sel)} or None (fit on every row).")
        fit_rows = np.flatnonzero((sel.metadata["split"].cast(pl.Utf8) == fit_split).to_numpy())
        notes.append(f"Fitted on the {fit_rows.size:,} '{fit_split}' rows, applied to all {X.shape[0]:,}: where "
                     "the other rows differ, IsoScore and effective rank fall short of whitening's 1 and d.")
    comparison = compare_whitening(X, sel.labels, methods=("none", *methods), frequencies=frequencies, eps=eps,
                                   fit_rows=fit_rows, k=min(KNN_K, X.shape[0] - 1), neighbors=neighbors,
                                   baseline=baseline)
    # One line per distinct note (the eps note of each whitening is the same words); the panel already said
    # what equal weights mean.
    seen = set()
    for note in comparison.notes:
        message = note.split(": ", 1)[-1]
        if message not in seen and not (frequency_column is None and message.startswith("No frequencies")):
            seen.add(message)
            notes.append(note)
    table = comparison.table.select(list(_COLUMNS)).rename(_COLUMNS)
    table = table.with_columns(pl.col(pl.Float64).round(4))
    return WhiteningPanel(comparison=comparison, table=table, advice=_advice(comparison), notes=tuple(notes))


def _advice(result: WhiteningComparison) -> str:
    """One sentence from the numbers: what whitening changed, what it cost, what to try next."""
    rows = {r["method"]: r for r in result.table.to_dicts()}
    before = rows["none"]
    white = next((rows[m] for m in ("zca", "pca", "zipfian") if m in rows), None)
    abtt = rows.get("abtt")
    if white is None and abtt is None:
        return "Choose a remedy above to compare it with the original representation."
    after = white or abtt
    name = after["label"][0].upper() + after["label"][1:]
    said = [f"{name} moves IsoScore from {before['iso_score']:.2f} to {after['iso_score']:.2f} and uniformity "
            f"from {before['uniformity']:.2f} to {after['uniformity']:.2f}"]
    if before.get("alignment") is not None and after.get("alignment") is not None:
        said.append(f" (same-class alignment {before['alignment']:.2f} to {after['alignment']:.2f})")
    if before.get("knn_accuracy") is None or after.get("knn_accuracy") is None:
        said.append("; with labels (a labelled dataset) the table would also show what it does to kNN accuracy.")
        return "".join(said)
    gain = after["knn_accuracy"] - before["knn_accuracy"]
    said.append(f", while kNN accuracy goes from {before['knn_accuracy']:.3f} to {after['knn_accuracy']:.3f}")
    abtt_knn = None if abtt is None or abtt is after else abtt["knn_accuracy"]
    if gain < -_SAME:
        if white is not None:
            said.append(": equal variance in every direction also amplifies the weak, noisy ones.")
        else:
            said.append(": the removed direction carried class information.")
        if white is not None and abtt_knn is not None and abtt_knn > after["knn_accuracy"] + _SAME:
            said.append(f" Try all-but-the-top instead (kNN accuracy {abtt_knn:.3f}): it removes only the dominant "
                        "direction(s); or raise ε to damp the weakest directions.")
        elif abtt_knn is not None:
            said.append(f" All-but-the-top does not help either (kNN accuracy {abtt_knn:.3f}): the top direction "
                        "carries class information here. Raise ε to damp the weakest directions instead.")
        elif white is not None:
            said.append(" Try all-but-the-top, which removes only the dominant direction(s), or raise ε.")
        else:
            said.append(" Compare with ZCA whitening, or keep the original for neighbour search.")
    else:
        said.append(": the remedy helps neighbours here, so use it before retrieval or a kNN probe." if gain > _SAME
                    else ": neighbours barely change, so the remedy mostly reshapes the global geometry.")
        if abtt_knn is not None:
            if abtt_knn > after["knn_accuracy"] + _SAME:
                why = " (better still: the dominant direction carried no class information)"
            elif abtt_knn < after["knn_accuracy"] - _SAME:
                why = " (worse: the removed direction carried class information)"
            else:
                why = ""
            said.append(f" All-but-the-top gives {abtt_knn:.3f}{why}.")
    return "".join(said)
