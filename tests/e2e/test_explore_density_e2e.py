"""Issue 17 in headless Chromium: 60,000 labelled rows are drawn as a 20,000-row subsample over a density
image of every row, lined up with the axes, and a lasso on the subsample selects undrawn rows too."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.helpers import (
    chart_box,
    draw_lasso,
    open_page,
    screenshot,
    selection_count,
    uploader,
    wait_idle,
)

pytestmark = pytest.mark.e2e

N, D, CLASSES = 60_000, 16, 6
DRAWN = 20_000


def _files(tmp_path) -> tuple:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, CLASSES, size=N)
    centres = rng.normal(scale=4.0, size=(CLASSES, D))
    X = (centres[labels] + rng.normal(size=(N, D))).astype(np.float32)
    np.save(tmp_path / "density_60k.npy", X)
    np.save(tmp_path / "y60k.npy", labels)
    return tmp_path / "density_60k.npy", tmp_path / "y60k.npy"


def _upload_with_labels(page, server, main, labels) -> None:
    open_page(page, server, "data")
    page.get_by_text("Upload embeddings, activations or a RepLens run").click()
    uploader(page, "Embeddings").set_input_files(str(main))
    uploader(page, "Labels").set_input_files(str(labels))
    for path in (main, labels):
        page.locator('[data-testid="stFileChip"]').filter(has_text=path.name).wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stFileChip\"] [role=\"progressbar\"]')")
    wait_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_role("heading", name=main.name).wait_for(timeout=120_000)
    wait_idle(page)


def test_a_large_embedding_is_drawn_over_its_density_image(page, server, tmp_path) -> None:
    main, labels = _files(tmp_path)
    _upload_with_labels(page, server, main, labels)
    page.get_by_role("link", name="Explore").click()
    page.get_by_role("heading", name="Explore", level=1).wait_for()
    wait_idle(page, timeout_s=180)
    page.locator(".js-plotly-plot .nsewdrag").first.wait_for(state="attached", timeout=120_000)
    page.wait_for_timeout(1500)
    page.get_by_text(f"Showing {DRAWN:,} of {N:,} rows").first.wait_for()
    page.get_by_text(f"over a density image of all {N:,} rows").first.wait_for()
    state = page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        const full = gd._fullLayout;
        const img = full.images[0];
        return {dragmode: full.dragmode, n_images: full.images.length, drawn_images:
                [...gd.querySelectorAll('.imagelayer image')].filter(
                    e => (e.getAttribute('href') || '').startsWith('data:image/png')).length,
                image_box: (() => { const e = gd.querySelector('.imagelayer image'); if (!e) return null;
                    const b = e.getBoundingClientRect(); return [b.x, b.y, b.width, b.height]; })(),
                image: [img.x, img.y, img.sizex, img.sizey], x: full.xaxis.range, y: full.yaxis.range,
                drawn: gd._fullData.filter(t => t.type === 'scattergl')
                                  .reduce((s, t) => s + t.customdata.length, 0)};
    }""")
    assert state["dragmode"] == "lasso"  # the default drag mode, with the image under the markers
    assert state["n_images"] == 1 and state["drawn_images"] == 1, state
    assert state["drawn"] == DRAWN
    x0, y1, width, height = state["image"]
    # The whole image is on screen: Plotly may widen one range for the equal aspect, never narrow it.
    assert state["x"][0] <= x0 + 1e-9 and state["x"][1] >= x0 + width - 1e-9
    assert state["y"][0] <= y1 - height + 1e-9 and state["y"][1] >= y1 - 1e-9
    screenshot(page, "explore-density-60k")

    draw_lasso(page, chart_box(page), radius_fraction=0.2, centre=(0.5, 0.5))
    page.wait_for_function(
        "() => [...document.querySelectorAll('p')].some(p => /^Selection: [1-9][0-9,]* points$/.test(p.innerText))",
        timeout=30_000,
    )
    wait_idle(page)
    in_browser = page.evaluate("""() => document.querySelector('.js-plotly-plot')._fullData
        .filter(t => t.type === 'scattergl' && t.selectedpoints)
        .reduce((s, t) => s + t.selectedpoints.length, 0)""")
    selected = selection_count(page)
    assert in_browser > 0 and selected is not None
    # Every row in the lasso, drawn or not: about N / DRAWN = 3 times the drawn points it holds.
    assert selected > 2 * in_browser, (selected, in_browser)
    screenshot(page, "explore-density-60k-lasso")
