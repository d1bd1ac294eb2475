"""Benchmark the full diagnostic report (`analysis.report.diagnose`).

Run:  python -m tests.bench.bench_report [--quick]

Row: ``diagnose`` on n = 50,000, d = 768 float32 Gaussian-mixture data with
10 labels (class means at distance ~0.5 sqrt(2d) apart, unit noise; generated
once, not timed). Target (issue 9): < 60 s on a 2-core machine. The detail
gives the time of each stage; the two exact kNN searches (the data and the
Gaussian baseline of the same size) dominate. The Gaussian baseline cache is
cleared first, so the row is what a first report costs. Then the HTML and
JSON export of that report, for information. ``--quick`` uses 5,000 rows
(the target then does not apply). This file is a script, not a pytest module
(no ``test_`` prefix).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis import report as report_module  # noqa: E402
from analysis.report import diagnose  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

N, D, CLASSES = 50_000, 768, 10
QUICK_N = 5_000
TARGET_SECONDS = 60.0


def mixture(n: int, d: int = D, classes: int = CLASSES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian mixture: `classes` means of norm ~ 0.5 sqrt(d), unit isotropic noise, float32."""
    rng = np.random.default_rng(seed)
    means = 0.5 * rng.standard_normal((classes, d), dtype=np.float32)
    labels = rng.integers(0, classes, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32)
    X += means[labels]
    return X, labels


def run(quick: bool = False) -> list[dict]:
    n = QUICK_N if quick else N
    X, labels = mixture(n)
    report_module._BASELINE_CACHE.clear()
    started = time.perf_counter()
    result = diagnose(X, labels=labels, k=10, seed=0)
    seconds = time.perf_counter() - started
    stages = ", ".join(f"{name} {t:.1f}" for name, t in result.timings.items())
    counts = result.verdict_counts()
    verdicts = " ".join(f"{v} {c}" for v, c in counts.items())
    rows = [{"case": f"diagnose {n:,} x {D}, {CLASSES} labels", "seconds": seconds,
             "target": f"< {TARGET_SECONDS:g} s", "ok": None if quick else seconds < TARGET_SECONDS,
             "detail": f"stages (s): {stages}; verdicts: {verdicts}"}]
    started = time.perf_counter()
    page = result.to_html()
    text = result.to_json()
    rows.append({"case": "export HTML + JSON", "seconds": time.perf_counter() - started, "target": "—",
                 "ok": None, "detail": f"HTML {len(page) / 1e6:.1f} MB (plotly.js inline), JSON {len(text) / 1e3:.0f} kB"})
    return rows


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    rows = run(quick=quick)
    print_rows("diagnostic report (analysis.report.diagnose)", rows, case_width=34)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], f"{QUICK_N:,} rows", argv)


if __name__ == "__main__":
    raise SystemExit(main())
