"""The Compare and Report pages in headless Chromium, and the exported report HTML opened offline."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from analysis.data import load_run
from analysis.metrics.similarity import cka_matrix
from analysis.report import diagnose
from analysis.samples import ensure_samples
from tests.e2e.helpers import (
    assert_opens_offline,
    draw_lasso,
    open_page,
    screenshot,
    screenshot_tall,
    wait_idle,
)
from ui.report import COUNT_LABELS

pytestmark = pytest.mark.e2e

VERDICTS = ("problem", "warning", "info", "good")
BADGE_WORDS = {"PROBLEM": "problem", "WARNING": "warning", "NOTE": "info", "GOOD": "good"}
XSS = "<img src=x onerror=alert(1)>"


def _no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def _open_compare(page, server: str) -> None:
    open_page(page, server, "compare")
    page.get_by_role("heading", name="Compare", level=1).wait_for()
    page.locator(".st-key-cmp_cka .js-plotly-plot svg.main-svg").first.wait_for()
    wait_idle(page)
    _no_exception(page)


def _heatmap_z(page) -> np.ndarray:
    """The CKA heatmap's z as Plotly holds it after decoding (rows of typed arrays)."""
    z = page.evaluate(
        "() => Array.from(document.querySelector('.st-key-cmp_cka .js-plotly-plot')._fullData[0].z, r => Array.from(r))"
    )
    return np.asarray(z, dtype=np.float64)


def _metrics(page) -> dict[str, str]:
    """Visible st.metric cards: label -> value text."""
    cards = {}
    for card in page.locator('[data-testid="stMetric"]:visible').all():
        label = card.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        cards[label] = card.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return cards


def _digits_run():
    """The run the sidebar shows by default: the first shipped sample, digits_mlp."""
    return load_run(ensure_samples()["digits_mlp"])


def test_compare_cka_heatmap_matches_the_library(page, server) -> None:
    _open_compare(page, server)
    sidebar = page.locator('[data-testid="stSidebar"]')
    dataset = sidebar.locator('[data-testid="stSelectbox"]').first
    shown_name = dataset.inner_text() + " ".join(i.input_value() for i in dataset.locator("input").all())
    assert "digits_mlp" in shown_name or sidebar.get_by_text("digits_mlp (sample)").count() > 0, shown_name
    run = _digits_run()
    step = run.steps[-1]
    reps = [np.asarray(run.activations[(layer, step)], dtype=np.float32) for layer in run.layers]

    shown = _heatmap_z(page)
    n = len(run.layers)
    assert shown.shape == (n, n), shown.shape
    np.testing.assert_allclose(np.diag(shown), 1.0, atol=1e-6)
    assert np.all((shown >= 0.0) & (shown <= 1.0)), shown
    np.testing.assert_allclose(shown, shown.T, atol=1e-12)
    np.testing.assert_allclose(shown, cka_matrix(reps), atol=1e-9)
    # Every cell's value is written in it: the labels Plotly drew are the rounded values.
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.st-key-cmp_cka .js-plotly-plot .heatmap-label text')]"
        ".map(t => t.textContent)"
    )
    assert sorted(drawn) == sorted(f"{v:.2f}" for v in shown.ravel())

    page.get_by_text("Debiased CKA", exact=True).click()
    page.wait_for_function(
        """(before) => {
            const z = document.querySelector('.st-key-cmp_cka .js-plotly-plot')._fullData[0].z;
            return Array.from(z, r => Array.from(r)).flat().some((v, i) => Math.abs(v - before[i]) > 1e-9);
        }""",
        arg=shown.ravel().tolist(),
        timeout=30_000,
    )
    wait_idle(page)
    debiased = _heatmap_z(page)
    assert debiased.shape == (n, n)
    assert not np.allclose(debiased, shown)
    np.testing.assert_allclose(np.diag(debiased), 1.0, atol=1e-6)
    np.testing.assert_allclose(debiased, cka_matrix(reps, debiased=True), atol=1e-9)
    _no_exception(page)
    screenshot(page, "compare")


def test_compare_side_by_side_lasso_rings_the_same_points(page, server) -> None:
    _open_compare(page, server)
    page.get_by_role("tab", name="Side by side").click()
    chart_a = page.locator(".st-key-cmp_side_a .js-plotly-plot")
    chart_b = page.locator(".st-key-cmp_side_b .js-plotly-plot")
    chart_b.locator("svg.main-svg").first.wait_for()
    assert page.get_by_text("selected ·", exact=False).count() == 0
    rings_before = page.evaluate(
        "() => document.querySelector('.st-key-cmp_side_b .js-plotly-plot')._fullData"
        ".filter(t => t.marker && t.marker.color === 'rgba(0,0,0,0)').length"
    )
    assert rings_before == 0
    page.wait_for_timeout(1500)  # let the first run settle (see the Explore lasso test)
    box = chart_a.locator(".nsewdrag").first.bounding_box()
    assert box is not None
    draw_lasso(page, box, radius_fraction=0.25)
    summary = page.get_by_text(re.compile(r"^[0-9,]+ selected · mean neighbour Jaccard"))
    summary.wait_for(timeout=15_000)
    wait_idle(page)
    n_selected = int(summary.inner_text().split()[0].replace(",", ""))
    assert n_selected > 0

    # The points Plotly selected in A (customdata = row id), and the ring trace in B.
    selected_a = page.evaluate(
        """() => document.querySelector('.st-key-cmp_side_a .js-plotly-plot')._fullData.flatMap(
               t => (t.selectedpoints || []).map(i => Number(t.customdata[i])))"""
    )
    page.wait_for_function(
        """() => document.querySelector('.st-key-cmp_side_b .js-plotly-plot')._fullData
               .some(t => t.marker && t.marker.color === 'rgba(0,0,0,0)')""",
        timeout=15_000,
    )
    rings = page.evaluate(
        """() => document.querySelector('.st-key-cmp_side_b .js-plotly-plot')._fullData
               .filter(t => t.marker && t.marker.color === 'rgba(0,0,0,0)')
               .map(t => ({n: t.x.length, rows: Array.from(t.customdata, Number),
                           line: t.marker.line.width}))"""
    )
    assert len(rings) == 1, rings
    ring = rings[0]
    assert ring["line"] > 0
    assert ring["n"] == n_selected == len(selected_a)
    assert sorted(ring["rows"]) == sorted(selected_a)

    # The neighbour-changes table: one row per selected point (at most 200), worst Jaccard first.
    grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]')
    grid.wait_for(state="attached")
    assert int(grid.get_attribute("aria-rowcount")) == min(n_selected, 200) + 1  # + the header
    first = page.locator('[data-testid="stDataFrame"] [role="row"]').nth(1).locator('[role="gridcell"]')
    first_row = int(first.nth(0).inner_text())
    assert first_row in set(selected_a)
    assert 0.0 <= float(first.nth(1).inner_text()) <= 1.0
    _no_exception(page)
    screenshot(page, "compare_side_by_side")


def test_compare_relative_representations_agree_where_coordinates_do_not(page, server) -> None:
    _open_compare(page, server)
    page.get_by_role("tab", name="Relative representations").click()
    page.get_by_text("Trained on A, tested on B (relative)").wait_for(timeout=120_000)
    wait_idle(page, timeout_s=120)
    cards = _metrics(page)
    absolute = float(cards["Same input, absolute coordinates"].replace("−", "-"))
    relative = float(cards["Same input, relative representation"].replace("−", "-"))
    cka = float(cards["Linear CKA (A, B)"])
    stitched_abs = float(cards["Trained on A, tested on B (absolute)"].rstrip("%")) / 100
    stitched_rel = float(cards["Trained on A, tested on B (relative)"].rstrip("%")) / 100
    same = float(cards["Classifier on A, tested on A"].rstrip("%")) / 100
    assert abs(absolute) < 0.3, cards
    assert relative > 0.8 and relative - absolute > 0.5, cards
    assert 0.0 <= cka <= 1.0, cards
    assert stitched_rel > 0.8, cards
    assert stitched_abs < 0.3, cards
    assert same > 0.8, cards
    _no_exception(page)
    screenshot(page, "compare_relative")


def _findings(page) -> list[tuple[str, str]]:
    """(verdict badge, title) of every finding the Report page lists."""
    heads = page.locator('[data-testid="stMain"] p:has(> span.stMarkdownBadge):has(> strong)')
    return [(BADGE_WORDS[h.locator("span.stMarkdownBadge").inner_text().split()[-1]], h.locator("strong").inner_text())
            for h in heads.all()]


def test_report_page_lists_findings_exports_and_links(page, server, browser, tmp_path) -> None:
    open_page(page, server, "report")
    page.get_by_role("heading", name="Diagnosis report", level=1).wait_for()
    json_button = page.get_by_role("button", name="Download the numbers (JSON)")
    json_button.wait_for(timeout=90_000)
    wait_idle(page)
    _no_exception(page)

    findings = _findings(page)
    assert len(findings) >= 5, findings
    assert all(verdict in VERDICTS for verdict, _ in findings), findings
    cards = _metrics(page)
    counts = {}
    for verdict in VERDICTS:
        counts[verdict] = int(cards[COUNT_LABELS[verdict]])
    assert sum(counts.values()) == len(findings), (counts, findings)
    assert counts == {v: sum(f == v for f, _ in findings) for v in VERDICTS}
    links = page.locator('[data-testid="stMain"] a[data-testid="stPageLink-NavLink"]')
    assert links.count() >= 1
    assert all(t.strip().split("\n")[-1].startswith("Open ") for t in links.all_inner_texts())
    screenshot_tall(page, "report")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the report (HTML, opens offline)").click()
    download = info.value
    assert download.suggested_filename == "replens_report.html"
    html_path = tmp_path / download.suggested_filename
    download.save_as(html_path)
    wait_idle(page)
    text = html_path.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link" not in text
    for _, title in findings:
        assert title.replace("&", "&amp;") in text, title
    assert_opens_offline(browser, html_path, min_plots=2)

    with page.expect_download() as info:
        json_button.click()
    json_path = tmp_path / "replens_report.json"
    info.value.save_as(json_path)
    wait_idle(page)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert len(data["findings"]) == len(findings)
    assert data["summary"] == counts
    assert sorted(f["title"] for f in data["findings"]) == sorted(t for _, t in findings)
    assert data["n_samples"] == 1797

    # A finding's page link opens that page.
    link = links.filter(has_text="Open Hubness").first
    if link.count() == 0:
        link = links.first
    target = link.inner_text().strip().split("\n")[-1].removeprefix("Open ").strip()
    href = link.get_attribute("href")
    link.click()
    page.get_by_role("heading", name=target, level=1).wait_for(timeout=60_000)
    assert page.get_by_role("heading", name="Diagnosis report", level=1).count() == 0
    assert page.url.split("?")[0].rstrip("/").endswith("/" + href.strip("/")), (page.url, href)
    # Not waiting for the target page's own metrics (a cold Hubness page takes ~10 s): only its heading.
    _no_exception(page)


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """600 x 32 Gaussian blobs in 4 classes of unequal size (the injected name is the largest)."""
    rng = np.random.default_rng(seed)
    sizes = (210, 150, 130, 110)
    centres = rng.normal(scale=4.0, size=(len(sizes), 32))
    X = np.concatenate([c + rng.normal(size=(s, 32)) for c, s in zip(centres, sizes, strict=True)])
    names = np.array([f"class {XSS}", "cats", "dogs", "birds"])
    labels = np.repeat(names, sizes)
    return X.astype(np.float32), labels


def test_library_report_html_opens_offline_and_escapes_class_names(browser, tmp_path: Path) -> None:
    X, labels = _blobs()
    report = diagnose(X, labels=labels, source="blobs <b>bold</b>")
    assert report.n_classes == 4
    path = tmp_path / "blobs_report.html"
    report.to_html(path)
    text = path.read_text(encoding="utf-8")
    assert "<script src" not in text.lower() and "<link" not in text.lower()
    assert XSS not in text  # only ever written escaped
    requests = assert_opens_offline(browser, path, min_plots=3)
    assert requests[0] == path.resolve().as_uri()

    # Read it as a person would: the class name shows literally, nothing runs, no element is injected.
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    dialogs: list[str] = []
    try:
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                      else route.abort())
        pg = context.new_page()
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.goto(path.resolve().as_uri())
        pg.locator("#figure-classes svg.main-svg").first.wait_for(timeout=30_000)
        pg.wait_for_timeout(500)
        assert pg.evaluate("() => document.querySelectorAll('img, b').length") == 0
        body = pg.locator("body").inner_text()
        assert XSS in body  # the largest class is named in the class-balance reason
        assert "blobs <b>bold</b>" in pg.locator("h1").inner_text()
        ticks = pg.evaluate("() => [...document.querySelectorAll('#figure-classes .xtick text')].map(t => t.textContent)")
        assert f"class {XSS}" in ticks, ticks
    finally:
        context.close()
    assert dialogs == []


def test_offline_helper_fails_on_a_cdn_script_and_on_errors(browser, tmp_path: Path) -> None:
    """The guard itself: a page that fetches from a CDN, or logs an error, must not pass."""
    cdn = tmp_path / "cdn.html"
    cdn.write_text('<!DOCTYPE html><html><head><script src="https://cdn.plot.ly/plotly-2.35.2.min.js"></script>'
                   "</head><body><p>hi</p></body></html>", encoding="utf-8")
    with pytest.raises(AssertionError, match="requested more than itself: .*cdn.plot.ly"):
        assert_opens_offline(browser, cdn, min_plots=0)
    noisy = tmp_path / "noisy.html"
    noisy.write_text("<!DOCTYPE html><html><body><script>console.error('boom'); null.x;</script></body></html>",
                     encoding="utf-8")
    with pytest.raises(AssertionError, match="boom"):
        assert_opens_offline(browser, noisy, min_plots=0)
    plain = tmp_path / "plain.html"
    plain.write_text("<!DOCTYPE html><html><body><p>no charts</p></body></html>", encoding="utf-8")
    with pytest.raises(AssertionError, match="0 Plotly charts rendered"):
        assert_opens_offline(browser, plain, min_plots=1, timeout_ms=1_000)
    assert assert_opens_offline(browser, plain, min_plots=0) == [plain.resolve().as_uri()]
