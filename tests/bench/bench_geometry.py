"""Benchmark the sphere and spectrum metrics (uniformity, effective rank, covariance spectrum, isotropy).

Run:  python -m tests.bench.bench_geometry [--quick]

Rows (float32 standard Gaussian data, generated once per size, not timed):

* ``uniformity sampled``: ``uniformity(X, target_standard_error=0.01)`` on
  n = 1,000,000, d = 256 (above ``max_exact``, so random pairs). Target
  (issue): < 10 s with a standard error below 0.01.
* ``effective_rank``: ``effective_rank(X)`` on the same X (the streamed Gram
  path, since X has more than 20,000,000 elements). Target (issue): < 10 s.
* ``uniformity exact``: ``uniformity(X)`` on n = 20,000, d = 768 (every one
  of the 2e8 pairs). Target (issue): < 15 s.
* ``covariance_spectrum`` and ``isotropy`` on the 1,000,000 x 256 X, for
  information (no target).

``--quick`` uses n = 100,000 for the large X and n = 5,000 for the exact
uniformity (targets then do not apply). This file is a script, not a pytest
module (no ``test_`` prefix).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    # Allow `python tests/bench/bench_geometry.py` from a checkout without install.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.metrics import covariance_spectrum, effective_rank, isotropy, uniformity  # noqa: E402
from analysis.metrics.spectrum import _SVD_MAX_ELEMENTS  # noqa: E402
from analysis.metrics.sphere import EXACT_MAX_SAMPLES  # noqa: E402
from tests.bench.common import script_main  # noqa: E402

LARGE_N, LARGE_D = 1_000_000, 256
EXACT_N, EXACT_D = EXACT_MAX_SAMPLES, 768
QUICK_LARGE_N, QUICK_EXACT_N = 100_000, 5_000
TARGET_LARGE_S = 10.0
TARGET_EXACT_S = 15.0
TARGET_SE = 0.01


def _gaussian(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d), dtype=np.float32)


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_large(n: int, d: int = LARGE_D) -> list[dict]:
    X = _gaussian(n, d, seed=0)
    full = n == LARGE_N
    # Warm the BLAS thread pool and the imports on a small slice (not timed).
    uniformity(X[:2000])
    effective_rank(X[:2000])

    uni, uni_s = _timed(uniformity, X, target_standard_error=TARGET_SE)
    erank, erank_s = _timed(effective_rank, X)
    spec, spec_s = _timed(covariance_spectrum, X)
    iso, iso_s = _timed(isotropy, X)
    size = f"{n:,}x{d}"
    return [
        {"case": f"uniformity sampled {size}", "seconds": uni_s,
         "target": f"< {TARGET_LARGE_S:.0f} s, SE < {TARGET_SE}" if full else "- (quick size)",
         "ok": (uni_s < TARGET_LARGE_S and uni.standard_error < TARGET_SE) if full else None,
         "detail": f"value {uni.value:.4f} (uniform ref {uni.uniform_reference:.4f}), SE "
                   f"{uni.standard_error:.2e}, {uni.n_pairs:,} pairs"},
        {"case": f"effective_rank {size}", "seconds": erank_s,
         "target": f"< {TARGET_LARGE_S:.0f} s" if full else "- (quick size)",
         "ok": erank_s < TARGET_LARGE_S if full else None,
         "detail": f"erank {erank.effective_rank:.2f} of {d} "
                   f"({'streamed Gram' if n * d > _SVD_MAX_ELEMENTS else 'SVD'})"},
        {"case": f"covariance_spectrum {size}", "seconds": spec_s, "target": "-", "ok": None,
         "detail": f"top ratio {spec.explained_variance_ratio[0]:.4f}, 90 % in {spec.components_for(0.9)}"},
        {"case": f"isotropy {size}", "seconds": iso_s, "target": "-", "ok": None,
         "detail": f"IsoScore {iso.iso_score:.4f}, mean cos {iso.mean_cosine:.2e}, "
                   f"partition {iso.partition_isotropy:.3f}"},
    ]


def bench_exact(n: int, d: int = EXACT_D) -> list[dict]:
    X = _gaussian(n, d, seed=1)
    uniformity(X[:1500])  # warm up (not timed)
    result, seconds = _timed(uniformity, X)
    full = n == EXACT_N
    return [{"case": f"uniformity exact {n:,}x{d}", "seconds": seconds,
             "target": f"< {TARGET_EXACT_S:.0f} s" if full else "- (quick size)",
             "ok": seconds < TARGET_EXACT_S if full else None,
             "detail": f"value {result.value:.4f} (uniform ref {result.uniform_reference:.4f}), "
                       f"{result.n_pairs:,} pairs, exact={result.exact}"}]


def run(quick: bool = False) -> list[dict]:
    """Time every row; one dict per row (``case, seconds, target, ok, detail``)."""
    return (bench_large(QUICK_LARGE_N if quick else LARGE_N)
            + bench_exact(QUICK_EXACT_N if quick else EXACT_N))


def format_table(rows: list[dict]) -> str:
    header = f"{'case':<38} {'seconds':>8}  {'target':<20} {'result':<6} detail"
    lines = [header, "-" * len(header)]
    for r in rows:
        status = "-" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        lines.append(f"{r['case']:<38} {r['seconds']:>8.3f}  {r['target']:<20} {status:<6} {r['detail']}")
    return "\n".join(lines)


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    print("\n== sphere and spectrum metrics (uniformity, effective_rank, covariance_spectrum, isotropy) ==",
          flush=True)
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = run(quick=quick)
    print(format_table(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "n = 100,000 (large X) and 5,000 (exact)", argv)


if __name__ == "__main__":
    raise SystemExit(main())
