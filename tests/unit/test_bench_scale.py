"""The scale benchmark's table logic (tests/bench/bench_scale.py): rows, ratios, targets, memory readings.

No timing is asserted: only that the table is built from what was measured,
that RepLens and its plain competitors compute the same numbers, and that the
targets read the right rows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bench import bench_scale, scale_cases
from tests.bench.scale_support import lowid, run_isolated, timed, write_dataset

TINY_STEPS = ("load", "kNN exact", "kNN approximate", "hubness (graph)", "neural collapse", "uniformity",
              "effective rank", "PCA projection", "full report")


def _m(seconds: float, peak: float, extra: float = 0.1, **more) -> dict:
    return {"seconds": seconds, "peak_gib": peak, "extra_gib": extra, "base_gib": peak - extra,
            "detail": "measured"} | more


def test_build_row_ratios_come_from_the_measured_values():
    row = bench_scale.build_row("kNN exact", 10_000, 256, "sklearn", _m(2.0, 1.0), _m(6.0, 2.5, estimated=True))
    assert row["speedup"] == pytest.approx(3.0)
    assert row["memory_ratio"] == pytest.approx(2.5)
    assert row["size"] == "10,000 x 256" and row["plain_estimated"] and not row["replens_estimated"]
    slower = bench_scale.build_row("PCA projection", 10, 4, "sklearn", _m(4.0, 1.0), _m(1.0, 1.0))
    assert slower["speedup"] == pytest.approx(0.25)
    assert "(competitor faster)" in bench_scale.format_table([slower])
    alone = bench_scale.build_row("full report", 10, 4, "—", _m(4.0, 1.0, recall=0.97), None)
    assert alone["speedup"] is None and alone["memory_ratio"] is None and alone["recall"] == 0.97
    failed = bench_scale.build_row("load", 10, 4, "np.load", {"error": "boom"}, _m(1.0, 1.0))
    assert failed["speedup"] is None and failed["replens_detail"] == "failed: boom"
    skipped = bench_scale.build_row("UMAP projection", 10, 4, "umap", {"skipped": "no 10^5 row"}, None)
    assert skipped["replens_s"] is None and skipped["replens_detail"] == "not run: no 10^5 row"


def _target_rows(report_s: float, peak: float, reference_s: float, recall: float, *, estimated: bool = False):
    n, d = 1_000_000, 256
    return [bench_scale.build_row("full report", n, d, "—", _m(report_s, peak, estimated=estimated), None),
            bench_scale.build_row(bench_scale.REFERENCE, n, d, "—", _m(reference_s, 2.0), None),
            bench_scale.build_row("kNN approximate", n, d, "sklearn", _m(50.0, 3.0, recall=recall), None)]


def test_targets_pass_and_fail_on_the_issue_thresholds():
    ok = bench_scale.targets(_target_rows(200.0, 5.0, 100.0, 0.96))
    assert [c["ok"] for c in ok] == [True, True, True, True]
    assert ok[2]["value"] == pytest.approx(2.0)  # report / faiss reference
    bad = bench_scale.targets(_target_rows(400.0, 9.0, 100.0, 0.90))
    assert [c["ok"] for c in bad] == [False, False, False, False]
    # An extrapolated report is never judged, nor anything in quick mode.
    assert bench_scale.targets(_target_rows(200.0, 5.0, 100.0, 0.96, estimated=True))[0]["ok"] is None
    assert all(c["ok"] is None for c in bench_scale.targets(_target_rows(1.0, 1.0, 1.0, 1.0), judged=False))
    assert "FAIL" in bench_scale.format_targets(bad) and "PASS" in bench_scale.format_targets(ok)


def test_tiny_run_builds_every_row_and_both_sides_agree():
    sizes = ((400, 256, TINY_STEPS),)
    rows = bench_scale.run(sizes=sizes, isolate=False)
    steps = [r["step"] for r in rows]
    assert steps == list(TINY_STEPS) + [bench_scale.REFERENCE]
    by_step = {r["step"]: r for r in rows}
    for r in rows:
        assert "failed" not in r["replens_detail"] + r["plain_detail"], r
        assert r["replens_s"] > 0 and r["replens_peak_gib"] > 0 and r["replens_extra_gib"] >= 0
        if r["competitor"] != "—":
            assert r["speedup"] == pytest.approx(r["plain_s"] / r["replens_s"])
            assert r["memory_ratio"] == pytest.approx(r["plain_peak_gib"] / r["replens_peak_gib"])
    # The approximate row reuses the exact row's sklearn run rather than running it twice.
    assert by_step["kNN approximate"]["plain_s"] == by_step["kNN exact"]["plain_s"]
    assert 0.0 <= by_step["kNN approximate"]["recall"] <= 1.0
    # Same numbers on both sides: the competitor formulas compute what RepLens computes.
    assert by_step["hubness (graph)"]["replens_value"] == pytest.approx(by_step["hubness (graph)"]["plain_value"])
    # float32 unit rows in the competitor: agreement to ~1e-8, not to float64 rounding.
    for step, rel in (("neural collapse", 1e-6), ("uniformity", 1e-6), ("effective rank", 1e-4)):
        assert by_step[step]["replens_value"] == pytest.approx(by_step[step]["plain_value"], rel=rel), step
    text = bench_scale.format_table(rows)
    assert text.count("\n") == len(rows) + 1 and "400 x 256" in text


def test_numpy_competitors_on_hand_checkable_data():
    # Two classes at +-1 on one axis, no spread: NC1 = 0. Four unit axes: uniformity over 6 pairs, all at ||.||^2 = 2.
    X = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    assert scale_cases.numpy_nc1(X, np.array([0, 0, 1, 1])) == pytest.approx(0.0, abs=1e-12)
    U = np.eye(4)
    assert scale_cases.numpy_uniformity(U, None) == pytest.approx(-4.0)
    assert scale_cases.numpy_uniformity(U, 1000) == pytest.approx(-4.0)  # sampled pairs i != j: all the same
    # Singular values (2, 2) after centring: effective rank exactly 2.
    assert scale_cases.numpy_erank(np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])) == pytest.approx(2.0)


def test_timed_reads_the_memory_a_step_adds():
    _, small = timed(lambda: None)
    _, big = timed(lambda: float(np.ones(40_000_000).sum()))  # 320 MB of float64, touched
    assert small["extra_gib"] < 0.05
    assert 0.28 < big["extra_gib"] < 0.6
    assert big["peak_gib"] >= big["base_gib"] + big["extra_gib"] - 1e-9


def test_lowid_data_and_a_spawned_measurement(tmp_path):
    X, labels = lowid(500, 32, classes=4, latent=3)
    assert X.shape == (500, 32) and X.dtype == np.float32 and set(np.unique(labels)) <= {0, 1, 2, 3}
    again, _ = lowid(500, 32, classes=4, latent=3)
    assert np.array_equal(X, again)
    # Each class lies near a 3-dimensional affine subspace: its 4th singular value is noise-sized.
    centred = X[labels == 0] - X[labels == 0].mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    assert s[3] < 0.2 * s[2]
    job = write_dataset(tmp_path, 300, 16)
    out = run_isolated(scale_cases.plain_load, job)  # a fresh spawned process
    assert out["seconds"] > 0 and out["peak_gib"] > 0 and not math.isnan(out["extra_gib"])
    missing = run_isolated(scale_cases.plain_load, job | {"x": str(tmp_path / "nope.npy")}, isolate=False)
    assert missing["error"].startswith("FileNotFoundError")


def test_extrapolated_rows_scale_the_smaller_measurement():
    (umap_spec,) = bench_scale.specs_for(1_000_000, 256, ("UMAP projection",), largest_256=False, quick=False)
    earlier = {("UMAP projection", 100_000, 256, "replens"): _m(30.0, 1.5)}
    out = bench_scale._measure(umap_spec.replens, umap_spec, {}, earlier, None, isolate=False)
    assert out["seconds"] == pytest.approx(300.0) and out["estimated"] and out["peak_gib"] == 1.5
    assert "x 10" in out["detail"]
    assert "skipped" in bench_scale._measure(umap_spec.replens, umap_spec, {}, {}, None, isolate=False)
    (knn_spec,) = bench_scale.specs_for(1_000_000, 256, ("kNN exact",), largest_256=False, quick=False)
    earlier = {("kNN exact", 100_000, 256, "replens"): _m(20.0, 1.0)}
    out = bench_scale._measure(knn_spec.replens, knn_spec, {}, earlier, None, isolate=False)
    assert out["seconds"] == pytest.approx(2_000.0)  # exact search is quadratic in n: x 100
    assert knn_spec.plain.extra == {"queries": 10_000}  # the competitor: sampled queries, linear


def test_steps_option_measures_only_the_named_steps(monkeypatch) -> None:
    seen = {}
    monkeypatch.setattr(bench_scale, "report", lambda **kwargs: seen.update(kwargs))
    bench_scale.main(["--sizes", "1e6x256", "--steps", "kNN approximate,full report"])
    assert seen["sizes"] == ((1_000_000, 256, ("kNN approximate", "full report")),)
    with pytest.raises(SystemExit):
        bench_scale.main(["--steps", "full reprt"])
