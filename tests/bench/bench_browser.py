"""Explore page: lasso-to-table latency at n = 100,000 in headless Chromium (target 1.5 s)."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

TARGET_SECONDS = 1.5


def run(quick: bool = False) -> list[dict]:
    from tests.e2e.harness import chromium, running_app
    from tests.e2e.latency import lasso_latencies, make_large_npy, upload

    n = 20_000 if quick else 100_000
    with running_app() as url, chromium() as browser, tempfile.TemporaryDirectory() as tmp:
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.set_default_timeout(120_000)
        upload(page, url, make_large_npy(Path(tmp) / f"bench_{n}.npy", n=n))
        seconds = lasso_latencies(page, url, trials=4)
    median = statistics.median(seconds)
    return [dict(case=f"lasso -> table, n={n:,}", median=median, worst=max(seconds), runs=seconds,
                 target=f"<= {TARGET_SECONDS} s", ok=median <= TARGET_SECONDS)]


def main() -> None:
    for r in run():
        print(f"{r['case']:<30} median {r['median']:.2f} s  worst {r['worst']:.2f} s  "
              f"{r['target']}  {'PASS' if r['ok'] else 'FAIL'}")


if __name__ == "__main__":
    main()
