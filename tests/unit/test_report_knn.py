"""Issue 17: the report says how its neighbours were found (exact, or approximate with measured recall)."""

from __future__ import annotations

import json

import numpy as np

from analysis.cli import main
from analysis.neighbors import approximate
from analysis.report import diagnose


def _clusters(n: int = 3000, d: int = 16, c: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(c, size=n)
    X = (rng.normal(scale=5.0, size=(c, d))[y] + rng.normal(size=(n, d))).astype(np.float32)
    return X, y


def test_the_report_records_an_exact_search_by_default() -> None:
    X, y = _clusters(n=400)
    report = diagnose(X, labels=y)
    assert report.metrics["settings"]["knn"] == {"method": "exact", "exact": True, "recall": None,
                                                 "n_queries_checked": 0}
    assert "approximate" not in next(f for f in report.findings if f.key == "hubness").reason


def test_an_approximate_report_carries_its_recall_and_stays_close_to_exact() -> None:
    X, y = _clusters()
    exact = diagnose(X, labels=y)
    approx = diagnose(X, labels=y, exact=False)
    knn = approx.metrics["settings"]["knn"]
    assert knn["method"] == approximate.METHOD and knn["exact"] is False
    assert 0.95 <= knn["recall"] <= 1.0 and knn["n_queries_checked"] == 1000
    finding = next(f for f in approx.findings if f.key == "hubness")
    assert "approximate kNN" in finding.reason and "recall" in finding.reason
    twonn = next(f for f in approx.findings if f.key == "intrinsic_dimension")
    assert "approximate kNN" in twonn.reason  # every kNN-based finding says how its neighbours were found
    assert abs(approx.metrics["hubness"]["skewness"] - exact.metrics["hubness"]["skewness"]) < 0.2
    json.loads(approx.to_json())  # the settings serialise


def test_cli_exact_flag_forces_the_exact_search(tmp_path, capsys) -> None:
    X, _ = _clusters(n=300)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "r.json"
    assert main(["report", str(tmp_path / "x.npy"), "--exact", "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["metrics"]["settings"]["knn"]["exact"] is True


def test_above_the_cap_the_baseline_searches_a_bounded_subsample(monkeypatch) -> None:
    """Issue 17: the Gaussian baseline never repeats the user's full-size search; the report and the
    Hubness page say it is a lower bound (the cap is lowered so 500 rows stand in for a million)."""
    from analysis.panels.hubness import baseline_graph, hubness_graph, hubness_panel
    from analysis.report import baseline

    monkeypatch.setattr(baseline, "BASELINE_KNN_ROWS", 300)
    baseline._BASELINE_CACHE.clear()
    X, y = _clusters(n=500)
    report = diagnose(X, labels=y)
    assert report.metrics["settings"]["baseline"] == {
        "n": 500, "knn_rows": 300, "knn_method": "first 300 rows of the Gaussian sample (lower bound)"}
    finding = next(f for f in report.findings if f.key == "hubness")
    assert "lower bound" in finding.baseline_note and "300" in finding.baseline_note
    # The page's verdict and baseline are the report's, from the same 300 rows.
    graph = hubness_graph(X, metric="euclidean", k_max=50)
    panel = hubness_panel(X, k=10, metric="euclidean", graph=graph,
                          baseline=baseline_graph(500, X.shape[1], metric="euclidean", k_max=50))
    assert panel.baseline_rows == 300
    assert panel.baseline_skewness == report.metrics["hubness_gaussian"]["skewness"]
    assert panel.verdict.level == finding.verdict
    baseline._BASELINE_CACHE.clear()
