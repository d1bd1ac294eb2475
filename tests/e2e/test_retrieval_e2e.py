"""The Hubness page's Retrieval tab in Chromium: the methods on the sample's splits, then the teaching demo."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import screenshot_tall, wait_idle

pytestmark = pytest.mark.e2e


def test_retrieval_tab_compares_methods_and_the_demo_states_its_numbers(page, server) -> None:
    page.goto(f"{server}/hubness")
    page.wait_for_selector('[data-testid="stSidebar"]')
    page.get_by_role("heading", name="Hubness", level=1).wait_for()
    # The whole page first (a cold server computes the graph, baseline and projection), then the tab.
    page.locator('[data-testid="stMetricLabel"]', has_text="Skewness of N_k").first.wait_for(timeout=180_000)
    wait_idle(page, timeout_s=300)
    page.get_by_role("tab", name="Retrieval").click()
    panel = page.get_by_role("tabpanel")  # the visible one only
    panel.get_by_text("test queries against", exact=False).wait_for(timeout=120_000)
    wait_idle(page, timeout_s=300)
    assert panel.locator('[data-testid="stDataFrame"]').count() == 1  # the methods side by side
    assert panel.locator(".js-plotly-plot").count() == 1  # the N_k histogram before / after
    screenshot_tall(page, "hubness-retrieval")
    panel.get_by_text("Run the demo", exact=True).click()
    sentence = panel.get_by_text("lean towards the captions' mean direction", exact=False)
    sentence.wait_for(timeout=180_000)
    wait_idle(page, timeout_s=300)
    text = sentence.inner_text()
    assert re.search(r"raw similarity finds the right image first for \d+\.\d% of the captions", text), text
    assert re.search(r"inverted softmax wins recall@1 back to \d+\.\d%", text), text
    assert page.locator('[data-testid="stException"]').count() == 0
    assert panel.locator(".js-plotly-plot").count() == 2
    screenshot_tall(page, "hubness-retrieval-demo")
