"""The Data page's numbers: what the sidebar's selection holds (shape, classes, norms, bad rows).

`data_panel` reads the selection once (`summarize_embedding`: one blocked pass
over X in float64) and adds every row's L2 norm for the histogram; the page
draws both and lists the first rows of the metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analysis.data import Selection
from analysis.data.inspect import summarize_embedding
from analysis.panels.explore import row_norms

__all__ = ["DataPanel", "data_panel"]


@dataclass(frozen=True, eq=False)
class DataPanel:
    """Everything the Data page draws for one selection.

    Attributes
    ----------
    summary : dict
        `analysis.data.inspect.summarize_embedding` of the selection's rows: ``n``,
        ``d``, ``n_classes``, ``class_sizes`` (name -> count), norm statistics,
        ``n_duplicate_rows``, ``n_nonfinite_rows``, ``n_zero_rows``, ...
    norms : ndarray of shape (n_samples,), float32
        ``||x_i||_2`` of every row.
    """

    summary: dict[str, Any]
    norms: np.ndarray

    @property
    def class_names(self) -> list[str]:
        return list(self.summary["class_sizes"])

    @property
    def class_counts(self) -> list[int]:
        return list(self.summary["class_sizes"].values())


def data_panel(selection: Selection) -> DataPanel:
    """The selection's summary (`summarize_embedding`) and row norms."""
    emb = selection.embedding
    return DataPanel(summary=summarize_embedding(emb), norms=row_norms(emb.X))
