"""The Retrieval tab's panel: splits as queries and gallery, pairing, banks, and the teaching demo."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data.schema import Embedding
from analysis.metrics.hubness import hubness_between
from analysis.panels.retrieval import (
    NO_PAIRING,
    ROW_ORDER,
    pairing_options,
    retrieval_demo,
    retrieval_panel,
)


def _embedding(n_query: int = 12, n_gallery: int = 15, ids: list[str] | None = None) -> Embedding:
    rng = np.random.default_rng(0)
    gallery = rng.standard_normal((n_gallery, 6))
    queries = gallery[:n_query] + 0.01 * rng.standard_normal((n_query, 6))  # query i is near gallery row i
    split = ["test"] * n_query + ["train"] * n_gallery
    id_column = ids or [f"q{i}" for i in range(n_query)] + [f"q{i}" for i in range(n_gallery)]
    return Embedding(X=np.vstack([queries, gallery]).astype(np.float32),
                     metadata=pl.DataFrame({"split": split, "item": id_column}))


def test_before_equals_the_two_sets_hubness_and_every_method_is_listed():
    emb = _embedding()
    panel = retrieval_panel(emb, query="test", gallery="train", k=3)
    X = emb.X.astype(np.float64)
    expected = hubness_between(X[:12], X[12:], k=3, metric="cosine")
    np.testing.assert_array_equal(panel.k_occurrence["none"], expected.k_occurrence)
    assert panel.table["method"].to_list()[0].startswith("none") and panel.table.height == 5
    assert panel.recall is None and "recall@1" not in panel.table.columns
    assert pairing_options(emb) == [NO_PAIRING, ROW_ORDER, "item"]


def test_row_order_and_id_pairing_give_recall_over_matched_queries():
    emb = _embedding()
    by_row = retrieval_panel(emb, query="test", gallery="train", pairing=ROW_ORDER, k=3)
    assert by_row.recall["none"].at(1) == 1.0 and by_row.n_matched == 12  # each query is its gallery row + noise
    # Queries q0..q11 but the gallery holds only g0..g14 renamed: q3 and q7 have no match.
    ids = [f"q{i}" for i in range(12)] + [f"q{i}" if i not in (3, 7) else f"x{i}" for i in range(15)]
    by_id = retrieval_panel(_embedding(ids=ids), query="test", gallery="train", pairing="item", k=3)
    assert by_id.n_matched == 10 and by_id.recall["none"].at(1) == 1.0
    assert any("2 of 12 queries have no match" in note for note in by_id.notes)


def test_refusals_name_the_fix():
    with pytest.raises(ValueError, match="unique in the gallery"):
        retrieval_panel(_embedding(ids=["a"] * 27), query="test", gallery="train", pairing="item", k=3)
    with pytest.raises(ValueError, match="two different splits"):
        retrieval_panel(_embedding(), query="test", gallery="test", k=3)


def test_demo_hubs_cost_recall_and_the_inverted_softmax_and_dbnorm_win_it_back():
    demo = retrieval_demo(n_pairs=300)  # the page uses 1,000; the same world, smaller
    r1 = {m: r.at(1) for m, r in demo.recall.items()}
    assert r1["none"] < demo.recall_without_hubs.at(1) - 0.15  # the hubs cost recall
    for method in ("inverted_softmax", "dbnorm"):
        assert r1[method] > r1["none"] + 0.2
        assert demo.skewness[method] < 1.0 < demo.skewness["none"]
    assert demo.n_hubs > 0 and demo.table.height == 5


def test_large_splits_are_sampled_to_the_cell_budget_and_banks_leave_self_out(monkeypatch):
    import analysis.panels.retrieval as module

    monkeypatch.setattr(module, "MAX_CELLS", 100)  # 12 x 15 queries and 15 x 15 gallery bank exceed it
    panel = retrieval_panel(_embedding(), query="test", gallery="train", pairing=ROW_ORDER, k=3)
    assert panel.n_queries == 6 and panel.n_gallery == 15  # 100 // 15 queries
    assert any("6 of the 12 queries" in note for note in panel.notes)
    assert any("gallery bank holds 6 of the 15" in note for note in panel.notes)
    bank = module._gallery_self_bank(np.eye(3), 0, [])
    assert np.isneginf(np.diag(bank)).all() and bank[0, 1] == 0.0
