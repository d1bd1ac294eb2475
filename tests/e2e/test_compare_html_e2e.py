"""`replens compare --html`: the page opens offline, its two scatters are linked, its heatmap switches estimator."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.cli import main
from analysis.samples import ensure_samples
from tests.e2e.helpers import ARTIFACTS, assert_opens_offline, draw_lasso

pytestmark = pytest.mark.e2e

_SELECTED_ROWS = """(id) => {
    const gd = document.getElementById(id);
    const rows = [];
    gd._fullData.forEach(t => (t.selectedpoints || []).forEach(i => rows.push(Number(t.customdata[i]))));
    return rows.sort((a, b) => a - b);
}"""


@pytest.fixture(scope="module")
def comparison_files(tmp_path_factory):
    """The digits MLP's last hidden layer at the end of training (A) and at initialisation (B), via the CLI."""
    out = tmp_path_factory.mktemp("compare")
    run = str(ensure_samples()["digits_mlp"])
    html, data = out / "compare.html", out / "compare.json"
    code = main(["compare", run, run, "--step-b", "0", "--html", str(html), "--json", str(data), "--quiet"])
    assert code == 0
    return html, json.loads(data.read_text(encoding="utf-8"))


def test_compare_html_opens_offline(browser, comparison_files) -> None:
    html, _ = comparison_files
    text = html.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link" not in text
    # layer heatmap, A, B, shared-neighbour histogram
    requests = assert_opens_offline(browser, html, min_plots=4)
    assert requests[0] == html.resolve().as_uri()


def test_lasso_in_a_selects_the_same_inputs_in_b(browser, comparison_files) -> None:
    html, data = comparison_files
    context = browser.new_context(viewport={"width": 1440, "height": 1600})
    page = context.new_page()
    try:
        page.goto(html.resolve().as_uri())
        page.locator("#figure-side_b svg.main-svg").first.wait_for()
        assert page.locator("#selection-note").inner_text() == "Nothing selected."
        drag = page.locator("#figure-side_a .nsewdrag").first
        drag.scroll_into_view_if_needed()
        draw_lasso(page, drag.bounding_box(), radius_fraction=0.3, centre=(0.35, 0.5))
        page.wait_for_function("() => document.getElementById('selection-note').textContent.includes('selected')")
        # Plotly.restyle redraws B asynchronously: wait until its traces carry the selection.
        page.wait_for_function("() => document.getElementById('figure-side_b')._fullData.some(t => t.selectedpoints)")
        in_a = page.evaluate(_SELECTED_ROWS, "figure-side_a")
        in_b = page.evaluate(_SELECTED_ROWS, "figure-side_b")
        assert 0 < len(in_a) < data["n_samples"]
        assert in_b == in_a  # the same inputs, found by row id in B's traces
        note = page.locator("#selection-note").inner_text()
        assert note.startswith(f"{len(in_a)} points selected in A and shown in B")
        # The note's mean shared-neighbour count is that of exactly these rows.
        points = data["series"]["points"]
        shared = dict(zip(points["rows"], points["shared"], strict=True))
        assert f"share {np.mean([shared[r] for r in in_a]):.1f} of their 10" in note
        page.locator("#figure-side_a").screenshot(path=str(ARTIFACTS / "compare_html_side_a.png"))

        # The heatmap's buttons switch between the plain and the debiased estimator.
        z_plain = page.evaluate("() => document.getElementById('figure-layers')._fullData[0].z")
        np.testing.assert_allclose(np.asarray(z_plain, dtype=float), data["layers"]["cka"], atol=1e-12)
        page.locator("#figure-layers .updatemenu-button").filter(has_text="debiased").click()
        page.wait_for_timeout(300)
        z_debiased = page.evaluate("() => document.getElementById('figure-layers')._fullData[0].z")
        np.testing.assert_allclose(np.asarray(z_debiased, dtype=float), data["layers"]["cka_debiased"], atol=1e-12)
        assert not np.allclose(z_plain, z_debiased)
        page.screenshot(path=str(ARTIFACTS / "compare_html.png"), full_page=True)
    finally:
        context.close()
