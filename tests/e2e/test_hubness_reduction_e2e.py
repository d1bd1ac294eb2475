"""The Hubness page's Reduction tab in Chromium: exact mode on the sample, its note and agreement column."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def test_reduction_tab_says_it_is_exact_on_the_sample(page, server) -> None:
    open_page(page, server, "hubness")
    page.get_by_role("heading", name="Hubness", level=1).wait_for()
    page.locator('[data-testid="stMetricLabel"]', has_text="Skewness of N_k").first.wait_for(timeout=60_000)
    page.get_by_role("tab", name="Reduction").click()
    note = page.get_by_text("Exact: every point's secondary distance to all", exact=False)
    note.wait_for(timeout=240_000)
    wait_idle(page, 240)  # a loaded CI machine: the page's first run (graph, projection, reductions) can pass 90 s
    assert "full matrices up to 5,000 points" in note.inner_text()
    # The table's new columns (glide grid: the header cells are drawn on a canvas, their names in the DOM
    # as the grid's aria column headers).
    headers = page.locator('[data-testid="stDataFrame"] [role="columnheader"]').all_inner_texts()
    assert any("agreement" in h for h in headers) and any("candidates" in h for h in headers), headers
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("Show the projection after", exact=False).scroll_into_view_if_needed()
    screenshot(page, "hubness-reduction-exact")
