"""Issue 18 item 7: "Colour by: clusters (HDBSCAN)" on Explore, with a table of sizes and label purity."""

from __future__ import annotations

import json

import numpy as np

from tests.app.pages import open_page
from ui import explore

PAGE = "app_pages/explore.py"


def _cluster_table(at):
    return next(d.value for d in at.dataframe if "cluster" in d.value.columns)


def test_colour_by_clusters_draws_them_and_tables_their_purity() -> None:
    at = open_page(PAGE, explore_animate=False)
    assert explore.CLUSTERS in at.selectbox(key="explore_colour").options
    at.selectbox(key="explore_colour").set_value(explore.CLUSTERS).run()
    assert not at.exception, at.exception
    assert at.number_input(key="explore_min_cluster").value == 10  # 0.5% of 1,797 rows, at least 10
    view = at.session_state["view"]
    found = explore.clusters(view, 10)
    y = view.embedding.labels
    table = _cluster_table(at)
    assert table["cluster"].tolist()[-1] == "noise"
    assert table["rows"].sum() == y.size
    # purity by hand: the most common label's share of each cluster's rows
    for c in range(found.n_clusters):
        members = y[found.labels == c]
        assert table["rows"].iloc[c] == members.size
        assert table["purity"].iloc[c] == np.bincount(members).max() / members.size
        assert table["majority label"].iloc[c] == view.embedding.class_name(int(np.bincount(members).argmax()))
    assert found.n_clusters >= 5  # the trained digits MLP separates its classes
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = {t.get("name") for t in spec["data"]}
    assert {f"cluster {c}" for c in range(found.n_clusters)} <= names
    assert any("HDBSCAN (smallest cluster 10) of the PCA-20 of the 32-D embedding on all 1,797 rows" in c.value for c in at.caption)

    at.number_input(key="explore_min_cluster").set_value(300).run()  # larger than any class: fewer clusters
    assert not at.exception
    fewer = _cluster_table(at)
    assert len(fewer) - 1 == explore.clusters(view, 300).n_clusters < found.n_clusters
