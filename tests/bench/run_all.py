"""`make bench`: time the main paths at several sizes and print one table per path.

Budgets come from the issues; results print PASS/FAIL but never fail the
build (timings on a shared 2-core machine vary with load).
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--skip-browser", action="store_true", help="skip the headless-Chromium benchmarks (lasso latency, UMAP on Explore, concurrent users)")
    args = parser.parse_args()

    from tests.bench import (
        bench_ann,
        bench_capture,
        bench_codebook,
        bench_collapse,
        bench_distributed,
        bench_geometry,
        bench_hubness,
        bench_hubness_reduction,
        bench_information,
        bench_knn,
        bench_load,
        bench_projection,
        bench_report,
        bench_retrieval,
        bench_scale,
        bench_similarity,
    )

    print("== exact kNN (analysis.neighbors.kneighbors) ==", flush=True)
    print(f"float32 matmul peak (numpy sgemm, median of 5): {bench_knn.matmul_gflops():.1f} GFLOP/s")
    print(bench_knn.format_table(bench_knn.run(quick=args.quick)), flush=True)
    bench_ann.report(quick=args.quick)
    print("\n== loading a large .npy ==", flush=True)
    print(f"{'case':<34} {'seconds':>8} {'copies':>7} {'no copy':>7}  {'target':<28} result")
    for r in bench_load.run(quick=args.quick):
        print(f"{r['case']:<34} {r['seconds']:8.3f} {r['copies']:7.2f} {str(r['memory_mapped']):>7}  "
              f"{r['target']:<28} {'PASS' if r['ok'] else 'FAIL'}")
    bench_collapse.report(quick=args.quick)
    bench_hubness.report(quick=args.quick)
    bench_retrieval.report(quick=args.quick)
    bench_hubness_reduction.report(quick=args.quick)
    bench_geometry.report(quick=args.quick)
    bench_codebook.report(quick=args.quick)
    bench_information.report(quick=args.quick)
    bench_similarity.report(quick=args.quick)
    bench_projection.report(quick=args.quick)
    bench_report.report(quick=args.quick)
    bench_distributed.report(quick=args.quick)
    bench_scale.report(quick=args.quick)
    bench_capture.report(quick=args.quick)
    if not args.skip_browser:
        from tests.bench import bench_browser

        print("\n== Explore page in headless Chromium ==", flush=True)
        for r in bench_browser.run(quick=args.quick):
            runs = ", ".join(f"{s:.2f}" for s in r["runs"])
            print(f"{r['case']:<30} median {r['median']:.2f} s  worst {r['worst']:.2f} s  ({runs})  "
                  f"{r['target']}  {'PASS' if r['ok'] else 'FAIL'}")
        bench_projection.report_browser(quick=args.quick)
        from tests.bench import bench_concurrency

        bench_concurrency.report(quick=args.quick)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
