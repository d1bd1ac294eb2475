"""The Neural collapse page's centring switch in Chromium: an uploaded long-tailed embedding, both centrings."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.metrics import neural_collapse
from tests.e2e.helpers import card_value, screenshot, wait_idle
from tests.e2e.latency import upload

pytestmark = pytest.mark.e2e


def test_centring_switch_on_a_long_tailed_upload(page, server, tmp_path) -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), (300, 80, 20, 6))
    X = (4.0 * rng.normal(size=(4, 12))[labels] + rng.normal(size=(labels.size, 12))).astype(np.float32)
    path = tmp_path / "long_tail.npz"
    np.savez(path, X=X, labels=labels)
    upload(page, server, path)
    page.get_by_role("link", name="Neural collapse").click()
    page.get_by_role("heading", name="Neural collapse", level=1).wait_for()
    page.locator('[data-testid="stMetricLabel"]', has_text="NC2 · ETF distance").first.wait_for(timeout=60_000)
    wait_idle(page)
    default, papyan = neural_collapse(X, labels), neural_collapse(X, labels, mu_g="samples")
    assert card_value(page, "NC2 · ETF distance") == f"{default.etf_distance:.3g}"
    sentence = page.get_by_text("so the two centrings of the class means differ here", exact=False)
    assert "mean of class means" in sentence.inner_text()
    screenshot(page, "collapse-centring-class-means")

    page.get_by_text("Mean of all samples", exact=True).click()
    page.wait_for_function(
        """(expected) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
            m => m.innerText.includes('NC2 · ETF distance') && m.innerText.includes(expected))""",
        arg=f"{papyan.etf_distance:.3g}", timeout=60_000)
    wait_idle(page)
    assert f"{papyan.etf_distance:.3g}" != f"{default.etf_distance:.3g}"
    assert card_value(page, "NC2 · ETF distance") == f"{papyan.etf_distance:.3g}"
    assert card_value(page, "NC1") == f"{papyan.nc1:.3g}"
    assert "mean of all samples" in page.get_by_text("so the two centrings", exact=False).inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
    screenshot(page, "collapse-centring-samples")
