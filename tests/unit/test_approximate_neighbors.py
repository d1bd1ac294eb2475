"""analysis.neighbors.approximate: IVF-PQ fast-scan kNN re-ranked exactly; its reported recall is the one it reached."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.neighbors import approximate, kneighbors
from analysis.neighbors.approximate import (
    EXACT_LIMIT,
    KnnSettings,
    approximate_kneighbors,
    recall_at_k,
    use_exact,
)
from analysis.neighbors.queries import kneighbors_of


def _clusters(n: int = 6000, d: int = 24, c: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(c, d))
    return (centres[rng.integers(c, size=n)] + rng.normal(size=(n, d))).astype(np.float32)


def test_recall_counts_ties_at_the_cut_as_found() -> None:
    exact = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    approx = np.array([[1.0, 2.0, 4.0], [1.0, 1.0, 1.0]])  # row 0 misses one; row 1 found other tied rows
    assert recall_at_k(approx, exact) == pytest.approx(5 / 6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_reported_recall_matches_the_recall_over_every_row(metric: str) -> None:
    X = _clusters()
    D, ids, settings = approximate_kneighbors(X, 10, metric=metric, n_check=500, nlist=64)
    De, _ = kneighbors(X, 10, metric=metric)
    full = recall_at_k(D, De)
    assert settings.recall >= 0.95 and full >= 0.93
    assert abs(settings.recall - full) < 0.03  # a 500-row sample estimates the whole
    assert settings.as_json() == {"method": approximate.METHOD, "exact": False, "recall": settings.recall,
                                  "n_queries_checked": 500}
    assert not (ids == np.arange(X.shape[0])[:, None]).any()  # a row is never its own neighbour
    assert np.all(np.diff(D, axis=1) >= 0)
    # Where the index found the true neighbour, its distance is the exact one.
    found = np.isclose(D[:, 0], De[:, 0], rtol=1e-4, atol=1e-4)
    assert found.mean() > 0.95


def test_a_higher_target_scans_more_cells_and_never_reports_less_than_it_reached() -> None:
    X = _clusters(seed=1)
    _, _, low = approximate_kneighbors(X, 10, target_recall=0.5, nlist=64, n_check=400)
    _, _, high = approximate_kneighbors(X, 10, target_recall=0.999, nlist=64, n_check=400)
    assert low.params["nprobe"] <= high.params["nprobe"]
    assert high.recall >= low.recall
    assert low.recall >= 0.5


def test_bad_arguments_name_the_fix() -> None:
    X = _clusters(n=200)
    with pytest.raises(ValueError, match="k"):
        approximate_kneighbors(X, 200)
    with pytest.raises(ValueError, match="metric"):
        approximate_kneighbors(X, 5, metric="manhattan")
    Z = X.copy()
    Z[3] = 0
    with pytest.raises(ValueError, match="non-zero rows"):
        approximate_kneighbors(Z, 5, metric="cosine")


def test_exact_below_the_limit_unless_forced() -> None:
    assert use_exact(EXACT_LIMIT) and not use_exact(EXACT_LIMIT + 1)
    assert use_exact(10**7, exact=True) and not use_exact(10, exact=False)
    assert KnnSettings.exact_search().as_json() == {"method": "exact", "exact": True, "recall": None,
                                                   "n_queries_checked": 0}


def test_a_graph_says_how_it_was_searched_and_feeds_hubness() -> None:
    from analysis.metrics import hubness
    from analysis.neighbors import NeighborGraph

    X = _clusters(n=4000, seed=2)
    exact = NeighborGraph.search(X, k_max=10)
    approx = NeighborGraph.search(X, k_max=10, exact=False)
    assert exact.knn.as_json() == {"method": "exact", "exact": True, "recall": None, "n_queries_checked": 0}
    assert approx.knn.method == approximate.METHOD and not approx.knn.exact and approx.knn.recall >= 0.95
    assert "recall" in approx.knn.describe()
    # Hubness read from the approximate graph is close to the exact one on data it searched well.
    h_exact = hubness(X, k=10, neighbors=exact)
    h_approx = hubness(X, k=10, neighbors=approx)
    assert abs(h_exact.skewness - h_approx.skewness) < 0.2
    assert np.corrcoef(h_exact.k_occurrence, h_approx.k_occurrence)[0, 1] > 0.9


def test_rows_whose_cells_hold_too_few_points_are_searched_wider() -> None:
    """k + 1 = 101 candidates from cells of ~40 points: rows short of candidates scan more cells."""
    X = _clusters(n=1800, d=32, seed=3)
    D, ids, settings = approximate_kneighbors(X, 100)
    assert (ids >= 0).all() and not (ids == np.arange(1800)[:, None]).any()
    assert np.isfinite(D).all() and settings.recall >= 0.95


def test_coarse_codes_are_made_up_for_by_re_ranking_more_candidates() -> None:
    """Isotropic noise (every distance alike) defeats 4-bit codes: the tuning re-ranks more candidates
    (k_factor) once the probed cells hold the neighbours; low-dimensional structure needs fewer."""
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((5000, 32)).astype(np.float32)
    _, _, hard = approximate_kneighbors(noise, 10, n_check=300, nlist=16)
    assert hard.params["k_factor"] > approximate.K_FACTOR and hard.recall >= 0.95
    latent = rng.standard_normal((5000, 3)) @ rng.standard_normal((3, 32))
    _, _, easy = approximate_kneighbors(latent.astype(np.float32), 10, n_check=300, nlist=16)
    assert easy.params["k_factor"] < hard.params["k_factor"] and easy.recall >= 0.95


def test_probing_every_cell_covers_every_neighbour() -> None:
    X = _clusters(n=3000, seed=5)
    index, ivf = approximate._build_index(np.ascontiguousarray(X), 20, "euclidean", 0)
    rows = np.arange(0, 3000, 7)
    _, ids = kneighbors_of(X, rows, 10)
    assert approximate._coverage(ivf, X, rows, ids, 20) == 1.0
    assert approximate._coverage(ivf, X, rows, ids, 1) < 1.0


def test_rows_are_searched_cell_by_cell_and_each_gets_its_own_neighbours(monkeypatch) -> None:
    """The search visits rows grouped by inverted-file cell (cache locality); results land on their own rows."""
    X = _clusters(n=3000, seed=6)
    index, ivf = approximate._build_index(np.ascontiguousarray(X), 20, "euclidean", 0)
    order = approximate._cell_order(ivf, 3000)
    assert np.array_equal(np.sort(order), np.arange(3000))
    _, cells = ivf.quantizer.search(X[order], 1)
    assert (np.diff(cells[:, 0]) >= 0).all() and np.unique(cells).size > 1

    monkeypatch.setattr(approximate, "_SEARCH_CHUNK", 128)  # many chunks, each a run of cells
    D, ids, settings = approximate_kneighbors(X, 5, nlist=20, n_check=3000, target_recall=1.0)
    assert settings.recall == 1.0  # checked on every row: each row's list is its own exact neighbours
    exact_D, _ = kneighbors_of(X, np.arange(3000), 5)
    np.testing.assert_allclose(D, exact_D, rtol=1e-4, atol=1e-4)
