"""Issue 18 item 2 in headless Chromium: on a fresh server, choosing UMAP on Explore draws the current
checkpoint's scatter with no animation; the animation comes when the user turns it on, behind a progress
bar, with one frame per checkpoint."""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

# Every Plotly chart on the page with its number of animation frames (Plotly keeps them on the graph div).
FRAMES_JS = "() => [...document.querySelectorAll('.js-plotly-plot')].map(g => (g._transitionData?._frames || []).length)"


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def test_umap_scatter_first_then_the_animation_on_request_with_a_progress_bar(page, server) -> None:
    open_page(page, server)
    page.get_by_role("heading", name="Explore", level=1).wait_for()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Projection").click()
    page.get_by_role("option", name="UMAP").click()
    started = time.perf_counter()
    page.get_by_text("UMAP 1", exact=True).first.wait_for(timeout=120_000)  # the scatter's axis title
    wait_idle(page, 120)
    print(f"UMAP scatter of the digits sample drawn {time.perf_counter() - started:.1f} s after choosing it")
    _no_exception(page)
    toggle = page.locator("label").filter(has_text="Animate over training").locator("input")
    assert not toggle.is_checked()
    assert page.evaluate(FRAMES_JS) == [0]  # the scatter alone: no animation computed or drawn
    screenshot(page, "explore-umap-before-animation")

    page.get_by_text("Animate over training", exact=True).click()
    started = time.perf_counter()
    bar = page.locator('[data-testid="stProgress"]')
    bar.first.wait_for(timeout=30_000)  # one step per checkpoint, shown while it runs
    assert "checkpoint" in page.locator('[data-testid="stProgress"]').first.inner_text()
    page.wait_for_function(f"() => ({FRAMES_JS})().includes(10)", timeout=240_000)
    wait_idle(page, 120)
    print(f"10-checkpoint UMAP animation drawn {time.perf_counter() - started:.1f} s after turning it on")
    _no_exception(page)
    assert toggle.is_checked()
    assert page.evaluate(FRAMES_JS) == [0, 10]
    assert bar.count() == 0  # the bar is gone once the frames are drawn
    page.locator(".updatemenu-button").filter(has_text="Play").first.wait_for()
    screenshot(page, "explore-umap-animation")
