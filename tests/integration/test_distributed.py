"""Issue 17 (Dask): every distributed result equals the in-memory one on the same data.

One 2-worker LocalCluster (separate processes, 127.0.0.1 only) serves the
whole module; the last test kills a worker mid-computation.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dask.array as da  # the [scale] extra: `make install` installs it, the tests need it
import distributed
import numpy as np
import pytest

from analysis.distributed import (
    distributed_class_statistics,
    distributed_covariance_spectrum,
    distributed_kneighbors,
    get_client,
    neural_collapse_distributed,
)
from analysis.metrics import covariance_spectrum, neural_collapse
from analysis.metrics.class_statistics import ClassStatisticsAccumulator
from analysis.neighbors import kneighbors


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


def _data(n: int, d: int, seed: int, offset: float = 0.0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(n, d)) + offset).astype(np.float32)


def _assert_same_neighbours(got, want, *, where_untied: bool = False) -> None:
    (d1, i1), (d0, i0) = got, want
    assert d1.dtype == np.float32 and i1.dtype == np.int64 and d1.shape == d0.shape
    np.testing.assert_allclose(d1, d0, rtol=1e-6, atol=1e-7)
    if where_untied:
        # Rows tied with the k-th distance may be any of the tied rows; all nearer ones must match.
        nearer = d0 < d0[:, -1:]
        np.testing.assert_array_equal(i1[nearer], i0[nearer])
    else:
        np.testing.assert_array_equal(i1, i0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize(("n", "k", "block_rows"), [(157, 1, 40), (157, 10, 40), (61, 7, 5), (61, 3, None)])
def test_knn_equals_kneighbors(client, metric, n, k, block_rows) -> None:
    X = _data(n, 12, seed=n + k, offset=3.0)  # 157 is no multiple of 40; 5 rows < k + 1 = 8
    got = distributed_kneighbors(X, k, metric=metric, scheduler=client, block_rows=block_rows)
    _assert_same_neighbours(got, kneighbors(X, k, metric=metric))


def test_knn_float64_wide_rows_equal(client) -> None:
    """d >= 256 takes the library's symmetric-tile search; the candidates still agree."""
    X = np.random.default_rng(1).normal(size=(1100, 260))
    got = distributed_kneighbors(X, 5, scheduler=client, block_rows=400)
    _assert_same_neighbours(got, kneighbors(X, 5))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_knn_with_duplicate_rows(client, metric) -> None:
    rng = np.random.default_rng(7)
    X = np.repeat(_data(30, 6, seed=3, offset=1.0), 4, axis=0)[rng.permutation(120)]
    got = distributed_kneighbors(X, 6, metric=metric, scheduler=client, block_rows=17)
    _assert_same_neighbours(got, kneighbors(X, 6, metric=metric), where_untied=True)
    assert (got[0][:, :3] <= 1e-6).all()  # three duplicates of every row, at distance 0 (cosine: rounding)


def test_knn_of_memmap_and_dask_array(client, tmp_path) -> None:
    X = _data(203, 8, seed=11)
    path = tmp_path / "x.npy"
    np.save(path, X)
    want = kneighbors(X, 4)
    _assert_same_neighbours(distributed_kneighbors(np.load(path, mmap_mode="r"), 4, scheduler=client,
                                                   block_rows=50), want)
    _assert_same_neighbours(distributed_kneighbors(da.from_array(X, chunks=((70, 100, 33), 8)), 4,
                                                   scheduler=client), want)


def test_knn_refuses_what_kneighbors_refuses(client) -> None:
    X = _data(20, 3, seed=2)
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 rows \(first: 4\)"):
        distributed_kneighbors(X, 2, scheduler=client, block_rows=8)
    with pytest.raises(ValueError, match="all-zero rows"):
        distributed_kneighbors(np.zeros((5, 2)), 2, metric="cosine", scheduler=client)
    with pytest.raises(ValueError):
        distributed_kneighbors(_data(5, 2, seed=1), 5, scheduler=client)


def test_knn_without_scheduler_is_kneighbors() -> None:
    X = _data(50, 4, seed=5)
    _assert_same_neighbours(distributed_kneighbors(X, 3, scheduler=None), kneighbors(X, 3))


def _accumulated(X: np.ndarray, y: np.ndarray, C: int):
    accumulator = ClassStatisticsAccumulator(C, X.shape[1])
    accumulator.update(X, y)
    return accumulator.finalize()


def _assert_same_statistics(got, want) -> None:
    np.testing.assert_array_equal(got.counts, want.counts)
    for field in ("means", "sigma_w", "class_variances"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-10,
                                   atol=1e-12 * np.abs(getattr(want, field)).max())


@pytest.mark.parametrize("as_dask", [False, True])
def test_class_statistics_equal_the_accumulator(client, as_dask) -> None:
    X = _data(1013, 9, seed=4, offset=50.0).astype(np.float64)
    y = np.random.default_rng(4).integers(0, 6, size=1013)
    X += y[:, None] * 0.5
    want = _accumulated(X, y, 6)
    if as_dask:
        got = distributed_class_statistics(da.from_array(X, chunks=((100, 413, 1, 499), 9)),
                                           da.from_array(y, chunks=200), scheduler=client)
    else:
        got = distributed_class_statistics(X, y, scheduler=client, block_rows=128)
    _assert_same_statistics(got, want)
    _assert_same_statistics(distributed_class_statistics(X, y, scheduler=None), want)


@pytest.mark.parametrize("as_dask", [False, True])
def test_covariance_spectrum_equals_in_memory(client, as_dask) -> None:
    X = _data(997, 11, seed=9, offset=100.0) * np.linspace(0.1, 3.0, 11).astype(np.float32)
    want = covariance_spectrum(X)
    source = da.from_array(X, chunks=((300, 7, 690), 11)) if as_dask else X
    got = distributed_covariance_spectrum(source, scheduler=client, block_rows=None if as_dask else 101)
    np.testing.assert_allclose(got.eigenvalues, want.eigenvalues, rtol=1e-10)
    np.testing.assert_allclose(got.explained_variance_ratio, want.explained_variance_ratio, rtol=1e-10)
    assert (got.n_samples, got.n_features) == (want.n_samples, want.n_features)


def test_class_statistics_report_nan_rows(client) -> None:
    X = _data(40, 3, seed=1)
    X[33] = np.inf
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 rows \(first: 33\)"):
        distributed_class_statistics(X, np.arange(40) % 2, scheduler=client, block_rows=16)


@pytest.mark.parametrize("as_dask", [False, True])
def test_neural_collapse_equals_in_memory(client, as_dask) -> None:
    rng = np.random.default_rng(12)
    y = rng.integers(0, 4, size=600) * 3 + 1  # codes 1, 4, 7, 10: re-encoded as the library does
    X = rng.normal(size=(600, 7)) + rng.normal(scale=4.0, size=(11, 7))[y]
    W = rng.normal(size=(4, 7))
    source = da.from_array(X, chunks=((250, 350), 7)) if as_dask else X
    for kwargs, labels in (({}, y), ({"classifier": W, "bias": np.arange(4.0)}, (y - 1) // 3)):
        want = neural_collapse(X, labels, **kwargs)
        got = neural_collapse_distributed(source, labels, scheduler=client, **kwargs)
        for field in ("nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "etf_distance", "ncc_accuracy"):
            assert getattr(got, field) == pytest.approx(getattr(want, field), rel=1e-9), field
        assert got.nc4 == want.nc4
        assert got.nc3 == (None if want.nc3 is None else pytest.approx(want.nc3, rel=1e-9))
        np.testing.assert_array_equal(got.class_labels, want.class_labels)


def test_get_client_refuses_an_unreachable_address_quickly() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(ValueError, match="no dask scheduler answered at tcp://127.0.0.1"):
        get_client(f"tcp://127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - start < 10
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        get_client("tcp://")
    assert get_client(None) is None


def test_get_client_reuses_a_client(client) -> None:
    assert get_client(client) is client
    address = client.scheduler.address
    assert get_client(address) is get_client(address)


def _same_metrics(a, b, path="metrics") -> None:
    """Two reports' metrics agree: every key, every list, floats to 1e-9 relative."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _same_metrics(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            _same_metrics(x, z, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=path)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


def test_the_report_through_the_cluster_equals_the_in_memory_report(client) -> None:
    """The full report with scheduler=: kNN, neural collapse and the spectrum on the workers."""
    from analysis.report import diagnose

    rng = np.random.default_rng(5)
    y = rng.integers(4, size=600)
    X = (rng.normal(scale=4.0, size=(4, 24))[y] + rng.normal(size=(600, 24))).astype(np.float32)
    local = diagnose(X, labels=y)
    remote = diagnose(X, labels=y, scheduler=client)
    assert remote.metrics["settings"].pop("scheduler") == client.scheduler.address
    for report in (remote, local):  # whether the Gaussian baseline was already in this process's cache
        report.metrics["settings"].pop("baseline_cached")
    assert [(f.key, f.verdict) for f in remote.findings] == [(f.key, f.verdict) for f in local.findings]

    _same_metrics(remote.metrics, local.metrics)


def test_the_report_of_a_dask_array_equals_the_report_of_its_values(client) -> None:
    """`diagnose` takes a dask.array (here chunked by rows) with or without a scheduler."""
    from analysis.report import diagnose

    rng = np.random.default_rng(6)
    y = rng.integers(3, size=500)
    X = (rng.normal(scale=4.0, size=(3, 16))[y] + rng.normal(size=(500, 16))).astype(np.float32)
    local = diagnose(X, labels=y)
    lazy = da.from_array(X, chunks=(120, 16))
    for report in (diagnose(lazy, labels=y), diagnose(lazy, labels=y, scheduler=client)):
        report.metrics["settings"].pop("scheduler", None)
        for r in (report, local):
            r.metrics["settings"].pop("baseline_cached", None)
        assert [(f.key, f.verdict) for f in report.findings] == [(f.key, f.verdict) for f in local.findings]
        _same_metrics(report.metrics, local.metrics)


def test_cli_report_takes_a_scheduler_address(client, tmp_path, capsys) -> None:
    import json

    from analysis.cli import main

    np.save(tmp_path / "x.npy", _data(300, 8, seed=6))
    out = tmp_path / "r.json"
    address = client.scheduler.address
    assert main(["report", str(tmp_path / "x.npy"), "--scheduler", address, "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["metrics"]["settings"]["scheduler"] == address
    bad = main(["report", str(tmp_path / "x.npy"), "--scheduler", "tcp://127.0.0.1:1", "--json", str(out),
                "--quiet"])
    assert bad == 2 and "scheduler" in capsys.readouterr().err.lower()


def test_the_report_page_uses_the_scheduler_the_server_names(client, monkeypatch) -> None:
    """The app connects to a scheduler named in its settings (REPLENS_SCHEDULER) and says so."""
    import streamlit as st

    from tests.app.pages import open_page

    monkeypatch.setenv("REPLENS_SCHEDULER", client.scheduler.address)
    st.cache_data.clear()
    at = open_page("app_pages/report.py")
    assert not at.exception, at.exception
    assert any(client.scheduler.address in c.value for c in at.caption)
    monkeypatch.delenv("REPLENS_SCHEDULER")
    st.cache_data.clear()
    at = open_page("app_pages/report.py")
    assert not at.exception and not any("Dask cluster" in c.value for c in at.caption)


def test_worker_killed_mid_way_still_equals(client) -> None:
    """Kill one worker process while the kNN runs: its tasks (and the blocks it held) are redone."""
    X = _data(200, 10, seed=21)
    want = kneighbors(X, 5)
    pids = client.run(os.getpid)
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(distributed_kneighbors, X, 5, scheduler=client, block_rows=8)  # 625 searches
        deadline = time.monotonic() + 20
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert not future.done(), "the computation ended before the worker could be killed"
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        got = future.result(timeout=120)
    _assert_same_neighbours(got, want)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert set(client.run(os.getpid).values()) != set(pids.values())
