"""Benchmark the information plane (`analysis.metrics.information_table.information_plane_table`).

Run:  python -m tests.bench.bench_information [--quick]

Rows: every layer (hidden and softmax output) at every checkpoint of the
shipped 12-bit tanh run with each estimator (binning and adaptive binning
target < 5 s, from the issue; KDE, adaptive KDE and KSG reported without a target), and the estimator check of
each estimator. ``--quick`` measures the first 5 checkpoints only.
This file is a script, not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.data import load_run  # noqa: E402
from analysis.metrics.information_table import information_plane_table  # noqa: E402
from analysis.metrics.information_validation import EstimatorSettings, estimator_validation  # noqa: E402
from analysis.samples import ensure_samples  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

TARGET_SECONDS = {"binning": 5.0, "adaptive_binning": 5.0}
ESTIMATORS = ("binning", "adaptive_binning", "kde", "adaptive_kde", "ksg")


def run(quick: bool = False) -> list[dict]:
    run_ = load_run(ensure_samples()["ib_tanh"])
    steps = list(run_.steps[:5] if quick else run_.steps)
    rows = []
    for estimator in ESTIMATORS:
        started = time.perf_counter()
        table = information_plane_table(run_, estimator=estimator, steps=steps)
        seconds = time.perf_counter() - started
        target = TARGET_SECONDS.get(estimator)
        last = table.filter(table["step"] == steps[-1])
        rows.append({
            "case": f"ib_tanh, {table['layer'].n_unique()} layers x {len(steps)} ckpts, {estimator}",
            "seconds": seconds, "target": f"< {target:g} s" if target else "—",
            "ok": (seconds < target) if target and not quick else None,
            "detail": f"{len(run_.labels):,} inputs; last I(X;T) {last['i_xt'].min():.2f}-{last['i_xt'].max():.2f} bits",
        })
    for estimator in ESTIMATORS:
        started = time.perf_counter()
        check = estimator_validation(EstimatorSettings(estimator=estimator),
                                     n_values=(256, 1024) if quick else (256, 1024, 4096))
        seconds = time.perf_counter() - started
        rows.append({"case": f"estimator check, {estimator} ({len(check) // 2} cases)", "seconds": seconds,
                     "target": "—", "ok": None,
                     "detail": f"largest |error| {check['error'].abs().max():.2f} bits"})
    return rows


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    rows = run(quick=quick)
    print_rows("information plane (analysis.metrics.information_table)", rows, case_width=48)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "first 5 checkpoints only", argv)


if __name__ == "__main__":
    raise SystemExit(main())
