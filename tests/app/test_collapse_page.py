"""AppTest: the neural-collapse page on the sample, on uploads, and its training lab."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from analysis.metrics import neural_collapse
from analysis.metrics.collapse_table import collapse_inputs, split_rows
from analysis.models import PRESETS
from analysis.views import format_number
from tests.app.pages import metric_cards, npy_bytes, open_page

PAGE = "app_pages/collapse.py"


def _collapse_page(**preset: object) -> AppTest:
    return open_page(PAGE, **preset)


_metrics = metric_cards


def _upload_embedding(at: AppTest, X: np.ndarray, labels: np.ndarray | None) -> AppTest:
    at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="upload_main").set_value(("feats.npy", npy_bytes(X), "application/octet-stream"))
    if labels is not None:
        at.file_uploader(key="upload_labels").set_value(("labels.npy", npy_bytes(labels), "application/octet-stream"))
    at.button[0].click()
    at.run()
    return at.switch_page(PAGE).run()


def test_cards_show_the_metrics_of_the_sidebar_choice() -> None:
    at = _collapse_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Neural collapse"
    view = at.session_state["view"]
    run = view.source.run
    # The sidebar says "all" rows: the page measures all rows, as every other page does (issue 16).
    expected = neural_collapse(**collapse_inputs(run, view.layer, view.step, split_rows(run, "all")))
    shown = _metrics(at)
    assert shown["NC1"] == format_number(expected.nc1)
    assert shown["NC2 · ETF distance"] == format_number(expected.etf_distance)
    assert shown["NC3"] == format_number(expected.nc3)
    assert shown["NCC accuracy"] == f"{expected.ncc_accuracy:.1%}"
    assert [s.value for s in at.subheader] == ["Over training", "Class-mean geometry", "Imbalance"]
    # Every metric's meaning and formula is on the page.
    assert len(at.latex) >= 9


def test_first_layer_has_no_nc3_and_test_split_differs() -> None:
    at = _collapse_page(layer="hidden1")
    assert not at.exception
    assert _metrics(at)["NC3"] == "—"
    train_nc1 = _metrics(at)["NC1"]
    test = _collapse_page(layer="hidden1", split="test")
    assert not test.exception
    assert any("test rows" in m.value for m in test.markdown)
    assert _metrics(test)["NC1"] != train_nc1


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_every_number_follows_the_sidebar_split(split: str) -> None:
    """Cards, caption, curves and heatmap use the sidebar's rows: no view swaps "all" for "train"."""
    at = _collapse_page(split=split)
    assert not at.exception, at.exception
    view = at.session_state["view"]
    run = view.source.run
    rows = run.rows(split)
    n = run.n_samples if rows is None else rows.size
    assert view.split == split
    label = f"{split} rows ({n:,})"
    assert any(label in m.value for m in at.markdown), [m.value for m in at.markdown]
    assert any(label in c.value for c in at.caption)
    expected = neural_collapse(**collapse_inputs(run, view.layer, view.step, rows))
    assert _metrics(at)["NC1"] == format_number(expected.nc1)
    assert _metrics(at)["NCC accuracy"] == f"{expected.ncc_accuracy:.1%}"
    # The NC1 curve is drawn for these rows (named by the split) and passes through the card's value.
    curves = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("nc_curves"))
    nc1 = json.loads(curves.proto.spec)["data"][0]
    assert nc1["name"].endswith(f"({split})")
    assert nc1["y"][list(run.steps).index(view.step)] == pytest.approx(expected.nc1, rel=1e-12)


def test_the_history_is_measured_once_per_rows_whatever_the_layer_and_checkpoint(monkeypatch) -> None:
    """Moving the sidebar's layer or checkpoint re-reads the cached table over layers and steps."""
    import analysis.panels.collapse as panel
    import ui.collapse

    calls: list[str] = []
    real = panel.collapse_history
    monkeypatch.setattr(panel, "collapse_history", lambda sel, **kw: calls.append(sel.split) or real(sel, **kw))
    ui.collapse._history.clear()
    at = _collapse_page(split="train")
    assert not at.exception, at.exception
    run = at.session_state["view"].source.run
    assert calls == ["train"]
    for preset in ({"layer": run.layers[0]}, {"step": run.steps[2]}, {"layer": run.layers[1], "step": run.steps[-1]}):
        assert not _collapse_page(split="train", **preset).exception
    assert calls == ["train"]
    # The comparison toggle draws the train and test rows: the test rows' table is measured once more.
    at.toggle(key="nc_compare_splits").set_value(True).run()
    assert not at.exception, at.exception
    assert calls == ["train", "test"]
    curves = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("nc_curves"))
    names = {t["name"] for t in json.loads(curves.proto.spec)["data"]}
    assert any(n.endswith("(train)") for n in names) and any(n.endswith("(test)") for n in names)
    assert any("not the sidebar's rows" in c.value for c in at.caption)


def test_heatmap_metric_choice_rerenders() -> None:
    at = _collapse_page()
    at.radio(key="nc_heatmap_metric").set_value("CDNV").run()
    assert not at.exception


def test_embedding_without_labels_explains_what_is_needed() -> None:
    at = _collapse_page()
    X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
    at = _upload_embedding(at, X, None)
    assert not at.exception
    assert any("needs class labels" in i.value for i in at.info)


def test_embedding_with_labels_and_a_classifier() -> None:
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 6)) * 5
    labels = np.repeat(np.arange(3), 40)
    X = (means[labels] + rng.normal(size=(120, 6))).astype(np.float32)
    at = _upload_embedding(_collapse_page(), X, labels)
    assert not at.exception and not at.error
    expected = neural_collapse(X, labels)
    assert _metrics(at)["NC1"] == format_number(expected.nc1)
    assert _metrics(at)["NC3"] == "—"
    # A classifier of the wrong width: a clear error, and the page still shows the metrics.
    uploader = at.file_uploader(key=f"nc_classifier_{at.session_state['view'].data_key}")
    uploader.set_value(("w.npy", npy_bytes(rng.normal(size=(3, 4))), "application/octet-stream")).run()
    assert at.error and "shape (n_classes, 6)" in at.error[0].value
    assert _metrics(at)["NC1"] == format_number(expected.nc1)
    # The right classifier enables NC3 and NC4.
    W = means - means.mean(axis=0)
    uploader = at.file_uploader(key=f"nc_classifier_{at.session_state['view'].data_key}")
    uploader.set_value(("w.npy", npy_bytes(W), "application/octet-stream")).run()
    assert not at.error
    with_head = neural_collapse(X, labels, classifier=W)
    assert _metrics(at)["NC3"] == format_number(with_head.nc3)
    assert _metrics(at)["NC4"] == format_number(with_head.nc4)
    # A later bad file (too few classes for the labels) is refused and keeps the good classifier.
    uploader = at.file_uploader(key=f"nc_classifier_{at.session_state['view'].data_key}")
    uploader.set_value(("w2.npy", npy_bytes(W[:2]), "application/octet-stream")).run()
    assert at.error and "w2.npy" in at.error[0].value and "only 2 classes" in at.error[0].value
    assert _metrics(at)["NC3"] == format_number(with_head.nc3)


def test_preset_fills_the_form_and_train_adds_a_selected_run() -> None:
    at = _collapse_page()
    at.selectbox(key="lab_preset").set_value("imbalanced").run()
    assert at.number_input(key="lab_imbalance").value == pytest.approx(PRESETS["imbalanced"].imbalance_ratio)
    at.number_input(key="lab_epochs").set_value(3)
    at.text_input(key="lab_hidden").set_value("16-12")
    at.button(key="FormSubmitter:lab_form-Train").click().run()
    assert not at.exception, at.exception
    view = at.session_state["view"]
    assert view.source.origin == "trained"
    assert view.source.run.layers == ("hidden1", "hidden2")
    assert any("Trained and selected" in s.value for s in at.success)
    # The new run is measured on the Collapse tab.
    assert "NC1" in _metrics(at)


def test_bad_form_values_show_an_error() -> None:
    at = _collapse_page()
    at.text_input(key="lab_hidden").set_value("64-x")
    at.button(key="FormSubmitter:lab_form-Train").click().run()
    assert at.error and "Hidden widths" in at.error[0].value
    assert not at.exception


def test_try_this_offers_every_preset() -> None:
    at = _collapse_page()
    labels = [b.label for b in at.button if b.key and b.key.startswith("lab_try_")]
    assert len(labels) == len(PRESETS)
    assert all(any(f"'{name}'" in label for label in labels) for name in PRESETS)


def test_balanced_classes_are_said_to_be_balanced_not_charted() -> None:
    """Issue 18 item 6: the sample's classes (174-183 rows on all rows) are balanced (largest / smallest
    <= 1.1): one sentence instead of a chart over a 399-401 axis; imbalanced data still get the chart,
    and a single embedding's 3-D view never asks to drag a slider it does not have."""
    from ui.collapse import BALANCED_RATIO

    at = _collapse_page()
    assert not at.exception, at.exception
    counts = at.session_state["view"].embedding.labels
    sizes = np.bincount(counts)
    assert sizes.max() / sizes.min() <= BALANCED_RATIO
    balanced = [m.value for m in at.markdown if m.value.startswith("**Classes are balanced**")]
    assert balanced and f"{sizes.min():,} to {sizes.max():,} rows per class" in balanced[0]
    charts_before = len(at.get("plotly_chart"))

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), [20, 40, 80])
    X = (rng.normal(size=(3, 6))[labels] * 5 + rng.normal(size=(140, 6))).astype(np.float32)
    at = _upload_embedding(at, X, labels)
    assert not at.exception, at.exception
    assert not any(m.value.startswith("**Classes are balanced**") for m in at.markdown)
    assert _metrics(at)["Largest / smallest class"] == "4×"
    assert charts_before > 0 and len(at.get("plotly_chart")) == 3  # Gram matrix, 3-D means, imbalance
    captions = " ".join(c.value for c in at.caption)
    assert "slider" not in captions.lower() and "Drag to rotate" in captions
