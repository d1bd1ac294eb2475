"""AppTest: the information-plane page on the shipped 12-bit runs, its estimators, its check and its lab."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analysis.data import Run, load_run
from analysis.metrics.information_table import information_plane_table
from analysis.metrics.information_validation import EstimatorSettings, estimator_validation
from analysis.samples import sample_paths
from tests.app.pages import open_page

PAGE = "app_pages/information.py"
LAYERS = ["hidden1", "hidden2", "hidden3", "hidden4", "hidden5", "output"]
TANH, RELU = "ib_tanh (sample)", "ib_relu (sample)"


def _sample(name: str) -> Run:
    return load_run(sample_paths()[name])


def _array(value: object) -> np.ndarray:
    """A Plotly JSON array: a plain list, or plotly 6's {"dtype", "bdata"[, "shape"]} typed array."""
    if isinstance(value, dict):
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape is not None:
            dims = [int(s) for s in str(shape).split(",")] if not isinstance(shape, list) else shape
            arr = arr.reshape(dims)
        return arr.astype(float)
    return np.asarray(value, dtype=float)


def _chart(at: AppTest, key: str) -> dict | None:
    """The JSON spec of the Plotly chart with this key, or None when the page did not draw it."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return json.loads(chart.proto.spec)
    return None


def _plane_traces(at: AppTest) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """(run label, layer) -> (I(X;T), I(T;Y)) of each path on the plane chart."""
    spec = _chart(at, "ip_plane")
    assert spec is not None, "no information-plane chart"
    out = {}
    for trace in spec["data"]:
        if "hovertemplate" not in trace:
            continue  # a legend-only entry (the layer's line colour), no data
        run_label = trace["hovertemplate"].split("<extra>")[1].split("</extra>")[0]
        out[(run_label, trace["name"])] = (_array(trace["x"]), _array(trace["y"]))
    return out


def _layer(table: pl.DataFrame, layer: str) -> tuple[np.ndarray, np.ndarray]:
    part = table.filter(pl.col("layer") == layer).sort("step")
    return part["i_xt"].to_numpy(), part["i_ty"].to_numpy()


def _assert_layer_matches(shown: tuple[np.ndarray, np.ndarray], table: pl.DataFrame, layer: str) -> None:
    x, y = _layer(table, layer)
    assert shown[0] == pytest.approx(x, abs=1e-9)
    assert shown[1] == pytest.approx(y, abs=1e-9)


def _largest_error_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Largest error:"))


def _expected_largest_error(settings: EstimatorSettings) -> str:
    table = estimator_validation(settings)
    worst = table.sort(pl.col("error").abs(), descending=True).row(0, named=True)
    return (f"Largest error: {worst['error']:+.2f} bits on {worst['quantity']} of the {worst['family']} case "
            f"(n = {worst['n']:,}, d = {worst['d']}; truth {worst['truth']:.2f}).")


def test_default_view_draws_both_shipped_runs_with_binning() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert at.title[0].value == "Information plane"
    picker = at.multiselect(key="ip_runs")
    chosen_labels = [picker.options[i] for i in picker.indices]
    assert chosen_labels == [TANH, RELU]
    assert at.radio(key="ip_estimator").value == "binning"
    traces = _plane_traces(at)
    legend = [t for t in _chart(at, "ip_plane")["data"] if "hovertemplate" not in t]
    assert len(traces) == 12 and [t["name"] for t in legend] == list(LAYERS)  # one legend entry per layer
    assert set(traces) == {(run, layer) for run in (TANH, RELU) for layer in LAYERS}
    # Two panels, titled by run.
    titles = [a["text"] for a in _chart(at, "ip_plane")["layout"]["annotations"]]
    assert titles == [TANH, RELU]
    tanh_table = information_plane_table(_sample("ib_tanh"), estimator="binning")
    relu_table = information_plane_table(_sample("ib_relu"), estimator="binning")
    for layer in LAYERS:
        _assert_layer_matches(traces[(TANH, layer)], tanh_table, layer)
        _assert_layer_matches(traces[(RELU, layer)], relu_table, layer)
    # Compression in tanh's last hidden layer, none in ReLU's (Saxe et al.).
    tanh_x = traces[(TANH, "hidden5")][0]
    assert tanh_x.max() - tanh_x[-1] > 2.0
    relu_x = traces[(RELU, "hidden5")][0]
    assert relu_x[-1] >= relu_x.max() - 0.05
    # The 12-bit runs have 4,096 inputs: no estimate beyond 12 bits; hidden1 of tanh sits at the ceiling.
    assert max(float(x.max()) for x, _ in traces.values()) <= 12.0 + 1e-9
    note = next(i.value for i in at.info if i.value.startswith("At log2(n)"))
    assert f"{TANH}: hidden1" in note
    # I against time (two rows per run) and the accuracy curves of both runs.
    assert len(_chart(at, "ip_curves")["data"]) == 24
    accuracy = [t["name"] for t in _chart(at, "ip_accuracy")["data"]]
    assert accuracy == [f"{TANH} · train", f"{TANH} · test", f"{RELU} · train", f"{RELU} · test"]
    assert any(c.value.startswith("Binning, 30 bins per unit over the layer's range over all checkpoints")
               for c in at.caption)


def test_run_panels_share_the_information_axes() -> None:
    # Regression: make_subplots(rows=1, shared_xaxes=True) links x axes only within a column, so each
    # run's I(X;T) axis ranged on its own ([0, 12.81] vs [-0.87, 12.87] bits in the browser).
    at = open_page(PAGE)
    layout = _chart(at, "ip_plane")["layout"]
    assert layout["yaxis2"].get("matches") == "y"
    assert layout["xaxis2"].get("matches") == "x", layout["xaxis2"]


def _layer_column(table: pl.DataFrame, layer: str, column: str) -> list[float]:
    return table.filter(pl.col("layer") == layer).sort("step")[column].to_list()


def test_kde_and_ksg_match_direct_estimates_and_differ_from_binning() -> None:
    at = open_page(PAGE)
    picker = at.multiselect(key="ip_runs")
    tanh_key = picker.value[0]
    binned = _plane_traces(at)[(TANH, "hidden5")]
    # One run only: the noisy estimators take ~10-30 s on a 12-bit run.
    picker.set_value([tanh_key])
    at.radio(key="ip_estimator").set_value("kde").run()
    assert not at.exception, at.exception
    traces = _plane_traces(at)
    assert set(traces) == {(TANH, layer) for layer in LAYERS}
    run = _sample("ib_tanh")
    kde = information_plane_table(run, estimator="kde", noise_variance=0.1, layers=["hidden5"])
    for layer in ("hidden5", "output"):
        _assert_layer_matches(traces[(TANH, layer)], kde, layer)
    assert not np.allclose(traces[(TANH, "hidden5")][0], binned[0])
    assert any(c.value.startswith("KDE upper bound, noise variance 0.1.") for c in at.caption)
    assert not any("max(0, raw)" in c.value for c in at.caption)  # the clipping sentence is KSG's
    assert _largest_error_caption(at).startswith(_expected_largest_error(EstimatorSettings(estimator="kde")))
    # KSG's settings are chosen with no run picked (nothing to estimate), then the run comes back.
    at.multiselect(key="ip_runs").set_value([])
    at.radio(key="ip_estimator").set_value("ksg").run()
    assert any("Pick at least one run" in i.value for i in at.info)
    at.select_slider(key="ip_noise").set_value(1.0)
    at.slider(key="ip_k").set_value(5).run()
    at.multiselect(key="ip_runs").set_value([tanh_key]).run()
    assert not at.exception, at.exception
    traces = _plane_traces(at)
    ksg = information_plane_table(run, estimator="ksg", noise_variance=1.0, k=5, layers=["hidden5"])
    for layer in ("hidden5", "output"):
        _assert_layer_matches(traces[(TANH, layer)], ksg, layer)
    default_ksg = information_plane_table(run, estimator="ksg", layers=["hidden5"], include_output=False)
    assert not np.allclose(traces[(TANH, "hidden5")][0], _layer(default_ksg, "hidden5")[0])
    assert not np.allclose(traces[(TANH, "hidden5")][0], _layer(kde, "hidden5")[0])
    assert any(c.value.startswith("KSG (k nearest neighbours), noise variance 1, k = 5.") for c in at.caption)
    settings = EstimatorSettings(estimator="ksg", noise_variance=1.0, k=5)
    assert _largest_error_caption(at).startswith(_expected_largest_error(settings))
    # Both readings of KSG: the table lists the raw estimates beside the plotted max(0, raw), and one
    # sentence says why they differ and names the lowest raw value.
    shown = pl.from_pandas(at.dataframe[0].value)
    for plotted, raw in (("i_xt", "i_xt_raw"), ("i_ty", "i_ty_raw")):
        assert shown[plotted].to_list() == [max(0.0, v) for v in shown[raw].to_list()]
        hidden5 = _layer_column(shown, "hidden5", raw)
        assert hidden5 == pytest.approx(_layer_column(ksg, "hidden5", raw), abs=1e-12)
    lowest = min(shown["i_xt_raw"].min(), shown["i_ty_raw"].min())
    note = [c.value for c in at.caption if "max(0, raw)" in c.value]
    assert len(note) == 1 and "never negative" in note[0]
    assert (f"{lowest:+.4f} bits" in note[0]) if lowest < 0 else ("none of the raw estimates" in note[0])


def test_bin_count_width_and_range_mode_reach_the_table() -> None:
    at = open_page(PAGE)
    at.multiselect(key="ip_runs").set_value(at.multiselect(key="ip_runs").value[:1])
    at.slider(key="ip_bins").set_value(8).run()
    run = _sample("ib_tanh")
    tables = {"count": information_plane_table(run, n_bins=8)}
    _assert_layer_matches(_plane_traces(at)[(TANH, "hidden5")], tables["count"], "hidden5")
    _assert_layer_matches(_plane_traces(at)[(TANH, "hidden3")], tables["count"], "hidden3")
    at.radio(key="ip_bin_kind").set_value("width").run()
    at.number_input(key="ip_width").set_value(0.25).run()
    assert not at.exception, at.exception
    tables["width"] = information_plane_table(run, bin_width=0.25)
    for layer in ("hidden3", "hidden5", "output"):
        _assert_layer_matches(_plane_traces(at)[(TANH, layer)], tables["width"], layer)
    assert any(c.value.startswith("Binning, bins 0.25 wide per unit") for c in at.caption)
    at.radio(key="ip_range").set_value("checkpoint").run()
    assert not at.exception, at.exception
    tables["checkpoint"] = information_plane_table(run, bin_width=0.25, range_mode="checkpoint")
    for layer in ("hidden3", "hidden5", "output"):
        _assert_layer_matches(_plane_traces(at)[(TANH, layer)], tables["checkpoint"], layer)
    assert any("each checkpoint's own range" in c.value for c in at.caption)
    # Each setting changed what the page shows.
    shown = [_layer(t, "hidden5")[0] for t in tables.values()]
    assert not np.allclose(shown[0], shown[1]) and not np.allclose(shown[1], shown[2])
    # The estimator check follows the first tab's bins.
    expected = _expected_largest_error(EstimatorSettings(estimator="binning", bin_width=0.25))
    assert _largest_error_caption(at).startswith(expected)


def test_estimator_check_tab_reports_the_largest_error() -> None:
    at = open_page(PAGE)
    assert _chart(at, "ip_validation") is not None
    spec = _chart(at, "ip_validation")
    table = estimator_validation(EstimatorSettings())
    assert [a["text"] for a in spec["layout"]["annotations"]] == ["I(X;T): estimate vs truth",
                                                                  "I(T;Y): estimate vs truth"]
    # Every validation case is a marker (the dashed diagonals excluded).
    markers = sum(len(_array(t["x"])) for t in spec["data"] if t["name"] != "exact")
    assert markers == table.height
    caption = _largest_error_caption(at)
    assert caption.startswith(_expected_largest_error(EstimatorSettings()))
    worst = table.sort(pl.col("error").abs(), descending=True).row(0, named=True)
    assert f"{worst['error']:+.2f} bits" in caption and abs(worst["error"]) > 1.0
    # With fewer bins the largest error changes and the caption follows.
    at.slider(key="ip_bins").set_value(4).run()
    expected = _expected_largest_error(EstimatorSettings(n_bins=4))
    assert _largest_error_caption(at).startswith(expected) and expected != _expected_largest_error(EstimatorSettings())
    assert any("For binning the truth is" in m.value for m in at.markdown)


def test_a_labelled_run_of_another_size_shows_its_log2_n_ceiling() -> None:
    at = open_page(PAGE)
    digits_key = at.session_state["view"].source.key  # the sidebar's default: digits_mlp
    assert at.session_state["view"].source.label == "digits_mlp (sample)"
    at.multiselect(key="ip_runs").set_value([digits_key]).run()
    assert not at.exception, at.exception
    run = _sample("digits_mlp")
    assert run.n_samples == 1797
    ceiling = math.log2(1797)
    assert ceiling == pytest.approx(10.81, abs=0.005)
    table = information_plane_table(run)
    traces = _plane_traces(at)
    assert {layer for _, layer in traces} == {*run.layers, "output"}
    for layer in run.layers:
        _assert_layer_matches(traces[("digits_mlp (sample)", layer)], table, layer)
    assert max(float(x.max()) for x, _ in traces.values()) <= ceiling + 1e-9
    stuck = sorted(table.filter(pl.col("i_xt") > ceiling - 0.05)["layer"].unique().to_list())
    assert stuck, "the digits MLP's wide layers should reach log2(n) with 30 bins"
    note = next(i.value for i in at.info if i.value.startswith("At log2(n)"))
    assert f"digits_mlp (sample): {', '.join(stuck)}." in note
    assert TANH not in note


def test_no_run_picked_asks_for_one() -> None:
    at = open_page(PAGE)
    at.multiselect(key="ip_runs").set_value([]).run()
    assert not at.exception, at.exception
    assert any(i.value.startswith("Pick at least one run") for i in at.info)
    assert _chart(at, "ip_plane") is None and _chart(at, "ip_curves") is None
    # The other tabs still work without a run.
    assert _chart(at, "ip_validation") is not None


def test_training_from_the_form_adds_the_run_to_the_plane() -> None:
    at = open_page(PAGE)
    assert [b.label for b in at.button if b.key in ("ip_train_tanh", "ip_train_relu")] == [
        "Train the tanh network (about 30 s)", "Train the ReLU network (about 30 s)"]
    before = list(at.multiselect(key="ip_runs").value)
    at.number_input(key="ip_lab_epochs").set_value(20)
    at.number_input(key="ip_lab_checkpoints").set_value(5)
    at.selectbox(key="ip_lab_activation").set_value("relu")
    at.button(key="FormSubmitter:ip_form-Train").click().run()
    assert not at.exception, at.exception
    assert not at.error
    label = "12-bit · relu, 20 epochs (trained)"
    uploads = at.session_state["uploads"]
    trained = [k for k, s in uploads.items() if s.label == label]
    assert len(trained) == 1, [s.label for s in uploads.values()]
    key = trained[0]
    assert not [s for s in at.sidebar.selectbox if s.label == "Dataset"]  # no dataset sidebar on this page
    assert list(at.multiselect(key="ip_runs").value) == [*before, key]
    assert any(s.value.startswith("Trained — 12-bit · relu, 20 epochs") for s in at.success)
    run = uploads[key].run
    assert len(run.steps) == 5 and run.n_samples == 4096
    traces = _plane_traces(at)
    assert len(traces) == 18
    table = information_plane_table(run)
    for layer in LAYERS:
        _assert_layer_matches(traces[(label, layer)], table, layer)
    # The pending run was consumed: the next rerun keeps the same selection.
    at.run()
    assert list(at.multiselect(key="ip_runs").value) == [*before, key]
    assert "_ip_pending_run" not in at.session_state
    # The next page with the dataset sidebar offers the trained run, selected.
    at.switch_page("app_pages/data.py").run()
    assert not at.exception, at.exception
    assert label in at.sidebar.selectbox(key="source_key").options
    assert at.session_state["view"].source.key == key


def test_extreme_form_values_within_the_widget_bounds_still_train() -> None:
    # InformationLabConfig rejects bad activations, hidden sizes, lr <= 0, batch/epochs < 1, fractions
    # outside (0, 1) and < 2 checkpoints; the form's bounds reach none of these, so no st.error case is
    # reachable. The corners of the bounds (more checkpoints than steps, a batch larger than the
    # training split) must train.
    at = open_page(PAGE)
    at.number_input(key="ip_lab_epochs").set_value(10)
    at.number_input(key="ip_lab_checkpoints").set_value(60)
    at.number_input(key="ip_lab_batch").set_value(4096)
    at.slider(key="ip_lab_fraction").set_value(0.05)
    at.button(key="FormSubmitter:ip_form-Train").click().run()
    assert not at.exception, at.exception
    assert not at.error
    new = [s for s in at.session_state["uploads"].values() if s.label == "12-bit · tanh, 10 epochs (trained)"]
    assert len(new) == 1
    # 10 epochs of one batch each: 11 checkpoints, initialisation included.
    assert len(new[0].run.steps) == 11
    assert len(_plane_traces(at)) == 18


def test_the_debate_tab_cites_both_sides() -> None:
    at = open_page(PAGE)
    debate = next(m.value for m in at.markdown if m.value.startswith("**What the plot is about.**"))
    assert "**Shwartz-Ziv & Tishby (2017)**" in debate and "**Saxe et al. (2018)**" in debate
    assert "R. Shwartz-Ziv and N. Tishby, arXiv:1703.00810 (2017)" in debate
    assert "A. M. Saxe et al., ICLR 2018" in debate
    assert [t.label for t in at.tabs] == ["Information plane", "Estimator check", "Train", "The debate"]


def test_the_page_has_no_dataset_sidebar_and_keeps_its_choices() -> None:
    # Every layer, checkpoint and input of the picked runs: the sidebar's choices would not apply (issue 16).
    at = open_page("app_pages/explore.py")
    assert [s.label for s in at.sidebar.selectbox][:1] == ["Dataset"]
    at.sidebar.selectbox(key="source_key").select("ib_tanh (sample)").run()
    at.sidebar.selectbox(key="layer").select("hidden3").run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert not [s.label for s in at.sidebar.selectbox if s.label in ("Dataset", "Layer")]
    assert not at.sidebar.select_slider and not at.sidebar.radio
    assert any("has no dataset sidebar" in c.value for c in at.caption)
    assert at.multiselect(key="ip_runs").value  # the page's own run picker chooses the data
    # Back on a page that uses the sidebar, the choices made before are still there.
    at.switch_page("app_pages/data.py").run()
    assert at.sidebar.selectbox(key="source_key").value == at.session_state["view"].source.key
    assert at.session_state["view"].source.label == "ib_tanh (sample)"
    assert at.session_state["view"].layer == "hidden3"


def _compare_sentences(at: AppTest) -> list[str]:
    return [m.value[2:] for m in at.markdown if m.value.startswith("- ") and " bits" in m.value]


def _expected_comparison(runs: dict[str, Run], estimators: list[str]) -> list[str]:
    from analysis.panels.information import ESTIMATOR_LABELS
    from analysis.panels.information_compare import (
        COMPARED_SETTINGS,
        compression_panel,
        compression_table,
    )

    tables = {(e, label): compression_table(run, settings=COMPARED_SETTINGS[e]) for e in estimators
              for label, run in runs.items()}
    return compression_panel(tables, labels=ESTIMATOR_LABELS, estimators=estimators).sentences


def test_estimators_side_by_side_state_what_each_says_about_tanh_and_relu() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert any(h.value == "Estimators side by side" for h in at.subheader)
    runs = {TANH: _sample("ib_tanh"), RELU: _sample("ib_relu")}
    expected = _expected_comparison(runs, ["binning", "adaptive_binning"])
    assert _compare_sentences(at) == expected
    assert expected[0].startswith(f"Binning: {TANH} compresses (I(X;T) of hidden5 falls by ")
    assert expected[1].startswith("Adaptive binning (equal-mass bins): ")
    shown = pl.from_pandas(next(d.value for d in at.dataframe if "compresses" in d.value.columns))
    assert shown.height == 4 and shown["run"].to_list() == [TANH, RELU, TANH, RELU]
    # The plane's hover gives both readings of each estimate.
    spec = _chart(at, "ip_plane")
    trace = next(t for t in spec["data"] if "hovertemplate" in t and t["name"] == "hidden5")
    assert "%{text}" in trace["hovertemplate"]
    assert all("raw estimate" in line and "I(T;Y)" in line for line in trace["text"])
    debate = next(m.value for m in at.markdown if m.value.startswith("**What the plot is about.**"))
    assert "**Chelombiev, Houghton & O'Donnell (2019)**" in debate and "C. O'Donnell, ICLR 2019" in debate


def test_adaptive_binning_reaches_the_plane_with_either_edge_source() -> None:
    at = open_page(PAGE)
    at.multiselect(key="ip_runs").set_value(at.multiselect(key="ip_runs").value[1:])  # ib_relu only
    at.radio(key="ip_estimator").set_value("adaptive_binning").run()
    at.slider(key="ip_ab_bins").set_value(10).run()
    assert not at.exception, at.exception
    run = _sample("ib_relu")
    table = information_plane_table(run, estimator="adaptive_binning", n_bins=10)
    for layer in ("hidden1", "hidden5", "output"):
        _assert_layer_matches(_plane_traces(at)[(RELU, layer)], table, layer)
    assert any(c.value.startswith("Adaptive binning (equal-mass bins), 10 equal-mass bins per unit, edges from "
                                  "the unit's values over all checkpoints.") for c in at.caption)
    at.radio(key="ip_ab_range").set_value("checkpoint").run()
    per_checkpoint = information_plane_table(run, estimator="adaptive_binning", n_bins=10, range_mode="checkpoint")
    _assert_layer_matches(_plane_traces(at)[(RELU, "hidden5")], per_checkpoint, "hidden5")
    assert not np.allclose(_layer(table, "hidden5")[0], _layer(per_checkpoint, "hidden5")[0])
    # The estimator check follows, against the equal-mass truth.
    expected = _expected_largest_error(EstimatorSettings(estimator="adaptive_binning", n_bins=10))
    assert _largest_error_caption(at).startswith(expected)
    assert any("Equal-mass bins make every coordinate uniform" in m.value for m in at.markdown)


def test_adaptive_kde_and_the_noisy_estimators_side_by_side() -> None:
    # On a short run trained here (3 checkpoints): the noisy estimators use every pair of the 4,096 inputs.
    at = open_page(PAGE)
    at.number_input(key="ip_lab_epochs").set_value(20)
    at.number_input(key="ip_lab_checkpoints").set_value(3)
    at.button(key="FormSubmitter:ip_form-Train").click().run()
    label = "12-bit · tanh, 20 epochs (trained)"
    key, source = next((k, s) for k, s in at.session_state["uploads"].items() if s.label == label)
    at.multiselect(key="ip_runs").set_value([key])
    at.radio(key="ip_estimator").set_value("adaptive_kde")
    at.toggle(key="ip_compare_kde").set_value(True).run()
    assert not at.exception, at.exception
    run = source.run
    table = information_plane_table(run, estimator="adaptive_kde", layers=["hidden5"])
    for layer in ("hidden5", "output"):
        _assert_layer_matches(_plane_traces(at)[(label, layer)], table, layer)
    assert any(c.value.startswith("Adaptive KDE (noise scaled to the layer), noise variance 0.1 × the layer's "
                                  "largest activation squared") for c in at.caption)
    sentences = _compare_sentences(at)
    assert [s.split(":")[0] for s in sentences] == ["Binning", "Adaptive binning (equal-mass bins)",
                                                   "KDE upper bound", "Adaptive KDE (noise scaled to the layer)"]
    assert sentences == _expected_comparison({label: run}, ["binning", "adaptive_binning", "kde", "adaptive_kde"])
