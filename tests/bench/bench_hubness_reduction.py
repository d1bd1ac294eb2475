"""Benchmark the fidelity and speed of hubness reduction's modes (issue 19, section 1).

Run:  python -m tests.bench.bench_hubness_reduction [--quick]

For i.i.d. Gaussian X (float64, seeded) at n = 1,000 / 2,000 and d = 50 / 500,
k = 10, k_scale = 5, one row per method:

* ``exact``: skewness of N_k after the reduction with ``mode="exact"`` (every
  pair's secondary distance), ``default``: with the default mode (exact up to
  ``EXACT_MAX_N``), ``|diff|`` between them (target <= 0.15);
* ``auto-cand``: the candidate mode used above ``EXACT_MAX_N`` (count grown
  until a 200-row sample agrees with exact), with its candidate count, and
  ``old-50``: the previous default (50 candidates, what issue 19 measured);
* times: ``t exact`` all six methods in one call (one distance pass), ``t MP``
  exact empirical mutual proximity alone (target <= 10 s at n = 2,000,
  d = 500), ``t numpy MP``: a plain numpy full-matrix empirical MP, the
  hub-toolbox algorithm (per row i, the count over all j of
  ``(D[i] > D[i, j]) & (D[j] > D[i, j])``), what a user would otherwise run.

``--quick``: n = 1,000, d = 50 only, no numpy row.
This file is a script, not a pytest module (no ``test_`` prefix).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.metrics.hubness import hubness_from_neighbors  # noqa: E402
from analysis.metrics.hubness_reduction import METHODS, compare_reductions, reduce_hubness  # noqa: E402
from tests.bench.common import script_main  # noqa: E402

K, K_SCALE = 10, 5
CASES = ((1000, 50), (1000, 500), (2000, 50), (2000, 500))
TARGET_DIFF = 0.15
TARGET_MP_S = 10.0


def numpy_mp_skewness(X: np.ndarray, k: int = K) -> tuple[float, float]:
    """Plain numpy empirical MP on the full matrix (hub-toolbox's loop): (skewness, seconds)."""
    start = time.perf_counter()
    sq = np.einsum("ij,ij->i", X, X)
    D = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * X @ X.T, 0.0))
    n = len(D)
    S = np.zeros((n, n))
    for i in range(n - 1):
        thr = D[i, i + 1:, None]
        S[i, i + 1:] = ((D[i][None, :] > thr) & (D[i + 1:] > thr)).sum(axis=1) / n
    S = S + S.T
    np.fill_diagonal(S, -np.inf)  # MP is a similarity: larger is nearer
    indices = np.argsort(-S, axis=1, kind="stable")[:, :k]
    seconds = time.perf_counter() - start
    return hubness_from_neighbors(indices, n_items=n).skewness, seconds


def run(quick: bool = False) -> list[dict]:
    compare_reductions(np.random.default_rng(9).standard_normal((120, 8)), k=K)  # numba compile, not timed
    rows = []
    for n, d in CASES[:1] if quick else CASES:
        X = np.random.default_rng(n + d).standard_normal((n, d))
        start = time.perf_counter()
        exact = compare_reductions(X, k=K, k_scale=K_SCALE, mode="exact")
        t_exact = time.perf_counter() - start
        start = time.perf_counter()
        default = compare_reductions(X, k=K, k_scale=K_SCALE)
        t_default = time.perf_counter() - start
        start = time.perf_counter()
        auto = compare_reductions(X, k=K, k_scale=K_SCALE, mode="candidates")
        t_auto = time.perf_counter() - start
        old = compare_reductions(X, k=K, k_scale=K_SCALE, n_candidates=50)
        start = time.perf_counter()
        reduce_hubness(X, "mutual_proximity", k=K, mode="exact")
        t_mp = time.perf_counter() - start
        np_skew, t_np = (None, None) if quick else numpy_mp_skewness(X)
        for method in METHODS:
            e, f = exact[method].hubness.skewness, default[method].hubness.skewness
            diff = abs(f - e)
            row = {"method": method, "n": n, "d": d, "exact": e, "default": f, "diff": diff,
                   "auto": auto[method].hubness.skewness, "auto_c": auto[method].n_candidates,
                   "auto_agree": auto[method].agreement, "old50": old[method].hubness.skewness,
                   "t_exact": t_exact, "t_default": t_default, "t_auto": t_auto, "ok": diff <= TARGET_DIFF}
            if method == "mutual_proximity":
                row.update(t_mp=t_mp, np_skew=np_skew, t_np=t_np)
                if n == 2000 and d == 500:
                    row["ok"] = row["ok"] and t_mp <= TARGET_MP_S
            rows.append(row)
    return rows


def _f(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def format_table(rows: list[dict]) -> str:
    header = (f"{'method':<17} {'n':>5} {'d':>4} {'exact':>6} {'default':>7} {'|diff|':>6} {'auto-cand':>9} "
              f"{'(c, agree)':>12} {'old-50':>6} {'t exact':>7} {'t dflt':>6} {'t auto':>6} {'t MP':>6} "
              f"{'numpy MP skew/t':>15} result")
    lines = [header, "-" * len(header)]
    for r in rows:
        np_col = "-" if r.get("t_np") is None else f"{r['np_skew']:.2f}/{r['t_np']:.1f}s"
        cand = f"({r['auto_c']}, {r['auto_agree']:.3f})"
        lines.append(
            f"{r['method']:<17} {r['n']:>5} {r['d']:>4} {r['exact']:6.2f} {r['default']:7.2f} {r['diff']:6.3f} "
            f"{r['auto']:9.2f} {cand:>12} {r['old50']:6.2f} "
            f"{r['t_exact']:7.2f} {r['t_default']:6.2f} {r['t_auto']:6.2f} {_f(r.get('t_mp'), '6.2f'):>6} "
            f"{np_col:>15} {'PASS' if r['ok'] else 'FAIL'}")
    return "\n".join(lines)


def report(quick: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench`; return its rows."""
    print(f"\n== hubness reduction fidelity: default vs exact skewness (issue 19); load average "
          f"{os.getloadavg()[0]:.2f} ==", flush=True)
    print(f"targets: |default - exact| <= {TARGET_DIFF}; exact MP at 2,000 x 500 <= {TARGET_MP_S:.0f} s", flush=True)
    rows = run(quick=quick)
    print(format_table(rows), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    return script_main(report, __doc__.split("\n")[0], "n = 1,000, d = 50 only", argv)


if __name__ == "__main__":
    raise SystemExit(main())
