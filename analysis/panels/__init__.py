"""One module per page: the page's choices -> everything it draws (results, tables, verdicts); no streamlit.

Panels are pure functions over arrays and a shared `analysis.neighbors.NeighborGraph`,
so a page searches neighbours once per (data, metric) and every option (k, the tab
shown) reads slices of that search. The CLI and tests call them without Streamlit.
"""

from __future__ import annotations

from analysis.panels.hubness import (
    HubnessPanel,
    QueryGalleryPanel,
    ReductionPanel,
    hubness_graph,
    hubness_panel,
    query_gallery_panel,
    reduction_panel,
)

__all__ = [
    "HubnessPanel",
    "QueryGalleryPanel",
    "ReductionPanel",
    "hubness_graph",
    "hubness_panel",
    "query_gallery_panel",
    "reduction_panel",
]
