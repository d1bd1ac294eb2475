"""Retake the README's screenshots (docs/screenshots/) from the running app (issue 18).

    python -m tests.bench.take_screenshots            # every shot
    python -m tests.bench.take_screenshots explore    # only the named ones

A fresh `streamlit run` on a free port (tests/e2e/harness.py), Debian's Chromium in a light colour
scheme, a 1440 x 1600 viewport at device scale 1: each shot shows the state its README alt text
describes. compare-html.png is a whole-page shot of `replens compare --html`. The PNGs are re-saved
with Pillow's `optimize=True` to keep sample_data + docs small. Not a test: it asserts nothing, but it
fails loudly when a state it waits for never shows.
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import ROOT, chromium, running_app
from tests.e2e.helpers import chart_box, choose_dataset, draw_lasso, open_page, wait_idle

OUT = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1440, "height": 1600}
SELECTION = "() => [...document.querySelectorAll('p')].some(p => /^Selection: [1-9][0-9,]* points$/.test(p.innerText))"


LOSSLESS_LIMIT = 300 * 1024  # above this a shot is stored with a 256-colour palette


def _paletted(image):
    """256 colours: the page's 64 most frequent ones kept exact (white, the sidebar, text: an octree alone
    averages them into a grey) and 192 from an octree for everything else (the charts' gradients)."""
    import numpy as np
    from PIL import Image

    frequent = [rgb for _, rgb in sorted(image.getcolors(maxcolors=1 << 24), reverse=True)[:64]]
    octree = image.quantize(256 - len(frequent), method=Image.Quantize.FASTOCTREE)
    index = np.asarray(octree, dtype=np.uint8) + len(frequent)
    pixels = np.asarray(image)
    for i, rgb in enumerate(frequent):
        index[(pixels == rgb).all(axis=-1)] = i
    out = Image.fromarray(index, mode="P")
    palette = octree.getpalette()[:3 * (256 - len(frequent))]
    out.putpalette([c for rgb in frequent for c in rgb] + palette)
    return out


def save_png(png: bytes, name: str) -> Path:
    """Re-save through Pillow with optimize=True; a shot still over LOSSLESS_LIMIT (the dense 100k scatter,
    the tall compare page) gets a 256-colour palette (`_paletted`), which keeps the page's flat colours
    exact and the colour bars smooth at a third of the size. Reports the size."""
    from PIL import Image

    path = OUT / f"{name}.png"
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.save(path, optimize=True)
    if path.stat().st_size > LOSSLESS_LIMIT:
        _paletted(image).save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB")
    return path


def _settle(page, heading: str) -> None:
    page.get_by_role("heading", name=heading, level=1).wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    wait_idle(page, timeout_s=180)
    page.wait_for_timeout(1500)


def _hide_hover_labels(page) -> None:
    """A hover label left by the last mouse move (a lasso's end, a click) would cover points."""
    page.add_style_tag(content=".hoverlayer { display: none !important; }")


def _shoot(page, name: str, *, foot=None) -> None:
    """Screenshot the viewport; `foot` (a locator) is scrolled up until its bottom edge shows."""
    errors = page.locator('[data-testid="stException"]')
    if errors.count():
        raise RuntimeError(f"{name}: the page shows an exception: {errors.first.inner_text()}")
    page.mouse.move(900, 40)  # the empty header: no sidebar collapse arrow
    _hide_hover_labels(page)
    page.wait_for_timeout(600)
    # Streamlit pads the main block's top: scroll 30 px of it away (more slides the title under the header).
    page.evaluate("""() => { const main = document.querySelector('[data-testid="stMain"]');
        if (main) main.scrollTop = Math.min(30, main.scrollHeight - main.clientHeight); }""")
    if foot is not None:
        bottom = foot.bounding_box()
        page.evaluate("""(by) => { const main = document.querySelector('[data-testid="stMain"]');
            main.scrollTop += Math.max(0, by); }""", bottom["y"] + bottom["height"] + 16 - VIEWPORT["height"])
    page.wait_for_timeout(400)
    save_png(page.screenshot(full_page=False), name)


def explore(page, url: str) -> None:
    """The digits MLP's last hidden layer, a lasso selection and its rows, a clicked point with its
    ringed neighbours and its picture."""
    from tests.e2e.test_explore_click_e2e import _click_a_point, _wait_neighbours_of

    open_page(page, url)
    _settle(page, "Explore")
    page.locator(".st-key-explore_chart_box .js-plotly-plot .nsewdrag").wait_for(state="attached")
    page.wait_for_timeout(2000)
    # around the 7s' cluster above the middle: a lasso of one class and a few stray points
    draw_lasso(page, chart_box(page), radius_fraction=0.14, centre=(0.47, 0.34))
    page.wait_for_function(SELECTION, timeout=30_000)
    wait_idle(page)
    _wait_neighbours_of(page, _click_a_point(page, 0.7))
    page.wait_for_timeout(1500)
    _shoot(page, "explore")


def explore_100k(page, url: str) -> None:
    """100,000 points: a subsample over a density image of all, and a lasso selection of drawn and undrawn rows."""
    from tests.e2e.latency import make_large_npy, upload

    with tempfile.TemporaryDirectory(prefix="screens-") as tmp:
        upload(page, url, make_large_npy(Path(tmp) / "large_100k.npy"))
    page.get_by_role("link", name="Explore").click()
    page.get_by_role("heading", name="Explore", level=1).wait_for()
    wait_idle(page, timeout_s=240)
    page.locator(".js-plotly-plot .nsewdrag").first.wait_for(state="attached", timeout=180_000)
    page.wait_for_timeout(3000)
    draw_lasso(page, chart_box(page), radius_fraction=0.3, centre=(0.5, 0.5))
    page.wait_for_function(SELECTION, timeout=60_000)
    wait_idle(page, timeout_s=180)
    page.get_by_role("button", name="Download selection as CSV").wait_for(state="visible", timeout=60_000)
    _shoot(page, "explore-100k")


def collapse(page, url: str) -> None:
    open_page(page, url, "collapse")
    _settle(page, "Neural collapse")
    _shoot(page, "collapse")


def hubness(page, url: str) -> None:
    open_page(page, url, "hubness")
    _settle(page, "Hubness")
    page.get_by_text("is in the k-NN list of", exact=False).first.wait_for(timeout=120_000)
    wait_idle(page)
    _shoot(page, "hubness")


def geometry(page, url: str) -> None:
    open_page(page, url, "geometry")
    page.get_by_role("heading", name="Sphere & spectrum", level=1).wait_for()
    choose_dataset(page, "digits_contrastive (sample)")
    page.get_by_text("Positive pairs: augmented views", exact=False).wait_for(timeout=120_000)
    wait_idle(page, timeout_s=180)
    page.locator('[data-testid="stMetricLabel"]', has_text="Uniformity").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    # The circle and the whole alignment-uniformity trajectory below it (the README's alt text).
    _shoot(page, "geometry", foot=page.locator(".js-plotly-plot").nth(1))


def superposition(page, url: str) -> None:
    open_page(page, url, "superposition")
    _settle(page, "Superposition")
    _shoot(page, "superposition")


def codebook(page, url: str) -> None:
    open_page(page, url, "codebook")
    page.get_by_role("heading", name="Codebook usage", level=1).wait_for()
    choose_dataset(page, "digits_vq_plain (sample)")
    page.get_by_text("Codes among the encoder outputs", exact=False).wait_for(timeout=120_000)
    wait_idle(page, timeout_s=180)
    page.locator('[data-testid="stMetricLabel"]', has_text="Perplexity").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    _shoot(page, "codebook")


def information(page, url: str) -> None:
    open_page(page, url, "information")
    page.get_by_role("heading", name="Information plane", level=1).wait_for()
    plane = page.locator(".js-plotly-plot").first
    plane.locator(".scatterlayer .trace .points path").first.wait_for(state="attached", timeout=180_000)
    plane.locator(".annotation-text").filter(has_text="ib_relu (sample)").wait_for(state="attached")
    wait_idle(page, timeout_s=180)
    page.wait_for_timeout(1500)
    _shoot(page, "information")


def compare(page, url: str) -> None:
    """Linear CKA between the layers of two seeds, trained from the page's button."""
    open_page(page, url, "compare")
    _settle(page, "Compare")
    page.locator(".st-key-cmp_mode").get_by_text("Two runs", exact=True).click()
    wait_idle(page)
    page.get_by_role("button", name="Train two seeds of a digits MLP", exact=False).click()
    page.get_by_text("seed 1", exact=False).first.wait_for(timeout=180_000)
    wait_idle(page, timeout_s=180)
    page.locator(".st-key-cmp_cka .js-plotly-plot svg.main-svg").first.wait_for()
    page.wait_for_timeout(1500)
    _shoot(page, "compare")


def report(page, url: str) -> None:
    open_page(page, url, "report")
    page.get_by_role("heading", name="Diagnosis report", level=1).wait_for()
    page.get_by_role("button", name="Download the numbers (JSON)").wait_for(timeout=240_000)
    wait_idle(page, timeout_s=180)
    page.wait_for_timeout(1500)
    _shoot(page, "report")


def data(page, url: str) -> None:
    open_page(page, url, "data")
    page.get_by_role("heading", name="Data", level=1).wait_for()
    wait_idle(page)
    page.wait_for_timeout(1500)
    _shoot(page, "data")


def compare_html(browser) -> None:
    """`replens compare --html`: the digits MLP's last hidden layer trained (A) against at
    initialisation (B), with a lasso in A shown in B; a tall whole-page shot."""
    from analysis.cli import main
    from analysis.samples import ensure_samples

    with tempfile.TemporaryDirectory(prefix="screens-") as tmp:
        html = Path(tmp) / "compare.html"
        run = str(ensure_samples()["digits_mlp"])
        if main(["compare", run, run, "--step-b", "0", "--html", str(html), "--quiet"]) != 0:
            raise RuntimeError("replens compare failed")
        context = browser.new_context(viewport=VIEWPORT, color_scheme="light", device_scale_factor=1)
        try:
            page = context.new_page()
            page.goto(html.resolve().as_uri())
            page.locator("#figure-side_b svg.main-svg").first.wait_for()
            drag = page.locator("#figure-side_a .nsewdrag").first
            drag.scroll_into_view_if_needed()
            draw_lasso(page, drag.bounding_box(), radius_fraction=0.3, centre=(0.35, 0.5))
            page.wait_for_function("() => document.getElementById('figure-side_b')._fullData.some(t => t.selectedpoints)")
            page.mouse.move(2, 2)
            _hide_hover_labels(page)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.wait_for_timeout(800)
            save_png(page.screenshot(full_page=True), "compare-html")
        finally:
            context.close()


APP_SHOTS: dict[str, Callable] = {
    "explore": explore, "collapse": collapse, "hubness": hubness, "geometry": geometry,
    "superposition": superposition, "codebook": codebook, "information": information,
    "compare": compare, "report": report, "data": data, "explore-100k": explore_100k,
}


def main(names: list[str]) -> None:
    wanted = names or [*APP_SHOTS, "compare-html"]
    unknown = sorted(set(wanted) - {*APP_SHOTS, "compare-html"})
    if unknown:
        raise SystemExit(f"unknown screenshot(s) {unknown}: choose from {[*APP_SHOTS, 'compare-html']}")
    OUT.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.mkdtemp(prefix="screens-")) / "server.log"
    with running_app(log) as url, chromium() as browser:
        for name in wanted:
            if name == "compare-html":
                compare_html(browser)
                continue
            # A fresh session per shot: each starts from the state a user meets.
            context = browser.new_context(viewport=VIEWPORT, color_scheme="light", device_scale_factor=1)
            try:
                page = context.new_page()
                page.set_default_timeout(120_000)
                APP_SHOTS[name](page, url)
            finally:
                context.close()


if __name__ == "__main__":
    main(sys.argv[1:])
