"""Benchmark representation similarity (`analysis.metrics.similarity`).

Run:  python -m tests.bench.bench_similarity [--quick]

Rows (float32 Gaussian inputs, best of 3 runs):

* ``linear CKA`` and ``debiased CKA``: ``linear_cka(X, Y)`` between two
  independent 10,000 x 768 matrices. Target (issue): < 1 s each.
* ``cka_matrix``: a 10-layer x 10-layer matrix, each layer 10,000 x 256
  (45 cross products reusing 10 self-products). No target; reported.
* ``procrustes``: ``procrustes_distance`` on the same pair as the CKA rows. Reported.
* ``rbf CKA``: ``rbf_cka`` on the first 2,000 rows of that pair (n x n kernels). Reported.
* ``svcca`` / ``pwcca`` / ``neuron matching``: on the same pair as the CKA rows
  (an SVD per side; the matching is a 768 x 768 Hungarian assignment). Reported.
* ``cca_matrices``: SVCCA and PWCCA of the 10-layer list (10 SVDs, 45 pairs). Reported.
* ``compare``: `analysis.comparison.compare` (what ``replens compare`` runs) on the
  10,000 x 768 pair with 10 labels, once: every measure, stitching and the
  figures' PCA. No target; reported with its slowest stages.

``--quick`` uses 2,000 rows everywhere (targets then do not apply).
This file is a script, not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.comparison import compare  # noqa: E402
from analysis.metrics import (  # noqa: E402
    cka_matrix,
    linear_cka,
    neuron_matching,
    procrustes_distance,
    pwcca,
    rbf_cka,
    svcca,
)
from analysis.metrics.similarity import cca_matrices  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

TARGET_SECONDS = 1.0
N, D = 10_000, 768
LAYERS, LAYER_D = 10, 256
RBF_N = 2_000
QUICK_N = 2_000


def _best_of(fn: Callable[[], object], repeats: int = 3) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - started)
    return best, value


def run(quick: bool = False) -> list[dict]:
    n = QUICK_N if quick else N
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, D), dtype=np.float32)
    Y = rng.standard_normal((n, D), dtype=np.float32)
    rows = []
    for debiased in (False, True):
        seconds, value = _best_of(lambda debiased=debiased: linear_cka(X, Y, debiased=debiased))
        rows.append({"case": f"{'debiased' if debiased else 'linear'} CKA {n:,}x{D} pair", "seconds": seconds,
                     "target": f"< {TARGET_SECONDS:g} s" if not quick else "-",
                     "ok": seconds < TARGET_SECONDS if not quick else None,
                     "detail": f"CKA {value:.4f} (independent data)"})
    layers = [rng.standard_normal((n, LAYER_D), dtype=np.float32) for _ in range(LAYERS)]
    seconds, matrix = _best_of(lambda: cka_matrix(layers))
    rows.append({"case": f"cka_matrix {LAYERS} layers {n:,}x{LAYER_D}", "seconds": seconds, "target": "-",
                 "ok": None, "detail": f"{LAYERS * (LAYERS + 1) // 2} products; off-diagonal mean "
                                       f"{matrix[~np.eye(LAYERS, dtype=bool)].mean():.4f}"})
    seconds, value = _best_of(lambda: procrustes_distance(X, Y))
    rows.append({"case": f"procrustes {n:,}x{D} pair", "seconds": seconds, "target": "-", "ok": None,
                 "detail": f"distance {value:.4f} of max {np.sqrt(2):.4f}"})
    m = min(n, RBF_N)
    seconds, value = _best_of(lambda: rbf_cka(X[:m], Y[:m]))
    rows.append({"case": f"rbf CKA {m:,}x{D} pair", "seconds": seconds, "target": "-", "ok": None,
                 "detail": f"CKA {value:.4f}, sigma = 0.5 x median distance"})
    for name, fn, what in (("svcca", lambda: svcca(X, Y), lambda r: f"mean {r.mean:.4f}, kept {r.kept_x}/{r.kept_y}"),
                           ("pwcca", lambda: pwcca(X, Y), lambda r: f"similarity {r.similarity:.4f}"),
                           ("neuron matching", lambda: neuron_matching(X, Y),
                            lambda r: f"matched {r.mean_matched:.4f}, max {r.mean_max:.4f}")):
        seconds, value = _best_of(fn)
        rows.append({"case": f"{name} {n:,}x{D} pair", "seconds": seconds, "target": "-", "ok": None,
                     "detail": what(value) + " (independent data)"})
    seconds, (sv, pw) = _best_of(lambda: cca_matrices(layers))
    off = ~np.eye(LAYERS, dtype=bool)
    rows.append({"case": f"cca_matrices {LAYERS} layers {n:,}x{LAYER_D}", "seconds": seconds, "target": "-",
                 "ok": None, "detail": f"off-diagonal SVCCA {sv[off].mean():.4f}, PWCCA {pw[off].mean():.4f}"})
    started = time.perf_counter()
    result = compare(X, Y, labels=rng.integers(0, 10, n))
    seconds = time.perf_counter() - started
    slowest = sorted(result.timings.items(), key=lambda item: -item[1])[:3]
    rows.append({"case": f"compare {n:,}x{D} pair, 10 labels", "seconds": seconds, "target": "-", "ok": None,
                 "detail": ", ".join(f"{name} {t:.1f} s" for name, t in slowest)})
    return rows


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    rows = run(quick=quick)
    print_rows("representation similarity (analysis.metrics.similarity)", rows, case_width=36)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], f"{QUICK_N:,} rows", argv)


if __name__ == "__main__":
    raise SystemExit(main())
