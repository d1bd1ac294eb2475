"""neural_collapse(mu_g=...): the mean of class means (default) vs Papyan et al.'s mean of all samples.

Expected values are computed by hand (fractions worked out on paper for a
3-class example in 2-D) and by the explicit formulas in numpy on the raw rows
(mu_G, Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T, Sigma_W from the
rows), independently of the library's statistics code.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.data import Run, Selection
from analysis.distributed import neural_collapse_distributed
from analysis.metrics import neural_collapse
from analysis.metrics.collapse_centring import CENTRINGS, global_mean
from analysis.metrics.collapse_table import neural_collapse_table
from analysis.metrics.neural_collapse import simplex_etf_gram
from analysis.panels import collapse as panel

# Class 0: 6 rows around (0, 0); class 1: 2 rows around (3, 0); class 2: 1 row at (0, 3).
HAND_X = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [0, 0], [0, 0], [3, 1], [3, -1], [0, 3]], dtype=float)
HAND_Y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])


def test_hand_example_class_means_centring() -> None:
    # mu_G = (1, 1); M = [(-1,-1), (2,-1), (-1,2)]; Sigma_B = [[2,-1],[-1,2]], Tr = 4.
    # Sigma_W = [[2,0],[0,4]]/9, Tr = 2/3; Sigma_W Sigma_B^-1 has trace 4/9, NC1 = 4/27.
    r = neural_collapse(HAND_X, HAND_Y)
    assert r.mu_g == "class_means"
    assert r.nc1_trace_quotient == pytest.approx((2 / 3) / 4, rel=1e-12)
    assert r.nc1 == pytest.approx(4 / 27, rel=1e-12)
    assert r.class_mean_norms == pytest.approx(np.sqrt([2.0, 5.0, 5.0]), rel=1e-12)


def test_hand_example_samples_centring() -> None:
    # mu_G = (6 (0,0) + 2 (3,0) + 1 (0,3)) / 9 = (2/3, 1/3);
    # M = [(-2/3,-1/3), (7/3,-1/3), (-2/3,8/3)]; Sigma_B = [[57,-21],[-21,66]] / 27, Tr = 41/9.
    # Tr(Sigma_W Sigma_B^-1) = 40/123, NC1 = 40/369; trace quotient (2/3) / (41/9) = 6/41.
    r = neural_collapse(HAND_X, HAND_Y, mu_g="samples")
    assert r.mu_g == "samples"
    assert r.nc1_trace_quotient == pytest.approx(6 / 41, rel=1e-12)
    assert r.nc1 == pytest.approx(40 / 369, rel=1e-12)
    assert r.class_mean_norms == pytest.approx(np.sqrt([5 / 9, 50 / 9, 68 / 9]), rel=1e-12)
    # What mu_G does not touch stays the same.
    default = neural_collapse(HAND_X, HAND_Y)
    assert r.cdnv == default.cdnv and r.ncc_accuracy == default.ncc_accuracy
    assert r.orthogonal_frame_distance == default.orthogonal_frame_distance


def _explicit(X: np.ndarray, y: np.ndarray, mu_g: str, W: np.ndarray | None = None) -> dict[str, float]:
    """NC1, trace quotient, ETF distance and NC3 by the textbook formulas on the raw rows."""
    classes = np.unique(y)
    C = classes.size
    means = np.stack([X[y == c].mean(axis=0) for c in classes])
    mu_G = X.mean(axis=0) if mu_g == "samples" else means.mean(axis=0)
    sigma_b = sum(np.outer(m - mu_G, m - mu_G) for m in means) / C
    resid = X - means[np.searchsorted(classes, y)]
    sigma_w = resid.T @ resid / X.shape[0]
    M = (means - mu_G).T
    gram = M.T @ M
    out = {
        "nc1": float(np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-10)) / C),
        "nc1_trace_quotient": float(np.trace(sigma_w) / np.trace(sigma_b)),
        "etf_distance": float(np.linalg.norm(gram / np.linalg.norm(gram) - simplex_etf_gram(C))),
    }
    if W is not None:
        out["nc3"] = float(np.linalg.norm(W.T / np.linalg.norm(W) - M / np.linalg.norm(M)) ** 2)
    return out


def _long_tailed(seed: int = 0, d: int = 20, counts: tuple[int, ...] = (200, 60, 20, 8, 4)):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    means = 3.0 * rng.standard_normal((len(counts), d))
    return means[y] + rng.standard_normal((y.size, d)), y


@pytest.mark.parametrize("mu_g", CENTRINGS)
def test_imbalanced_classes_match_the_explicit_formulas(mu_g: str) -> None:
    X, y = _long_tailed()
    W = np.random.default_rng(1).standard_normal((5, X.shape[1]))
    r = neural_collapse(X, y, classifier=W, mu_g=mu_g)
    for name, value in _explicit(X, y, mu_g, W).items():
        assert getattr(r, name) == pytest.approx(value, rel=1e-9), name


def test_imbalanced_centrings_differ_and_balanced_ones_are_identical() -> None:
    X, y = _long_tailed()
    a, b = neural_collapse(X, y), neural_collapse(X, y, mu_g="samples")
    assert abs(a.etf_distance - b.etf_distance) > 0.05
    assert a.nc1 != pytest.approx(b.nc1, rel=1e-3)
    Xb, yb = _long_tailed(counts=(30, 30, 30, 30))
    a, b = neural_collapse(Xb, yb), neural_collapse(Xb, yb, mu_g="samples")
    for name in type(a).SCALARS:
        assert getattr(a, name) == getattr(b, name), name  # exactly, not approximately
    np.testing.assert_array_equal(a.gram, b.gram)


def test_global_mean_is_the_samples_mean_from_class_statistics() -> None:
    X, y = _long_tailed()
    means = np.stack([X[y == c].mean(axis=0) for c in range(5)])
    counts = np.bincount(y)
    np.testing.assert_allclose(global_mean(means, counts, "samples"), X.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(global_mean(means, counts, "class_means"), means.mean(axis=0))


@pytest.mark.parametrize("mu_g", CENTRINGS)
def test_translation_and_rotation_invariance(mu_g: str) -> None:
    X, y = _long_tailed(seed=3, d=8)
    rng = np.random.default_rng(4)
    Q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    base = neural_collapse(X, y, mu_g=mu_g)
    for moved in (X + 50.0 * rng.standard_normal(8), X @ Q):
        r = neural_collapse(moved, y, mu_g=mu_g)
        for name in ("nc1", "nc1_trace_quotient", "nc2_equinorm", "nc2_equiangular", "etf_distance"):
            assert getattr(r, name) == pytest.approx(getattr(base, name), rel=1e-8, abs=1e-12), name


def test_bad_centring_is_refused_with_both_options() -> None:
    with pytest.raises(ValueError, match="mu_g must be one of.*class_means.*samples"):
        neural_collapse(HAND_X, HAND_Y, mu_g="global")


def test_table_distributed_and_panel_thread_the_centring() -> None:
    X, y = _long_tailed(d=6)
    expected = neural_collapse(X, y, mu_g="samples")
    assert neural_collapse_distributed(X, y, scheduler=None, mu_g="samples").etf_distance == expected.etf_distance
    run = Run(activations={("h", s): X.astype(np.float32) for s in (0, 1, 2)}, layers=("h",),
              steps=(0, 1, 2), labels=y, metadata=pl.DataFrame({"split": ["train"] * y.size}), name="lt")
    table = neural_collapse_table(run, split=None, mu_g="samples")
    on_float32 = neural_collapse(X.astype(np.float32), y, mu_g="samples")
    assert table["etf_distance"].to_list() == [on_float32.etf_distance] * 3
    selection = Selection(run, "h", 2, "all")
    data = panel.collapse_panel(selection, mu_g="samples")
    assert data.result.mu_g == "samples" and data.result.etf_distance == on_float32.etf_distance
    assert data.reference is not None and data.reference.mu_g == "samples"
    assert "imbalanced (200 vs 4 samples)" in data.centring_text
    assert "**mean of all samples**" in data.centring_text
    assert "**mean of class means**" in panel.collapse_panel(selection).centring_text
    history = panel.collapse_history(selection, mu_g="samples")
    assert history.table["etf_distance"].to_list() == [on_float32.etf_distance] * 3


def test_no_centring_sentence_for_balanced_classes() -> None:
    X, y = _long_tailed(counts=(30, 32, 30))  # 32 / 30 < 1.1: balanced enough
    assert panel.centring_text(neural_collapse(X, y)) == ""
    X, y = _long_tailed(counts=(30, 34, 30))
    assert "imbalanced" in panel.centring_text(neural_collapse(X, y))
