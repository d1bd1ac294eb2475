"""AppTest: the Collapse page's minority-collapse chart and its "New classes" section (issue 19 section 3)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from analysis.metrics import minority_collapse, transfer_collapse
from tests.app.pages import metric_cards, open_page

PAGE = "app_pages/collapse.py"


def _train(at: AppTest, *, preset: str = "balanced", held: int = 0) -> AppTest:
    """Train a tiny lab run from the form (3 epochs, 16-12) and return the page showing it."""
    at.selectbox(key="lab_preset").set_value(preset).run()
    at.number_input(key="lab_epochs").set_value(3)
    at.text_input(key="lab_hidden").set_value("16-12")
    at.number_input(key="lab_held").set_value(held)
    at.button(key="FormSubmitter:lab_form-Train").click().run()
    assert not at.exception, at.exception
    return at


def _chart_keys(at: AppTest) -> list[str]:
    return [c.proto.id for c in at.get("plotly_chart")]


def test_sample_run_has_no_minority_chart_and_no_new_classes() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "training classes are balanced" in captions
    assert not any("New classes" in e.label for e in at.expander)
    assert "CDNV (new classes)" not in metric_cards(at)


def test_imbalanced_run_draws_minority_collapse_with_its_numbers() -> None:
    at = _train(open_page(PAGE), preset="imbalanced")
    run = at.session_state["view"].source.run
    assert at.number_input(key="lab_imbalance").value == pytest.approx(10.0)
    # Independently: training counts of the train rows, the last checkpoint's classifier.
    counts = [int((run.labels[run.rows("train")] == c).sum()) for c in range(10)]
    last = minority_collapse(run.classifier[run.steps[-1]][0], counts)
    text = next(c.value for c in at.caption if c.value.startswith("Minority classes"))
    assert f"mean cosine is {last.minority_cosine:+.3f}" in text
    assert f"majority's {last.majority_cosine:+.3f}" in text and "ETF's -0.111" in text
    assert "Minority classes 5, 6, 7, 8, 9, majority 0, 1, 2, 3, 4" in text
    assert any("Try this" in m.value and "imbalanced" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) >= 5  # curves, heatmap, Gram, 3-D, imbalance, minority collapse


def test_held_out_classes_get_the_new_classes_section() -> None:
    at = _train(open_page(PAGE), held=3)
    view = at.session_state["view"]
    run = view.source.run
    assert "held_out" in run.splits()
    assert run.classifier[run.steps[-1]][0].shape[0] == 7  # the head knows the trained classes only
    assert [e.label for e in at.expander if "New classes" in e.label]
    rows = run.rows("held_out")
    expected = transfer_collapse(run.activations[(view.layer, view.step)][rows], run.labels[rows])
    cards = metric_cards(at)
    assert cards["CDNV (new classes)"] == f"{expected.cdnv:.3g}"
    assert cards["NC1 (new classes)"] == f"{expected.nc1:.3g}"
    assert cards["5-shot accuracy"] == f"{100 * expected.accuracy(5):.1f}%"
    assert any("Held-out classes 7, 8, 9" in c.value for c in at.caption)
    assert any("Hold out classes" in m.value for m in at.markdown)
    # The main cards still work on all rows (NC3/NC4 undefined where the head has no row for a class).
    assert metric_cards(at)["NC3"] == "—"
