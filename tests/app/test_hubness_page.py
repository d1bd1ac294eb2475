"""AppTest: the hubness page on the sample, its controls, reductions, demo and bad data."""

from __future__ import annotations

import numpy as np
from streamlit.testing.v1 import AppTest

from analysis.metrics import hubness
from analysis.metrics.hubness import hubness_between, reverse_neighbours
from analysis.neighbors import kneighbors
from analysis.report import diagnose
from analysis.views import format_number
from tests.app.pages import metric_cards, npy_bytes, open_page

PAGE = "app_pages/hubness.py"


def _hubness_page(**preset: object) -> AppTest:
    return open_page(PAGE, **preset)


_metrics = metric_cards


def test_cards_match_the_library_for_the_sidebar_choice() -> None:
    at = _hubness_page()
    assert not at.exception, at.exception
    assert at.title[0].value == "Hubness"
    X = at.session_state["view"].embedding.X
    expected = hubness(X, k=10)
    shown = _metrics(at)
    assert shown["Skewness of N_k"] == format_number(expected.skewness)
    assert shown["Robin Hood index"] == format_number(expected.robin_hood)
    assert shown["Antihubs"] == f"{expected.antihub_occurrence:.1%}"
    assert shown["Hubs / antihubs"] == f"{expected.hubs.size:,} / {expected.antihubs.size:,}"
    assert [s.value for s in at.subheader][:2] == ["Where the hubs are", "Why are there hubs?"]
    assert len(at.latex) >= 7  # every index with its formula


def test_k_and_metric_change_the_numbers() -> None:
    at = _hubness_page()
    before = _metrics(at)["Skewness of N_k"]
    at.slider(key="hub_k").set_value(3).run()
    at.radio(key="hub_metric").set_value("cosine").run()
    assert not at.exception
    X = at.session_state["view"].embedding.X
    assert _metrics(at)["Skewness of N_k"] == format_number(hubness(X, k=3, metric='cosine').skewness) != before


def test_the_chosen_point_lists_who_has_it_as_a_neighbour() -> None:
    at = _hubness_page()
    X = at.session_state["view"].embedding.X
    _, indices = kneighbors(X, 10)
    picker = next(s for s in at.selectbox if s.key and s.key.startswith("hub_pick"))
    second = picker.options[1]
    picker.set_value(int(second.split()[1])).run()
    point = int(second.split()[1])
    rows, _ = reverse_neighbours(indices, point)
    assert any(f"**id {point}** is in the k-NN list of **{rows.size}** points" in m.value for m in at.markdown)
    assert any(df.value.shape[0] == rows.size for df in at.dataframe)


def test_reduction_tab_compares_every_method_with_accuracy() -> None:
    at = _hubness_page()
    table = next(df.value for df in at.dataframe if "method" in df.value.columns)
    assert list(table["method"])[0] == "none" and len(table) == 7
    assert table["kNN accuracy"].notna().all()  # the sample has labels
    at.selectbox(key="hub_reduction_method").set_value("csls").run()
    assert not at.exception
    assert any("after CSLS" in c.value for c in at.caption)


def test_teaching_demo_reports_the_chosen_dimension() -> None:
    at = _hubness_page()
    at.select_slider(key="hub_demo_dim").set_value(200).run()
    assert not at.exception
    X = np.random.default_rng(200).standard_normal((2000, 200)).astype(np.float32)
    expected = hubness(X, k=10)
    assert any(c.value.startswith(f"d = 200: skewness {expected.skewness:.3g}") for c in at.caption)


def test_identical_rows_give_a_clear_error_not_a_crash() -> None:
    at = _hubness_page()
    at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="upload_main").set_value(("same.npy", npy_bytes(np.ones((20, 4), dtype=np.float32)),
                                                   "application/octet-stream"))
    at.button[0].click()
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.error and "identical rows" in at.error[0].value


def test_two_sets_measure_test_queries_against_the_train_gallery() -> None:
    at = _hubness_page()
    emb = at.session_state["view"].embedding
    split = emb.metadata["split"].to_numpy()
    expected = hubness_between(emb.X[split == "test"], emb.X[split == "train"], k=10)
    assert "Two sets: queries against a gallery" in [s.value for s in at.subheader]
    skews = [m.value for m in at.metric if m.label == "Skewness of N_k"]
    assert skews[-1] == format_number(expected.skewness)


def test_the_verdict_is_the_reports_and_k_changes_slice_the_two_sets() -> None:
    """Issue 16: the page judges hubness with the report's rule and Gaussian baseline, and the two sets'
    numbers at a new k are those of `hubness_between` at that k (a slice of the one search)."""
    at = _hubness_page()
    emb = at.session_state["view"].embedding
    split = emb.metadata["split"].to_numpy()
    for k in (10, 3):
        if k != 10:
            at.slider(key="hub_k").set_value(k).run()
        assert not at.exception
        finding = next(f for f in diagnose(emb.X, k=k).findings if f.key == "hubness")
        boxes = {"good": at.success, "info": at.info, "warning": at.warning, "problem": at.error}[finding.verdict]
        assert finding.reason in [b.value for b in boxes]
        assert any(c.value.startswith(f"Baseline: skewness {finding.baseline:.2f} for {emb.n_samples:,} i.i.d.")
                   for c in at.caption)
        expected = hubness_between(emb.X[split == "test"], emb.X[split == "train"], k=k)
        skews = [m.value for m in at.metric if m.label == "Skewness of N_k"]
        assert skews[-1] == format_number(expected.skewness)
