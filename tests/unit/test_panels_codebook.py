"""analysis.panels.codebook: the Codebook usage page's numbers from a Selection, without Streamlit."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from analysis.data import Embedding, Run, Selection
from analysis.metrics import codebook_usage
from analysis.metrics.codebook import codebook_usage_table
from analysis.panels import codebook as panel
from analysis.projection import project


def _run(curves: dict | None = None) -> Run:
    """8 rows (train 0-5, test 6-7), K = 4 codes of width 2; layer "enc" has codes at steps 0 and 5."""
    codebook = np.array([[0, 0], [10, 0], [0, 10], [50, 50]], dtype=np.float32)
    codes = {("enc", 0): np.array([0, 0, 0, 0, 0, 0, 1, 1]), ("enc", 5): np.array([0, 0, 1, 1, 2, 2, 2, 0])}
    acts = {("enc", s): (codebook[codes[("enc", s)]] + 0.5).astype(np.float32) for s in (0, 5)}
    acts |= {("out", s): np.ones((8, 3), np.float32) * s for s in (0, 5)}
    return Run(activations=acts, layers=("enc", "out"), steps=(0, 5), labels=np.array([0, 0, 1, 1, 0, 0, 1, 1]),
               label_names=("a", "b"), codes=codes, codebooks={("enc", s): codebook for s in (0, 5)},
               metadata=pl.DataFrame({"split": ["train"] * 6 + ["test"] * 2, "source_index": np.arange(8) * 3}),
               curves=curves or {}, name="vq")


def test_code_selection_moves_to_the_layer_with_codes_and_keeps_the_rows() -> None:
    run = _run()
    code = panel.code_selection(Selection(run, "out", 5, "test"))
    assert (code.layer, code.step, code.split) == ("enc", 5, "test")
    np.testing.assert_array_equal(code.row_ids, [6, 7])
    np.testing.assert_array_equal(code.codes, [2, 0])
    assert panel.code_selection(Selection(Embedding(X=np.ones((3, 2), np.float32)))) is None
    assert panel.code_layer(run, "out") == "enc" and panel.code_layer(run, "enc") == "enc"


def test_the_last_step_with_codes_when_the_sidebars_step_has_none() -> None:
    run = _run()
    del run.codes[("enc", 5)]
    code = panel.code_selection(Selection(run, "enc", 5))
    assert code.step == 0


def test_usage_panel_counts_the_selections_rows_hand_checked() -> None:
    run = _run()
    train = panel.usage_panel(panel.code_selection(Selection(run, "enc", 5, "train")))
    # train rows at step 5: codes 0 0 1 1 2 2 -> counts (2, 2, 2, 0), perplexity 3, code 3 dead.
    assert train.usage.counts.tolist() == [2, 2, 2, 0]
    assert train.usage.perplexity == pytest.approx(3.0)
    assert train.usage.dead_codes.tolist() == [3] and train.codebook_size == 4
    # Labels 0 0 1 1 0 0: each code holds one label, so purity 1 and I(code; label) = H(label).
    assert train.usage.purity == pytest.approx(1.0)
    p = np.array([4, 2]) / 6
    assert train.usage.mutual_information == pytest.approx(float(-(p * np.log(p)).sum()))
    # Every vector sits 0.5 from its code in both coordinates: squared error 0.5.
    assert train.usage.quantization_error[:3] == pytest.approx([0.5, 0.5, 0.5])
    assert train.has_space and set(train.top_codes.tolist()) == {0, 1, 2}
    assert train.top_codes.size == 3  # dead codes are not offered
    every = panel.usage_panel(panel.code_selection(Selection(run, "enc", 5)))
    expected = codebook_usage(run.codes[("enc", 5)], codebook_size=4, labels=run.labels,
                              codebook=run.codebooks[("enc", 5)], vectors=run.activations[("enc", 5)])
    assert every.usage.perplexity == pytest.approx(expected.perplexity)
    assert every.usage.mutual_information == pytest.approx(expected.mutual_information)
    np.testing.assert_allclose(every.usage.dead_code_distance, expected.dead_code_distance)


def test_the_table_and_curves_follow_the_rows() -> None:
    run = _run()
    panel_test = panel.usage_panel(panel.code_selection(Selection(run, "enc", 0, "test")))
    assert panel_test.table.equals(codebook_usage_table(run, split="test"))
    assert panel_test.curves_from == "table"
    steps, perplexity, dead = panel_test.curves
    # test rows 6, 7: step 0 codes (1, 1) -> perplexity 1; step 5 codes (2, 0) -> perplexity 2.
    assert steps == [0, 5] and perplexity == pytest.approx([1.0, 2.0]) and dead == pytest.approx([0.75, 0.5])
    with_curves = _run({"step": [0, 1, 5], "perplexity": [4.0, 3.0, 2.0], "dead_fraction": [0.0, 0.1, 0.2]})
    trained = panel.usage_panel(panel.code_selection(Selection(with_curves, "enc", 5)))
    assert trained.curves_from == "training" and trained.curves == ([0, 1, 5], [4.0, 3.0, 2.0], [0.0, 0.1, 0.2])


def test_codebook_size_without_a_codebook_is_the_largest_code_of_all_rows() -> None:
    run = _run()
    run.codebooks.clear()
    test = panel.usage_panel(panel.code_selection(Selection(run, "enc", 5, "test")))
    assert test.codebook_size == 3  # codes 0..2 over all rows, though the test rows use 0 and 2
    assert not test.has_space


def test_code_space_projects_vectors_and_codebook_together() -> None:
    run = _run()
    sel = panel.code_selection(Selection(run, "enc", 5, "train"))
    usage = panel.usage_panel(sel).usage
    space = panel.code_space(sel, usage)
    both = np.vstack([run.activations[("enc", 5)][:6], run.codebooks[("enc", 5)]])
    np.testing.assert_allclose(space.coords, project(both, method="pca", n_components=2).coords, rtol=1e-5)
    assert space.n_vectors == 6 and space.method == "pca"
    assert space.dead.tolist() == [6 + 3] and space.used.tolist() == [6, 7, 8]
    assert space.colour.tolist() == [0, 0, 1, 1, 2, 2, 10, 10, 10, 10]
    assert space.colour_names[-1] == "codebook"


def test_code_members_are_source_rows_with_their_digits() -> None:
    from sklearn.datasets import load_digits

    run = _run()
    sel = panel.code_selection(Selection(run, "enc", 5, "test"))
    usage = panel.usage_panel(sel)
    members = panel.code_members(sel, usage.codes, 2)
    assert members.rows.tolist() == [6]  # test rows 6, 7 have codes 2, 0
    np.testing.assert_array_equal(members.images, load_digits().data[[18]])
    assert members.decoded is None  # no reconstruction layer recorded
    everyone = panel.code_members(Selection(run, "enc", 5), run.codes[("enc", 5)], 0, limit=2)
    assert everyone.rows.tolist() == [0, 1]


def test_other_runs_use_the_split_where_they_have_it() -> None:
    run = _run()
    assert panel.other_run_selection(run, split="test").n_samples == 2
    assert panel.other_run_selection(run, split="val").n_samples == 8


def test_uploaded_codes() -> None:
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([0, 0, 1, 1]))
    result = panel.upload_usage(buf.getvalue(), codebook_size=4)
    assert result.perplexity == pytest.approx(2.0) and result.dead_fraction == pytest.approx(0.5)
    assert math.isclose(result.normalized_entropy, math.log(2) / math.log(4))
