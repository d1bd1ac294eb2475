"""What every benchmark script shares: its command line and its closing line."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable


def script_main(report: Callable[..., list[dict]], description: str, quick_help: str,
                argv: list[str] | None = None) -> int:
    """`python -m tests.bench.<name> [--quick]`: run `report`, exit 1 if any row FAILs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    rows = report(quick=args.quick)
    failed = [r for r in rows if r["ok"] is False]
    print(f"load average {os.getloadavg()[0]:.2f} at end; {len(failed)} FAIL")
    return 1 if failed else 0


def print_rows(title: str, rows: list[dict], *, case_width: int = 34) -> None:
    """One benchmark section: a title with the load average, then case, seconds, target, verdict, detail."""
    print(f"\n== {title}; load average {os.getloadavg()[0]:.2f} ==", flush=True)
    print(f"{'case':<{case_width}} {'seconds':>8}  {'target':<8} result  detail")
    for r in rows:
        verdict = "—" if r["ok"] is None else ("PASS" if r["ok"] else "FAIL")
        print(f"{r['case']:<{case_width}} {r['seconds']:8.3f}  {r['target']:<8} {verdict:<6}  {r['detail']}",
              flush=True)
