"""AppTest: the Neural collapse page's centring switch (mu_G: mean of class means or of all samples)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from analysis.metrics import neural_collapse
from analysis.metrics.collapse_table import collapse_inputs, split_rows
from tests.app.pages import metric_cards, npy_bytes, open_page

PAGE = "app_pages/collapse.py"


def _collapse_page(**preset: object) -> AppTest:
    return open_page(PAGE, **preset)


_metrics = metric_cards


def _upload_embedding(at: AppTest, X: np.ndarray, labels: np.ndarray) -> AppTest:
    at.switch_page("app_pages/data.py").run()
    at.file_uploader(key="upload_main").set_value(("feats.npy", npy_bytes(X), "application/octet-stream"))
    at.file_uploader(key="upload_labels").set_value(("labels.npy", npy_bytes(labels), "application/octet-stream"))
    at.button[0].click()
    at.run()
    return at.switch_page(PAGE).run()



def _centring_sentences(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "two centrings" in c.value]


@pytest.mark.parametrize("counts", [(150, 30, 8), (40, 40, 40)], ids=["imbalanced", "balanced"])
def test_centring_switch_moves_the_etf_distance_only_when_classes_are_imbalanced(counts) -> None:
    """mu_G = mean of class means (default) or mean of all samples (Papyan et al. 2020): equal for balanced classes."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(3), counts)
    X = (4.0 * rng.normal(size=(3, 6))[labels] + rng.normal(size=(labels.size, 6))).astype(np.float32)
    at = _upload_embedding(_collapse_page(), X, labels)
    assert not at.exception and not at.error
    default = neural_collapse(X, labels)
    assert at.radio(key="nc_centring").value == "class_means"
    assert _metrics(at)["NC2 · ETF distance"] == f"{default.etf_distance:.3g}"
    before = _centring_sentences(at)
    at.radio(key="nc_centring").set_value("samples").run()
    assert not at.exception and not at.error
    papyan = neural_collapse(X, labels, mu_g="samples")
    assert _metrics(at)["NC2 · ETF distance"] == f"{papyan.etf_distance:.3g}"
    assert _metrics(at)["NC1"] == f"{papyan.nc1:.3g}"
    after = _centring_sentences(at)
    if counts[0] == counts[-1]:
        assert papyan.etf_distance == default.etf_distance
        assert before == after == []
    else:
        assert f"{papyan.etf_distance:.3g}" != f"{default.etf_distance:.3g}"
        assert len(before) == len(after) == 1
        assert "**mean of class means**" in before[0] and "**mean of all samples**" in after[0]


def test_centring_switch_follows_through_the_cards_and_the_curves_of_a_run() -> None:
    at = _collapse_page()
    at.radio(key="nc_centring").set_value("samples").run()
    assert not at.exception, at.exception
    view = at.session_state["view"]
    run = view.source.run
    expected = neural_collapse(**collapse_inputs(run, view.layer, view.step, split_rows(run, "all")), mu_g="samples")
    assert _metrics(at)["NC1"] == f"{expected.nc1:.3g}"
    curves = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("nc_curves"))
    nc1 = json.loads(curves.proto.spec)["data"][0]
    assert nc1["y"][list(run.steps).index(view.step)] == pytest.approx(expected.nc1, rel=1e-12)
