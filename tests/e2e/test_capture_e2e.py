"""Real browser: the Data page's "Capture from a model" turns a tiny BERT over a labelled CSV into the
selected run (fresh server, default state), with screenshots of the form and the result."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from tests.e2e.helpers import screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _shown(box) -> str:
    """What a selectbox shows: its label and chosen value (an input's value when it is searchable)."""
    inputs = box.locator("input")
    return box.inner_text() + " " + " ".join(inputs.nth(i).input_value() for i in range(inputs.count()))


def test_capture_from_a_model_selects_the_run(server, page, tmp_path: Path) -> None:
    from tests.tiny_models import sentences, tiny_bert

    bert = tiny_bert(tmp_path / "my-bert")
    table = tmp_path / "reviews.csv"
    pl.DataFrame({"text": sentences(90, seed=2), "topic": ["pets", "food", "sky"] * 30}).write_csv(table)

    page.goto(f"{server}/data")
    page.wait_for_selector('[data-testid="stSidebar"]')
    wait_idle(page)
    page.get_by_text("Capture from a model").click()
    page.locator('[data-testid="stTextArea"] textarea').fill(str(bert))
    page.get_by_label(re.compile("or a path on the server")).fill(str(table))
    page.get_by_label("Label column (optional)").fill("topic")
    screenshot(page, "capture-form")
    page.get_by_role("button", name="Capture").click()
    page.get_by_text("Captured and selected in the sidebar").wait_for(timeout=180_000)
    wait_idle(page)
    assert page.get_by_role("heading", name="my-bert on reviews.csv (captured)").count() == 1
    boxes = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    dataset, layer = (_shown(boxes.nth(i)) for i in range(2))
    assert "my-bert on reviews.csv" in dataset and "layer_2" in layer  # the run, at its last layer
    screenshot(page, "capture-done")
