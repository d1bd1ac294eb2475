"""Issue 18 items 4, 5 and 7 in the real browser at 1,500 x 1,000: no chart's legend, colour bar,
toolbar, slider or play buttons overlap; no metric card cuts its label or value; every chart downloads
as PNG or SVG and every table as CSV; the app follows a dark system theme; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import itertools
from urllib.parse import urlparse

import pytest

from tests.e2e.helpers import choose_dataset, open_page, screenshot_tall, wait_idle

pytestmark = pytest.mark.e2e

VIEWPORT = {"width": 1500, "height": 1000}
# (url path, dataset to pick or None for the default digits_mlp sample, screenshot name). The extra
# samples bring the charts the default one lacks: the 2-D sphere animation (contrastive) and the
# decoded-code image (VQ).
STATES = [("", None, "layout-explore"), ("collapse", None, "layout-collapse"), ("hubness", None, "layout-hubness"),
          ("geometry", None, "layout-geometry"), ("geometry", "digits_contrastive (sample)", "layout-geometry-2d"),
          ("superposition", None, "layout-superposition"), ("codebook", None, "layout-codebook"),
          ("codebook", "digits_vq_plain (sample)", "layout-codebook-vq"), ("information", None, "layout-information"),
          ("compare", None, "layout-compare"), ("report", None, "layout-report"), ("data", None, "layout-data")]

# Plotly's SVG groups of the chart furniture, and the toolbar's button bar (its `.modebar-container`
# parent is a zero-height full-width strip; `.modebar` is the box the buttons cover).
CONTROLS = ("g.legend", "g.colorbar", ".modebar", "g.slider-container", "g.updatemenu-container")
BOXES_JS = """(selectors) => [...document.querySelectorAll('.js-plotly-plot')].map((plot, i) => {
  const boxes = [];
  for (const sel of selectors) {
    plot.querySelectorAll(sel).forEach((el, j) => {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) boxes.push([sel + '#' + j, r.left, r.top, r.right, r.bottom]);
    });
  }
  return boxes;
})"""
# A metric card's label or value cut by Streamlit's ellipsis is wider inside than its box.
TRUNCATED_JS = """() => {
  const shown = [...document.querySelectorAll(
    '[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div, [data-testid="stMetricValue"] div')]
    .filter(el => el.offsetParent !== null);
  return {checked: shown.length, cut: shown.filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.innerText)};
}"""


def _overlaps(boxes: list) -> list[tuple[str, str]]:
    """Pairs of boxes (name, left, top, right, bottom) with an area in common (touching edges allowed)."""
    return [(a[0], b[0]) for a, b in itertools.combinations(boxes, 2)
            if min(a[3], b[3]) - max(a[1], b[1]) > 0.5 and min(a[4], b[4]) - max(a[2], b[2]) > 0.5]


def _open(page, server: str, path: str, dataset: str | None) -> None:
    open_page(page, server, path)
    if dataset is not None:
        choose_dataset(page, dataset)
        wait_idle(page)
    if path != "report":  # the report page draws no chart
        page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(800)  # Plotly lays out legends and colour bars after the first paint


@pytest.fixture
def wide(browser):
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    yield pg
    context.close()


@pytest.mark.parametrize(("path", "dataset", "shot"), STATES, ids=[s[2] for s in STATES])
def test_chart_controls_never_overlap_and_cards_are_whole(wide, server, path, dataset, shot) -> None:
    _open(wide, server, path, dataset)
    screenshot_tall(wide, shot)
    charts = wide.evaluate(BOXES_JS, list(CONTROLS))
    assert charts or path == "report", f"{shot}: no chart drawn"
    clashes = {i: _overlaps(boxes) for i, boxes in enumerate(charts) if _overlaps(boxes)}
    assert not clashes, f"{shot}: overlapping chart furniture {clashes}"
    cards = wide.evaluate(TRUNCATED_JS)
    assert cards["checked"] >= wide.locator('[data-testid="stMetric"]:visible').count()
    assert not cards["cut"], f"{shot}: metric cards cut off {cards['cut']}"


def test_a_continuous_colour_keeps_the_legend_off_the_colour_bar(wide, server) -> None:
    """Explore coloured by vector norm: a colour bar and a legend (the selection rings) in one chart."""
    _open(wide, server, "", None)
    wide.locator('[data-testid="stSelectbox"]').filter(has_text="Colour by").first.click()
    wide.get_by_role("option", name="vector norm").click()
    wait_idle(wide)
    wide.locator(".js-plotly-plot g.colorbar").first.wait_for()
    wide.wait_for_timeout(800)
    screenshot_tall(wide, "layout-explore-norm")
    for boxes in wide.evaluate(BOXES_JS, list(CONTROLS)):
        assert not _overlaps(boxes), boxes


def test_every_chart_downloads_as_png_or_svg_and_tables_as_csv(wide, server) -> None:
    # Streamlit saves a table through the File System Access picker where the browser has one (a dialog
    # headless Chromium cannot answer); without it, as an ordinary download, which Playwright receives.
    wide.add_init_script("delete window.showSaveFilePicker")
    _open(wide, server, "geometry", None)
    wide.get_by_role("tab", name="Spectrum").click()
    wait_idle(wide)
    chart = wide.locator(".js-plotly-plot:visible").last
    chart.hover()
    with wide.expect_download() as png:
        chart.locator('.modebar-btn[data-title="Download plot as a PNG"]').click()
    assert png.value.suggested_filename == "replens-chart.png"
    # The sidebar switches every chart's camera button to SVG (vector) for this session.
    wide.locator('[data-testid="stSidebar"]').get_by_role("radio", name="SVG").click()
    wait_idle(wide)
    chart = wide.locator(".js-plotly-plot:visible").last
    chart.hover()
    with wide.expect_download() as svg:
        chart.locator('.modebar-btn[data-title="Download plot"]').click()
    assert svg.value.suggested_filename == "replens-chart.svg"
    assert svg.value.path().read_bytes().lstrip().startswith(b"<svg")
    # The metric table under the spectrum is an st.dataframe, whose toolbar downloads CSV.
    table = wide.locator('[data-testid="stDataFrame"]:visible').first
    table.hover()
    with wide.expect_download() as csv:
        wide.get_by_role("button", name="Download as CSV").first.click()
    text = csv.value.path().read_text()
    assert csv.value.suggested_filename.endswith(".csv") and "effective rank" in text.splitlines()[0]


def test_a_dark_system_theme_gives_a_dark_app_with_readable_charts(browser, server) -> None:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="dark")
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        _open(page, server, "collapse", None)
        screenshot_tall(page, "layout-collapse-dark")
        background = page.evaluate(
            "() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
        tick_fill = page.locator(".js-plotly-plot .xtick text").first.evaluate("e => getComputedStyle(e).fill")
    finally:
        context.close()
    assert _luminance(background) < 0.2, background
    assert _luminance(tick_fill) > 0.5, tick_fill  # light axis labels on the dark page


def _luminance(css_colour: str) -> float:
    """Relative brightness in [0, 1] of an "rgb(r, g, b)" or "rgba(...)" CSS colour."""
    r, g, b = (float(v) for v in css_colour.split("(")[1].split(")")[0].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255.0


def test_no_request_leaves_the_server_and_the_tab_icon_is_local(browser, server) -> None:
    """Offline use: with everything but 127.0.0.1 blocked, every page loads and nothing was asked of
    another host (fonts, icons, the favicon included)."""
    host = urlparse(server).hostname
    foreign: list[str] = []
    context = browser.new_context(viewport=VIEWPORT)

    def route(r) -> None:
        url = urlparse(r.request.url)
        if url.scheme in ("data", "blob") or url.hostname == host:
            r.continue_()
        else:
            foreign.append(r.request.url)
            r.abort("blockedbyclient")

    try:
        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(120_000)
        for path in ("", "collapse", "hubness", "geometry", "superposition", "codebook", "information",
                     "compare", "report", "data"):
            _open(page, server, path, None)
        icon = page.evaluate("() => [...document.querySelectorAll('link[rel~=\"icon\"]')].map(l => l.href)")
    finally:
        context.close()
    assert not foreign, f"requests to other hosts: {foreign}"
    assert icon and all(urlparse(href).hostname == host or href.startswith("data:") for href in icon), icon
