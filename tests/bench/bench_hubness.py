"""Benchmark hubness (`analysis.metrics.hubness`) and the hubness reductions.

Run:  python -m tests.bench.bench_hubness [--quick]

Rows:

* ``kNN alone`` / ``hubness``: ``analysis.neighbors.kneighbors(X, 10)`` and
  ``hubness(X, k=10)`` on the same float32 Gaussian X of n = 100,000, d = 768
  (validation, the search and the indices on top of it). Each runs once: the
  search alone takes about a minute on a 2-core machine. Target (issue): the
  hubness call takes at most 1.2x the search alone, i.e. the analysis on top of
  the neighbours is cheap.
* one row per reduction method: the re-ranking step of ``reduce_hubness`` on
  the candidate graph of n = 100,000 float32 Gaussian points, d = 64, k = 10,
  k_scale = 5, with the default 50 candidates per point (``min(100, 5k)``).
  The graph (``kneighbors(X, 50)``) is built once and not timed, since it is
  shared by all methods (as in ``compare_reductions``); each row times
  ``_secondary_on_graph`` + ``_rerank`` + ``hubness_from_neighbors`` of the
  re-ranked lists, i.e. what ``reduce_hubness`` adds to the search. Numba's
  compilation of mutual proximity is done on a tiny graph first, not timed.
  Target (issue): each < 10 s.

``--quick`` uses n = 20,000 for both parts (targets then do not apply).
This file is a script, not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    # Allow `python tests/bench/bench_hubness.py` from a checkout without install.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.metrics._hubness_exact import as_vectors  # noqa: E402
from analysis.metrics.hubness import hubness, hubness_from_neighbors  # noqa: E402
from analysis.metrics.hubness_reduction import (  # noqa: E402
    METHODS,
    _float64_graph,
    _graph_stats,
    _rerank,
    _secondary_on_graph,
)
from analysis.neighbors import kneighbors, n_threads  # noqa: E402
from tests.bench.common import script_main  # noqa: E402

K = 10
K_SCALE = 5
N_CANDIDATES = min(100, 5 * K)  # reduce_hubness's default for k = 10
HUBNESS_N, HUBNESS_D = 100_000, 768
REDUCTION_N, REDUCTION_D = 100_000, 64
QUICK_N = 20_000
TARGET_RATIO = 1.2
TARGET_REDUCTION_S = 10.0


def _gaussian(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)


def bench_hubness_vs_knn(n: int, d: int = HUBNESS_D) -> list[dict]:
    X = _gaussian(n, d, seed=0)
    kneighbors(X[:2000], K)  # import faiss, warm the thread pool (not timed)
    start = time.perf_counter()
    kneighbors(X, K)
    knn_s = time.perf_counter() - start
    start = time.perf_counter()
    result = hubness(X, k=K)
    hub_s = time.perf_counter() - start
    full = n == HUBNESS_N
    ratio = hub_s / knn_s
    return [
        {"case": f"kNN alone {n:,}x{d} k={K}", "seconds": knn_s, "target": "-", "ok": None,
         "detail": "kneighbors(X, 10)"},
        {"case": f"hubness {n:,}x{d} k={K}", "seconds": hub_s,
         "target": f"<= {TARGET_RATIO}x kNN" if full else "- (quick size)",
         "ok": ratio <= TARGET_RATIO if full else None,
         "detail": f"ratio {ratio:.3f}; skewness {result.skewness:.2f}, robin hood {result.robin_hood:.3f}"},
    ]


def bench_reductions(n: int, d: int = REDUCTION_D) -> list[dict]:
    # Compile the numba kernel (and warm everything else) on a tiny graph.
    tiny = _gaussian(200, d, seed=9)
    tiny_i, tiny_d = _float64_graph(as_vectors(tiny, "euclidean"), kneighbors(tiny, 20)[1], "euclidean")
    tiny_st = _graph_stats(as_vectors(tiny, "euclidean"), tiny_i, tiny_d, "euclidean", K_SCALE, True)
    for method in METHODS:
        _rerank(_secondary_on_graph(method, tiny_i, tiny_d, tiny_st, "euclidean"), tiny_i, K)

    X = _gaussian(n, d, seed=1)
    start = time.perf_counter()
    cand_dist, cand_idx = kneighbors(X, N_CANDIDATES)
    graph_s = time.perf_counter() - start
    before = hubness_from_neighbors(cand_idx[:, :K], n_items=n)
    full = n == REDUCTION_N
    rows = [{"case": f"candidate graph {n:,}x{d} c={N_CANDIDATES}", "seconds": graph_s, "target": "-",
             "ok": None, "detail": f"not part of the rows below; skewness before {before.skewness:.2f}"}]
    start = time.perf_counter()
    V = as_vectors(X, "euclidean")
    cand_idx, cand_dist = _float64_graph(V, cand_idx, "euclidean")
    st = _graph_stats(V, cand_idx, cand_dist, "euclidean", K_SCALE, True)
    rows.append({"case": f"float64 graph + statistics {n:,}", "seconds": time.perf_counter() - start, "target": "-",
                 "ok": None, "detail": "candidate distances in float64; MP-Gaussian's normal over all distances"})
    for method in METHODS:
        start = time.perf_counter()
        secondary = _secondary_on_graph(method, cand_idx, cand_dist, st, "euclidean")
        indices, _ = _rerank(secondary, cand_idx, K)
        after = hubness_from_neighbors(indices, n_items=n)
        seconds = time.perf_counter() - start
        rows.append({
            "case": f"{method} {n:,} (k={K}, c={N_CANDIDATES})", "seconds": seconds,
            "target": f"< {TARGET_REDUCTION_S:.0f} s" if full else "- (quick size)",
            "ok": seconds < TARGET_REDUCTION_S if full else None,
            "detail": f"skewness after {after.skewness:.2f}",
        })
    return rows


def run(quick: bool = False) -> list[dict]:
    """Time both parts; one dict per row (``case, seconds, target, ok, detail``)."""
    return (bench_hubness_vs_knn(QUICK_N if quick else HUBNESS_N)
            + bench_reductions(QUICK_N if quick else REDUCTION_N))


def format_table(rows: list[dict]) -> str:
    header = f"{'case':<42} {'seconds':>8}  {'target':<16} {'result':<6} detail"
    lines = [header, "-" * len(header)]
    for r in rows:
        status = "-" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        lines.append(f"{r['case']:<42} {r['seconds']:>8.3f}  {r['target']:<16} {status:<6} {r['detail']}")
    return "\n".join(lines)


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    print("\n== hubness and hubness reduction (analysis.metrics.hubness*) ==", flush=True)
    print(f"{n_threads()} threads; load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = run(quick=quick)
    print(format_table(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "n = 20,000 for both parts", argv)


if __name__ == "__main__":
    raise SystemExit(main())
