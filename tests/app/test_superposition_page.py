"""AppTest: the superposition page's toy-model sweep, phase diagram and weight upload."""

from __future__ import annotations

import io

import numpy as np
from safetensors.numpy import save

from analysis.metrics import superposition_geometry
from analysis.views import format_number
from tests.app.pages import metric_cards, npy_bytes, open_page

PAGE = "app_pages/superposition.py"


def test_default_sweep_ends_in_a_pentagon() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    assert at.title[0].value == "Superposition"
    # The sparsest instance's caption lists D_i: all five near 2/5 (the paper's pentagon).
    caption = next(c.value for c in at.caption if c.value.startswith("1 − S = 0.05"))
    dims = [float(v) for v in caption.split("D_i = ")[1].split(", ")]
    assert len(dims) == 5 and all(abs(d - 0.4) < 0.05 for d in dims)


def test_the_densest_instance_keeps_two_features() -> None:
    at = open_page(PAGE)
    at.select_slider(key="sup_instance").set_value(0).run()
    caption = next(c.value for c in at.caption if c.value.startswith("1 − S = 1"))
    dims = [float(v) for v in caption.split("D_i = ")[1].split(", ")]
    top = sorted(dims, reverse=True)
    assert top[0] > 0.9 and top[1] > 0.9  # two features, each with a dimension of its own
    assert sum(d > 0.5 for d in dims) == 2


def test_phase_diagram_is_computed_on_request() -> None:
    at = open_page(PAGE)
    assert not any(c.key == "sup_phase" for c in at.get("plotly_chart"))
    at.select_slider(key="sup_phase_size").set_value(6)
    at.button(key="sup_phase_go").click().run()
    assert not at.exception, at.exception
    assert at.session_state["sup_phase_done"] == 6


def test_weights_upload_measures_overlaps() -> None:
    at = open_page(PAGE)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(40, 8)).astype(np.float32)
    at.file_uploader(key="sup_weights").set_value(("layer.safetensors", save({"fc.weight": W}),
                                                   "application/octet-stream")).run()
    assert not at.exception, at.exception
    expected = superposition_geometry(W)
    shown = metric_cards(at)
    assert shown["Features"] == "40"
    assert shown["Dimensions per feature"] == format_number(expected.dimensions_per_feature)
    assert shown["Random directions"] == format_number(1 / 8)
    # Columns as features: 8 features of dimension 40.
    at.radio(key="sup_axis").set_value("columns").run()
    assert metric_cards(at)["Features"] == "8"


def test_a_bad_weights_file_says_why() -> None:
    at = open_page(PAGE)
    at.file_uploader(key="sup_weights").set_value(("v.npy", npy_bytes(np.arange(5.0)), "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error and "v.npy" in at.error[0].value
    buf = io.BytesIO(b"not a model")
    at.file_uploader(key="sup_weights").set_value(("m.pt", buf.getvalue(), "application/octet-stream")).run()
    assert at.error and "m.pt" in at.error[0].value


def test_the_page_has_no_dataset_sidebar_and_keeps_its_choices() -> None:
    # The page analyses weight matrices, never the sidebar's activations (issue 16).
    at = open_page("app_pages/explore.py")
    assert [s.label for s in at.sidebar.selectbox][:2] == ["Dataset", "Layer"]
    at.sidebar.selectbox(key="source_key").select("digits_contrastive (sample)").run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert not [s.label for s in at.sidebar.selectbox if s.label in ("Dataset", "Layer")]
    assert not at.sidebar.select_slider and not at.sidebar.radio
    assert any("analyses weight matrices" in c.value for c in at.caption)
    # The dataset chosen before is still chosen on the next page that uses the sidebar.
    at.switch_page("app_pages/data.py").run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="source_key").value == at.session_state["view"].source.key
    assert at.session_state["view"].source.label == "digits_contrastive (sample)"
