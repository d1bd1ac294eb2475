"""AppTest: the sphere & spectrum page on the sample, on a 2-D run, on an upload, and its presets."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Run
from analysis.metrics.geometry_table import geometry_row
from analysis.models.contrastive import CONTRASTIVE_PRESETS
from analysis.views import format_number
from tests.app.pages import metric_cards, npy_bytes, open_page
from ui.state import Source

PAGE = "app_pages/geometry.py"


def test_cards_match_the_library_for_the_sidebar_choice() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert at.title[0].value == "Sphere & spectrum"
    view = at.session_state["view"]
    expected = geometry_row(view.embedding.X, view.embedding.labels)
    shown = metric_cards(at)
    assert shown["Uniformity"] == format_number(expected['uniformity'])
    assert shown["IsoScore"] == format_number(expected['iso_score'])
    assert shown["Effective rank"] == format_number(expected['effective_rank'])
    # A 32-D layer is not drawn on a sphere: the page says why.
    assert any("d = 32" in i.value for i in at.info)
    # The spectrum tab lists effective rank and intrinsic dimension beside d for several checkpoints.
    table = next(df.value for df in at.dataframe if "effective rank" in df.value.columns)
    assert len(table) >= 3 and (table["d"] == 32).all()


def _two_d_run() -> Run:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    angles = {0: rng.uniform(0, 2 * np.pi, 60), 5: labels * 2.1 + rng.normal(0, 0.1, 60)}
    acts = {("embedding", s): np.c_[np.cos(a), np.sin(a)].astype(np.float32) for s, a in angles.items()}
    return Run(activations=acts, layers=("embedding",), steps=(0, 5), labels=labels,
               label_names=("a", "b", "c"), metadata=pl.DataFrame({"id": np.arange(60)}), name="circle")


def test_a_two_dimensional_layer_is_drawn_on_the_circle() -> None:
    source = Source(key="test:circle", label="circle run", origin="upload", run=_two_d_run())
    at = open_page(PAGE, uploads={source.key: source}, source_key=source.key)
    assert not at.exception, at.exception
    assert not any("points are drawn on the circle" in i.value for i in at.info)
    # Classes gathered into three arcs: same-class alignment falls from step 0 to 5.
    shown = metric_cards(at)
    step5 = geometry_row(source.run.activations[("embedding", 5)], source.run.labels)
    assert shown["Alignment, same class"] == format_number(step5['alignment'])
    step0 = geometry_row(source.run.activations[("embedding", 0)], source.run.labels)
    assert step5["alignment"] < step0["alignment"]


def test_an_uploaded_embedding_gets_the_cards() -> None:
    at = open_page(PAGE)
    at.switch_page("app_pages/data.py").run()
    X = np.random.default_rng(1).normal(size=(200, 6)).astype(np.float32)
    at.file_uploader(key="upload_main").set_value(("v.npy", npy_bytes(X), "application/octet-stream"))
    at.button[0].click()
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    shown = metric_cards(at)
    assert shown["Uniformity"] == format_number(geometry_row(X, None)['uniformity'])
    assert shown["Alignment, same class"] == "—"  # no labels, no positive pairs


def test_try_this_offers_every_contrastive_preset() -> None:
    at = open_page(PAGE)
    labels = [b.label for b in at.button if b.key and b.key.startswith("geo_try_")]
    assert len(labels) == len(CONTRASTIVE_PRESETS)
    assert all(any(f"'{name}'" in label for label in labels) for name in CONTRASTIVE_PRESETS)


def test_the_contrastive_sample_uses_augmented_views_on_the_circle() -> None:
    at = open_page(PAGE)
    at.sidebar.selectbox(key="source_key").select_index(1).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    view = at.session_state["view"]
    assert "contrastive" in view.source.label and view.layer == "embedding"
    assert not any("points are drawn on the circle" in i.value for i in at.info)  # 2-D: drawn
    assert any(c.value.startswith("Positive pairs: augmented views") for c in at.caption)
    # Uniformity near the uniform circle's value, far below the collapsed 0.
    shown = metric_cards(at)
    assert -1.6 < float(shown["Uniformity"]) < -1.3


def test_the_lab_form_trains_and_selects_a_run() -> None:
    at = open_page(PAGE)
    at.number_input(key="geo_lab_epochs").set_value(5)
    at.toggle(key="geo_lab_negatives").set_value(False)
    at.button(key="FormSubmitter:geo_lab_form-Train").click().run()
    assert not at.exception, at.exception
    view = at.session_state["view"]
    assert view.source.origin == "trained" and "no negatives" in view.source.label
    assert view.layer == "embedding" and view.source.run.layer_dim("embedding") == 2


def test_the_numbers_follow_the_sidebars_split() -> None:
    """Cards, the spectrum table and the sphere's rows are of the sidebar's split (issue 16), not all rows."""
    at = open_page(PAGE, split="test")
    assert not at.exception, at.exception
    view = at.session_state["view"]
    run = view.source.run
    assert view.split == "test"
    rows = run.rows("test")
    assert 0 < rows.size < run.n_samples
    X = np.asarray(run.activations[(view.layer, view.step)], dtype=np.float32)[rows]
    expected = geometry_row(X, run.labels[rows])
    everything = geometry_row(np.asarray(run.activations[(view.layer, view.step)], dtype=np.float32), run.labels)
    shown = metric_cards(at)
    assert shown["Uniformity"] == format_number(expected['uniformity'])
    assert shown["Alignment, same class"] == format_number(expected['alignment'])
    assert shown["Effective rank"] == format_number(expected['effective_rank'])
    assert shown["Uniformity"] != format_number(everything['uniformity'])  # the split's rows, not all rows
    assert any(f"({rows.size:,} samples)" in m.value for m in at.markdown)
    table = next(df.value for df in at.dataframe if "effective rank" in df.value.columns)
    current = table[table[""] == f"step {view.step:,}"].iloc[0]  # AppTest gives a pandas frame
    assert current["effective rank"] == pytest.approx(expected["effective_rank"])
    assert current["intrinsic dimension (TwoNN)"] == pytest.approx(expected["intrinsic_dimension"])
    # Switching the split back to all rows changes the cards to all rows' numbers.
    at.session_state["split"] = "all"
    at.session_state["view"] = None
    at.run()
    assert not at.exception, at.exception
    assert metric_cards(at)["Uniformity"] == format_number(everything['uniformity'])


def _count_searches(monkeypatch) -> list[int]:
    """Wrap `kneighbors` wherever a module of `analysis` or `ui` holds it; record the rows of each search."""
    import importlib
    import sys

    import analysis.neighbors as neighbors_module

    importlib.import_module("ui.geometry")
    original = neighbors_module.kneighbors
    calls: list[int] = []

    def counted(X, *args, **options):
        calls.append(int(np.shape(X)[0]))
        return original(X, *args, **options)

    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "") or ""
        if name.split(".")[0] in ("analysis", "ui") and getattr(module, "kneighbors", None) is original:
            monkeypatch.setattr(module, "kneighbors", counted)
    return calls


def test_one_twonn_search_per_checkpoint_of_the_layer_and_none_on_moving_the_slider(monkeypatch) -> None:
    """The layer's table over checkpoints (TwoNN searches each step's points once) is measured once per
    (data, layer, rows): both tabs and every checkpoint slice it. Same count before and after issue 16."""
    import streamlit as st

    calls = _count_searches(monkeypatch)
    st.cache_data.clear()  # another test's table of the sample would hide this view's searches
    at = open_page(PAGE)
    assert not at.exception, at.exception
    view = at.session_state["view"]
    steps = view.source.run.steps
    assert len(calls) == len(steps)  # one TwoNN search per checkpoint, for both tabs
    calls.clear()
    at.session_state["step"] = steps[0]
    at.session_state["view"] = None
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["view"].step == steps[0]
    assert calls == []  # another checkpoint: a row of the same table
    at.session_state["split"] = "test"
    at.session_state["view"] = None
    at.run()
    assert len(calls) == len(steps)  # other rows: measured once more
