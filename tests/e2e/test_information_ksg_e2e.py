"""The Information plane page in Chromium: the estimators side by side, and KSG's raw and clipped readings."""

from __future__ import annotations

import re

import pytest

from tests.e2e.helpers import ARTIFACTS, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

_HOVER_TARGET = """() => {
    const gd = document.querySelectorAll('.js-plotly-plot')[0];
    const trace = gd._fullData.find(t => t.name === 'hidden5' && t.xaxis === 'x');
    const xs = Array.from(trace.x), ys = Array.from(trace.y);
    const i = xs.indexOf(Math.max(...xs));
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return {x: box.left + xa._offset + xa.d2p(xs[i]), y: box.top + ya._offset + ya.d2p(ys[i])};
}"""


def test_estimators_compared_and_ksg_shows_raw_and_clipped_readings(page, server) -> None:
    open_page(page, server, "information")
    page.get_by_role("heading", name="Information plane", level=1).wait_for()
    page.locator(".js-plotly-plot").first.locator(".scatterlayer .trace .points path").first.wait_for(
        state="attached", timeout=90_000)
    wait_idle(page)
    assert page.get_by_text("max(0, raw)", exact=False).count() == 0  # binning: nothing is clipped
    # Estimators side by side, as a fresh server shows it: fixed and adaptive binning, verdicts in words.
    heading = page.get_by_role("heading", name="Estimators side by side")
    heading.scroll_into_view_if_needed()
    for estimator in ("Binning", "Adaptive binning (equal-mass bins)"):
        sentence = page.locator("li").filter(has_text=re.compile(rf"^{re.escape(estimator)}: ib_tanh \(sample\)"))
        sentence.first.wait_for()
        text = sentence.first.inner_text()
        assert re.search(r"ib_relu \(sample\) (compresses|does not)", text), text
    assert page.get_by_text("Add KDE and adaptive KDE", exact=False).is_visible()
    page.locator('[data-testid="stMain"]').screenshot(path=str(ARTIFACTS / "information-estimators-compared.png"))
    page.get_by_text("KSG (k nearest neighbours)", exact=True).click()
    # KSG over every layer and checkpoint of both 12-bit runs takes a while on a cold server.
    note = page.get_by_text("clipped reading max(0, raw)", exact=False)
    note.wait_for(timeout=300_000)
    wait_idle(page, timeout_s=300)
    text = note.inner_text()
    assert "never negative" in text and "i_xt_raw, i_ty_raw" in text, text
    assert re.search(r"the lowest raw estimate here is -\d\.\d{4} bits \(I\((X;T|T;Y)\) of \w+ at step [\d,]+ in "
                     r"ib_(tanh|relu) \(sample\)\)|none of the raw estimates here is negative", text), text
    # The plane's hover gives both readings of a KSG estimate.
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    target = page.evaluate(_HOVER_TARGET)
    page.mouse.move(target["x"] - 40, target["y"] + 40)
    page.mouse.move(target["x"], target["y"], steps=4)
    label = page.locator(".hoverlayer .hovertext").filter(has_text="hidden5")
    label.first.wait_for(timeout=10_000)
    hover = label.first.text_content()
    assert re.search(r"I\(X;T\) = \d+\.\d{3} bits.*raw estimate [+-]\d+\.\d{4}", hover), hover
    assert "I(T;Y) = " in hover, hover
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "information-ksg-clipping")
