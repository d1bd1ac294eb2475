"""Benchmark approximate kNN (`analysis.neighbors.approximate`) against exact search on the same data.

Run:  python -m tests.bench.bench_ann [--quick]

Data: 20 labelled Gaussian clusters in d = 256 (the shape issue 17 names),
float32. Per size, one row each:

* ``exact faiss (bare)``: ``faiss.knn(X, X, k + 1)``, what a user would
  otherwise run; above 200,000 rows it is timed on 100,000 query rows against
  all n and scaled by n / 100,000 (the search is linear in the queries);
* ``approximate IVF``: `approximate_kneighbors(X, 10)`: index training,
  nprobe tuning on 1,000 sampled rows, the search of every row, with the
  recall@10 it measured on those rows.

Targets (issue 17): recall@10 >= 0.95 at every size, and the approximate
search faster than the exact one from 200,000 rows up.
"""

from __future__ import annotations

import time

import numpy as np

from analysis.neighbors.approximate import approximate_kneighbors
from analysis.neighbors.search import _faiss, n_threads
from tests.bench.common import print_rows, script_main

K = 10
D = 256
FULL_SIZES = (100_000, 200_000, 1_000_000)
QUICK_SIZES = (20_000,)
EXACT_QUERY_ROWS = 100_000


def clusters(n: int, d: int = D, c: int = 20, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.standard_normal((c, d), dtype=np.float32)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += centres[rng.integers(c, size=n)]
    return X


def _exact_seconds(X: np.ndarray) -> tuple[float, str]:
    faiss = _faiss()
    faiss.omp_set_num_threads(n_threads())
    n = X.shape[0]
    rows = min(n, EXACT_QUERY_ROWS) if n > 200_000 else n
    started = time.perf_counter()
    faiss.knn(X[:rows], X, K + 1)
    seconds = (time.perf_counter() - started) * n / rows
    how = "measured" if rows == n else f"{rows:,} query rows timed, x {n / rows:g}"
    return seconds, how


def report(*, quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    for n in QUICK_SIZES if quick else FULL_SIZES:
        X = clusters(n)
        exact, how = _exact_seconds(X)
        rows.append({"case": f"exact faiss (bare) {n:,} x {D}", "seconds": exact, "target": "—", "ok": None,
                     "detail": how})
        started = time.perf_counter()
        _, _, settings = approximate_kneighbors(X, K)
        seconds = time.perf_counter() - started
        faster = n < 200_000 or seconds < exact
        rows.append({"case": f"approximate IVF {n:,} x {D}", "seconds": seconds,
                     "target": "rec>=0.95", "ok": settings.recall >= 0.95 and faster,
                     "detail": f"recall@10 {settings.recall:.3f} on {settings.n_queries_checked:,} rows; nprobe "
                               f"{settings.params['nprobe']} of {settings.params['nlist']}; "
                               f"{exact / seconds:.1f}x faster than exact"})
        del X
    print_rows("approximate kNN (IVF-Flat) vs exact faiss, 20 clusters", rows, case_width=36)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.splitlines()[0], "one 20,000-row size", argv)


if __name__ == "__main__":
    raise SystemExit(main())
