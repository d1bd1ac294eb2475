"""Dask: analysis.distributed on a 2-worker LocalCluster against the in-memory functions.

Times exact kNN (k=10), class statistics and the covariance spectrum on a
float32 memmap of n x 256 (read by the workers from its path), in memory and
through the cluster, and checks that the results are equal (issue 17: "the
same ... through a 2-worker LocalCluster equals the in-memory one"). On one
2-core machine the cluster cannot be faster; the column shows its overhead.

    python -m tests.bench.bench_distributed [--quick]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.distributed import (  # noqa: E402
    distributed_class_statistics,
    distributed_covariance_spectrum,
    distributed_kneighbors,
)
from analysis.metrics import covariance_spectrum  # noqa: E402
from analysis.metrics.class_statistics import (  # noqa: E402
    ClassStatisticsAccumulator,
    default_chunk_rows,
    iter_row_chunks,
)
from analysis.neighbors import kneighbors  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

D, K, C = 256, 10, 10


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _statistics(X, y):
    accumulator = ClassStatisticsAccumulator(C, X.shape[1])
    for part in iter_row_chunks(X.shape[0], default_chunk_rows(X.shape[1])):
        accumulator.update(X[part], y[part])
    return accumulator.finalize()


def _row(case: str, local: float, remote: float, equal: bool, detail: str) -> dict:
    return {"case": case, "seconds": remote, "target": "equal", "ok": bool(equal),
            "detail": f"in memory {local:.3f} s, ratio {remote / max(local, 1e-9):.2f}x; {detail}"}


def run(quick: bool = False) -> list[dict]:
    from distributed import Client, LocalCluster

    rows = []
    sizes = (5_000,) if quick else (20_000, 100_000)
    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None) as cluster, Client(cluster, set_as_default=False) as client:
        for n in sizes:
            rng = np.random.default_rng(n)
            y = rng.integers(0, C, size=n)
            path = Path(tmp) / f"x{n}.npy"
            np.save(path, (rng.normal(size=(n, D)) + rng.normal(scale=3.0, size=(C, D))[y]).astype(np.float32))
            X = np.load(path, mmap_mode="r")
            (d0, i0), t0 = _timed(kneighbors, X, K)
            (d1, i1), t1 = _timed(distributed_kneighbors, X, K, scheduler=client)
            same = np.allclose(d1, d0, rtol=1e-6, atol=1e-7) and (i1 != i0).mean() < 1e-4
            rows.append(_row(f"kNN k={K}, {n:,} x {D}", t0, t1, same,
                             f"{int((i1 != i0).sum())} differing indices (ties)"))
            s0, t0 = _timed(_statistics, X, y)
            s1, t1 = _timed(distributed_class_statistics, X, y, scheduler=client)
            err = max(float(np.max(np.abs(getattr(s1, f) - getattr(s0, f))) / np.max(np.abs(getattr(s0, f))))
                      for f in ("means", "sigma_w", "class_variances"))
            rows.append(_row(f"class statistics, {n:,} x {D}", t0, t1, err < 1e-10, f"max rel. error {err:.1e}"))
            c0, t0 = _timed(covariance_spectrum, X)
            c1, t1 = _timed(distributed_covariance_spectrum, X, scheduler=client)
            err = float(np.max(np.abs(c1.eigenvalues - c0.eigenvalues)) / c0.eigenvalues[0])
            rows.append(_row(f"covariance spectrum, {n:,} x {D}", t0, t1, err < 1e-10, f"max rel. error {err:.1e}"))
    return rows


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    rows = run(quick=quick)
    print_rows(f"dask: 2-worker LocalCluster vs in memory ({os.cpu_count()} CPUs)", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "one small size (5,000 rows)", argv)


if __name__ == "__main__":
    raise SystemExit(main())
