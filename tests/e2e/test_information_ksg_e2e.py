"""The Information plane page under KSG in Chromium: the sentence on raw and clipped estimates."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def test_ksg_shows_the_clipped_reading_and_the_lowest_raw_estimate(page, server) -> None:
    open_page(page, server, "information")
    page.get_by_role("heading", name="Information plane", level=1).wait_for()
    page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace .points path").first.wait_for(
        state="attached", timeout=90_000)
    wait_idle(page)
    assert page.get_by_text("max(0, raw)", exact=False).count() == 0  # binning: nothing is clipped
    page.get_by_text("KSG (k nearest neighbours)", exact=True).click()
    # KSG over every layer and checkpoint of both 12-bit runs takes a while on a cold server.
    note = page.get_by_text("clipped reading max(0, raw)", exact=False)
    note.wait_for(timeout=300_000)
    wait_idle(page, timeout_s=300)
    text = note.inner_text()
    assert "never negative" in text and "i_xt_raw, i_ty_raw" in text, text
    assert re.search(r"the lowest raw estimate here is -\d\.\d{4} bits \(I\((X;T|T;Y)\) of \w+ at step [\d,]+ in "
                     r"ib_(tanh|relu) \(sample\)\)|none of the raw estimates here is negative", text), text
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "information-ksg-clipping")
