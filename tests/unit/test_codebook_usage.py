"""analysis.metrics.codebook_usage: hand-computed usage, invariances, extras and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from analysis.metrics import codebook_usage


def test_hand_computed_two_of_four_codes() -> None:
    # [0,0,1,1], K = 4: p = (1/2, 1/2, 0, 0), H = log 2, perplexity 2, codes 2 and 3 dead.
    r = codebook_usage([0, 0, 1, 1], codebook_size=4)
    assert r.perplexity == pytest.approx(2.0)
    assert r.dead_fraction == 0.5 and r.utilization == 0.5
    assert r.dead_codes.tolist() == [2, 3]
    assert r.counts.tolist() == [2, 2, 0, 0]
    assert r.normalized_entropy == pytest.approx(math.log(2) / math.log(4))


def test_one_code_of_512_has_perplexity_one() -> None:
    r = codebook_usage(np.full(1000, 7), codebook_size=512)
    assert r.perplexity == pytest.approx(1.0)
    assert r.dead_fraction == pytest.approx(511 / 512) and r.normalized_entropy == 0.0


def test_uniform_use_has_perplexity_k_and_unequal_use_by_hand() -> None:
    assert codebook_usage(np.arange(16).repeat(3), codebook_size=16).perplexity == pytest.approx(16.0)
    # p = (3/4, 1/4): H = -(3/4 log 3/4 + 1/4 log 1/4).
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert codebook_usage([0, 0, 0, 1], codebook_size=2).perplexity == pytest.approx(math.exp(h))


def test_invariant_to_permuting_code_ids_and_order() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 20, size=500) % 12  # codes 12..19 dead
    base = codebook_usage(codes, codebook_size=20)
    relabel = rng.permutation(20)
    moved = codebook_usage(relabel[codes][rng.permutation(500)], codebook_size=20)
    for name in ("perplexity", "dead_fraction", "utilization", "normalized_entropy"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name))
    assert sorted(moved.dead_codes.tolist()) == sorted(relabel[base.dead_codes].tolist())  # ids move along


def test_labels_give_mutual_information_and_purity() -> None:
    # Codes equal labels: I = H(label) = log 2, purity 1. Codes independent of labels: I = 0, purity 1/2.
    same = codebook_usage([0, 0, 1, 1], codebook_size=2, labels=["a", "a", "b", "b"])
    assert same.mutual_information == pytest.approx(math.log(2)) and same.purity == pytest.approx(1.0)
    free = codebook_usage([0, 1, 0, 1], codebook_size=2, labels=["a", "a", "b", "b"])
    assert free.mutual_information == pytest.approx(0.0, abs=1e-12) and free.purity == pytest.approx(0.5)


def test_quantisation_error_and_dead_code_distance_by_hand() -> None:
    codebook = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0]])
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [10.0, 2.0]])
    r = codebook_usage([0, 0, 1], codebook_size=3, codebook=codebook, vectors=vectors)
    assert r.quantization_error[:2].tolist() == pytest.approx([1.0, 4.0])
    assert math.isnan(r.quantization_error[2])  # code 2 is dead
    # Dead code (0, 5) is nearest to vector (0, 1): distance 4.
    assert r.dead_code_distance.tolist() == pytest.approx([4.0])


def test_to_dict_is_json() -> None:
    r = codebook_usage([0, 1, 1], codebook_size=3, labels=[0, 1, 1])
    assert json.loads(json.dumps(r.to_dict(), allow_nan=True))["perplexity"] == pytest.approx(r.perplexity)
    assert set(r.scalars()) == set(type(r).SCALARS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(codes=[], codebook_size=4), "empty"),
        (dict(codes=[0, 4], codebook_size=4), r"\[0, 4\)"),
        (dict(codes=[-1, 0], codebook_size=4), r"\[0, 4\)"),
        (dict(codes=[0, 1], codebook_size=0), "positive integer"),
        (dict(codes=[0.5, 1.0], codebook_size=4), "integer code ids"),
        (dict(codes=[0, 1], codebook_size=2, labels=[0]), "one label per code"),
        (dict(codes=[0, 1], codebook_size=2, codebook=np.zeros((2, 3))), "both codebook"),
        (dict(codes=[0, 1], codebook_size=2, codebook=np.zeros((3, 2)), vectors=np.zeros((2, 2))), r"\(2, d\)"),
        (dict(codes=[0, 1], codebook_size=2, codebook=np.zeros((2, 2)), vectors=np.zeros((3, 2))), "one per code"),
    ],
)
def test_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        codebook_usage(kwargs.pop("codes"), **kwargs)


def test_run_table_one_row_per_layer_and_checkpoint() -> None:
    import polars as pl

    from analysis.data import Run
    from analysis.metrics.codebook import codebook_usage_table

    labels = np.array([0, 0, 1, 1])
    run = Run(activations={("enc", s): np.zeros((4, 2), dtype=np.float32) for s in (0, 5)}, layers=("enc",),
              steps=(0, 5), labels=labels, metadata=pl.DataFrame({"split": ["train", "train", "test", "test"]}),
              codes={("enc", 0): np.array([0, 0, 0, 0]), ("enc", 5): np.array([0, 1, 2, 3])},
              codebooks={("enc", s): np.zeros((8, 2)) for s in (0, 5)})
    table = codebook_usage_table(run)
    assert table.select("step", "codebook_size").rows() == [(0, 8), (5, 8)]
    assert table["perplexity"].to_list() == pytest.approx([1.0, 4.0])
    assert table["utilization"].to_list() == pytest.approx([1 / 8, 4 / 8])
    train = codebook_usage_table(run, split="train")
    assert train["perplexity"].to_list() == pytest.approx([1.0, 2.0])
    with pytest.raises(ValueError, match="no VQ codes"):
        codebook_usage_table(Run(activations={("enc", 0): np.zeros((2, 2))}, layers=("enc",), steps=(0,)))
