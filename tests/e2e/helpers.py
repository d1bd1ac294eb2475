"""Shared moves for the e2e tests: waiting for Streamlit, drawing a lasso, screenshots."""

from __future__ import annotations

import math
import time
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def wait_idle(page, timeout_s: float = 90) -> None:
    """Wait until Streamlit has finished the current run (no 'Running…' status)."""
    deadline = time.time() + timeout_s
    page.wait_for_timeout(300)
    while time.time() < deadline:
        if page.locator('[data-testid="stStatusWidget"]').count() == 0:
            page.wait_for_timeout(200)
            if page.locator('[data-testid="stStatusWidget"]').count() == 0:
                return
        page.wait_for_timeout(200)
    raise TimeoutError("Streamlit kept running")


def open_page(page, base_url: str, path: str = "") -> None:
    page.goto(f"{base_url}/{path}")
    page.wait_for_selector('[data-testid="stSidebar"]')
    wait_idle(page)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def chart_box(page, index: int = 0) -> dict:
    """The plot area (drag layer) of the index-th Plotly chart."""
    drag = page.locator(".js-plotly-plot .nsewdrag").nth(index)
    drag.wait_for(state="attached")
    box = drag.bounding_box()
    assert box is not None
    return box


def draw_lasso(page, box: dict, *, radius_fraction: float = 0.3, centre=(0.5, 0.5)) -> None:
    """Drag a closed circular lasso over the plot area (dragmode is lasso by default)."""
    cx = box["x"] + box["width"] * centre[0]
    cy = box["y"] + box["height"] * centre[1]
    r = min(box["width"], box["height"]) * radius_fraction
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for degrees in range(0, 361, 15):
        a = math.radians(degrees)
        page.mouse.move(cx + r * math.cos(a), cy + r * math.sin(a), steps=2)
    page.mouse.up()


def selection_count(page) -> int | None:
    """The number in the Explore page's 'Selection: N points' line."""
    text = page.locator("text=/^Selection: [0-9,]+ points$/").first
    if text.count() == 0:
        return None
    return int(text.inner_text().split()[1].replace(",", ""))


def uploader(page, label: str):
    """The file input of the Data page's uploader whose label starts with `label` ("Embeddings",
    "Labels", "Metadata table"). Found by its label, not its position: the page holds more uploaders
    (the capture form's) and a position once sent a file to the wrong one."""
    return page.locator('[data-testid="stFileUploader"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=label)).locator(
        '[data-testid="stFileUploaderDropzoneInput"]')


def card_value(page, label: str) -> str:
    """The shown value of the first metric card whose label contains `label`."""
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def attach_and_load(page, path: Path) -> None:
    """Open the upload form, attach `path` as the embeddings file, wait until the
    upload has reached the server (its file chip shows, the app is idle), press Load."""
    page.get_by_text("Upload embeddings, activations or a RepLens run").click()
    uploader(page, "Embeddings").set_input_files(str(path))
    page.locator('[data-testid="stFileChip"]').filter(has_text=path.name).wait_for()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stFileChip\"] [role=\"progressbar\"]')"
    )
    wait_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()


def choose_dataset(page, label: str) -> None:
    """Pick a dataset in the sidebar's picker by its shown label."""
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name=label).click()


_LOCAL_SCHEMES = ("data:", "blob:", "about:")


def assert_opens_offline(browser, html_path: Path, *, min_plots: int = 1, timeout_ms: int = 30_000) -> list[str]:
    """Open a local HTML file in a fresh browser context with the network blocked; fail on any
    request other than the file itself (or data:/blob:/about: URLs), on any console error,
    uncaught page error or dialog (alert/confirm/prompt: injected script), or unless `min_plots` Plotly charts have rendered. Returns the URLs requested.

    Every request that is not file:/data:/blob: is aborted by a route, so an accidental CDN
    fetch fails at once (and is reported) instead of hanging until a timeout.
    """
    html_path = Path(html_path).resolve()
    own_url = html_path.as_uri()
    requests: list[str] = []
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        context.route(
            "**/*",
            lambda route: route.continue_()
            if route.request.url.startswith(("file:", "data:", "blob:"))
            else route.abort("blockedbyclient"),
        )
        page = context.new_page()
        page.on("request", lambda req: requests.append(req.url))
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: errors.append(f"console.error: {msg.text}") if msg.type == "error" else None)
        page.on("dialog", lambda dialog: (errors.append(f"dialog ({dialog.type}): {dialog.message}"), dialog.dismiss()))
        page.goto(own_url, wait_until="load", timeout=timeout_ms)
        try:
            page.wait_for_function(
                """(n) => {
                    const plots = document.querySelectorAll('.js-plotly-plot');
                    return plots.length >= n && [...plots].every(p => p.querySelector('svg.main-svg'));
                }""",
                arg=min_plots,
                timeout=timeout_ms,
            )
        except Exception:  # reported below, after the requests and errors that may explain it
            pass
        page.wait_for_timeout(300)  # let any late console error or request surface
        rendered = page.evaluate(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".filter(p => p.querySelector('svg.main-svg')).length"
        )
    finally:
        context.close()
    foreign = [u for u in requests if u.split("#")[0] != own_url and not u.startswith(_LOCAL_SCHEMES)]
    assert not foreign, f"{html_path.name} requested more than itself: {foreign}"
    assert not errors, f"{html_path.name} logged errors: {errors}"
    assert rendered >= min_plots, f"{html_path.name}: {rendered} Plotly charts rendered, expected >= {min_plots}"
    return requests


def screenshot_tall(page, name: str, *, max_height: int = 8000) -> Path:
    """Like `screenshot`, but of the whole page: Streamlit scrolls inside its main block, so
    `full_page` stops at the viewport. Grow the viewport to the content, shoot, restore."""
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], [data-testid=\"stAppViewContainer\"]')]"
        ".map(e => e.scrollHeight), document.documentElement.scrollHeight)"
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height), size["height"]), max_height)})
    page.wait_for_timeout(400)
    try:
        return screenshot(page, name)
    finally:
        page.set_viewport_size(size)
