"""What every page needs from the library besides its own panel: the error family and the shipped samples.

The app reaches `analysis` only through `analysis.panels`, `analysis.views` and
`analysis.data` (issue 16, `tests/unit/test_layering.py`); these names are
re-exported here so that rule holds without moving the modules they live in.
"""

from __future__ import annotations

from analysis.data import Selection
from analysis.errors import USER_ERRORS, user_message
from analysis.neighbor_graph import NeighborGraph
from analysis.neighbors.approximate import EXACT_LIMIT
from analysis.panels.hubness import graph_depth, hubness_graph
from analysis.samples import ensure_samples, sample_paths
from analysis.validation import ProgressFn

__all__ = ["EXACT_LIMIT", "USER_ERRORS", "NeighborGraph", "ProgressFn", "ensure_samples", "sample_paths", "selection_graph",
           "selection_graph_depth", "user_message"]


def selection_graph_depth(n_samples: int) -> int:
    """Neighbours per row of the one graph every page shares: the Hubness page's depth (its k slider's
    end and the reductions' candidates at that k), which also covers Explore's neighbour lists."""
    return graph_depth(n_samples)


def selection_graph(selection: Selection, *, metric: str, exact: bool | None = None) -> NeighborGraph:
    """The one neighbour search of a selection per metric, shared by Hubness and Explore (compute once).

    Searched by `analysis.panels.hubness.hubness_graph`: on X itself, or on X scaled by an exact
    power of two when its entries exceed 2**64 (ranks are scale-free; Explore rescales the distances
    it shows, `analysis.panels.explore.point_neighbours`).
    """
    return hubness_graph(selection.X, metric=metric, k_max=selection_graph_depth(selection.n_samples), exact=exact)
