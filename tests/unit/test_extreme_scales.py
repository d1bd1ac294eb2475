"""Metrics at extreme scales and with hostile label codes (issue 15, sections 1 and 3).

Every test here failed on the code before the fix it guards: neighbour search
returned index -1 for rows at 1e20, unit rows became zero vectors, ratios of
rounding noise came out as numbers, label codes were used as array sizes.
Numbers are checked against the unscaled input or hand-computed values.
"""

from __future__ import annotations

import numpy as np
import pytest

import analysis.neighbors as nb
import analysis.neighbors.search as nb_search
from analysis.neighbors import faiss_available, kneighbors, kneighbors_between

BACKENDS = ["numpy"] + (["faiss"] if faiss_available() else [])


def _cloud(n: int = 120, d: int = 12, seed: int = 0, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(dtype)


# --------------------------------------------------------------------------
# 2. neighbour search: a global scale changes no rank


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("scale", [1e-30, 1e19, 1e20, 1e30])
def test_kneighbors_float32_scale_gives_the_same_neighbours(backend, metric, scale):
    X = _cloud()
    Xs = (X.astype(np.float64) * scale).astype(np.float32)
    d0, i0 = kneighbors(X, 6, metric=metric, backend=backend)
    d1, i1 = kneighbors(Xs, 6, metric=metric, backend=backend)
    assert i1.min() >= 0
    np.testing.assert_array_equal(i1, i0)
    factor = scale if metric == "euclidean" else 1.0
    np.testing.assert_allclose(d1.astype(np.float64), d0.astype(np.float64) * factor, rtol=2e-6, atol=1e-6 * factor)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_symmetric_tile_path_at_1e20(metric, monkeypatch):
    # faiss-cpu is a required dependency (pyproject.toml): its tile path must run here.
    assert faiss_available(), "faiss-cpu is a dependency of RepLens; install it"
    # The upper-triangle tile path (pairwise_L2sqr) from its thresholds down.
    monkeypatch.setattr(nb, "_SYMMETRIC_MIN_FEATURES", 8)
    monkeypatch.setattr(nb, "_MIN_TILE", 16)
    monkeypatch.setattr(nb_search, "_TILE", 32)
    X = _cloud(n=100, d=10, seed=1)
    d0, i0 = kneighbors(X, 4, metric=metric, backend="faiss")
    d1, i1 = kneighbors(X * np.float32(1e20), 4, metric=metric, backend="faiss")
    np.testing.assert_array_equal(i1, i0)
    factor = 1e20 if metric == "euclidean" else 1.0
    np.testing.assert_allclose(d1.astype(np.float64), d0.astype(np.float64) * factor, rtol=2e-6, atol=1e-6 * factor)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_tiny_float64_rows(metric):
    # float64 at 1e-200: squared differences and dot products underflow to 0 without scaling.
    X = _cloud(dtype=np.float64)
    d0, i0 = kneighbors(X, 5, metric=metric)
    _, i1 = kneighbors(X * 1e-200, 5, metric=metric)
    np.testing.assert_array_equal(i1, i0)
    if metric == "cosine":
        d1, _ = kneighbors(X * 1e-200, 5, metric=metric)
        np.testing.assert_allclose(d1, d0, rtol=1e-6, atol=1e-7)


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_kneighbors_near_float32_max():
    # Values up to 3e38 with opposite signs: the centred spread exceeds float32's
    # range before scaling (the float64 centring path); ranks match X / 1e38.
    X = _cloud(n=40, d=3, seed=2)
    X = X / np.abs(X).max() * np.float32(3e38)
    reference = X.astype(np.float64) / 1e38
    for metric in ("euclidean", "cosine"):
        _, i0 = kneighbors(reference, 3, metric=metric)
        _, i1 = kneighbors(X, 3, metric=metric)
        np.testing.assert_array_equal(i1, i0)
    # A nearest distance of 6e38 cannot be returned as float32: a ValueError, not inf.
    with pytest.raises(ValueError, match="exceed float32's range"):
        kneighbors(np.array([[-3e38], [3e38]], dtype=np.float32), 1)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_kneighbors_between_scale(metric):
    Q, G = _cloud(n=30, seed=3), _cloud(n=50, seed=4)
    d0, i0 = kneighbors_between(Q, G, 5, metric=metric)
    d1, i1 = kneighbors_between(Q * np.float32(1e20), G * np.float32(1e20), 5, metric=metric)
    np.testing.assert_array_equal(i1, i0)
    factor = 1e20 if metric == "euclidean" else 1.0
    np.testing.assert_allclose(d1.astype(np.float64), d0.astype(np.float64) * factor, rtol=2e-6, atol=1e-6 * factor)


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_candidates_raise_instead_of_flowing_on(backend, monkeypatch):
    # Whatever makes the float32 search leave a slot empty (-1), it must not reach the caller.
    name = "_search_numpy" if backend == "numpy" else "_search_faiss"
    original = getattr(nb, name)

    def with_hole(*args, **kwargs):
        out = original(*args, **kwargs)
        out[7, -1] = -1
        return out

    monkeypatch.setattr(nb, name, with_hole)
    with pytest.raises(ValueError, match=r"no candidates for 1 rows \(first: 7\)"):
        kneighbors(_cloud(), 3, backend=backend)


def test_hubness_and_knn_jaccard_at_1e20():
    from analysis.comparison import compare
    from analysis.metrics import hubness

    X = _cloud(n=200, d=16, seed=5)
    big = X * np.float32(1e20)
    np.testing.assert_array_equal(hubness(big, k=5).k_occurrence, hubness(X, k=5).k_occurrence)
    result = compare(big, big, k=5)
    assert result.metrics["knn_jaccard"] == 1.0


# --------------------------------------------------------------------------
# 3. scale-free norms and moments


SCALES = [1e-30, 1e20, 1e160]


def _scaled(X: np.ndarray, c: float) -> np.ndarray:
    """c * X in float32 where it fits (the app's dtype), else float64."""
    out = X.astype(np.float64) * c
    return out.astype(np.float32) if c <= 1e30 else out


@pytest.mark.parametrize("c", SCALES)
def test_uniformity_and_alignment_are_scale_free(c):
    from analysis.metrics import alignment, uniformity

    X = _cloud(n=150, d=8, seed=6)
    Y = X + 0.3 * _cloud(n=150, d=8, seed=7)
    labels = np.arange(150) % 3
    u0, u1 = uniformity(X).value, uniformity(_scaled(X, c)).value
    assert u0 > -3.9  # not the -4t of collapsed antipodes: a real spread
    assert u1 == pytest.approx(u0, abs=1e-6)
    # the sampled path (above max_exact) normalises the rows it draws
    s0 = uniformity(X, max_exact=10, max_pairs=200_000).value
    assert uniformity(_scaled(X, c), max_exact=10, max_pairs=200_000).value == pytest.approx(s0, abs=1e-6)
    assert alignment(_scaled(X, c), _scaled(Y, c)).value == pytest.approx(alignment(X, Y).value, abs=1e-6)
    for alpha in (2.0, 1.0):
        ref = alignment(X, labels=labels, alpha=alpha).value
        assert alignment(_scaled(X, c), labels=labels, alpha=alpha).value == pytest.approx(ref, abs=1e-6)


def test_uniformity_of_float32_rows_at_1e20_is_not_the_collapsed_value():
    # The numbers: rows at 1e20 in float32 squared to inf, became zero vectors,
    # and uniformity read -4.000 (= -2t) instead of the data's own value.
    from analysis.metrics import uniformity

    X = _cloud(n=200, d=4, seed=8)
    value = uniformity(X * np.float32(1e20)).value
    assert value == pytest.approx(uniformity(X).value, abs=1e-9)
    assert value > -3.9


@pytest.mark.parametrize("c", SCALES)
def test_isotropy_effective_rank_and_intrinsic_dimension_are_scale_free(c):
    from analysis.metrics import covariance_spectrum, effective_rank, intrinsic_dimension, isotropy

    X = _cloud(n=300, d=6, seed=9) * np.linspace(0.5, 2.0, 6).astype(np.float32)
    Xc = _scaled(X, c)
    # (float32 rounding of c * X moves the scores by ~1e-8; a failure was 0.04 or an exception)
    iso0, iso1 = isotropy(X), isotropy(Xc)
    assert iso1.iso_score == pytest.approx(iso0.iso_score, rel=1e-6)
    assert iso1.mean_cosine == pytest.approx(iso0.mean_cosine, abs=1e-7)
    e0, e1 = effective_rank(X), effective_rank(Xc)
    assert e1.effective_rank == pytest.approx(e0.effective_rank, rel=1e-6)
    np.testing.assert_allclose(e1.singular_values / c, e0.singular_values, rtol=1e-6)
    assert effective_rank(Xc, center=False).effective_rank == pytest.approx(
        effective_rank(X, center=False).effective_rank, rel=1e-6)
    if c < 1e150:
        np.testing.assert_allclose(covariance_spectrum(Xc).explained_variance_ratio,
                                   covariance_spectrum(X).explained_variance_ratio, rtol=1e-6, atol=1e-12)
    else:  # the variances themselves leave float64: refused, never returned as Inf
        with pytest.raises(ValueError, match="Rescale X first"):
            covariance_spectrum(Xc)
    for method in ("twonn", "mle"):
        d0 = intrinsic_dimension(X, method=method).dimension
        assert intrinsic_dimension(Xc, method=method).dimension == pytest.approx(d0, rel=1e-5)


def test_effective_rank_gram_path_is_scale_free(monkeypatch):
    import analysis.metrics.spectrum as spectrum

    X = _cloud(n=300, d=6, seed=10)
    ref = spectrum.effective_rank(X).effective_rank
    monkeypatch.setattr(spectrum, "_SVD_MAX_ELEMENTS", 10)  # the streamed Gram path
    for c in SCALES:
        assert spectrum.effective_rank(_scaled(X, c)).effective_rank == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("c", [1e-30, 1e20, 1e160])
def test_hubness_is_scale_free_beyond_float32(c):
    from analysis.metrics import hubness

    X = _cloud(n=200, d=10, seed=11).astype(np.float64)
    for metric in ("euclidean", "cosine"):
        ref = hubness(X, k=5, metric=metric).k_occurrence
        np.testing.assert_array_equal(hubness(X * c, k=5, metric=metric).k_occurrence, ref)


# --------------------------------------------------------------------------
# 1. ratios of rounding noise: identical rows are identical, not "a little anisotropic"


def _identical_rows() -> np.ndarray:
    # 1,000 copies of one row whose column means do not round back to the row exactly.
    row = np.random.default_rng(12).standard_normal(8) * 7.3 + 0.1
    return np.tile(row, (1000, 1))


def test_isotropy_of_identical_rows_is_undefined_not_noise():
    from analysis.metrics import isotropy

    # Before: iso_score 0.041 computed from a covariance of rounding noise.
    with pytest.raises(ValueError, match="identical rows"):
        isotropy(_identical_rows())


def test_effective_rank_and_spectrum_of_identical_rows_are_undefined_not_noise():
    import analysis.metrics.spectrum as spectrum

    # Before: effective rank 1.0 and explained variance [1, 3e-17, ...] of rounding noise.
    with pytest.raises(ValueError, match="identical"):
        spectrum.effective_rank(_identical_rows())
    with pytest.raises(ValueError, match="identical rows"):
        spectrum.covariance_spectrum(_identical_rows())
    # Uncentred, identical rows are a rank-1 matrix: exactly 1, not an error.
    assert spectrum.effective_rank(_identical_rows(), center=False).effective_rank == pytest.approx(1.0, abs=1e-12)


def test_tiny_but_real_spread_far_from_the_origin_is_kept():
    from analysis.metrics import covariance_spectrum, effective_rank, isotropy

    # float64 rows at offset 1e4 with spread 1e-6 (relative 1e-10, far above rounding):
    # the shifted sums keep it; the scores match the data without the offset.
    X = _cloud(n=400, d=5, seed=13).astype(np.float64) * np.array([1.0, 1.0, 0.5, 0.5, 0.1])
    far = 1e4 + 1e-6 * X
    near = 1e-6 * X
    assert effective_rank(far).effective_rank == pytest.approx(effective_rank(near).effective_rank, rel=1e-4)
    np.testing.assert_allclose(covariance_spectrum(far).explained_variance_ratio,
                               covariance_spectrum(near).explained_variance_ratio, rtol=1e-4, atol=1e-8)
    assert isotropy(far).iso_score == pytest.approx(isotropy(near).iso_score, rel=1e-4)


# --------------------------------------------------------------------------
# 4. label codes are names, not sizes: bounded memory (children under RLIMIT_AS)


def _case_nc_huge_codes(n: int, d: int, seed: int):
    """neural_collapse with label codes {0, 1e9} (C = 2 classes)."""
    from analysis.metrics import neural_collapse

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = np.where(np.arange(n) % 2 == 0, 0, 10**9)
    X[y > 0] += 3.0
    result = neural_collapse(X, y)
    return result.n_classes, result.class_labels.tolist(), result.nc1


def _case_knn_accuracy_many_labels(n: int, k: int, seed: int):
    """knn_accuracy with n distinct labels (one per item)."""
    from analysis.metrics.hubness import knn_accuracy

    rng = np.random.default_rng(seed)
    indices = rng.integers(0, n, size=(n, k))
    return knn_accuracy(indices, np.arange(n))


def _case_report_one_label_per_point(n: int, d: int, seed: int):
    """diagnose() with a label per row: the class findings are skipped with a reason."""
    from analysis.report import diagnose

    X = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    report = diagnose(X, labels=np.arange(n), k=5)
    finding = report.finding("nc1")
    return None if finding is None else (finding.verdict, finding.reason)


def _case_nc_many_classes(n_classes: int, d: int, seed: int):
    """neural_collapse with more classes than the budget allows for its C x C matrices."""
    from analysis.metrics import neural_collapse

    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), 2)
    X = rng.standard_normal((y.size, d)).astype(np.float32)
    return neural_collapse(X, y).n_classes


def _case_codebook_many_labels(n: int, K: int, seed: int):
    """codebook_usage with K codes and n distinct labels (mutual information, purity)."""
    from analysis.metrics import codebook_usage

    rng = np.random.default_rng(seed)
    codes = rng.integers(0, K, size=n)
    usage = codebook_usage(codes, codebook_size=K, labels=np.arange(n))
    return usage.mutual_information, usage.purity


MiB = 2**20


def _bounded(name: str, *args, allowance=1024 * MiB):
    from tests.bounded import run_bounded

    return run_bounded(f"tests.unit.test_extreme_scales:{name}", *args, allowance_bytes=allowance,
                       preload=("numpy", "scipy", "analysis.report"))


def test_neural_collapse_label_codes_0_and_1e9_are_two_classes():
    # Before: np.bincount(minlength=1e9 + 1), a 7.45 GiB MemoryError.
    result = _bounded("_case_nc_huge_codes", 2000, 64, 0)
    assert result.error_type is None, result.message
    assert result.message.startswith("(2, [0, 1000000000], ")
    assert result.peak_rss_growth < 128 * MiB


def test_knn_accuracy_with_20000_distinct_labels_is_bounded():
    # Before: a (queries x classes) int64 table, 2.98 GiB twice (7.3 GB in the issue).
    result = _bounded("_case_knn_accuracy_many_labels", 20_000, 10, 0)
    assert result.error_type is None, result.message
    assert result.peak_rss_growth < 128 * MiB


def test_neural_collapse_refuses_more_classes_than_the_budget_before_allocating():
    result = _bounded("_case_nc_many_classes", 10_000, 16, 0)
    assert result.error_type == "ValueError"
    assert "10,000 classes" in result.message and "REPLENS_MEMORY_BUDGET" in result.message
    assert result.peak_rss_growth < 64 * MiB


def test_codebook_mutual_information_with_many_labels_is_bounded():
    # Before: a dense K x L joint table, 9.77 GiB for K = 65,536 codes and 20,000 labels.
    result = _bounded("_case_codebook_many_labels", 20_000, 65_536, 0)
    assert result.error_type is None, result.message
    assert result.peak_rss_growth < 128 * MiB


def test_report_skips_class_findings_when_every_row_has_its_own_label():
    # Before: NC over 2,500 singleton classes, 52 s, ~500 MiB, and the verdict "Collapsed: NC1 = 0"
    # (at n = 20,000 a 2.98 GiB MemoryError).
    result = _bounded("_case_report_one_label_per_point", 2500, 8, 0)
    assert result.error_type is None, result.message
    assert "'info', 'Not computed: every one of the 2,500 rows has its own label" in result.message
    assert result.peak_rss_growth < 256 * MiB


def test_codebook_usage_refuses_a_declared_size_over_the_budget():
    from analysis.metrics import codebook_usage

    with pytest.raises(ValueError, match="codebook_size=1,000,000,000,000 needs"):
        codebook_usage(np.array([0, 1, 2]), codebook_size=10**12)


def test_knn_accuracy_matches_the_dense_vote_table():
    # The bounded vote counting gives the same winner as counting per class,
    # including ties (the tied class whose first vote is nearest wins).
    from analysis.metrics.hubness import knn_accuracy

    rng = np.random.default_rng(14)
    for _ in range(20):
        n, k, n_labels = 60, int(rng.integers(1, 8)), int(rng.integers(2, 6))
        indices = rng.integers(0, n, size=(n, k))
        labels = rng.integers(0, n_labels, size=n) * 7  # codes with gaps
        votes = labels[indices]
        expected = []
        for row in votes:
            values, counts = np.unique(row, return_counts=True)
            tied = set(values[counts == counts.max()])
            expected.append(next(v for v in row if v in tied))
        assert knn_accuracy(indices, labels) == pytest.approx(np.mean(np.array(expected) == labels))


def test_neural_collapse_of_classes_with_the_same_rows_is_undefined_not_1e32():
    # Three classes holding the same five rows in different orders: their means are equal in
    # exact arithmetic, differ in the last bit in float64. Before, one of these 200 draws
    # returned NC1 = 1.7e32 (a ratio of rounding noise); every one must raise.
    from analysis.metrics import neural_collapse

    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 5)
    for _ in range(200):
        V = rng.standard_normal((5, 4)) * rng.uniform(0.1, 10) + rng.uniform(-100, 100)
        X = np.vstack([V, V[::-1], V[rng.permutation(5)]])
        with pytest.raises(ValueError, match="class means coincide up to float64 rounding"):
            neural_collapse(X, y)


def test_neural_collapse_two_means_equal_up_to_rounding_raise_for_the_cdnv():
    from analysis.metrics import neural_collapse

    V = np.random.default_rng(15).standard_normal((4, 3)) + 50.0
    # classes 0 and 1 hold the same rows (in another order); class 2 is far away
    X = np.vstack([V, V[[2, 0, 3, 1]], V + 10.0])
    with pytest.raises(ValueError, match=r"two classes have identical means \(classes 0 and 1"):
        neural_collapse(X, np.repeat([0, 1, 2], 4))


def test_neural_collapse_all_zero_classifier_is_refused():
    from analysis.metrics import neural_collapse

    X = np.array([[1.0, 0.0], [1.1, 0.0], [0.0, 1.0], [0.0, 1.1]])
    with pytest.raises(ValueError, match="classifier is all zero"):
        neural_collapse(X, np.array([0, 0, 1, 1]), classifier=np.zeros((2, 2)))


@pytest.mark.parametrize("c", [1e-200, 1e-30, 1e20, 1e160, 1e300])
def test_neural_collapse_is_scale_free_at_any_magnitude(c):
    # Before: 1e-200, 1e160 and 1e300 raised "all class means coincide" (the Gram matrices
    # of the means underflowed or overflowed float64).
    from analysis.metrics import neural_collapse

    rng = np.random.default_rng(16)
    y = np.arange(60) % 4
    X = rng.standard_normal((60, 6)) + 3.0 * np.eye(4, 6)[y]
    W = rng.standard_normal((4, 6))
    ref = neural_collapse(X, y, classifier=W)
    if c * c * 36 > np.finfo(np.float64).max:  # the class variances leave float64: refused, never Inf
        with pytest.raises(ValueError, match="Rescale the features"):
            neural_collapse(X * c, y, classifier=W)
        return
    got = neural_collapse(X * c, y, classifier=W)
    for name in ("nc1", "nc1_trace_quotient", "cdnv", "nc2_equinorm", "nc2_equiangular", "etf_distance",
                 "orthogonal_frame_distance", "nc3", "nc4", "ncc_accuracy"):
        assert getattr(got, name) == pytest.approx(getattr(ref, name), rel=1e-9, abs=1e-12), name
    np.testing.assert_allclose(got.nc1_class_share, ref.nc1_class_share, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.class_means / c, ref.class_means, rtol=1e-12)


def test_knn_agreement_beyond_float32():
    from analysis.metrics import knn_agreement

    X = _cloud(n=80, d=6, seed=17).astype(np.float64)
    Y = X + 0.2 * _cloud(n=80, d=6, seed=18)
    ref = knn_agreement(X, Y, k=4).mean_jaccard
    assert knn_agreement(X * 1e160, Y * 1e-200, k=4).mean_jaccard == ref


def test_cka_of_rows_equal_up_to_rounding_is_undefined():
    # Rows at ~100 that differ in the last bit only: before, linear CKA read 0.0011 (and
    # debiased -0.059), ratios of the column mean's rounding error.
    from analysis.metrics import cka_matrix, linear_cka

    rng = np.random.default_rng(0)
    X = np.tile(rng.standard_normal(5) * 7 + 100, (40, 1))
    X[::3] = np.nextafter(X[::3], np.inf)
    Y = rng.standard_normal((40, 5))
    for call in (lambda: linear_cka(X, Y), lambda: linear_cka(X, Y, debiased=True), lambda: cka_matrix([Y, X])):
        with pytest.raises(ValueError, match="constant up to float64 rounding"):
            call()
    # A small but real spread far from the origin is kept: CKA is translation and scale invariant.
    assert linear_cka(Y * 1e-5 + 1e3, Y) == pytest.approx(1.0, abs=1e-9)


def _case_report_huge_codes(n: int, d: int, seed: int):
    """diagnose() with label codes {0, 1e9}: two classes."""
    from analysis.report import diagnose

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = np.where(np.arange(n) % 2 == 0, 0, 10**9)
    X[y > 0, 0] += 4.0
    report = diagnose(X, labels=y, k=5)
    return report.n_classes, report.metrics.get("neural_collapse", {}).get("n_classes")


def test_report_label_codes_0_and_1e9_are_two_classes_in_bounded_memory():
    result = _bounded("_case_report_huge_codes", 300, 8, 0)
    assert result.error_type is None, result.message
    assert result.message == "(2, 2)"
    assert result.peak_rss_growth < 128 * MiB


def _report_summary(X, **kwargs):
    from analysis.report import diagnose

    report = diagnose(X, k=5, **kwargs)
    return {f.key: (f.verdict, None if f.value is None else round(f.value, 5)) for f in report.findings}


@pytest.mark.parametrize("c", [1e-30, 1e20])
def test_report_findings_do_not_change_with_a_global_scale(c):
    # Before: at 1e20 hubness and TwoNN failed (index -1), uniformity read -4 ("good").
    rng = np.random.default_rng(19)
    y = np.arange(300) % 3
    X = rng.standard_normal((300, 8))
    X[:, :3] += 2.0 * np.eye(3)[y]
    ref = _report_summary(X.astype(np.float32), labels=y)
    got = _report_summary((X * c).astype(np.float32), labels=y)
    assert got == ref


def test_report_refuses_values_beyond_float32_with_the_fix():
    from analysis.report import diagnose

    X = _cloud(n=50, d=4, seed=20).astype(np.float64) * 1e160
    with pytest.raises(ValueError, match=r"beyond float32's range .* Rescale it first"):
        diagnose(X, k=5)


# --------------------------------------------------------------------------
# 5. bad options and declared sizes: ValueError naming the problem, never nan, inf or MemoryError


def test_uniform_sphere_reference_at_huge_t_uses_the_asymptote():
    from analysis.metrics.sphere import uniform_sphere_uniformity

    # d = 3 closed form: log(sinh(2t) / (2t)) - 2t -> -log 2 - log(2t) for large t. Before: nan.
    for t in (1e3, 1e300):
        assert uniform_sphere_uniformity(3, t=t) == pytest.approx(-np.log(2.0) - np.log(2.0 * t), rel=1e-12)
    with pytest.raises(ValueError, match="t must be positive and finite"):
        uniform_sphere_uniformity(3, t=float("inf"))


def test_infinite_options_are_refused():
    from analysis.metrics import alignment, uniformity
    from analysis.metrics.isotropy import iso_score

    X = _cloud(n=20, d=3, seed=21)
    with pytest.raises(ValueError, match="t must be positive and finite"):
        uniformity(X, t=float("inf"))  # before: value nan
    with pytest.raises(ValueError, match="alpha must be positive and finite"):
        alignment(X, X[::-1], alpha=float("inf"))  # before: inf
    with pytest.raises(ValueError, match="variances must be finite and non-negative"):
        iso_score(np.array([np.inf, 1.0]))  # before: nan
    with pytest.raises(ValueError, match="variances must be finite and non-negative"):
        iso_score(np.array([-1.0, 1.0]))
    assert iso_score(np.array([1e300, 1e300, 1e300])) == pytest.approx(1.0)  # before: overflow, nan


def _case_binning_huge_n_bins(n_bins: int):
    from analysis.metrics import information_plane_point

    rng = np.random.default_rng(22)
    return information_plane_point(rng.standard_normal((40, 3)), np.arange(40) % 2, n_bins=n_bins).i_xt


def _case_iid_skewness_huge(n_samples: int):
    from analysis.metrics.hubness import iid_gaussian_skewness

    return iid_gaussian_skewness([5], n_samples=n_samples)


def test_declared_sizes_do_not_allocate():
    # Before: n_bins = 1e12 asked for a 7.28 TiB edge array, n_samples = 1e12 for 36 TiB (MemoryError).
    binned = _bounded("_case_binning_huge_n_bins", 10**12)
    assert binned.error_type is None, binned.message
    assert float(binned.message) == pytest.approx(np.log2(40))  # every row alone in its bin: H(T) = log2 n
    assert binned.peak_rss_growth < 64 * MiB
    drawn = _bounded("_case_iid_skewness_huge", 10**12)
    assert drawn.error_type == "ValueError" and "REPLENS_MEMORY_BUDGET" in drawn.message
    assert drawn.peak_rss_growth < 64 * MiB


def test_bin_width_too_small_for_the_range_is_refused():
    from analysis.metrics import information_plane_point

    X = _cloud(n=20, d=2, seed=23).astype(np.float64) * 1e10
    with pytest.raises(ValueError, match="bin indices would overflow int64"):
        information_plane_point(X, np.arange(20) % 2, bin_width=1e-300)


def _case_kde_one_label_per_row(n: int, seed: int):
    from analysis.metrics import information_plane_point

    T = np.random.default_rng(seed).standard_normal((n, 4))
    point = information_plane_point(T, np.arange(n), estimator="kde")
    return point.i_xt, point.i_ty


def test_kde_information_with_one_label_per_row_is_bounded_and_equals_the_one_hot_path(monkeypatch):
    import analysis.metrics.information as information

    # Before: an (n, C) float32 one-hot table, 1.6 GB at n = C = 20,000.
    result = _bounded("_case_kde_one_label_per_row", 6000, 0)
    assert result.error_type is None, result.message
    # one-hot path: 213 MiB (a 137 MiB table), mask path: 107 MiB
    assert result.peak_rss_growth < 160 * MiB
    # The mask path gives the one-hot path's numbers.
    T = _cloud(n=300, d=3, seed=24).astype(np.float64)
    y = np.arange(300) % 7
    ref = information.information_plane_point(T, y, estimator="kde")
    monkeypatch.setattr(information, "_ONE_HOT_MAX_BYTES", 0)
    got = information.information_plane_point(T, y, estimator="kde")
    assert (got.i_xt, got.i_ty) == pytest.approx((ref.i_xt, ref.i_ty), rel=1e-6)


def _case_compare_one_label_per_row(n: int, d: int, seed: int):
    """comparison.compare with a label per row: stitching has no classes to learn."""
    from analysis.comparison import compare

    X = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    result = compare(X, X * 2, labels=np.arange(n), k=5)
    return result.metrics["stitching"], result.metrics["knn_jaccard"]


def test_compare_skips_stitching_when_every_row_has_its_own_label():
    # Before: logistic-regression probes over 2,250 classes (9.5 s, 177 MiB at n = 3,000) that
    # reported accuracies of 0 by construction.
    from analysis.comparison import compare

    X = _cloud(n=400, d=6, seed=25)
    result = compare(X, X * 2, labels=np.arange(400), k=5)
    assert result.metrics["stitching"] is None
    assert "400 classes for 400 rows" in result.metrics["stitching_note"]
    assert result.metrics["knn_jaccard"] == 1.0


def _case_class_mean_frames_huge_codes(n: int, seed: int):
    """class_mean_frames (codes must be 0..C-1 there: they colour the frames) with codes {0, 1e9}."""
    from analysis.class_mean_frames import class_mean_frames

    X = np.random.default_rng(seed).standard_normal((n, 4))
    return class_mean_frames([X], np.where(np.arange(n) % 2 == 0, 0, 10**9))


def test_class_mean_frames_refuses_sparse_codes_without_allocating():
    # Before: np.bincount(minlength=1e9 + 1) (7.45 GiB) in check_class_labels.
    result = _bounded("_case_class_mean_frames_huge_codes", 100, 0)
    assert result.error_type == "ValueError"
    assert "has no samples (codes run 0..1000000000 but only 2 distinct codes occur)" in result.message
    assert result.peak_rss_growth < 32 * MiB


def test_neural_collapse_predictions_follow_the_re_encoded_labels():
    # Labels {0, 5}: NC4 compares the nearest class mean with predictions in the same code space.
    from analysis.metrics import neural_collapse

    X = np.array([[0.0, 0.0], [0.2, 0.0], [5.0, 0.0], [5.2, 0.0]])
    y = np.array([0, 0, 5, 5])
    assert neural_collapse(X, y, predictions=y).nc4 == 0.0
    assert neural_collapse(X, y, predictions=np.array([0, 5, 5, 5])).nc4 == 0.25
    with pytest.raises(ValueError, match=r"among the 2 label codes that occur \(0, 5\); got 3"):
        neural_collapse(X, y, predictions=np.array([0, 3, 5, 5]))


@pytest.mark.parametrize("method,power", [("mutual_proximity", 0), ("local_scaling", 0), ("csls", 1),
                                          ("dis_sim_local", 2)])
def test_reduce_hubness_of_tiny_values_keeps_ranks_and_units(method, power):
    # Below ~1e-38 the float32 candidate distances flushed to zero and tied every
    # candidate (skewness 1.00 instead of -0.13 for mutual proximity at 2^-200).
    from analysis.metrics import reduce_hubness

    X = _cloud(n=60, d=5, seed=21).astype(np.float64)
    ref = reduce_hubness(X, method=method, k=5)
    got = reduce_hubness(np.ldexp(X, -200), method=method, k=5)
    np.testing.assert_array_equal(got.indices, ref.indices)
    np.testing.assert_allclose(got.secondary_distances, np.ldexp(ref.secondary_distances, -200 * power),
                               rtol=1e-12)
    assert got.hubness.skewness == ref.hubness.skewness
