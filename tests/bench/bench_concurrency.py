"""Eight users at once: peak server RSS, slowest page response and trainings queued, per wave.

The flow is tests/e2e/concurrency.py's (the e2e test's): each session uploads
its own .npy, checks the Data page, switches to Codebook usage and presses
the same VQ training at once, on a server with REPLENS_MAX_TRAININGS=2. A page
response is the time from the click or upload to its main content showing
(title, expected text, app idle). No budget: the issue asks for the numbers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

LIMIT = 2


def run(quick: bool = False) -> list[dict]:
    from tests.e2e.concurrency import SERVER_ARGS, run_wave
    from tests.e2e.harness import chromium, running_server

    sizes = [4] if quick else [1, 4, 8]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, \
            running_server(Path(tmp) / "server.log", env={"REPLENS_MAX_TRAININGS": str(LIMIT)},
                        args=SERVER_ARGS) as (url, proc), \
            chromium() as browser:
        start = 0
        for n in sizes:
            for wave in (1, 2) if n == sizes[-1] else (1,):
                result = run_wave(browser, url, Path(tmp), first_index=start, n_sessions=n, server_pid=proc.pid)
                start += n
                seconds, where = result.slowest_response
                training = max(s.seconds["training"] for s in result.sessions)
                rows.append(dict(sessions=n, wave=wave, peak_rss_mb=result.peak_rss_mb,
                                 rss_after_mb=result.rss_after_mb, slowest_s=seconds, slowest_where=where,
                                 queued=result.queued, last_training_s=training,
                                 health=f"{result.health_checks - len(result.health_failures)}/"
                                        f"{result.health_checks} ok, slowest {result.slowest_health_s:.2f} s"))
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n== concurrent users (one server, REPLENS_MAX_TRAININGS={LIMIT}); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} ==", flush=True)
    print(f"{'sessions':>8} {'wave':>4} {'peak RSS':>9} {'RSS after':>9} {'slowest page':>12} "
          f"{'queued':>6} {'all trained':>11}  slowest step / health")
    for r in rows:
        print(f"{r['sessions']:>8} {r['wave']:>4} {r['peak_rss_mb']:>6.0f} MB {r['rss_after_mb']:>6.0f} MB "
              f"{r['slowest_s']:>10.2f} s {r['queued']:>6} {r['last_training_s']:>9.1f} s  "
              f"{r['slowest_where']} / health {r['health']}", flush=True)


def report(quick: bool = False) -> list[dict]:
    rows = run(quick=quick)
    print_table(rows)
    return rows


def main() -> None:
    report(quick="--quick" in sys.argv[1:])


if __name__ == "__main__":
    main()
