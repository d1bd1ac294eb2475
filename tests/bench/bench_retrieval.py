"""Benchmark cross-modal retrieval re-ranking (`analysis.metrics.retrieval.rerank_retrieval`).

Run:  python -m tests.bench.bench_retrieval [--quick]

One row per method on the cosine similarities of n Gaussian unit queries
against n gallery items (d = 128, k = 10; n = 10,000, so S holds 10^8
float64 cells, 0.8 GB): the whole call (normalisers, every block's scores,
the top-k before and after, hubness). DBNorm's gallery bank is the gallery
against itself with the diagonal left out (another 0.8 GB). No target in the
issue: the rows show the cost of each method against ``none``. ``--quick``
uses n = 3,000. This file is a script, not a pytest module.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.metrics.retrieval import METHODS, rerank_retrieval  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

N, QUICK_N, D, K = 10_000, 3_000, 128, 10


def _unit(n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, D))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def run(quick: bool = False) -> list[dict]:
    n = QUICK_N if quick else N
    Q, G = _unit(n, 0), _unit(n, 1)
    S = Q @ G.T
    H = G @ G.T
    np.fill_diagonal(H, -np.inf)
    rows = []
    for method in METHODS:
        start = time.perf_counter()
        result = rerank_retrieval(S, method=method, k=K, gallery_bank=H if method == "dbnorm" else None)
        seconds = time.perf_counter() - start
        rows.append({"case": f"{method} {n:,}x{n:,} k={K}", "seconds": seconds, "target": "-", "ok": None,
                     "detail": f"skewness {result.skewness_before:.2f} -> {result.skewness_after:.2f}"})
    return rows


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    rows = run(quick=quick)
    print_rows("retrieval re-ranking (analysis.metrics.retrieval)", rows)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], f"n = {QUICK_N:,}", argv)


if __name__ == "__main__":
    raise SystemExit(main())
