"""Cross-modal retrieval re-ranking and recall@k against hand-computed examples.

Similarities are logs of small integers with t = 1, so exp(S / t) is the
integer itself and every softmax below is a fraction checked by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

import analysis.metrics.retrieval as retrieval
from analysis.metrics import rerank_retrieval, retrieval_recall
from analysis.metrics.retrieval import METHODS, retrieval_scores

S3 = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3], [0.4, 0.6, 0.7]])
# exp(S) of the 3 x 2 example: column sums 8 and 5.
A32 = np.array([[4.0, 3.0], [2.0, 1.0], [2.0, 1.0]])


def test_none_keeps_the_raw_order_and_equals_argsort():
    result = rerank_retrieval(S3, method="none", k=2)
    assert result.indices.tolist() == [[0, 2], [1, 2], [2, 1]]
    assert result.scores.tolist() == [[0.9, 0.5], [0.8, 0.3], [0.7, 0.6]]
    S = np.random.default_rng(0).standard_normal((7, 5))
    np.testing.assert_array_equal(rerank_retrieval(S, method="none", k=5).indices, np.argsort(-S, axis=1)[:, :5])
    assert result.hubness_before.k_occurrence.tolist() == result.hubness_after.k_occurrence.tolist() == [1, 2, 3]
    assert result.n_normalised == 0


def test_inverted_softmax_hand_example_moves_queries_off_the_hub():
    # P = A / column sums: column 0 is [4, 2, 2] / 8, column 1 is [3, 1, 1] / 5.
    result = rerank_retrieval(np.log(A32), method="inverted_softmax", k=1, temperature=1.0)
    assert result.indices.ravel().tolist() == [1, 0, 0]  # query 0: 3/5 > 4/8
    np.testing.assert_allclose(np.exp(result.scores.ravel()), [3 / 5, 2 / 8, 2 / 8])
    assert result.hubness_before.k_occurrence.tolist() == [3, 0]  # raw: everyone's top-1 is item 0
    assert result.hubness_after.k_occurrence.tolist() == [2, 1]
    assert result.n_normalised == 3


def test_inverted_softmax_columns_sum_to_one_over_the_queries():
    S = np.random.default_rng(1).uniform(-1, 1, (6, 4))
    P = np.exp(retrieval_scores(S, method="inverted_softmax", temperature=0.3))
    np.testing.assert_allclose(P.sum(axis=0), np.ones(4))


def test_inverted_softmax_ignores_a_constant_added_to_a_gallery_column():
    rng = np.random.default_rng(2)
    S = rng.uniform(-1, 1, (8, 5))
    shifted = S + rng.uniform(-3, 3, 5)[None, :]  # a hub's offset, the same for every query
    a = rerank_retrieval(S, method="inverted_softmax", k=3, temperature=0.2)
    b = rerank_retrieval(shifted, method="inverted_softmax", k=3, temperature=0.2)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-12)


def test_csls_hand_example():
    # k_scale = 2: r_q = mean of each row's 2 largest = [0.7, 0.55, 0.65];
    # r_g = mean of each column's 2 largest = [0.65, 0.7, 0.6].
    expected = 2 * S3 - np.array([0.7, 0.55, 0.65])[:, None] - np.array([0.65, 0.7, 0.6])[None, :]
    np.testing.assert_allclose(retrieval_scores(S3, method="csls", k_scale=2), expected)
    result = rerank_retrieval(S3, method="csls", k=3, k_scale=2)
    assert result.indices[2].tolist() == [2, 1, 0]  # [-0.5, -0.15, 0.15]
    np.testing.assert_allclose(result.scores[2], [0.15, -0.15, -0.5])


def test_qb_norm_normalises_only_queries_whose_top1_is_activated():
    # The bank's top-1 is always item 2: activation set {2}; exp(bank) column sums [2, 8, 16].
    bank = np.log(np.array([[1.0, 4.0, 8.0], [1.0, 4.0, 8.0]]))
    A = np.array([[2.0, 3.0, 1.0], [1.0, 1.0, 2.0], [2.0, 5.0, 1.0], [1.0, 2.0, 6.0]])
    qb = rerank_retrieval(np.log(A), method="qb_norm", k=1, temperature=1.0, query_bank=bank)
    # Queries 1 and 3 (raw top-1 = 2) get A / [2, 8, 16]: [.5, .125, .125] -> 0, [.5, .25, .375] -> 0.
    # Queries 0 and 2 keep the raw order: 1 and 1.
    assert qb.indices.ravel().tolist() == [1, 0, 1, 0]
    assert qb.n_normalised == 2
    inverted = rerank_retrieval(np.log(A), method="inverted_softmax", k=1, temperature=1.0, query_bank=bank)
    assert inverted.indices.ravel().tolist() == [0, 0, 0, 0]  # query 0: [1, .375, .0625]


def test_qb_norm_with_the_queries_as_bank_is_the_inverted_softmax_and_says_so():
    S = np.random.default_rng(3).uniform(-1, 1, (9, 6))
    qb = rerank_retrieval(S, method="qb_norm", k=2, temperature=0.1)
    inverted = rerank_retrieval(S, method="inverted_softmax", k=2, temperature=0.1)
    np.testing.assert_array_equal(qb.indices, inverted.indices)
    assert qb.n_normalised == 9 and "equals the inverted softmax" in qb.notes[0]


def test_dbnorm_hand_example_multiplies_two_bank_softmaxes():
    # Query factor A / [8, 5]; gallery bank exp = [[1, 1], [1, 9]]: factor A / [2, 10].
    gallery_bank = np.log(np.array([[1.0, 1.0], [1.0, 9.0]]))
    result = rerank_retrieval(np.log(A32), method="dbnorm", k=2, temperature=1.0, gallery_bank=gallery_bank)
    # Query 0: 4/8 * 4/2 = 1.0 against 3/5 * 3/10 = 0.18 (the inverted softmax alone prefers item 1).
    assert result.indices[:, 0].tolist() == [0, 0, 0]
    np.testing.assert_allclose(np.exp(result.scores[0]), [1.0, 0.18])
    np.testing.assert_allclose(np.exp(result.scores[1]), [2 / 8 * 2 / 2, 1 / 5 * 1 / 10])


def test_dbnorm_gallery_temperature_and_self_left_out():
    S = np.random.default_rng(4).uniform(-1, 1, (5, 4))
    H = np.random.default_rng(5).uniform(-1, 1, (4, 4))
    np.fill_diagonal(H, -np.inf)  # each gallery item left out of its own normaliser
    scores = retrieval_scores(S, method="dbnorm", temperature=0.5, gallery_temperature=0.25, gallery_bank=H)
    finite = np.where(np.isfinite(H), np.exp(H / 0.25), 0.0).sum(axis=0)
    expected = np.log(np.exp(S / 0.5) / np.exp(S / 0.5).sum(axis=0) * np.exp(S / 0.25) / finite)
    np.testing.assert_allclose(scores, expected)


def test_scaling_similarity_and_temperature_together_changes_nothing_even_past_exp_overflow():
    S = np.random.default_rng(6).uniform(-1, 1, (6, 5))
    for method in ("inverted_softmax", "qb_norm"):
        a = rerank_retrieval(S, method=method, k=3, temperature=0.5)
        b = rerank_retrieval(S * 2000.0, method=method, k=3, temperature=1000.0)
        tiny = rerank_retrieval(S, method=method, k=3, temperature=1e-3)  # exp(1000): log space only
        np.testing.assert_array_equal(a.indices, b.indices)
        assert np.isfinite(tiny.scores).all()


def test_blocked_equals_one_block(monkeypatch):
    rng = np.random.default_rng(7)
    S, B, H = rng.uniform(-1, 1, (23, 9)), rng.uniform(-1, 1, (17, 9)), rng.uniform(-1, 1, (11, 9))
    whole = {m: rerank_retrieval(S, method=m, k=4, temperature=0.1, query_bank=B, gallery_bank=H, k_scale=3)
             for m in METHODS}
    monkeypatch.setattr(retrieval, "_BLOCK_ELEMENTS", 20)  # two rows per block
    for m in METHODS:
        blocked = rerank_retrieval(S, method=m, k=4, temperature=0.1, query_bank=B, gallery_bank=H, k_scale=3)
        np.testing.assert_array_equal(blocked.indices, whole[m].indices, err_msg=m)
        np.testing.assert_allclose(blocked.scores, whole[m].scores, rtol=1e-12, err_msg=m)


def test_permuting_queries_permutes_the_lists():
    rng = np.random.default_rng(8)
    S, B = rng.uniform(-1, 1, (10, 6)), rng.uniform(-1, 1, (7, 6))
    perm = rng.permutation(10)
    for m in ("csls", "inverted_softmax", "qb_norm"):
        a = rerank_retrieval(S, method=m, k=3, query_bank=B, k_scale=2)
        b = rerank_retrieval(S[perm], method=m, k=3, query_bank=B, k_scale=2)
        np.testing.assert_array_equal(b.indices, a.indices[perm])


def test_reranking_result_exports_to_json():
    import json

    result = rerank_retrieval(S3, method="csls", k=2, k_scale=1)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["method"] == "csls" and len(data["indices"]) == 3
    assert set(result.scalars()) == {"skewness_before", "skewness_after"}


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(similarity=np.array([[0.1, np.nan]]), method="none", k=1), "NaN or Inf"),
    (dict(similarity=S3, method="none", k=4), r"\[1, 3\]"),
    (dict(similarity=S3, method="inverted_softmax", k=1, temperature=0.0), "temperature must be"),
    (dict(similarity=S3, method="inverted_softmax", k=1, temperature=-1.0), "temperature must be"),
    (dict(similarity=S3, method="softmax", k=1), "method must be one of"),
    (dict(similarity=S3, method="inverted_softmax", k=1, query_bank=np.zeros((2, 4))), r"\(n_bank, 3\)"),
    (dict(similarity=S3, method="inverted_softmax", k=1, query_bank=np.array([[0.0, np.nan, 0.0]])), "NaN"),
    (dict(similarity=S3, method="inverted_softmax", k=1, query_bank=np.array([[0.0, -np.inf, 0.0]])),
     "every bank item"),
    (dict(similarity=S3, method="dbnorm", k=1), "dbnorm needs gallery_bank"),
    (dict(similarity=S3, method="csls", k=1, k_scale=4), "k_scale must be"),
    (dict(similarity=S3 * 1e300, method="inverted_softmax", k=1, temperature=1e-10), "overflows"),
    (dict(similarity=np.ones(3), method="none", k=1), "2-D"),
])
def test_bad_input_is_refused_with_the_fix(kwargs, message):
    similarity = kwargs.pop("similarity")
    with pytest.raises(ValueError, match=message):
        rerank_retrieval(similarity, **kwargs)


def test_recall_hand_checks():
    indices = np.array([[2, 0, 1], [1, 2, 0], [0, 1, 2]])
    result = retrieval_recall(indices, np.array([0, 2, 1]), ks=(1, 2, 3))
    assert result.hit_rank.tolist() == [2, 2, 2]
    assert result.recall.tolist() == [0.0, 1.0, 1.0]
    other = retrieval_recall(indices, np.array([2, 1, 1]), ks=(1, 2))
    np.testing.assert_allclose(other.recall, [2 / 3, 1.0])
    assert other.as_dict() == {"recall@1": pytest.approx(2 / 3), "recall@2": 1.0} and other.at(2) == 1.0
    missing = retrieval_recall(indices[:, :1], np.array([0, 1, 2]), ks=(1,))
    assert missing.hit_rank.tolist() == [0, 1, 0]


def test_recall_refuses_no_match_and_too_large_k():
    with pytest.raises(ValueError, match="no match"):
        retrieval_recall(np.array([[0, 1]]), np.array([-1]), ks=(1,))
    with pytest.raises(ValueError, match="each of ks must be"):
        retrieval_recall(np.array([[0, 1]]), np.array([1]), ks=(1, 5))
    with pytest.raises(ValueError, match="one gallery index per query"):
        retrieval_recall(np.array([[0, 1]]), np.array([1, 0]), ks=(1,))


def test_top_k_breaks_ties_towards_the_lower_index_like_a_stable_sort():
    tied = np.round(np.random.default_rng(9).uniform(-1, 1, (50, 40)), 1)  # many ties at every place
    for k in (1, 3, 9):
        result = rerank_retrieval(tied, method="none", k=k)
        np.testing.assert_array_equal(result.indices, np.argsort(-tied, axis=1, kind="stable")[:, :k])


def test_csls_refuses_similarities_whose_double_overflows():
    with pytest.raises(ValueError, match="csls doubles"):
        rerank_retrieval(S3 * 1e308, method="csls", k=1, k_scale=1)
