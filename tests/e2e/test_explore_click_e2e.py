"""Issue 18 item 1: a click on Explore's scatter lists and rings its neighbours in every drag mode.

Run as a user meets the page: a fresh page in the default (lasso) drag mode, no toolbar change,
then with a lasso drawn, then in zoom and pan modes. The chart must keep the user's drag mode
after the click (it is redrawn with the neighbours ringed).
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import (
    chart_box,
    draw_lasso,
    open_page,
    screenshot,
    selection_count,
    wait_idle,
)

pytestmark = pytest.mark.e2e

GD = "document.querySelector('.st-key-explore_chart_box .js-plotly-plot')"


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def _dragmode(page) -> str:
    return page.evaluate(f"() => {GD}._fullLayout.dragmode")


def _x_range(page) -> list[float]:
    return page.evaluate(f"() => {GD}._fullLayout.xaxis.range")


def _assert_same_view(after: list[float], before: list[float]) -> None:
    """The same zoomed view: the same centre and span, up to the equal-aspect axis widening the range
    a little when the legend grows ("neighbours", "chosen point") and the plot narrows."""
    span = before[1] - before[0]
    full = 12.0  # the digits sample's PCA spans about 8-10 units: a reset would move the span by > 25%
    assert abs((after[0] + after[1]) / 2 - (before[0] + before[1]) / 2) < 0.02 * span, (after, before)
    assert abs((after[1] - after[0]) - span) < 0.03 * span < full, (after, before)


def _point_position(page, fraction: float) -> dict:
    """Page coordinates of the marker at `fraction` of the visible markers, left to right."""
    return page.evaluate(
        """([fraction]) => {
            const gd = document.querySelector('.st-key-explore_chart_box .js-plotly-plot');
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
            const [x0, x1] = xa.range, [y0, y1] = ya.range;
            // markers inside the visible ranges, away from the edges, of every point trace
            const inside = [];
            for (const trace of gd._fullData) {
                if (!trace.customdata || trace.name === 'neighbours' || trace.name === 'chosen point') continue;
                for (let i = 0; i < trace.x.length; i++) {
                    const fx = (trace.x[i] - x0) / (x1 - x0), fy = (trace.y[i] - y0) / (y1 - y0);
                    if (fx > 0.1 && fx < 0.9 && fy > 0.1 && fy < 0.9) inside.push([trace.x[i], trace.y[i]]);
                }
            }
            inside.sort((a, b) => a[0] - b[0]);
            const [x, y] = inside[Math.floor(inside.length * fraction)];
            return {x: box.left + xa._offset + xa.d2p(x), y: box.top + ya._offset + ya.d2p(y)};
        }""",
        [fraction],
    )


def _click_a_point(page, fraction: float) -> int:
    """Hover a marker, read the id Plotly shows, click it; returns that id."""
    target = _point_position(page, fraction)
    page.mouse.move(target["x"] - 6, target["y"] - 6)
    page.mouse.move(target["x"], target["y"], steps=4)
    label = page.locator(".st-key-explore_chart_box .hoverlayer .hovertext").first
    label.wait_for(timeout=10_000)
    page.wait_for_timeout(400)  # the label may still show a point passed on the way: let hover settle
    hovered = int(re.search(r"id (\d+)", label.text_content()).group(1))
    page.mouse.click(target["x"], target["y"])
    return hovered


def _wait_neighbours_of(page, point_id: int) -> None:
    page.wait_for_function(
        "id => [...document.querySelectorAll('p')].some(p => p.innerText.startsWith("
        "'The ' + '') && new RegExp('nearest neighbours of id ' + id + ',').test(p.innerText))",
        arg=point_id, timeout=20_000,
    )
    wait_idle(page)


def _ringed(page) -> int:
    """Markers in the chart's ringed-neighbours trace."""
    return page.evaluate(f"() => ({GD}._fullData.find(t => t.name === 'neighbours') || {{x: []}}).x.length")


def _choose_drag_mode(page, mode: str) -> None:
    page.locator(".st-key-explore_chart_box .js-plotly-plot").hover()
    page.locator(f'.st-key-explore_chart_box .modebar-btn[data-attr="dragmode"][data-val="{mode}"]').click()
    page.wait_for_timeout(300)
    assert _dragmode(page) == mode


def test_a_click_lists_and_rings_neighbours_in_the_default_lasso_mode(page, server) -> None:
    open_page(page, server)
    page.locator(".st-key-explore_chart_box .js-plotly-plot .nsewdrag").wait_for(state="attached")
    page.wait_for_timeout(2000)
    assert _dragmode(page) == "lasso"  # the default: nothing changed in the toolbar
    assert page.get_by_text("nearest neighbours of id", exact=False).count() == 0
    first = _click_a_point(page, 0.3)
    _wait_neighbours_of(page, first)
    assert _ringed(page) == 10  # the k slider's default
    assert _dragmode(page) == "lasso", "the chart jumped out of the user's drag mode"
    # The click reran only the chart's fragment; the address still names the chosen point (shareable).
    row = page.get_by_label("Point (row)").input_value()
    page.wait_for_function("row => new URLSearchParams(location.search).get('point') === row", arg=row,
                           timeout=10_000)
    _no_exception(page)
    screenshot(page, "explore-click-lasso-mode")

    # With a lasso drawn: the click still chooses the point, and the lasso's rows stay listed.
    page.wait_for_timeout(1000)
    draw_lasso(page, chart_box(page), radius_fraction=0.3)
    page.wait_for_function(
        "() => [...document.querySelectorAll('p')].some(p => /^Selection: [1-9][0-9,]* points$/.test(p.innerText))",
        timeout=15_000,
    )
    wait_idle(page)
    selected = selection_count(page)
    second = _click_a_point(page, 0.7)
    assert second != first
    _wait_neighbours_of(page, second)
    assert selection_count(page) == selected, "the click dropped the lasso's rows"
    assert _dragmode(page) == "lasso"
    # The redrawn chart draws the lasso again, so the listed rows are visible as selected.
    assert page.evaluate(f"() => ({GD}._fullLayout.selections || []).length") == 1
    _no_exception(page)
    screenshot(page, "explore-click-after-lasso")
    page.get_by_role("button", name="Clear selection").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('p')].some(p => p.innerText === 'Selection: 0 points')", timeout=15_000)
    wait_idle(page)
    assert page.evaluate(f"() => ({GD}._fullLayout.selections || []).length") == 0


@pytest.mark.parametrize("mode", ["zoom", "pan", "select"])
def test_a_click_lists_neighbours_in_every_other_drag_mode_and_keeps_it(page, server, mode) -> None:
    open_page(page, server)
    page.locator(".st-key-explore_chart_box .js-plotly-plot .nsewdrag").wait_for(state="attached")
    page.wait_for_timeout(2000)
    _choose_drag_mode(page, mode)
    page.locator('.st-key-explore_chart_box .modebar-btn[data-attr="zoom"][data-val="in"]').click()
    page.wait_for_timeout(500)
    zoomed = _x_range(page)
    clicked = _click_a_point(page, 0.5)
    _wait_neighbours_of(page, clicked)
    assert _ringed(page) == 10
    assert _dragmode(page) == mode, "the chart jumped out of the user's drag mode"
    _assert_same_view(_x_range(page), zoomed)
    again = _click_a_point(page, 0.2)
    _wait_neighbours_of(page, again)
    assert _dragmode(page) == mode
    _no_exception(page)
    screenshot(page, f"explore-click-{mode}-mode")

