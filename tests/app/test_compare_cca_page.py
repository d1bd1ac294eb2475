"""AppTest: the Compare page's SVCCA / PWCCA measure choice and the neuron-matching tab (issue 19, section 3)."""

from __future__ import annotations

import json

import numpy as np

from analysis.metrics.similarity import cca_matrices
from tests.app.pages import metric_cards, open_page
from tests.app.test_compare_page import _heatmap_values

PAGE = "app_pages/compare.py"


def test_svcca_and_pwcca_heatmaps_equal_the_library_and_matching_shows_three_curves() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    run = at.session_state["view"].source.run  # the digits MLP sample
    step = run.steps[-1]
    reps = [np.asarray(run.activations[(la, step)], dtype=np.float32) for la in run.layers]
    sv, pw = cca_matrices(reps, keep=0.99)

    at.radio(key="cmp_measure").set_value("SVCCA").run()
    assert not at.exception, at.exception
    assert at.toggle(key="cmp_debiased").disabled  # debiased applies to CKA only
    np.testing.assert_allclose(_heatmap_values(at).reshape(sv.shape), sv, atol=1e-9)
    assert any("SVCCA (Raghu et al. 2017)" in c.value and "Try this" in c.value for c in at.caption)

    at.radio(key="cmp_measure").set_value("PWCCA").run()
    assert not at.exception, at.exception
    np.testing.assert_allclose(_heatmap_values(at).reshape(pw.shape), pw, atol=1e-9)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["colorbar"]["title"]["text"] == "PWCCA"

    # Neuron matching tab: the two seeds trained for the relative-representation demo, last hidden layer.
    cards = metric_cards(at)
    one_to_one = float(cards["Mean one-to-one correlation"])
    many_to_one = float(cards["Mean many-to-one correlation"])
    chance = float(cards["Chance (rows shuffled)"])
    assert chance < 0.2 < 0.4 < one_to_one <= many_to_one
    assert any("Try this" in c.value and "Li et al. 2015" in c.value for c in at.caption)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    matching = next(c for c in charts if "sorted" in str(c["layout"].get("title", "")))
    assert [t["name"] for t in matching["data"]] == ["many-to-one (best partner)", "one-to-one (Hungarian)",
                                                     "one-to-one, rows shuffled (chance)"]
    at.number_input(key="cmp_nm_seed_b").set_value(0).run()
    assert any("two different seeds" in w.value for w in at.warning)

