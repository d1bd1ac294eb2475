"""Issue 18 item 7: HDBSCAN clusters of an embedding and their label purity (analysis.clusters)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.clusters import NOISE, cluster_purity, default_min_cluster_size, hdbscan_clusters
from analysis.panels import explore as panel
from analysis.panels import explore_points as points


def test_purity_by_hand() -> None:
    # cluster 0: classes [0, 0, 1] -> majority 0, purity 2/3; cluster 1: [2, 2, 2, 1] -> 2, 3/4;
    # two noise rows (classes 1 and 0) are left out. Overall: (2 + 3) / 7 clustered rows.
    clusters = np.array([0, 0, 0, 1, 1, 1, 1, NOISE, NOISE])
    classes = np.array([0, 0, 1, 2, 2, 2, 1, 1, 0])
    sizes, majority, purity, overall = cluster_purity(clusters, classes)
    assert sizes.tolist() == [3, 4]
    assert majority.tolist() == [0, 2]
    np.testing.assert_allclose(purity, [2 / 3, 3 / 4])
    assert overall == pytest.approx(5 / 7)


def test_a_tie_takes_the_smallest_class_and_all_noise_has_no_overall_purity() -> None:
    sizes, majority, purity, overall = cluster_purity(np.array([0, 0]), np.array([3, 1]))
    assert majority.tolist() == [1] and purity.tolist() == [0.5] and overall == 0.5
    sizes, majority, purity, overall = cluster_purity(np.array([NOISE, NOISE]), np.array([0, 1]), n_clusters=0)
    assert sizes.size == 0 and overall is None


def test_purity_refuses_mismatched_or_negative_labels() -> None:
    with pytest.raises(ValueError, match="same length"):
        cluster_purity(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="codes >= 0"):
        cluster_purity(np.array([0, 1]), np.array([0, -1]))


def _blobs(n_per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 0.0], [0.0, 20.0, 0.0]])
    X = np.concatenate([c + rng.normal(scale=0.5, size=(n_per, 3)) for c in centres]).astype(np.float32)
    return X, np.repeat(np.arange(3), n_per)


def test_three_separated_blobs_are_three_pure_clusters() -> None:
    X, y = _blobs(60)
    found = hdbscan_clusters(X, labels=y, min_cluster_size=10)
    assert found.n_clusters == 3
    assert found.overall_purity == pytest.approx(1.0)
    assert sorted(found.sizes.tolist()) == [60, 60, 60] or found.n_noise > 0
    assert sorted(found.majority.tolist()) == [0, 1, 2]
    # every blob's clustered rows share one cluster id
    for c in range(3):
        ids = set(found.labels[(y == c) & (found.labels >= 0)].tolist())
        assert len(ids) == 1


def test_rows_beyond_the_fitted_sample_join_their_nearest_fitted_rows_cluster() -> None:
    X, y = _blobs(200, seed=1)
    found = hdbscan_clusters(X, labels=y, min_cluster_size=10, fit_max_rows=90, seed=3)
    assert found.fitted_rows == 90 and found.labels.shape == (600,)
    assert found.n_clusters == 3
    # blobs 20 apart with spread 0.5: every row's nearest fitted row is in its own blob
    for c in range(3):
        assert len(set(found.labels[y == c].tolist()) - {NOISE}) == 1
    assert "sample of 90 of 600 rows" in found.describe()


def test_bad_input_is_refused_with_the_fix() -> None:
    X, _ = _blobs(10)
    with pytest.raises(ValueError, match="at least 2"):
        hdbscan_clusters(X, min_cluster_size=1)
    with pytest.raises(ValueError, match="smaller cluster size"):
        hdbscan_clusters(X[:5], min_cluster_size=10)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf in 1 rows"):
        hdbscan_clusters(bad, min_cluster_size=5)
    assert default_min_cluster_size(1_797) == 10 and default_min_cluster_size(100_000) == 500


def test_the_panel_table_and_colours_of_clusters() -> None:
    X, y = _blobs(40)
    found = hdbscan_clusters(X, labels=y, min_cluster_size=10)
    table = points.cluster_table(found, class_name=lambda c: f"class {c}")
    assert table["cluster"].to_list() == ["cluster 0", "cluster 1", "cluster 2", "noise"]
    assert table["rows"].sum() == 120
    assert set(table["majority label"].to_list()[:3]) == {"class 0", "class 1", "class 2"}
    assert table["purity"].to_list()[:3] == [1.0, 1.0, 1.0]
    found_noise = hdbscan_clusters(np.concatenate([X, [[100.0, 100.0, 100.0]]]).astype(np.float32),
                                   min_cluster_size=10)
    colours = panel.colouring(panel.Embedding(X=np.zeros((121, 2), dtype=np.float32)), panel.CLUSTERS,
                              clustering=found_noise)
    assert colours.kind == "category" and colours.names[-1] == "noise"
    assert colours.values[-1] == found_noise.n_clusters  # the far point is noise, drawn as the last category


def test_noise_is_drawn_grey() -> None:
    from analysis.views import ColorSpec, embedding_scatter
    from analysis.views.scatter import NOISE_GREY

    coords = np.zeros((3, 2), dtype=np.float32)
    spec = ColorSpec(kind="category", values=np.array([0, 1, 1]), names=("cluster 0", "noise"), title="cluster")
    fig = embedding_scatter(coords, draw_rows=np.arange(3), color=spec)
    colours = {t.name: t.marker.color for t in fig.data}
    assert colours["noise"] == NOISE_GREY and colours["cluster 0"] != NOISE_GREY
