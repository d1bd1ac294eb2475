"""The Sphere & spectrum page's "Remedies: whitening" tab in Chromium: fresh server, the sample, default choices."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data import load_run
from analysis.metrics.whitening import compare_whitening
from analysis.samples import sample_paths
from tests.e2e.helpers import open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def test_remedies_tab_shows_before_after_and_a_try_this(page, server) -> None:
    open_page(page, server, "geometry")
    page.get_by_role("heading", name="Sphere & spectrum", level=1).wait_for()
    page.get_by_role("tab", name="Remedies: whitening").click()
    sentence = (page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Try this:")
                .filter(has_text="kNN accuracy").first)
    sentence.wait_for(timeout=120_000)
    wait_idle(page)
    # The default view: the sample's last layer at its last checkpoint, all rows.
    run = load_run(sample_paths()["digits_mlp"])
    X = np.asarray(run.activations[(run.layers[-1], run.steps[-1])], dtype=np.float32)
    numbers = compare_whitening(X, run.labels, methods=("none", "zca", "abtt"))
    before, after = numbers.row("none"), numbers.row("zca")
    text = sentence.inner_text()
    assert f"IsoScore from {before['iso_score']:.2f} to {after['iso_score']:.2f}" in text
    assert f"kNN accuracy goes from {before['knn_accuracy']:.3f} to {after['knn_accuracy']:.3f}" in text
    # The grid draws on a canvas (its cells are checked on the screenshot): here, that it is shown at full height,
    # one row per method plus the header.
    table = page.locator('[data-testid="stDataFrame"]:visible')  # the Spectrum tab's table is hidden
    assert table.count() == 1
    box = table.bounding_box()
    assert box is not None and box["height"] > 4 * 30 and box["width"] > 600
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlert"]').filter(has_text="Cannot whiten").count() == 0
    screenshot(page, "geometry-whitening")
