"""Issue 17: the report says how its neighbours were found (exact, or approximate with measured recall)."""

from __future__ import annotations

import json

import numpy as np

from analysis.cli import main
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
    assert knn["method"] == "ivf_flat" and knn["exact"] is False
    assert 0.95 <= knn["recall"] <= 1.0 and knn["n_queries_checked"] == 1000
    finding = next(f for f in approx.findings if f.key == "hubness")
    assert "approximate kNN" in finding.reason and "recall" in finding.reason
    assert abs(approx.metrics["hubness"]["skewness"] - exact.metrics["hubness"]["skewness"]) < 0.2
    json.loads(approx.to_json())  # the settings serialise


def test_cli_exact_flag_forces_the_exact_search(tmp_path, capsys) -> None:
    X, _ = _clusters(n=300)
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "r.json"
    assert main(["report", str(tmp_path / "x.npy"), "--exact", "--json", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["metrics"]["settings"]["knn"]["exact"] is True
