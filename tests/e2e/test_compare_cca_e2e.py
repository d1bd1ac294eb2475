"""The Compare page's SVCCA measure and Neuron matching tab in headless Chromium (fresh server, default mode)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data import load_run
from analysis.metrics.similarity import cca_matrices
from analysis.samples import ensure_samples
from tests.e2e.helpers import screenshot, wait_idle

pytestmark = pytest.mark.e2e

_Z = "() => Array.from(document.querySelector('.st-key-cmp_cka .js-plotly-plot')._fullData[0].z, r => Array.from(r))"
_COLORBAR = "() => document.querySelector('.st-key-cmp_cka .js-plotly-plot')._fullData[0].colorbar.title.text"


def test_svcca_heatmap_and_neuron_matching_tab(page, server) -> None:
    # A fresh server trains the two demo seeds on this first run (the Relative representations and Neuron
    # matching tabs): on a busy 2-core machine that outlasts open_page's 90 s wait, so wait here for longer.
    page.goto(f"{server}/compare")
    page.get_by_role("heading", name="Compare", level=1).wait_for(timeout=120_000)
    page.locator(".st-key-cmp_cka .js-plotly-plot svg.main-svg").first.wait_for(timeout=120_000)
    wait_idle(page, timeout_s=300)
    assert page.evaluate(_COLORBAR) == "CKA"

    page.locator(".st-key-cmp_measure").get_by_text("SVCCA", exact=True).click()
    page.wait_for_function(f"() => ({_COLORBAR})() === 'SVCCA'", timeout=120_000)
    wait_idle(page, timeout_s=300)
    run = load_run(ensure_samples()["digits_mlp"])
    reps = [np.asarray(run.activations[(layer, run.steps[-1])], dtype=np.float32) for layer in run.layers]
    expected, _ = cca_matrices(reps, keep=0.99)
    np.testing.assert_allclose(np.asarray(page.evaluate(_Z), dtype=np.float64), expected, atol=1e-9)
    assert page.get_by_text("Try this: switch between Linear CKA, SVCCA and PWCCA", exact=False).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "compare_svcca")

    page.get_by_role("tab", name="Neuron matching").click()
    page.get_by_text("Mean many-to-one correlation").wait_for(timeout=180_000)
    chart = page.locator(".st-key-cmp_matching .js-plotly-plot")
    chart.locator("svg.main-svg").first.wait_for()
    wait_idle(page, timeout_s=300)
    traces = page.evaluate("() => document.querySelector('.st-key-cmp_matching .js-plotly-plot')._fullData"
                           ".map(t => ({name: t.name, y: Array.from(t.y)}))")
    assert [t["name"] for t in traces] == ["many-to-one (best partner)", "one-to-one (Hungarian)",
                                           "one-to-one, rows shuffled (chance)"]
    best, matched, chance = (np.asarray(t["y"]) for t in traces)
    assert matched.size == best.size == 32  # hidden3 of the 64-64-32 MLP
    assert np.all(np.diff(matched) <= 1e-12) and np.all(best >= matched - 1e-12)  # sorted; max >= one-to-one
    assert chance.mean() < 0.2 < 0.4 < matched.mean()
    assert page.locator('[data-testid="stException"]').count() == 0
    chart.scroll_into_view_if_needed()
    screenshot(page, "compare_neuron_matching")
