"""Lasso-to-table latency on the Explore page, shared by the e2e suite and `make bench`."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.e2e.helpers import (
    attach_and_load,
    chart_box,
    draw_lasso,
    open_page,
    selection_count,
    wait_idle,
)


def make_large_npy(path: Path, n: int = 100_000, d: int = 32, seed: int = 0) -> Path:
    """Overlapping Gaussian blobs: structure to see, and no empty patch for a lasso to miss."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(8, d))
    X = centres[rng.integers(0, 8, size=n)] + rng.normal(size=(n, d))
    np.save(path, X.astype(np.float32))
    return path


def upload(page, base_url: str, path: Path) -> None:
    open_page(page, base_url, "data")
    attach_and_load(page, path)
    page.get_by_role("heading", name=path.name).wait_for(timeout=120_000)
    wait_idle(page)


MISSED = float("inf")


def lasso_latencies(page, base_url: str, *, trials: int = 3) -> list[float]:
    """Seconds from releasing the mouse to the new selection count being shown, per lasso.

    A lasso whose selection never shows within 30 s counts as MISSED (infinity).
    """
    page.get_by_role("link", name="Explore").click()
    page.get_by_role("heading", name="Explore", level=1).wait_for()
    wait_idle(page, timeout_s=180)
    page.locator(".js-plotly-plot .nsewdrag").first.wait_for(state="attached", timeout=120_000)
    page.wait_for_timeout(1500)
    latencies = []
    for trial in range(trials):
        before = selection_count(page)
        box = chart_box(page)
        draw_lasso(page, box, radius_fraction=0.18 + 0.06 * trial, centre=(0.45 + 0.05 * trial, 0.5))
        start = time.perf_counter()
        deadline = start + 30
        latency = MISSED
        while time.perf_counter() < deadline:
            count = selection_count(page)
            if count is not None and count != before and count > 0:
                latency = time.perf_counter() - start
                break
            page.wait_for_timeout(20)
        latencies.append(latency)
        page.wait_for_timeout(800)
    return latencies
