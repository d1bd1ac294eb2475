"""Scale: time and peak memory of every main step at n = 10^4 / 10^5 / 10^6, against what a user would otherwise run.

Run:  python -m tests.bench.bench_scale [--quick] [--sizes 10000x256,100000x768] [--steps STEP,...] [--in-process]

Data: `scale_support.lowid` (20 labelled classes, each a 16-dimensional
Gaussian mapped into d dimensions, plus noise), written once per size to a
``.npy`` + labels in a temporary folder (removed at the end). Sizes: d = 256
at n = 10^4, 10^5, 10^6; d = 768 at 10^4 and 10^5; at 10^6 x 768 only the
load and approximate kNN (the rest would add ~15 minutes and says nothing
the 256 rows do not). ``--quick``: n = 2,000 and 5,000 at d = 256, UMAP at
2,000 only, every step in this process (seconds to a minute).

Each cell is one step in a fresh spawned process (`scale_support`): seconds
of the step alone (setup and imports untimed), "peak" = the process's peak
RSS during the step (GiB; the interpreter, libraries and the opened data
included) and "extra" = peak minus the RSS just before the step. RepLens opens
the ``.npy`` memory-mapped (`load_embedding`), the competitor with
``np.load``. The speed-up column is competitor seconds / RepLens seconds
(below 1: the competitor is faster, and the row says so).

Steps (RepLens | competitor):

* load: `load_embedding` | ``np.load``;
* kNN exact: ``NeighborGraph.search(exact=True)`` | scikit-learn
  ``NearestNeighbors(n_neighbors=11).fit(X).kneighbors(X)``; at 10^6 RepLens
  is extrapolated from its first 100,000 rows x 100 (quadratic in n), the
  competitor from 10,000 query rows x 100 (linear in the queries);
* kNN approximate: ``NeighborGraph.search(exact=False)`` with its measured recall@10 | the same sklearn run;
* hubness from the graph: `hubness(X, neighbors=graph)` | ``scipy.stats.skew(np.bincount(I))``;
* neural collapse: `neural_collapse` (NC1-NC4) | numpy NC1 (per-class float64 scatter);
* uniformity: `uniformity` | numpy ``log mean exp(-2 ||u_i - u_j||^2)``: scipy
  ``pdist`` over all pairs where RepLens is exact (n <= 20,000), else the same
  number of random pairs RepLens drew;
* effective rank: `effective_rank` | ``np.linalg.svd(X - mean)``;
* PCA / UMAP: `analysis.projection.project` (what the app draws) |
  sklearn ``PCA(2)`` / ``umap.UMAP()`` defaults; UMAP at 10^6 is extrapolated
  linearly from the 10^5 row of the same run (a lower bound: UMAP grows like
  n log n), and not run when that row is not;
* full report: ``diagnose(X, labels=..., k=10)``;
* at the largest d = 256 size: one bare exact ``faiss.knn`` of 100,000 of its
  rows (the report target's yardstick); at 10^5 (quick: 5,000): approximate
  kNN on isotropic Gaussian blobs, the index's worst case.

Targets (issue 17; printed PASS/FAIL, never failing the build): the full
report on 10^6 x 256 with labels under 5 minutes, under 8 GiB peak and at most
3x the faiss yardstick; approximate recall@10 >= 0.95 at 10^6.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import scale_cases as cases  # noqa: E402
from tests.bench.scale_support import machine_line, run_isolated, write_dataset  # noqa: E402

EXACT_LIMIT = 200_000  # analysis.neighbors.approximate.EXACT_LIMIT: the report's default search above it
SAMPLE_ROWS = 100_000  # rows measured for the 10^6 extrapolations
REFERENCE_ROWS = 100_000
STEPS = ("load", "kNN exact", "kNN approximate", "hubness (graph)", "neural collapse", "uniformity",
         "effective rank", "PCA projection", "UMAP projection", "full report")
FULL_SIZES: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (10_000, 256, STEPS), (10_000, 768, STEPS), (100_000, 256, STEPS), (100_000, 768, STEPS),
    (1_000_000, 256, STEPS), (1_000_000, 768, ("load", "kNN approximate")))
# Quick: UMAP (numba's compilation alone ~15 s) at the smaller size only.
QUICK_SIZES = ((2_000, 256, STEPS), (5_000, 256, tuple(s for s in STEPS if s != "UMAP projection")))
BLOBS_N = {False: 100_000, True: 5_000}
TIMEOUT_S = 1_800.0
REPORT_SECONDS, REPORT_GIB, REPORT_RATIO, TARGET_RECALL = 300.0, 8.0, 3.0, 0.95
REFERENCE = "faiss kNN reference"
BLOBS = "kNN approximate, blobs"


@dataclass(frozen=True)
class Side:
    """One measurement: `fn` on the job plus `extra`; or, with `reuse`, an earlier row's result x `scale`."""

    fn: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0
    note: str = ""
    reuse: tuple[str, int, int] | None = None  # (step, n, d) of the row to reuse when it was measured
    needs: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # job options from RepLens's result


@dataclass(frozen=True)
class Spec:
    step: str
    n: int
    d: int
    competitor: str
    replens: Side | None
    plain: Side | None


def _uniformity_pairs(result: dict[str, Any]) -> dict[str, Any]:
    return {"pairs": None if result.get("exact", True) else int(result["n_pairs"])}


def specs_for(n: int, d: int, steps: tuple[str, ...], *, largest_256: bool, quick: bool) -> list[Spec]:
    """The rows of one data size, in the order they run (the kNN rows leave the graph hubness reads)."""
    big = n > EXACT_LIMIT
    grow = (n / SAMPLE_ROWS) ** 2
    exact_replens = (Side(cases.replens_knn_exact, {"rows": SAMPLE_ROWS}, grow,
                          f"extrapolated from {SAMPLE_ROWS:,} rows x {grow:g} (quadratic in n)",
                          reuse=("kNN exact", SAMPLE_ROWS, d)) if big else Side(cases.replens_knn_exact))
    sklearn = Side(cases.plain_knn, {"queries": cases.SAMPLED_QUERIES} if big else {})
    umap_factor = n / SAMPLE_ROWS
    umap_note = f"extrapolated from {SAMPLE_ROWS:,} rows x {umap_factor:g} (linear: a lower bound)"
    table: dict[str, tuple[str, Side | None, Side | None]] = {
        "load": ("np.load", Side(cases.replens_load), Side(cases.plain_load)),
        "kNN exact": ("sklearn NearestNeighbors", exact_replens, sklearn),
        "kNN approximate": ("sklearn NearestNeighbors", Side(cases.replens_knn_approx),
                            Side(cases.plain_knn, sklearn.extra, reuse=("kNN exact", n, d))),
        "hubness (graph)": ("scipy skew of bincount", Side(cases.replens_hubness, {"graph_exact": not big}),
                            Side(cases.plain_hubness, {"graph_exact": not big})),
        "neural collapse": ("numpy NC1", Side(cases.replens_nc), Side(cases.plain_nc)),
        "uniformity": ("numpy pairs", Side(cases.replens_uniformity),
                       Side(cases.plain_uniformity, needs=_uniformity_pairs)),
        "effective rank": ("np.linalg.svd", Side(cases.replens_erank), Side(cases.plain_erank)),
        "PCA projection": ("sklearn PCA(2)", Side(cases.replens_pca), Side(cases.plain_pca)),
        "UMAP projection": ("umap.UMAP() defaults",
                            # At 10^6 only from this run's 10^5 rows: measuring 10^5 again costs ~10 minutes.
                            Side(None, scale=umap_factor, note=umap_note, reuse=("UMAP projection", SAMPLE_ROWS, d))
                            if big else Side(cases.replens_umap),
                            Side(None, scale=umap_factor, note=umap_note, reuse=("UMAP projection", SAMPLE_ROWS, d))
                            if big else Side(cases.plain_umap)),
        "full report": ("—", Side(cases.replens_report), None),
    }
    out = [Spec(step, n, d, *table[step]) for step in STEPS if step in steps]
    if largest_256:
        out.append(Spec(REFERENCE, n, d, "—", Side(cases.replens_faiss_reference, {"rows": REFERENCE_ROWS}), None))
    if d == 256 and n == BLOBS_N[quick]:
        out.append(Spec(BLOBS, n, d, "—", Side(cases.replens_blobs_approx), None))
    return out


# ------------------------------------------------------------------------------------------------ running
def _measure(side: Side | None, spec: Spec, job: dict[str, Any], results: dict, replens: dict | None,
             isolate: bool) -> dict[str, Any] | None:
    if side is None:
        return None
    which = "replens" if side is spec.replens else "plain"
    if side.reuse is not None:
        earlier = results.get((*side.reuse, which))
        if earlier is not None and "error" not in earlier and side.reuse != (spec.step, spec.n, spec.d):
            out = dict(earlier)
            if side.scale != 1.0:
                out["seconds"] *= side.scale
                out["estimated"] = True
                out["detail"] = f"{out.get('detail', '')}; {side.note}".lstrip("; ")
            elif side.reuse[0] != spec.step:
                out["detail"] = f"{out.get('detail', '')} (the {side.reuse[0]} row's run)"
            return out
    if side.fn is None:
        step, n, d = side.reuse or (spec.step, spec.n, spec.d)
        return {"skipped": f"extrapolated from the {n:,} x {d} row, which this run did not measure"}
    options = dict(side.extra)
    if side.needs is not None:
        if replens is None or "error" in replens:
            return {"error": "needs the RepLens result of this row"}
        options |= side.needs(replens)
    out = run_isolated(side.fn, job | options, timeout=TIMEOUT_S, isolate=isolate)
    if "error" not in out and side.scale != 1.0:
        out["seconds"] *= side.scale
        out["estimated"] = True
        out["detail"] = f"{out.get('detail', '')}; {side.note}"
    return out


def run(*, quick: bool = False, sizes: tuple[tuple[int, int, tuple[str, ...]], ...] | None = None,
        isolate: bool = True, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Measure every (size, step); one table row (`build_row`) per step, in run order."""
    sizes = sizes or (QUICK_SIZES if quick else FULL_SIZES)
    largest = max((n for n, d, steps in sizes if d == 256 and "full report" in steps), default=None)
    results: dict[tuple[str, int, int, str], dict] = {}
    rows: list[dict] = []
    folder = Path(tempfile.mkdtemp(prefix="replens-scale-"))
    try:
        for n, d, steps in sizes:
            started = time.perf_counter()
            job = write_dataset(folder, n, d)
            generated = time.perf_counter() - started
            for spec in specs_for(n, d, steps, largest_256=(n == largest and d == 256), quick=quick):
                replens = _measure(spec.replens, spec, job, results, None, isolate)
                plain = _measure(spec.plain, spec, job, results, replens, isolate)
                for side, value in (("replens", replens), ("plain", plain)):
                    if value is not None:
                        results[(spec.step, n, d, side)] = value
                row = build_row(spec.step, n, d, spec.competitor, replens, plain)
                row["generated_s"] = generated
                rows.append(row)
                if progress is not None:
                    progress(row)
            for path in folder.iterdir():  # this size's data and graphs: disk is not free at 10^6 x 768
                path.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


# ------------------------------------------------------------------------------------------------- table
def build_row(step: str, n: int, d: int, competitor: str, replens: dict | None, plain: dict | None) -> dict:
    """One table row from the two measurements (None: not measured); ratios from the measured values.

    ``speedup`` = competitor seconds / RepLens seconds (> 1: RepLens faster),
    ``memory_ratio`` = competitor peak / RepLens peak; None unless both sides have a number.
    """
    row: dict[str, Any] = {"step": step, "n": n, "d": d, "size": f"{n:,} x {d}", "competitor": competitor,
                           "recall": (replens or {}).get("recall")}
    for side, m in (("replens", replens), ("plain", plain)):
        m = m or {}
        row[f"{side}_s"] = m.get("seconds")
        row[f"{side}_peak_gib"] = m.get("peak_gib")
        row[f"{side}_extra_gib"] = m.get("extra_gib")
        row[f"{side}_estimated"] = bool(m.get("estimated"))
        row[f"{side}_value"] = m.get("value")  # the number both computed, where they compute the same one
        row[f"{side}_detail"] = (f"failed: {m['error']}" if "error" in m else
                                 f"not run: {m['skipped']}" if "skipped" in m else m.get("detail", ""))
    r_s, p_s = row["replens_s"], row["plain_s"]
    row["speedup"] = p_s / r_s if r_s and p_s is not None else None
    r_m, p_m = row["replens_peak_gib"], row["plain_peak_gib"]
    row["memory_ratio"] = p_m / r_m if r_m and p_m is not None else None
    return row


def _num(value: float | None, fmt: str, estimated: bool = False) -> str:
    return "—" if value is None else ("~" if estimated else "") + format(value, fmt)


HEADER = (f"{'size':<15} {'step':<24} {'RepLens s':>10} {'peak':>6} {'extra':>6}  {'competitor':<24} "
          f"{'s':>10} {'peak':>6} {'extra':>6}  {'speed-up':>9}  detail")


def format_line(r: dict) -> str:
    """One row of the table (`HEADER`'s columns)."""
    speed = r["speedup"]
    verdict = "" if speed is None else ("  (competitor faster)" if speed < 1 else "")
    detail = r["replens_detail"] + (f" | {r['plain_detail']}" if r["plain_detail"] else "")
    return (f"{r['size']:<15} {r['step']:<24} {_num(r['replens_s'], '.2f', r['replens_estimated']):>10} "
            f"{_num(r['replens_peak_gib'], '.2f'):>6} {_num(r['replens_extra_gib'], '.2f'):>6}  "
            f"{r['competitor']:<24} {_num(r['plain_s'], '.2f', r['plain_estimated']):>10} "
            f"{_num(r['plain_peak_gib'], '.2f'):>6} {_num(r['plain_extra_gib'], '.2f'):>6}  "
            f"{_num(speed, '.2f') + ('x' if speed is not None else ''):>9}  {detail}{verdict}")


def format_table(rows: list[dict]) -> str:
    """The table: per row RepLens and competitor seconds / peak / extra GiB, the speed-up, and the details."""
    return "\n".join([HEADER, "-" * len(HEADER)] + [format_line(r) for r in rows])


def _find(rows: list[dict], step: str, n: int, d: int) -> dict | None:
    return next((r for r in rows if r["step"] == step and r["n"] == n and r["d"] == d), None)


def targets(rows: list[dict], *, n: int = 1_000_000, d: int = 256, judged: bool = True) -> list[dict]:
    """Issue 17's targets read off the rows of size (n, d): one dict per target with ``ok`` True/False,
    or None where the row is missing, failed, estimated, or `judged` is False (quick sizes)."""
    report, reference = _find(rows, "full report", n, d), _find(rows, REFERENCE, n, d)
    approx = _find(rows, "kNN approximate", n, d)

    def measured(row: dict | None, key: str) -> float | None:
        if row is None or row.get(key) is None or row.get("replens_estimated"):
            return None
        return float(row[key])

    seconds, peak = measured(report, "replens_s"), measured(report, "replens_peak_gib")
    ref_s, recall = measured(reference, "replens_s"), measured(approx, "recall")
    ratio = seconds / ref_s if seconds is not None and ref_s else None
    checks = [
        (f"full report {n:,} x {d} time", seconds, f"< {REPORT_SECONDS:g} s", lambda v: v < REPORT_SECONDS, "s"),
        (f"full report {n:,} x {d} peak RSS", peak, f"< {REPORT_GIB:g} GiB", lambda v: v < REPORT_GIB, "GiB"),
        (f"full report / faiss kNN of {min(n, REFERENCE_ROWS):,} rows", ratio, f"<= {REPORT_RATIO:g}x",
         lambda v: v <= REPORT_RATIO, "x"),
        (f"approximate recall@10 at {n:,} x {d}", recall, f">= {TARGET_RECALL}", lambda v: v >= TARGET_RECALL, ""),
    ]
    return [{"case": case, "value": value, "unit": unit, "target": target,
             "ok": None if value is None or not judged else bool(test(value))}
            for case, value, target, test, unit in checks]


def format_targets(checks: list[dict]) -> str:
    lines = []
    for c in checks:
        verdict = "—" if c["ok"] is None else ("PASS" if c["ok"] else "FAIL")
        value = "—" if c["value"] is None else f"{c['value']:.3g} {c['unit']}".rstrip()
        lines.append(f"{c['case']:<48} {value:>12}  {c['target']:<12} {verdict}")
    return "\n".join(lines)


def report(quick: bool = False, sizes=None, isolate: bool | None = None) -> list[dict]:
    """Print this benchmark's section of `make bench` (table, then targets); return the rows.

    `isolate` (default: not `quick`) runs each step in a fresh process; the quick sizes run in this one.
    """
    isolate = not quick if isolate is None else isolate
    print(f"\n== scale: time (s) and peak RSS (GiB) per step vs what a user would otherwise run ==\n"
          f"{machine_line()}; each cell a fresh process; peak = process peak RSS during the step, "
          f"extra = peak - RSS before it; ~ = extrapolated (see detail)", flush=True)
    print(HEADER, flush=True)
    rows = run(quick=quick, sizes=sizes, isolate=isolate, progress=lambda r: print(format_line(r), flush=True))
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end; the table again:", flush=True)
    print(format_table(rows), flush=True)
    biggest = max((r["n"] for r in rows if r["d"] == 256 and r["step"] == "full report"), default=1_000_000)
    judged = not quick and biggest == 1_000_000
    print(f"\ntargets (issue 17){'' if judged else f'; not judged at {biggest:,} rows'}:")
    print(format_targets(targets(rows, n=biggest, judged=judged)), flush=True)
    return rows


def _parse_sizes(text: str) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    known = {(n, d): steps for n, d, steps in FULL_SIZES}
    out = []
    for item in text.split(","):
        n_text, _, d_text = item.strip().lower().partition("x")
        n, d = int(float(n_text)), int(d_text or 256)
        out.append((n, d, known.get((n, d), STEPS)))
    return tuple(out)


def _parse_steps(text: str) -> tuple[str, ...]:
    steps = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 2,000 and 5,000 at d = 256 (seconds)")
    parser.add_argument("--sizes", type=_parse_sizes, default=None,
                        help="comma-separated NxD, e.g. 1e4x256,1e5x768 (default: every size)")
    parser.add_argument("--steps", type=_parse_steps, default=None,
                        help="comma-separated steps to measure at each size (default: all), e.g. "
                             "'kNN approximate,full report' for the issue-17 targets alone (the faiss "
                             "reference comes with the full report)")
    parser.add_argument("--in-process", action="store_true",
                        help="measure every step in this process (the default with --quick): no spawn cost, "
                             "but a step may reuse memory an earlier one freed")
    args = parser.parse_args(argv)
    sizes = args.sizes
    if args.steps is not None:
        sizes = tuple((n, d, tuple(s for s in steps if s in args.steps))
                      for n, d, steps in (sizes or (QUICK_SIZES if args.quick else FULL_SIZES)))
    report(quick=args.quick, sizes=sizes, isolate=not (args.in_process or args.quick))
    return 0  # targets print PASS/FAIL; timings on a shared machine never fail the build


if __name__ == "__main__":
    raise SystemExit(main())
