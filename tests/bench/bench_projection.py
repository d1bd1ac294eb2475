"""Benchmark the Explore page's projections on the digits sample (issue 18 item 2).

Run:  python -m tests.bench.bench_projection [--quick] [--browser]

Rows, on the shipped ``digits_mlp`` run (1,797 rows, layer ``hidden3``, 10 checkpoints), UMAP's
numba code compiled first (`analysis.projection_warmup.warm_up_umap`, as the server does at start):

* UMAP of the sample: `project` (exact neighbours from `analysis.neighbors`) against umap-learn
  fitting on its own (its O(n^2) Python-called distance loop below 4,096 rows: the code before
  issue 18). Target: the page shows UMAP within 5 s once compiled.
* The 10-checkpoint animation, UMAP and t-SNE: as the page builds it (the last checkpoint's
  projection reused, the other nine fitted from their neighbour's layout, `project_sequence`)
  against every checkpoint fitted from scratch, in the same run (the ratio is in the detail).
  Target: 20 s. For UMAP also against the code before issue 18 (from scratch, umap-learn's own
  neighbour search), the 95 s the issue measured.
* ``--browser`` (and `make bench` without ``--skip-browser``): the same page in headless Chromium,
  from choosing UMAP (compiled: UMAP was drawn once on another layer first) to the drawn scatter, and
  from turning the animation on to its 10 frames.

``--quick`` uses 4 checkpoints and skips the from-scratch rows. This file is a script, not a pytest
module (no ``test_`` prefix).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from analysis.data import Selection, load_run  # noqa: E402
from analysis.projection import project, project_sequence  # noqa: E402
from analysis.projection_warmup import warm_up_umap  # noqa: E402
from tests.bench.common import print_rows, script_main  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "digits_mlp.safetensors"
LAYER = "hidden3"
PAGE_TARGET_SECONDS = 5.0
ANIMATION_TARGET_SECONDS = 20.0

warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
warnings.filterwarnings("ignore", message="n_jobs value")


def _sample(quick: bool) -> list[np.ndarray]:
    """The layer's rows at every checkpoint (4 of them with `quick`: the first three and the last)."""
    run = load_run(SAMPLE)
    steps = list(run.steps)
    if quick:
        steps = steps[:3] + steps[-1:]
    selection = Selection(run, LAYER, steps[-1])
    return [np.asarray(selection.at(s).X) for s in steps]


def _umap_as_before(X: np.ndarray) -> np.ndarray:
    """`project(method="umap")` before issue 18: umap-learn finds the neighbours itself."""
    import umap

    return umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1).fit_transform(X)


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def run(quick: bool = False) -> list[dict]:
    X_seq = _sample(quick)
    n, total = X_seq[-1].shape[0], len(X_seq)
    compile_s, _ = _timed(warm_up_umap)
    rows: list[dict] = []

    page_s, anchor = _timed(lambda: project(X_seq[-1], method="umap"))
    before_s, _ = _timed(lambda: _umap_as_before(X_seq[-1]))
    rows.append(dict(case=f"UMAP, {n:,} rows (compiled)", seconds=page_s, target=f"<= {PAGE_TARGET_SECONDS:g} s",
                     ok=page_s <= PAGE_TARGET_SECONDS,
                     detail=f"umap-learn's own neighbours (before): {before_s:.2f} s, x{before_s / page_s:.1f}; "
                            f"trustworthiness {anchor.trustworthiness:.3f}; compiling took {compile_s:.1f} s"))

    for method, name in (("umap", "UMAP"), ("tsne", "t-SNE")):
        if method == "tsne":
            _, anchor = _timed(lambda: project(X_seq[-1], method="tsne"))
        reuse_s, frames = _timed(lambda m=method, a=anchor: project_sequence(X_seq, method=m, anchor=-1,
                                                                             anchor_projection=a))
        trust = min(f.trustworthiness for f in frames)
        detail = f"{total - 1} fits from the neighbour's layout; lowest trustworthiness {trust:.3f}"
        if not quick:
            fresh_s, fresh = _timed(lambda m=method: project_sequence(X_seq, method=m, anchor=-1, warm_start=False))
            detail += (f"; from scratch {fresh_s:.1f} s (x{fresh_s / reuse_s:.1f}, lowest trustworthiness "
                       f"{min(f.trustworthiness for f in fresh):.3f})")
            if method == "umap":
                old_s, _ = _timed(lambda: [_umap_as_before(x) for x in X_seq])
                detail += f"; before issue 18 {old_s:.1f} s (x{old_s / reuse_s:.1f})"
        rows.append(dict(case=f"{name} animation, {total} checkpoints", seconds=reuse_s,
                         target=f"<= {ANIMATION_TARGET_SECONDS:g} s",
                         ok=None if quick else reuse_s <= ANIMATION_TARGET_SECONDS, detail=detail))
    return rows


def browser_rows(quick: bool = False) -> list[dict]:
    """The Explore page in headless Chromium on a fresh server: UMAP once compiled, then the animation."""
    from tests.e2e.harness import chromium, running_app
    from tests.e2e.helpers import wait_idle

    frames_js = ("() => [...document.querySelectorAll('.js-plotly-plot')]"
                 ".map(g => (g._transitionData?._frames || []).length)")
    with running_app() as url, chromium() as browser:
        page = browser.new_context(viewport={"width": 1440, "height": 1600}).new_page()
        page.set_default_timeout(240_000)
        page.goto(url)
        page.get_by_role("heading", name="Explore", level=1).wait_for()
        wait_idle(page, 240)

        def choose(label: str, option: str, sidebar: bool = False) -> None:
            scope = page.locator('[data-testid="stSidebar"]') if sidebar else page
            scope.locator('[data-testid="stSelectbox"]').filter(has_text=label).click()
            page.get_by_role("option", name=option).first.click()

        # Compile first (the server's warm-up may still run): UMAP of another layer.
        choose("Layer", "hidden2", sidebar=True)
        wait_idle(page, 240)
        choose("Projection", "UMAP")
        page.get_by_text("UMAP 1", exact=True).first.wait_for()
        wait_idle(page, 240)
        started = time.perf_counter()
        choose("Layer", LAYER, sidebar=True)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stSidebar\"]')"
                               ".innerText.includes('hidden2  (d=')", timeout=240_000)
        wait_idle(page, 240)
        page_s = time.perf_counter() - started
        started = time.perf_counter()
        page.get_by_text("Animate over training", exact=True).click()
        page.wait_for_function(f"() => ({frames_js})().includes(10)", timeout=240_000)
        wait_idle(page, 240)
        animation_s = time.perf_counter() - started
    return [dict(case="browser: UMAP scatter (compiled)", seconds=page_s, target=f"<= {PAGE_TARGET_SECONDS:g} s",
                 ok=page_s <= PAGE_TARGET_SECONDS, detail=f"choose layer {LAYER} -> page idle, UMAP on screen"),
            dict(case="browser: UMAP animation, 10 steps", seconds=animation_s,
                 target=f"<= {ANIMATION_TARGET_SECONDS:g} s", ok=animation_s <= ANIMATION_TARGET_SECONDS,
                 detail="turn the toggle on -> 10 frames drawn, page idle")]


def report(quick: bool = False, browser: bool = False) -> list[dict]:
    """Print this benchmark's section of `make bench` (and with `browser`, its browser section); return its rows."""
    rows = run(quick=quick)
    print_rows("Explore projections of the digits sample (analysis.projection)", rows, case_width=36)
    return rows + (report_browser(quick=quick) if browser else [])


def report_browser(quick: bool = False) -> list[dict]:
    """Print the browser section (`browser_rows`); return its rows."""
    rows = browser_rows(quick=quick)
    print_rows("Explore projections in headless Chromium", rows, case_width=36)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    browser = "--browser" in args
    if browser:
        args.remove("--browser")
    return script_main(lambda quick: report(quick=quick, browser=browser), __doc__.split("\n")[0],
                       "4 checkpoints, no from-scratch rows", args)


if __name__ == "__main__":
    raise SystemExit(main())
