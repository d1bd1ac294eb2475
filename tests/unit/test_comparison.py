"""`analysis.comparison.compare` and its HTML page: known answers, invariances, references, export.

Every scalar `compare` reports is checked against the library function it
claims to be (on the same data), against a hand-computed value, or against
an invariance whose answer is known (B a rotated and scaled copy of A).
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from plotly.offline import get_plotlyjs
from scipy.stats import hypergeom, ortho_group

from analysis import comparison as comparison_module
from analysis.comparison import COMPARISON_FORMAT, Comparison, compare
from analysis.data import Embedding
from analysis.metrics.seed_agreement import row_cosines
from analysis.metrics.similarity import (
    cka_matrix,
    knn_agreement,
    linear_cka,
    procrustes_distance,
    rbf_cka,
    relative_representation,
)
from analysis.views.comparison import comparison_figures, comparison_html, shared_neighbours_chart
from analysis.views.html_page import format_number

MALICIOUS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _strict_json(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _blobs(n_classes: int = 8, per_class: int = 40, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian class blobs (means 6 sd apart per coordinate)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    X = 6.0 * rng.standard_normal((n_classes, d))[y] + rng.standard_normal((y.size, d))
    return X, y


def _related_pair(n: int = 150, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """B a noisy nonlinear function of A: every measure strictly between its extremes."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * np.linspace(3.0, 0.5, d)
    B = np.tanh(A @ rng.standard_normal((d, d)) / 2.0) + 0.3 * rng.standard_normal((n, d))
    return A, B


# --------------------------------------------------------------------------- fixtures

SCALE = 2.5
K_ROT = 8


@pytest.fixture(scope="module")
def rotated() -> tuple[np.ndarray, np.ndarray, np.ndarray, Comparison]:
    """8 labelled blobs in 32-D, and B = A Q s: the same representation in another basis and scale."""
    A, y = _blobs()
    Q = ortho_group.rvs(32, random_state=1)
    B = A @ Q * SCALE
    return A, B, y, compare(A, B, labels=y, k=K_ROT, seed=0)


@pytest.fixture(scope="module")
def related() -> tuple[np.ndarray, np.ndarray, Comparison]:
    A, B = _related_pair()
    return A, B, compare(A, B, k=7, seed=3)


@pytest.fixture(scope="module")
def malicious() -> Comparison:
    """Labels, two multi-layer sides and a script tag in every user-given name."""
    rng = np.random.default_rng(5)
    n = 90
    y = np.repeat(np.arange(3), n // 3)
    A = 4.0 * rng.standard_normal((3, 10))[y] + rng.standard_normal((n, 10))
    B = A @ ortho_group.rvs(10, random_state=2) + 0.5 * rng.standard_normal((n, 10))
    a = Embedding(X=A, labels=y, label_names=("cat", MALICIOUS, "eel"), name=f"run {MALICIOUS}")
    b = Embedding(X=B, name=f"other {MALICIOUS}")
    layers_a = {"in": rng.standard_normal((n, 6)), MALICIOUS: A}
    layers_b = {"first": B, "second": np.tanh(B)}
    return compare(a, b, k=6, seed=1, layers_a=layers_a, layers_b=layers_b)


@pytest.fixture(scope="module")
def malicious_page(malicious) -> str:
    return comparison_html(malicious)


# --------------------------------------------------------------------------- B = A Q s


def test_rotated_scaled_copy_is_the_same_representation(rotated) -> None:
    A, B, y, c = rotated
    m = c.metrics
    n = A.shape[0]
    assert (c.n_samples, c.n_features_a, c.n_features_b) == (n, 32, 32)
    assert m["linear_cka"] == pytest.approx(1.0, abs=1e-6)
    assert m["linear_cka_debiased"] == pytest.approx(1.0, abs=1e-6)
    assert m["procrustes_distance"] == pytest.approx(0.0, abs=1e-5)
    assert m["rbf_cka"] == pytest.approx(1.0, abs=1e-6) and m["rbf_rows"] == n
    assert m["knn_jaccard"] == 1.0 and m["k"] == K_ROT and m["metric"] == "euclidean"
    # Every one of the n points keeps all k of its neighbours.
    shared = c.series["shared_neighbours"]
    assert list(shared["m"]) == list(range(K_ROT + 1))
    assert list(shared["count"]) == [0] * K_ROT + [n]
    # Cosines to the same anchor inputs survive any rotation and scale.
    assert m["relative_cosine"] == pytest.approx(1.0, abs=1e-9)
    assert m["n_anchors"] == 100
    # The absolute coordinates do not: cos(a_i, s a_i Q) averaged over rows, by hand.
    by_hand = np.mean([a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(A, B, strict=True)])
    assert m["absolute_cosine"] == pytest.approx(by_hand, abs=1e-12)
    assert abs(m["absolute_cosine"]) < 0.3  # a random rotation of 32-D space


def test_rotated_copy_references_are_far_from_the_value(rotated) -> None:
    """The shuffled references describe unrelated rows: far from the perfect scores above."""
    _, _, _, c = rotated
    m = c.metrics
    assert m["linear_cka_shuffled"] < 0.1  # 320 rows x 32 features: about 0.02
    assert m["procrustes_shuffled"] > 1.2  # about 1.32; sqrt(2) at most
    # E[m / (2k - m)] for m ~ Hypergeometric(319 others, k marked, k drawn): two random neighbour sets
    overlap = np.arange(K_ROT + 1)
    by_hand = float(np.sum(hypergeom.pmf(overlap, 319, K_ROT, K_ROT) * overlap / (2 * K_ROT - overlap)))
    assert m["knn_chance"] == pytest.approx(by_hand, rel=1e-12)
    assert m["knn_chance"] < 0.05


def test_rotated_copy_stitching(rotated) -> None:
    """A probe fitted on A transfers to B through relative representations, not through coordinates.

    Across 12 seeds of this construction (8 blobs x 40 rows, a fresh random Q each) the probe and
    relative stitching were always 1.0 and absolute stitching at most 0.46 (median about 0.07), so
    0.6 leaves room while still meaning "far below".
    """
    _, _, y, c = rotated
    st = c.metrics["stitching"]
    assert st is not None
    assert st["rows"] == y.size  # n <= STITCH_ROWS: every row is used
    assert st["accuracy_same"] == 1.0
    assert st["accuracy_stitched_relative"] == st["accuracy_same"]
    assert st["accuracy_stitched_absolute"] < 0.6
    assert st["accuracy_same"] - st["accuracy_stitched_absolute"] > 0.4
    # No split column: a random 75/25 of the rows. The majority class of a quarter of 8 balanced classes
    # is above 1/8 and far below 1.
    test_rows = y.size - int(0.75 * y.size)
    assert st["protocol"] == "random 75/25" and (st["train_rows"], st["test_rows"]) == (y.size - test_rows, test_rows)
    assert 1 / 8 <= st["chance"] < 0.5
    assert (st["chance"] * test_rows) == pytest.approx(round(st["chance"] * test_rows))


def test_stitching_uses_the_datas_own_split() -> None:
    """With a "split" metadata column (as in a run), the probe is fitted on the train rows only and tested on
    the test rows only: the accuracies equal `seed_agreement` called with exactly those rows."""
    import polars as pl

    from analysis.metrics.seed_agreement import seed_agreement

    A, y = _blobs(n_classes=4, per_class=30, d=16, seed=2)
    rng = np.random.default_rng(5)
    B = np.tanh(A @ rng.standard_normal((16, 16)) / 4) + 0.5 * rng.standard_normal(A.shape)  # related, not a copy
    split = np.where(np.arange(y.size) % 3 == 0, "test", "train")
    emb_a = Embedding(X=A, labels=y, label_names=("a", "b", "c", "d"), metadata=pl.DataFrame({"split": split}))
    c = compare(emb_a, B, k=5)
    st = c.metrics["stitching"]
    assert st["protocol"] == "train/test split"
    assert (st["train_rows"], st["test_rows"]) == ((split == "train").sum(), (split == "test").sum())
    # Same anchors as compare drew (every row is usable, n <= STITCH_ROWS so rows = all rows, in order).
    anchors = _anchor_rows(emb_a)
    direct = seed_agreement(A.astype(np.float32), B.astype(np.float32), y, anchors=anchors,
                            train_rows=np.flatnonzero(split == "train"), test_rows=np.flatnonzero(split == "test"))
    assert st["accuracy_same"] == direct.accuracy_same
    assert st["accuracy_stitched_absolute"] == direct.accuracy_stitched_absolute
    assert st["accuracy_stitched_relative"] == direct.accuracy_stitched_relative
    test_labels = y[split == "test"]
    assert st["chance"] == np.bincount(test_labels).max() / test_labels.size


def _anchor_rows(emb: Embedding) -> np.ndarray:
    """The anchors `compare` used: per class (labels present, 4 classes <= 100 anchors), seeded with 0."""
    from analysis.metrics.similarity import choose_anchors

    return choose_anchors(emb.n_samples, method="per_class", n_anchors=min(100, emb.n_samples), labels=emb.labels,
                          seed=0)


def test_rotated_copy_layouts_coincide() -> None:
    """B's PCA layout is Procrustes-aligned onto A's, so a rotated copy is drawn at the same place."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((200, 6)) * np.array([5.0, 3.0, 1.0, 0.8, 0.5, 0.2])  # distinct PCA axes
    c = compare(A, A @ ortho_group.rvs(6, random_state=3), k=5)
    points = c.series["points"]
    a, b = np.asarray(points["a"]), np.asarray(points["b"])
    assert a.shape == b.shape == (200, 2)
    np.testing.assert_allclose(b, a, atol=1e-8 * np.abs(a).max())
    # ...and the layout is A's first two principal components (centred, spread 5 and 3).
    np.testing.assert_allclose(a.std(axis=0), A[:, :2].std(axis=0), rtol=0.05)


# --------------------------------------------------------------------------- each scalar is the library's


def test_every_scalar_is_the_library_call(related) -> None:
    A, B, c = related
    m = c.metrics
    assert m["linear_cka"] == pytest.approx(linear_cka(A, B), abs=1e-12)
    assert m["linear_cka_debiased"] == pytest.approx(linear_cka(A, B, debiased=True), abs=1e-12)
    assert m["procrustes_distance"] == pytest.approx(procrustes_distance(A, B), abs=1e-12)
    agreement = knn_agreement(A, B, k=7)
    assert m["knn_jaccard"] == pytest.approx(agreement.mean_jaccard, abs=1e-12)
    assert m["knn_chance"] == pytest.approx(agreement.chance_jaccard, abs=1e-15)
    assert m["rbf_rows"] == 150  # n <= RBF_ROWS: all rows
    assert m["rbf_cka"] == pytest.approx(rbf_cka(A, B), abs=1e-12)
    assert m["absolute_cosine"] == pytest.approx(row_cosines(A, B).mean(), abs=1e-12)
    # The data is strictly between the extremes, so the equalities above are not 0 == 0 or 1 == 1.
    assert 0.2 < m["linear_cka"] < 0.95 and 0.05 < m["procrustes_distance"] < 1.3
    assert m["knn_chance"] < m["knn_jaccard"] < 1.0
    assert m["linear_cka_debiased"] < m["linear_cka"]


def test_relative_cosine_by_hand_when_every_row_is_an_anchor() -> None:
    """With n <= N_ANCHORS every row is an anchor, so the value needs no knowledge of the seeded draw."""
    A, B = _related_pair(n=80, d=9, seed=7)
    c = compare(A, B, k=5, seed=11)
    assert c.metrics["n_anchors"] == 80
    rel_a, rel_b = relative_representation(A, A), relative_representation(B, B)
    expected = np.mean([ra @ rb / (np.linalg.norm(ra) * np.linalg.norm(rb)) for ra, rb in zip(rel_a, rel_b,
                                                                                              strict=True)])
    assert c.metrics["relative_cosine"] == pytest.approx(expected, abs=1e-12)
    assert 0.2 < expected < 0.99


def test_rbf_uses_a_seeded_subsample_above_rbf_rows(monkeypatch) -> None:
    monkeypatch.setattr(comparison_module, "RBF_ROWS", 60)
    A, B = _related_pair(n=150)
    c = compare(A, B, k=5, seed=0)
    assert c.metrics["rbf_rows"] == 60
    assert c.metrics["rbf_cka"] != pytest.approx(rbf_cka(A, B), abs=1e-9)  # not all rows
    assert compare(A, A * 3.0, k=5).metrics["rbf_cka"] == pytest.approx(1.0, abs=1e-9)  # any rows of a copy


# --------------------------------------------------------------------------- the shuffled reference


@pytest.mark.parametrize("seed", [0, 1])
def test_shuffled_reference_for_identical_data(seed: int) -> None:
    """Many samples, few features: CKA of a copy is 1 and of the shuffled copy about 0.

    Measured over 50 seeds: the shuffled value stays below 0.006 (about d / n = 0.004), so 0.05 is safe.
    """
    X = np.random.default_rng(seed).standard_normal((2000, 8))
    m = compare(X, X, k=5, seed=seed).metrics
    assert m["linear_cka"] == pytest.approx(1.0, abs=1e-9)
    assert m["linear_cka_shuffled"] < 0.05
    assert m["procrustes_distance"] == pytest.approx(0.0, abs=1e-6) and m["procrustes_shuffled"] > 1.3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shuffled_reference_matches_inflated_cka_of_unrelated_data(seed: int) -> None:
    """Few samples, many features, independent X and Y: plain CKA is inflated (about 0.9 at n = 40, d = 400).

    Measured over 200 seeds: plain CKA in [0.899, 0.921]; |plain - shuffled| at most 0.015 (99th
    percentile 0.012); |debiased| at most 0.088 (it has a spread of a few hundredths at n = 40).
    Hence the thresholds 0.5, 0.15 and 0.1.
    """
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((40, 400)), rng.standard_normal((40, 400))
    m = compare(X, Y, k=5, seed=seed).metrics
    assert m["linear_cka"] > 0.5
    assert abs(m["linear_cka_shuffled"] - m["linear_cka"]) < 0.15
    assert abs(m["linear_cka_debiased"]) < 0.1


def test_headline_does_not_call_unrelated_data_the_same() -> None:
    """The page's one-line verdict must not read inflated plain CKA as similarity."""
    rng = np.random.default_rng(0)
    c = compare(rng.standard_normal((40, 400)), rng.standard_normal((40, 400)), k=5)
    assert c.metrics["linear_cka"] > 0.85 and abs(c.metrics["linear_cka_debiased"]) < 0.1  # independent data
    page = comparison_html(c)
    # Regression: the headline read plain CKA alone and called two independent matrices (plain 0.91,
    # shuffled 0.91, debiased -0.00) "nearly the same representation".
    assert "nearly the same representation" not in page
    assert "partly alike" not in page


# --------------------------------------------------------------------------- shared neighbours


def test_shared_neighbour_histogram(related) -> None:
    A, B, c = related
    k, n = 7, A.shape[0]
    hist = c.series["shared_neighbours"]
    count = np.asarray(hist["count"])
    chance = np.asarray(hist["chance_count"], dtype=np.float64)
    assert list(hist["m"]) == list(range(k + 1))
    assert count.sum() == n
    assert chance.sum() == pytest.approx(n, abs=1e-9)
    np.testing.assert_allclose(chance, n * hypergeom.pmf(np.arange(k + 1), n - 1, k, k), rtol=1e-12)
    # The histogram is that of m_i = |N_A(i) & N_B(i)|, recomputed from the neighbour lists' Jaccard.
    per_point = knn_agreement(A, B, k=k).per_point
    m_by_hand = np.rint(2 * k * per_point / (1 + per_point)).astype(int)
    np.testing.assert_array_equal(count, np.bincount(m_by_hand, minlength=k + 1))
    assert np.count_nonzero(count) >= 3  # spread over several m: not a trivial histogram


def test_per_point_shared_and_jaccard_agree(related) -> None:
    A, B, c = related
    k = 7
    points = c.series["points"]
    shared = np.asarray(points["shared"])
    jaccard = np.asarray(points["jaccard"])
    np.testing.assert_allclose(jaccard, shared / (2 * k - shared), rtol=0, atol=1e-12)  # J = m / (2k - m)
    np.testing.assert_allclose(jaccard, knn_agreement(A, B, k=k).per_point[np.asarray(points["rows"])])
    # Every row is drawn (n <= SCATTER_ROWS): their mean is the reported k-NN Jaccard.
    assert jaccard.mean() == pytest.approx(c.metrics["knn_jaccard"], abs=1e-12)
    np.testing.assert_array_equal(np.bincount(shared, minlength=k + 1), c.series["shared_neighbours"]["count"])


# --------------------------------------------------------------------------- shapes, labels


def test_different_widths_have_no_absolute_cosine_or_stitching() -> None:
    A, y = _blobs(n_classes=3, per_class=30, d=12)
    B = np.tanh(A[:, :5])
    c = compare(A, B, labels=y, k=5)
    assert (c.n_features_a, c.n_features_b) == (12, 5)
    assert c.metrics["absolute_cosine"] is None and c.metrics["stitching"] is None
    assert 0.0 < c.metrics["linear_cka"] < 1.0
    assert c.series["points"]["labels"] is not None  # labels still colour the points


def test_row_count_mismatch_names_both_counts() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"A has 150 rows and B has 149") as info:
        compare(rng.standard_normal((150, 4)), rng.standard_normal((149, 4)))
    assert "same inputs" in str(info.value)


@pytest.mark.parametrize("shape", [(59,), (60, 1), (2, 30)])
def test_labels_of_the_wrong_shape_raise(shape) -> None:
    X = np.random.default_rng(0).standard_normal((60, 4))
    with pytest.raises(ValueError, match=re.escape(f"labels has shape {shape}; expected (60,)")):
        compare(X, X, labels=np.zeros(shape, dtype=int), k=3)


def test_string_labels_are_encoded_and_named() -> None:
    A, y = _blobs(n_classes=3, per_class=30, d=8, seed=2)
    names = np.array(["zebra", "ant", "moth"])[y]
    B = A @ ortho_group.rvs(8, random_state=0)
    c = compare(A, B, labels=names, k=5)
    points = c.series["points"]
    assert points["label_names"] == ["ant", "moth", "zebra"]  # sorted, as encode_labels does
    codes = np.asarray(points["labels"])
    rows = np.asarray(points["rows"])
    np.testing.assert_array_equal(np.asarray(points["label_names"])[codes], names[rows])
    assert c.metrics["stitching"] is not None and c.metrics["stitching"]["accuracy_same"] == 1.0


def test_labels_default_to_a_then_b() -> None:
    A, y = _blobs(n_classes=3, per_class=20, d=6)
    a = Embedding(X=A, labels=y, label_names=("x", "y", "z"), name="left")
    b = Embedding(X=A[:, ::-1].copy(), labels=2 - y, label_names=("p", "q", "r"), name="right")
    from_a = compare(a, b, k=5)
    assert (from_a.name_a, from_a.name_b) == ("left", "right")
    assert from_a.series["points"]["label_names"] == ["x", "y", "z"]
    np.testing.assert_array_equal(from_a.series["points"]["labels"], y)
    from_b = compare(A, b, k=5)
    assert (from_b.name_a, from_b.name_b) == ("A", "right")
    assert from_b.series["points"]["label_names"] == ["p", "q", "r"]
    np.testing.assert_array_equal(from_b.series["points"]["labels"], 2 - y)
    # explicit labels win over both
    explicit = compare(a, b, labels=np.arange(60) % 2, k=5)
    assert explicit.series["points"]["label_names"] == ["0", "1"]
    unlabelled = compare(A, A[:, ::-1], k=5)
    assert unlabelled.series["points"]["labels"] is None and unlabelled.metrics["stitching"] is None


def test_all_zero_rows_do_not_break_the_comparison() -> None:
    # Regression: an all-zero row in A or B (common in small ReLU layers) made relative_representation,
    # and so the whole comparison, fail with a message about anchors and "X".
    rng = np.random.default_rng(0)
    relu = np.maximum(rng.standard_normal((100, 6)), 0.0)  # 6 ReLU units: P(all zero) = 1/64 per row
    assert np.any(~relu.any(axis=1))
    other = rng.standard_normal((100, 6))
    c = compare(relu, other, labels=np.arange(100) % 3, k=5)
    assert 0.0 <= c.metrics["linear_cka"] <= 1.0
    nonzero = np.flatnonzero(relu.any(axis=1))
    assert c.metrics["relative_rows"] == nonzero.size < 100
    # A space against itself over its non-zero rows: relative representations agree exactly.
    assert compare(relu, relu, k=5).metrics["relative_cosine"] == pytest.approx(1.0, abs=1e-12)
    assert c.metrics["stitching"] is not None and c.metrics["stitching"]["rows"] <= nonzero.size


def test_constant_side_is_named_in_the_error() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"^B is constant: all 50 rows"):
        compare(rng.standard_normal((50, 4)), np.ones((50, 4)))
    with pytest.raises(ValueError, match=r"^A is constant"):
        compare(np.zeros((50, 3)), rng.standard_normal((50, 4)))


# --------------------------------------------------------------------------- layers


def test_layer_by_layer_cka_matrix() -> None:
    rng = np.random.default_rng(3)
    n = 70
    base = rng.standard_normal((n, 5))
    layers_a = {"embed": base, "hidden": np.tanh(base @ rng.standard_normal((5, 9)))}
    layers_b = {"l0": base @ rng.standard_normal((5, 5)), "l1": rng.standard_normal((n, 4)),
                "l2": np.maximum(base, 0) + 0.1 * rng.standard_normal((n, 5))}
    c = compare(layers_a["hidden"], layers_b["l2"], k=5, layers_a=layers_a, layers_b=layers_b)
    layers = c.layers
    assert layers["rows"] == ["embed", "hidden"] and layers["columns"] == ["l0", "l1", "l2"]
    expected = cka_matrix(list(layers_a.values()), list(layers_b.values()))
    expected_debiased = cka_matrix(list(layers_a.values()), list(layers_b.values()), debiased=True)
    np.testing.assert_allclose(np.asarray(layers["cka"]), expected, atol=1e-12)
    np.testing.assert_allclose(np.asarray(layers["cka_debiased"]), expected_debiased, atol=1e-12)
    assert np.asarray(layers["cka"]).shape == (2, 3)
    assert not np.allclose(expected, expected_debiased)
    # the cell of the two compared layers is the headline linear CKA
    assert layers["cka"][1][2] == pytest.approx(c.metrics["linear_cka"], abs=1e-12)
    # one side alone: no matrix
    assert compare(base, base, k=5, layers_a=layers_a).layers is None


# --------------------------------------------------------------------------- points drawn


def test_points_are_a_sorted_subsample_of_at_most_scatter_rows(monkeypatch) -> None:
    monkeypatch.setattr(comparison_module, "SCATTER_ROWS", 50)
    A, y = _blobs(n_classes=3, per_class=40, d=6, seed=1)
    B = A @ ortho_group.rvs(6, random_state=5)
    c = compare(A, B, labels=y, k=5, seed=2)
    points = c.series["points"]
    rows = np.asarray(points["rows"])
    assert rows.size == 50 and np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] < 120
    for key in ("jaccard", "shared", "labels"):
        assert len(points[key]) == 50, key
    assert np.asarray(points["a"]).shape == np.asarray(points["b"]).shape == (50, 2)
    np.testing.assert_array_equal(points["labels"], y[rows])
    np.testing.assert_allclose(points["b"], points["a"], atol=1e-8 * np.abs(points["a"]).max())
    # the counts still cover every row, not only the drawn ones
    assert sum(c.series["shared_neighbours"]["count"]) == 120
    other = compare(A, B, labels=y, k=5, seed=3).series["points"]["rows"]
    assert not np.array_equal(other, rows)  # the draw is seeded


# --------------------------------------------------------------------------- determinism, JSON


def _without_clock(comparison: Comparison) -> str:
    data = comparison.to_dict()
    del data["seconds"], data["timings"]
    return json.dumps(data, sort_keys=True)


def test_same_seed_same_numbers_different_seed_different_reference() -> None:
    A, B = _related_pair(n=120)
    first, again = compare(A, B, k=6, seed=4), compare(A, B, k=6, seed=4)
    # to_json() also holds the wall-clock `seconds` and per-stage `timings`, which no seed fixes:
    # everything else is identical.
    assert _without_clock(first) == _without_clock(again)
    other = compare(A, B, k=6, seed=5)
    assert other.metrics["linear_cka_shuffled"] != first.metrics["linear_cka_shuffled"]
    assert other.metrics["procrustes_shuffled"] != first.metrics["procrustes_shuffled"]
    for key in ("linear_cka", "linear_cka_debiased", "procrustes_distance", "knn_jaccard", "rbf_cka"):
        # no seed in these (RBF CKA: all rows, as n <= RBF_ROWS)
        assert other.metrics[key] == pytest.approx(first.metrics[key], abs=1e-12), key


def test_to_json_is_strict_and_round_trips(rotated, malicious, tmp_path) -> None:
    _, _, _, c = rotated
    path = tmp_path / "c.json"
    text = c.to_json(path)
    assert path.read_text(encoding="utf-8") == text + "\n"
    data = _strict_json(text)
    assert data["format"] == COMPARISON_FORMAT
    assert (data["a"], data["b"], data["n_samples"]) == ("A", "B", 320)
    assert (data["n_features_a"], data["n_features_b"]) == (32, 32)
    for key in ("linear_cka", "linear_cka_debiased", "linear_cka_shuffled", "rbf_cka", "procrustes_distance",
                "procrustes_shuffled", "knn_jaccard", "knn_chance", "relative_cosine", "absolute_cosine"):
        assert data["metrics"][key] == c.metrics[key], key
    assert data["metrics"]["stitching"] == c.metrics["stitching"]
    assert data["series"]["shared_neighbours"]["count"] == list(c.series["shared_neighbours"]["count"])
    np.testing.assert_array_equal(data["series"]["points"]["rows"], c.series["points"]["rows"])
    assert data["layers"] is None and set(data["timings"]) >= {"cka", "procrustes", "rbf", "neighbours"}
    # layers and names survive too (and a name is just text in JSON)
    layered = _strict_json(malicious.to_json(indent=None))
    assert layered["layers"]["rows"] == ["in", MALICIOUS]
    np.testing.assert_allclose(layered["layers"]["cka"], malicious.layers["cka"])
    assert layered["a"] == f"run {MALICIOUS}"


def test_to_json_replaces_non_finite_numbers_with_null() -> None:
    A, B = _related_pair(n=60)
    c = compare(A, B, k=5)
    odd = Comparison(name_a="a", name_b="b", n_samples=c.n_samples, n_features_a=12, n_features_b=12,
                     metrics={**c.metrics, "rbf_cka": float("nan"), "knn_chance": np.float64("inf")},
                     series=c.series)
    data = _strict_json(odd.to_json())
    assert data["metrics"]["rbf_cka"] is None and data["metrics"]["knn_chance"] is None
    assert data["metrics"]["linear_cka"] == c.metrics["linear_cka"]


# --------------------------------------------------------------------------- HTML


def test_html_is_one_self_contained_page(malicious, malicious_page, tmp_path) -> None:
    path = tmp_path / "c.html"
    page = malicious.to_html(path)
    assert path.read_text(encoding="utf-8") == page == malicious_page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script src" not in page and "<link" not in page
    banner = get_plotlyjs()[:120]  # "/**\n* plotly.js vX.Y.Z\n* Copyright ..."
    assert "plotly.js v" in banner and page.count(banner) == 1
    for element_id in ("figure-side_a", "figure-side_b", "selection-note", "figure-shared", "figure-layers"):
        assert page.count(f'id="{element_id}"') == 1, element_id
    assert "__K__" not in page and "__SHARED_BY_ROW__" not in page
    # one script for plotly.js, one per figure, one linking the two scatters: nothing else
    assert page.count("<script") == 1 + len(comparison_figures(malicious)) + 1


def test_html_link_script_has_each_drawn_rows_shared_count(malicious, malicious_page) -> None:
    page = malicious_page
    found = re.search(r"shared = (\{[^}]*\}), k = (\d+);", page)
    assert found, "the linked-selection script lost its data"
    points = malicious.series["points"]
    expected = {str(int(r)): int(s) for r, s in zip(points["rows"], points["shared"], strict=True)}
    assert json.loads(found.group(1)) == expected and int(found.group(2)) == 6


def test_html_escapes_every_user_name(malicious_page) -> None:
    page = malicious_page
    assert MALICIOUS not in page
    assert "alert(1)</script>" not in page
    assert f"<title>RepLens comparison: run {ESCAPED} vs other {ESCAPED}</title>" in page
    assert f"<h3>A: run {ESCAPED}</h3>" in page and f"<h3>B: other {ESCAPED}</h3>" in page


def test_html_measures_table_shows_each_value_and_reference(rotated, related) -> None:
    _, _, _, c = rotated
    page = comparison_html(c)
    m = c.metrics
    for value in (m["linear_cka"], m["linear_cka_shuffled"], m["procrustes_shuffled"], m["knn_chance"],
                  m["absolute_cosine"], m["stitching"]["accuracy_stitched_absolute"]):
        assert f'<td class="num">{format_number(value)}</td>' in page, value
    assert "Zero-shot stitching, relative" in page and "Absolute coordinates" in page
    assert "nearly the same representation" in page and f"keeps on average {K_ROT:.1f} of its {K_ROT}" in page
    # no labels, same width: absolute row but no stitching rows; no layers section
    plain = comparison_html(related[2])
    assert "Absolute coordinates" in plain and "Zero-shot stitching" not in plain
    assert 'id="figure-layers"' not in plain


def test_figures_draw_the_series(malicious) -> None:
    figures = comparison_figures(malicious)
    assert set(figures) == {"layers", "side_a", "side_b", "shared"}
    points = malicious.series["points"]
    rows = np.asarray(points["rows"])
    for side in ("a", "b"):
        coords = np.asarray(points[side])
        drawn: list[int] = []
        for trace in figures[f"side_{side}"].data:
            ids = np.asarray(trace.customdata, dtype=np.int64).ravel()
            drawn += ids.tolist()
            at = np.searchsorted(rows, ids)
            np.testing.assert_allclose(trace.x, coords[at, 0], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(trace.y, coords[at, 1], rtol=1e-6, atol=1e-6)
            # one trace per class, named (escaped) after it
            codes = np.asarray(points["labels"])[at]
            assert np.unique(codes).size == 1
            assert trace.name == ["cat", ESCAPED, "eel"][codes[0]]
        assert sorted(drawn) == rows.tolist()
    heat = figures["layers"]
    np.testing.assert_allclose(np.asarray(heat.data[0].z, dtype=float), malicious.layers["cka"])
    buttons = heat.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["plain", "debiased"]
    np.testing.assert_allclose(buttons[1].args[0]["z"][0], malicious.layers["cka_debiased"])
    assert list(heat.data[0].y) == ["in", ESCAPED]


def test_shared_neighbours_chart() -> None:
    fig = shared_neighbours_chart([0, 1, 2, 3], [5, 0, 2, 9], [10.0, 4.5, 1.5, 0.0], 3)
    chance, observed = fig.data
    assert list(observed.x) == [0, 1, 2, 3] and list(observed.y) == [5, 0, 2, 9]
    assert list(chance.y) == [10.0, 4.5, 1.5, 0.0] and "unrelated" in chance.name
    assert fig.layout.barmode == "overlay" and "k = 3" in fig.layout.xaxis.title.text


# --------------------------------------------------------------------------- progress


def test_progress_fractions_increase_within_0_and_1() -> None:
    calls: list[tuple[float, str]] = []
    A, y = _blobs(n_classes=3, per_class=20, d=6)
    compare(A, A @ ortho_group.rvs(6, random_state=0), labels=y, k=5, layers_a={"x": A}, layers_b={"y": A},
            progress=lambda fraction, message: calls.append((fraction, message)))
    fractions = [f for f, _ in calls]
    assert len(calls) >= 8  # cka, procrustes, rbf, neighbours, relative, stitching, layers, points
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b > a for a, b in zip(fractions, fractions[1:], strict=False))
    assert all(isinstance(msg, str) and msg for _, msg in calls)
    assert any("stitching" in msg.lower() for _, msg in calls) and any("layers" in msg for _, msg in calls)


def test_timings_cover_the_stages(rotated) -> None:
    _, _, _, c = rotated
    assert set(c.timings) == {"cka", "procrustes", "rbf", "neighbours", "relative", "stitching", "points"}
    assert all(t >= 0 for t in c.timings.values())
    assert c.seconds >= sum(c.timings.values()) - 1e-9
    assert math.isfinite(c.seconds)
