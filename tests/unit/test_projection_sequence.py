"""Issue 18: the over-training projections start from the anchor's layout instead of starting over,
UMAP gets exact neighbours from analysis.neighbors, and UMAP's numba code is warmed up once per process."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import analysis.projection as projection
import analysis.projection_warmup as warmup
from analysis.neighbors import kneighbors
from analysis.projection import Projection, align_to, project, project_sequence

pytestmark = pytest.mark.filterwarnings("ignore:precomputed_knn")


def training_like(n_per_class: int = 40, n_classes: int = 5, d: int = 10, steps: int = 4, seed: int = 0):
    """The same rows at `steps` checkpoints: classes separate and the space turns as training goes on."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    centres = rng.standard_normal((n_classes, d)) * 4
    noise = rng.standard_normal((labels.size, d))
    out = []
    for t in range(steps):
        turn, _ = np.linalg.qr(np.eye(d) + 0.2 * t * rng.standard_normal((d, d)))
        out.append(((1 + t) * centres[labels] + noise + 0.1 * rng.standard_normal(noise.shape)) @ turn)
    return [x.astype(np.float32) for x in out], labels


# ---------------------------------------------------------------- warm starts against fresh fits


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_warm_started_frames_are_aligned_and_as_trustworthy_as_fresh_fits(method: str) -> None:
    X_seq, _ = training_like()
    frames = project_sequence(X_seq, method=method, anchor=-1)
    fresh = [project(x, method=method) for x in X_seq]
    last = len(X_seq) - 1
    assert [f.params["warm_start"] for f in frames] == [True] * last + [False]
    assert [f.params["neighbour"] for f in frames] == [1, 2, 3, None]
    for t, (warm, cold) in enumerate(zip(frames, fresh, strict=True)):
        # Neighbourhoods kept as well as by a fit from scratch (measured gaps here: under 0.01).
        assert warm.trustworthiness >= cold.trustworthiness - 0.02, (t, warm.trustworthiness, cold.trustworthiness)
        assert warm.trustworthiness > 0.9
        if t != last:
            # Already at its Procrustes optimum against its neighbour: aligning again moves nothing.
            neighbour = frames[warm.params["neighbour"]].coords
            spread = float(np.ptp(warm.coords))
            np.testing.assert_allclose(align_to(neighbour, warm.coords), warm.coords, atol=1e-4 * spread)
    assert frames[last].params["aligned"] is False  # the anchor is a plain fit, drawn as fitted


def test_a_warm_start_stays_closer_to_its_starting_layout_than_a_fresh_fit() -> None:
    """The point of aligned initialisation: from the neighbour's layout, a point moves little on screen
    between checkpoints, where a fresh fit (even Procrustes-aligned) rearranges the clusters."""
    X_seq, _ = training_like(steps=2)
    start = project(X_seq[1], method="umap")
    warm = align_to(start.coords, project(X_seq[0], method="umap", init=start.coords).coords)
    cold = align_to(start.coords, project(X_seq[0], method="umap", seed=3).coords)
    moved_warm = np.linalg.norm(warm - start.coords, axis=1).mean()
    moved_cold = np.linalg.norm(cold - start.coords, axis=1).mean()
    assert moved_warm < moved_cold


# ---------------------------------------------------------------- the walk from the anchor


def _recording_project(calls: list[dict]):
    """A stand-in for `project` that records its arguments and returns a random layout."""

    def fake(X, *, method="pca", n_components=2, labels=None, seed=0, init=None, **kwargs):
        calls.append({"rows": np.asarray(X)[:, 0].copy(), "init": None if init is None else np.array(init)})
        coords = np.random.default_rng(len(calls)).standard_normal((np.shape(X)[0], n_components)).astype(np.float32)
        return Projection(coords=coords, method=method, n_components=n_components, trustworthiness=1.0,
                          trustworthiness_k=1, trustworthiness_sample_size=np.shape(X)[0],
                          explained_variance_ratio=None, params={"seed": seed, "warm_start": init is not None})

    return fake


def test_the_walk_starts_at_the_anchor_reuses_its_projection_and_starts_each_step_from_its_neighbour(
        monkeypatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(projection, "project", _recording_project(calls))
    # Step t is recognisable by its first column, all equal to t.
    X_seq = [np.full((12, 3), float(t), dtype=np.float32) for t in range(5)]
    given = _recording_project([])(X_seq[2], method="umap")
    progress: list[float] = []
    frames = project_sequence(X_seq, method="umap", anchor=2, anchor_projection=given,
                              progress=lambda fraction, message: progress.append(fraction))
    # The anchor is not fitted again; then 3, 4 outward, then 1, 0.
    assert [int(c["rows"][0]) for c in calls] == [3, 4, 1, 0]
    np.testing.assert_array_equal(frames[2].coords, given.coords)
    assert [f.params["neighbour"] for f in frames] == [1, 2, None, 2, 3]
    assert [f.params["aligned"] for f in frames] == [True, True, False, True, True]
    # Each step starts from its neighbour's layout as drawn (aligned), not from the anchor's.
    for call, (step, neighbour) in zip(calls, [(3, 2), (4, 3), (1, 2), (0, 1)], strict=True):
        np.testing.assert_array_equal(call["init"], frames[neighbour].coords, err_msg=f"step {step}")
    assert progress == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])  # one step per checkpoint


def test_without_warm_start_every_step_is_fitted_from_scratch(monkeypatch) -> None:
    calls: list[dict] = []
    monkeypatch.setattr(projection, "project", _recording_project(calls))
    X_seq = [np.full((12, 3), float(t), dtype=np.float32) for t in range(3)]
    project_sequence(X_seq, method="umap", warm_start=False)
    assert [int(c["rows"][0]) for c in calls] == [0, 1, 2] and all(c["init"] is None for c in calls)
    calls.clear()
    project_sequence(X_seq, method="pca", anchor=1)  # PCA and LDA are exact: never warm-started
    assert [int(c["rows"][0]) for c in calls] == [1, 2, 0] and all(c["init"] is None for c in calls)


def test_sequence_and_init_errors_name_the_fix() -> None:
    X_seq, _ = training_like(steps=2, n_per_class=10)
    with pytest.raises(ValueError, match=r"anchor must index X_seq \(0 to 1"):
        project_sequence(X_seq, anchor=2)
    three_d = project(X_seq[0], method="pca", n_components=3)
    with pytest.raises(ValueError, match=r"anchor_projection is a 3-D pca .* needs a 2-D pca"):
        project_sequence(X_seq, anchor_projection=three_d)
    with pytest.raises(ValueError, match=r"init .* applies to method='umap' or 'tsne'"):
        project(X_seq[0], method="pca", init=np.zeros((50, 2)))
    with pytest.raises(ValueError, match=r"init must have shape \(50, 2\).*got \(49, 2\)"):
        project(X_seq[0], method="umap", init=np.zeros((49, 2)))
    bad = np.zeros((50, 2))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="init contains NaN"):
        project(X_seq[0], method="tsne", init=bad)


# ---------------------------------------------------------------- UMAP's neighbours


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_umap_is_given_each_rows_exact_neighbours_itself_first(metric: str) -> None:
    X = training_like(steps=1)[0][0]
    indices, distances = projection._umap_neighbours(X, 15, metric)
    want_d, want_i = kneighbors(X, 14, metric=metric)
    np.testing.assert_array_equal(indices[:, 0], np.arange(X.shape[0]))
    np.testing.assert_array_equal(distances[:, 0], 0.0)
    np.testing.assert_array_equal(indices[:, 1:], want_i)
    np.testing.assert_allclose(distances[:, 1:], want_d)
    assert indices.dtype == np.int32 and distances.dtype == np.float32


def test_umap_searches_itself_where_the_exact_search_cannot(monkeypatch) -> None:
    X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    X[0] = 0.0  # cosine is undefined for an all-zero row: analysis.neighbors refuses it
    assert projection._umap_neighbours(X, 10, "cosine") == (None, None, None)
    monkeypatch.setattr(projection, "UMAP_EXACT_KNN_MAX_ROWS", 20)
    assert projection._umap_neighbours(X, 10, "euclidean") == (None, None, None)


# ---------------------------------------------------------------- the warm-up


def test_the_warm_up_starts_once_however_many_sessions_ask_at_once(monkeypatch) -> None:
    monkeypatch.setattr(warmup, "_warm_up_thread", None)
    runs: list[int] = []
    release = threading.Event()

    def slow_warm_up() -> None:
        runs.append(1)
        release.wait(10)

    monkeypatch.setattr(warmup, "warm_up_umap", slow_warm_up)
    monkeypatch.setattr(warmup, "warm_up_hubness_reduction", lambda: None)
    barrier = threading.Barrier(8)
    started: list[threading.Thread] = []

    def session() -> None:
        barrier.wait()
        started.append(warmup.start_umap_warm_up())

    callers = [threading.Thread(target=session) for _ in range(8)]
    for c in callers:
        c.start()
    for c in callers:
        c.join(10)
    # Every caller returned at once (the warm-up still runs) with the same thread.
    assert len(started) == 8 and len({id(t) for t in started}) == 1
    thread = started[0]
    assert thread.daemon and thread.is_alive()
    release.set()
    thread.join(10)
    assert runs == [1]
    assert warmup.start_umap_warm_up() is thread and runs == [1]  # a later page run starts nothing


def test_a_failing_warm_up_does_not_raise_in_its_thread_and_the_next_one_still_runs(monkeypatch) -> None:
    monkeypatch.setattr(warmup, "_warm_up_thread", None)
    errors: list[object] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)
    ran: list[str] = []

    def broken() -> None:
        ran.append("umap")
        raise ImportError("umap is broken")

    monkeypatch.setattr(warmup, "warm_up_umap", broken)
    monkeypatch.setattr(warmup, "warm_up_hubness_reduction", lambda: ran.append("hubness"))
    warmup.start_umap_warm_up().join(10)
    assert errors == [] and ran == ["umap", "hubness"]


def test_the_hubness_warm_up_compiles_the_exact_kernels_the_reduction_tab_runs() -> None:
    from analysis.metrics import _hubness_exact

    warmup.warm_up_hubness_reduction()
    kernels = ("mp_bounds", "mp_overlap", "rank_counts", "row_moments", "_secondary_rows", "_top_k_rows")
    assert all(getattr(_hubness_exact, name).signatures for name in kernels)


def test_warm_up_umap_fits_without_error() -> None:
    warmup.warm_up_umap()  # compiles (or reuses) umap-learn's code on both paths the page takes
    X_seq, _ = training_like(steps=1, n_per_class=20)
    assert project(X_seq[0], method="umap").params["warm_start"] is False
