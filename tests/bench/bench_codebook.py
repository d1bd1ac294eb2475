"""Benchmark codebook usage (`analysis.metrics.codebook_usage`).

Run:  python -m tests.bench.bench_codebook [--quick]

Row: 10,000,000 random codes with K = 65,536 (target < 1 s); ``--quick`` uses 1,000,000.
This file is a script, not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.metrics import codebook_usage  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

TARGET_SECONDS = 1.0


def run(quick: bool = False) -> list[dict]:
    n, K = (1_000_000 if quick else 10_000_000), 65_536
    codes = np.random.default_rng(0).integers(0, K, size=n)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        result = codebook_usage(codes, codebook_size=K)
        best = min(best, time.perf_counter() - started)
    return [{"case": f"{n:,} codes, K = {K:,}", "seconds": best, "target": f"< {TARGET_SECONDS:g} s",
             "ok": best < TARGET_SECONDS if not quick else None, "detail": f"perplexity {result.perplexity:,.0f}"}]


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    rows = run(quick=quick)
    print_rows("codebook usage (analysis.metrics.codebook_usage)", rows, case_width=34)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "1,000,000 codes", argv)


if __name__ == "__main__":
    raise SystemExit(main())
