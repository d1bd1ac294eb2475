"""The Collapse page's minority-collapse chart and "New classes" section in Chromium (issue 19 section 3).

A lab run (the imbalanced preset, 2 classes held out, 150 epochs) is trained here, saved and uploaded, so
the page meets it as a user's run file, with its metadata sidecar (the splits, held-out rows among
them) attached in the upload form's metadata field, on a fresh server in the default drag mode.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from analysis.data.runs import save_run
from analysis.models import PRESETS, train_collapse_lab
from analysis.panels.collapse_classes import minority_history, new_classes_history
from tests.e2e.helpers import card_value, open_page, screenshot, uploader, wait_idle

pytestmark = pytest.mark.e2e


def test_minority_collapse_and_new_classes_on_an_uploaded_lab_run(page, server, tmp_path) -> None:
    preset = PRESETS["imbalanced"]
    run = train_collapse_lab(replace(preset, held_out_classes=2, mlp=replace(preset.mlp, epochs=150)), name="lab")
    path = save_run(run, tmp_path / "lab.safetensors")  # a short name: the file chip truncates long ones
    sidecar = path.with_suffix(".parquet")
    open_page(page, server, "data")
    page.get_by_text("Upload embeddings, activations or a RepLens run").click()
    uploader(page, "Embeddings").set_input_files(str(path))
    uploader(page, "Metadata table").set_input_files(str(sidecar))
    for name in (path.name, sidecar.name):
        page.locator('[data-testid="stFileChip"]').filter(has_text=name).wait_for()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stFileChip\"] [role=\"progressbar\"]')")
    wait_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()
    page.get_by_role("heading", name=path.name).wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_role("link", name="Neural collapse").click()
    page.get_by_role("heading", name="Neural collapse", level=1).wait_for()
    page.get_by_text("Minority collapse: classifier rows", exact=False).wait_for(timeout=120_000)
    page.get_by_text("New classes: neural collapse on classes", exact=False).wait_for(timeout=120_000)
    wait_idle(page, timeout_s=180)
    assert page.locator('[data-testid="stException"]').count() == 0

    minority = minority_history(run).last
    sentence = page.get_by_text("At the last checkpoint the minority rows", exact=False).inner_text()
    assert f"{minority.minority_cosine:+.3f}" in sentence and f"{minority.etf_cosine:+.3f}" in sentence
    # The sidebar's default cell is the last hidden layer at the last checkpoint.
    new = new_classes_history(run, run.layers[-1]).at(run.steps[-1])
    assert card_value(page, "CDNV (new classes)") == f"{new.cdnv:.3g}"
    assert card_value(page, "10-shot accuracy") == f"{100 * new.accuracy(10):.1f}%"
    # Both charts drawn (Plotly's SVG is in the page), with their ETF and chance lines.
    assert page.get_by_text("simplex ETF −1/(C−1)", exact=False).count() >= 1
    assert page.get_by_text("Few-shot nearest-class-mean accuracy", exact=False).count() >= 1
    page.get_by_text("Minority collapse: classifier rows", exact=False).scroll_into_view_if_needed()
    screenshot(page, "collapse-minority-new-classes")
