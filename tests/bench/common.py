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
