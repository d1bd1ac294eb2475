"""AppTest: the Compare page — CKA heatmaps, two spaces side by side, and the two-seed relative-representation demo."""

from __future__ import annotations

import base64
import json

import numpy as np

from analysis.metrics.similarity import cka_matrix
from tests.app.pages import metric_cards, open_page

PAGE = "app_pages/compare.py"


def _heatmap_values(at) -> np.ndarray:
    """The CKA heatmap's z (plotly may send it as a base64 typed array with a "rows,cols" shape)."""
    z = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["z"]
    if isinstance(z, dict):
        flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
        shape = tuple(int(v) for v in str(z.get("shape", flat.size)).split(","))
        return flat.reshape(shape)
    return np.asarray(z, dtype=float)


def test_layer_cka_heatmap_equals_the_library() -> None:
    at = open_page(PAGE)
    assert not at.exception, at.exception
    run = at.session_state["view"].source.run  # the digits MLP sample
    step = run.steps[-1]
    expected = cka_matrix([np.asarray(run.activations[(la, step)], dtype=np.float32) for la in run.layers])
    shown = _heatmap_values(at).reshape(expected.shape)
    np.testing.assert_allclose(shown, expected, atol=1e-9)
    np.testing.assert_allclose(np.diag(shown), 1.0, atol=1e-9)


def test_checkpoint_mode_and_debiased_toggle() -> None:
    at = open_page(PAGE)
    at.radio(key="cmp_mode").set_value("Checkpoints of one layer").run()
    run = at.session_state["view"].source.run
    biased = _heatmap_values(at).reshape(len(run.steps), len(run.steps))
    assert biased[-1, -1] == 1.0 and biased[0, -1] < 0.95  # initialisation differs from the end
    assert any("How fast the layer settles" in c.value for c in at.caption)
    at.toggle(key="cmp_debiased").set_value(True).run()
    assert not at.exception, at.exception
    debiased = _heatmap_values(at).reshape(biased.shape)
    assert not np.allclose(debiased, biased)


def test_relative_representations_agree_across_seeds_where_coordinates_do_not() -> None:
    at = open_page(PAGE)
    cards = metric_cards(at)
    absolute = float(cards["Same input, absolute coordinates"])
    relative = float(cards["Same input, relative representation"])
    assert abs(absolute) < 0.3 < 0.8 < relative
    stitched_abs = float(cards["Trained on A, tested on B (absolute)"].rstrip("%"))
    stitched_rel = float(cards["Trained on A, tested on B (relative)"].rstrip("%"))
    assert stitched_abs < 40 < 85 < stitched_rel
    at.number_input(key="cmp_seed_b").set_value(0).run()
    assert any("two different seeds" in w.value for w in at.warning)


def test_side_by_side_reports_neighbour_agreement() -> None:
    at = open_page(PAGE)
    assert any("Mean Jaccard of the 10 nearest neighbours" in c.value for c in at.caption)
    at.selectbox(key="cmp_side_layer").set_value(at.selectbox(key="cmp_side_layer").options[-1]).run()
    assert not at.exception, at.exception


def test_training_two_seeds_fills_the_two_run_heatmap() -> None:
    at = open_page(PAGE)
    at.radio(key="cmp_mode").set_value("Two runs").run()
    assert not at.exception, at.exception
    at.button(key="cmp_train_pair").click().run()
    assert not at.exception, at.exception
    uploads = at.session_state["uploads"]
    key_a, key_b = at.session_state["cmp_run_a"], at.session_state["cmp_run_b"]
    assert {key_a, key_b} <= set(uploads) and key_a != key_b
    assert at.radio(key="cmp_mode").value == "Two runs"
    run_a, run_b = uploads[key_a].run, uploads[key_b].run
    expected = cka_matrix([run_a.activations[(la, run_a.steps[-1])] for la in run_a.layers],
                          [run_b.activations[(la, run_b.steps[-1])] for la in run_b.layers])
    shown = _heatmap_values(at).reshape(expected.shape)
    np.testing.assert_allclose(shown, expected, atol=1e-9)
    # Two seeds of one network: each layer is most like its counterpart (the diagonal dominates its row).
    assert all(shown[i, i] == shown[i].max() for i in range(shown.shape[0])), shown
    assert np.diag(shown).min() > 0.8
    # The sidebar's dataset is unchanged: training the pair does not switch the whole app.
    assert at.session_state["view"].source.key not in (key_a, key_b)


def test_an_uploaded_embedding_says_which_run_cka_shows_and_is_side_by_sides_a() -> None:
    """The sidebar's dataset is an Embedding: CKA names the shipped run it shows instead; side by side uses it as A."""
    from analysis.data import Embedding
    from ui.state import Source

    first = open_page(PAGE)
    run = first.session_state["view"].source.run
    X = np.asarray(run.activations[(run.layers[0], run.steps[-1])], dtype=np.float32)
    upload = Source(key="upload:test-emb", label="my vectors", origin="upload",
                    embedding=Embedding(X=X, labels=run.labels, label_names=run.label_names, name="my vectors"))
    at = open_page(PAGE, uploads={upload.key: upload}, source_key=upload.key)
    assert not at.exception, at.exception
    assert at.session_state["view"].source.key == upload.key
    shown = at.selectbox(key="cmp_run_a").value
    notes = [i.value for i in at.info]
    assert any("my vectors" in n and "single embedding" in n and "instead" in n for n in notes), notes
    assert shown != upload.key
    assert any("Mean Jaccard of the 10 nearest neighbours" in c.value and "my vectors" in c.value
               for c in at.caption), [c.value for c in at.caption]
