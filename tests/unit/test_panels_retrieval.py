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


# --------------------------------------------------------------------------- gallery from a second embedding


def _two_modalities(n: int = 10, d: int = 5, gallery_ids: list[str] | None = None) -> tuple[Embedding, Embedding]:
    """Captions and images as two embeddings of one width: image i is caption i plus small noise, so
    caption i's nearest image is image i; both carry an "item" id, only the captions a split."""
    rng = np.random.default_rng(1)
    captions = rng.standard_normal((n, d))
    images = captions + 0.01 * rng.standard_normal((n, d))
    caption_meta = pl.DataFrame({"split": ["test"] * (n // 2) + ["train"] * (n - n // 2),
                                 "item": [f"i{j}" for j in range(n)], "text": [f"caption {j}" for j in range(n)]})
    image_meta = pl.DataFrame({"item": gallery_ids or [f"i{j}" for j in range(n)],
                               "path": [f"{j}.png" for j in range(n)]})
    return (Embedding(X=captions.astype(np.float32), metadata=caption_meta),
            Embedding(X=images.astype(np.float32), metadata=image_meta))


def test_a_second_embedding_is_the_gallery_and_its_hubness_is_the_cross_sets():
    captions, images = _two_modalities()
    panel = retrieval_panel(captions, query="all", gallery="all", gallery_embedding=images, k=3)
    expected = hubness_between(captions.X.astype(np.float64), images.X.astype(np.float64), k=3, metric="cosine")
    np.testing.assert_array_equal(panel.k_occurrence["none"], expected.k_occurrence)
    assert panel.n_queries == 10 and panel.n_gallery == 10 and panel.recall is None
    # Pairing: only columns in both ("item"), never "split"; the gallery may be a Run (its metadata).
    assert pairing_options(captions, images) == [NO_PAIRING, ROW_ORDER, "item"]


def test_row_and_id_pairing_across_two_embeddings():
    captions, images = _two_modalities()
    by_row = retrieval_panel(captions, query="all", gallery="all", gallery_embedding=images, pairing=ROW_ORDER, k=3)
    assert by_row.recall["none"].at(1) == 1.0 and by_row.n_matched == 10  # image i is caption i + 0.01 noise
    # The images in reverse order: row order now pairs caption i with image 9 - i (its match only for none),
    # while the id column still finds each caption's own image.
    flipped = Embedding(X=images.X[::-1].copy(), metadata=images.metadata.reverse())
    assert retrieval_panel(captions, query="all", gallery="all", gallery_embedding=flipped, pairing=ROW_ORDER,
                           k=3).recall["none"].at(1) == 0.0
    by_id = retrieval_panel(captions, query="all", gallery="all", gallery_embedding=flipped, pairing="item", k=3)
    assert by_id.recall["none"].at(1) == 1.0 and by_id.n_matched == 10
    # Queries from one split of the captions: the 5 "test" captions, each with its image.
    test_only = retrieval_panel(captions, query="test", gallery="all", gallery_embedding=flipped, pairing="item", k=3)
    assert test_only.n_queries == 5 and test_only.n_matched == 5 and test_only.recall["none"].at(1) == 1.0


def test_across_embeddings_row_order_needs_equal_lengths_and_ids_need_both_columns():
    captions, images = _two_modalities()
    with pytest.raises(ValueError, match="5 queries and 10 gallery rows.*id column"):
        retrieval_panel(captions, query="test", gallery="all", gallery_embedding=images, pairing=ROW_ORDER, k=3)
    with pytest.raises(ValueError, match="gallery have no metadata column 'text'"):
        retrieval_panel(captions, query="all", gallery="all", gallery_embedding=images, pairing="text", k=3)
    _, repeated = _two_modalities(gallery_ids=["same"] * 10)
    with pytest.raises(ValueError, match="unique in the gallery"):
        retrieval_panel(captions, query="all", gallery="all", gallery_embedding=repeated, pairing="item", k=3)


def test_different_widths_name_both_and_the_shared_space_fix():
    captions, _ = _two_modalities(d=5)
    wide = Embedding(X=np.ones((10, 7), dtype=np.float32))
    with pytest.raises(ValueError, match=r"queries have 5 features and the gallery 7.*shared space.*CLIP"):
        retrieval_panel(captions, query="all", gallery="all", gallery_embedding=wide, k=3)


@pytest.mark.parametrize("pairing", [NO_PAIRING, ROW_ORDER, "item"])
def test_the_split_path_is_the_two_embedding_path_on_its_own_splits(pairing):
    emb = _embedding(n_query=12, n_gallery=12)  # row order across two embeddings needs equal lengths
    banks = dict(query_bank="train", gallery_bank="test")
    split = retrieval_panel(emb, query="test", gallery="train", pairing=pairing, k=3, **banks)
    same = retrieval_panel(emb, query="test", gallery="train", pairing=pairing, k=3, gallery_embedding=emb, **banks)
    # A second object with the same values takes the two-embedding path: banks are splits of each one.
    twin = Embedding(X=emb.X.copy(), metadata=emb.metadata.clone())
    across = retrieval_panel(emb, query="test", gallery="train", pairing=pairing, k=3, gallery_embedding=twin,
                             **banks)
    # Each split cut out as its own embedding, every row of each (banks: the rows themselves, both ways).
    apart = retrieval_panel(emb.subset(emb.rows("test")), query="all", gallery="all", pairing=pairing, k=3,
                            gallery_embedding=emb.subset(emb.rows("train")))
    own = retrieval_panel(emb, query="test", gallery="train", pairing=pairing, k=3)
    for a, b in ((split, same), (split, across), (own, apart)):
        assert a.table.equals(b.table) and a.n_matched == b.n_matched and a.n_queries == b.n_queries == 12
        for method in a.k_occurrence:
            np.testing.assert_array_equal(a.k_occurrence[method], b.k_occurrence[method])
    assert split.n_matched == (0 if pairing == NO_PAIRING else 12)


def test_sampled_queries_keep_their_row_order_match(monkeypatch):
    import analysis.panels.retrieval as module

    monkeypatch.setattr(module, "MAX_CELLS", 50)  # 10 x 10 cells: 5 sampled captions, each still finds its image
    captions, images = _two_modalities()
    panel = retrieval_panel(captions, query="all", gallery="all", gallery_embedding=images, pairing=ROW_ORDER, k=3)
    assert panel.n_queries == 5 and panel.recall["none"].at(1) == 1.0


def test_recall_near_chance_across_datasets_says_the_spaces_are_not_one():
    rng = np.random.default_rng(2)
    queries = Embedding(X=rng.standard_normal((60, 8)).astype(np.float32))
    unrelated = Embedding(X=rng.standard_normal((60, 8)).astype(np.float32))
    panel = retrieval_panel(queries, query="all", gallery="all", gallery_embedding=unrelated, pairing=ROW_ORDER, k=3)
    # chance recall@10 = 10 / 60; the note fires at most twice that
    assert panel.recall["none"].at(10) <= 2 * 10 / 60
    assert any("near chance (16.7%)" in note and "shared space" in note for note in panel.notes)
    captions, images = _two_modalities(n=60)  # image i is caption i plus noise: recall@10 = 1
    aligned = retrieval_panel(captions, query="all", gallery="all", gallery_embedding=images, pairing=ROW_ORDER, k=3)
    assert not any("near chance" in note for note in aligned.notes)
