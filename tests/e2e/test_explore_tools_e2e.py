"""Issue 18 item 7 on Explore in the browser: clusters as a colour, search, thumbnails."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

GD = "document.querySelector('.st-key-explore_chart_box .js-plotly-plot')"


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def _choose(page, label: str, option: str) -> None:
    page.get_by_label(label, exact=True).click()  # a Streamlit selectbox opens its list on click
    page.get_by_role("option", name=option, exact=True).click()


def test_colour_by_clusters_shows_them_and_their_purity(page, server) -> None:
    open_page(page, server)
    page.locator(".st-key-explore_chart_box .js-plotly-plot").wait_for()
    _choose(page, "Colour by", "clusters (HDBSCAN)")
    page.get_by_role("heading", name="Clusters").wait_for(timeout=60_000)
    wait_idle(page)
    caption = page.get_by_text("HDBSCAN (smallest cluster 10)", exact=False).first.inner_text()
    assert "clusters" in caption and "Purity" in caption
    names = page.evaluate(f"() => {GD}._fullData.map(t => t.name)")
    assert "cluster 0" in names and "cluster 1" in names
    page.get_by_role("button", name="Download clusters as CSV").wait_for()
    _no_exception(page)
    page.get_by_role("heading", name="Clusters").scroll_into_view_if_needed()
    screenshot(page, "explore-clusters")


def test_search_circles_matches_and_selects_them(page, server) -> None:
    open_page(page, server)
    page.locator(".st-key-explore_chart_box .js-plotly-plot").wait_for()
    _choose(page, "in", "label")
    box = page.get_by_label("Find points", exact=True)
    box.fill("3")
    box.press("Enter")
    page.get_by_text("matching points, circled in black", exact=False).wait_for(timeout=30_000)
    wait_idle(page)
    shown = int(page.get_by_text("matching points, circled in black", exact=False).inner_text().split()[0])
    circled = page.evaluate(f"() => ({GD}._fullData.find(t => t.name === 'matches') || {{x: []}}).x.length")
    assert circled == shown > 100  # the digits sample has about 180 threes
    page.get_by_role("button", name=f"Select the {shown} matches").click()
    page.wait_for_function(
        "n => [...document.querySelectorAll('p')].some(p => p.innerText === 'Selection: ' + n + ' points')",
        arg=shown, timeout=15_000)
    wait_idle(page)
    page.get_by_role("button", name="Download selection as CSV").wait_for()
    _no_exception(page)
    screenshot(page, "explore-search")


def test_the_chosen_digit_and_its_neighbours_pictures_are_shown(page, server) -> None:
    open_page(page, server)
    page.locator(".st-key-explore_chart_box .js-plotly-plot").wait_for()
    box = page.get_by_label("Point (row)", exact=True)
    box.fill("4")
    box.press("Enter")
    page.get_by_text("nearest neighbours of id", exact=False).wait_for(timeout=30_000)
    wait_idle(page)
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for()
    # The picture decoded in the browser: a 32 x 32 PNG (the 8 x 8 digit scaled by 4).
    assert page.evaluate("img => [img.complete, img.naturalWidth]", image.element_handle()) == [True, 32]
    _no_exception(page)
    page.get_by_text("nearest neighbours of id", exact=False).scroll_into_view_if_needed()
    screenshot(page, "explore-thumbnails")
