"""`analysis.report.diagnose`: verdicts on data whose answer is known, JSON and HTML export."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from analysis import report as report_module
from analysis.data import Embedding
from analysis.metrics import intrinsic_dimension
from analysis.report import PAGES, VERDICTS, Finding, Report, diagnose

MALICIOUS = "<script>alert(1)</script>"


def _gaussian(n: int, d: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)


def _verdict(report: Report, key: str) -> str:
    finding = report.finding(key)
    assert finding is not None, f"no finding {key!r} in {[f.key for f in report.findings]}"
    return finding.verdict


@pytest.fixture(scope="module")
def labelled() -> Report:
    """A labelled Gaussian mixture with VQ codes: every family of findings present."""
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(4), 100)
    X = 2.0 * rng.standard_normal((4, 24))[y] + rng.standard_normal((400, 24))
    names = np.array(["cat", "dog", MALICIOUS, "fish"])[y]
    return diagnose(X.astype(np.float32), labels=names, codes=rng.integers(0, 50, 400), codebook_size=64,
                    source=MALICIOUS, seed=3)


# ----------------------------------------------------------------- verdicts on known data


def test_collapsed_classes_are_reported_as_collapsed() -> None:
    """(a) Each class at its mean plus tiny noise: NC1 tiny, "collapsed", and the low rank is expected."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 100)
    X = 3.0 * rng.standard_normal((4, 32))[y] + 1e-4 * rng.standard_normal((400, 32))
    report = diagnose(X, labels=y)
    nc1 = report.finding("nc1")
    assert nc1.value < 1e-6 and nc1.baseline > 100  # shuffled labels: no structure
    assert nc1.verdict == "info" and "Collapsed" in nc1.reason
    assert report.finding("ncc_accuracy").value == 1.0 and _verdict(report, "ncc_accuracy") == "good"
    # Four points span three directions: low effective rank, but explained by the collapse.
    erank = report.finding("effective_rank")
    assert erank.value == pytest.approx(3.0, abs=0.1)
    assert erank.verdict == "info" and "collapsed" in erank.reason
    assert _verdict(report, "uniformity") in ("info", "good")


def test_hub_heavy_data_gets_a_hubness_warning() -> None:
    """(b) A few points at the centre of a high-dimensional cloud are everyone's neighbour."""
    X = _gaussian(500, 32, seed=0)
    X[:5] *= 0.01
    report = diagnose(X)
    hub = report.finding("hubness")
    assert hub.verdict == "warning"
    assert hub.value > 2 * hub.baseline and hub.value > 5  # checked: about 9.5 against 1.9
    assert "Strong hubness" in hub.reason and f"{hub.baseline:.2f}" in hub.reason
    assert report.metrics["hubness"]["n_hubs"] >= 5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isotropic_gaussian_raises_no_warning(seed: int) -> None:
    """(c) i.i.d. Gaussian data: hubness no worse than its own baseline, full rank, uniform directions."""
    X = _gaussian(500, 16, seed=seed)
    report = diagnose(X, seed=10 + seed)
    flagged = [(f.key, f.verdict) for f in report.findings if f.verdict in ("warning", "problem")]
    assert flagged == []
    assert _verdict(report, "hubness") in ("good", "info")
    erank = report.finding("effective_rank")
    assert erank.value > 0.9 * 16 and erank.verdict == "good"
    uni = report.finding("uniformity")
    assert uni.value == pytest.approx(uni.baseline, abs=0.05) and uni.verdict == "good"
    assert abs(report.finding("isotropy").value) < 0.05


def test_low_rank_data_is_dimensional_collapse() -> None:
    """(d) Rank 3 in d = 64: effective rank about 3, a warning; TwoNN about 3 too."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3)) @ rng.standard_normal((3, 64))
    report = diagnose(X)
    erank = report.finding("effective_rank")
    assert erank.verdict == "warning" and erank.value < 3.05
    assert "dimensional collapse" in erank.reason
    assert report.finding("spectrum").value == 3
    assert report.finding("intrinsic_dimension").value == pytest.approx(3, abs=0.6)


def test_many_dead_codes_are_a_codebook_problem() -> None:
    """(e) 400 codes drawn from only 20 of K = 256 codes: 92% dead, a problem; perplexity a warning."""
    rng = np.random.default_rng(0)
    report = diagnose(_gaussian(400, 8, 0), codes=rng.integers(0, 20, 400), codebook_size=256)
    dead = report.finding("codebook_dead")
    assert dead.verdict == "problem" and dead.value == pytest.approx(236 / 256)
    assert dead.baseline < 0.3  # uniformly random codes: (1 - 1/256)^400 ~ 21% dead
    assert _verdict(report, "codebook_perplexity") == "warning"
    assert report.metrics["codebook"]["n_dead"] == 236


def test_a_healthy_codebook_is_good() -> None:
    rng = np.random.default_rng(0)
    report = diagnose(_gaussian(400, 8, 0), codes=rng.integers(0, 16, 2000))
    assert _verdict(report, "codebook_dead") == "good" and _verdict(report, "codebook_perplexity") == "good"
    assert "K assumed" in report.finding("codebook_dead").reason


def test_labels_without_structure_get_warnings() -> None:
    X = _gaussian(400, 16, 0)
    report = diagnose(X, labels=np.random.default_rng(1).integers(0, 4, 400))
    assert _verdict(report, "nc1") == "warning"
    assert _verdict(report, "ncc_accuracy") == "warning"


def test_duplicates_and_zero_rows_are_flagged_and_handled() -> None:
    X = _gaussian(300, 16, 0)
    X[200:] = X[:100]  # a third of the rows repeat
    X[150] = 0.0
    report = diagnose(X)
    assert _verdict(report, "duplicates") == "warning"
    assert report.finding("duplicates").value == pytest.approx(100 / 300)
    assert _verdict(report, "zero_rows") == "warning"
    # uniformity and isotropy still run, without the zero row; TwoNN falls back to the metric.
    assert "1 all-zero row was left out" in report.finding("uniformity").reason
    assert report.finding("isotropy").value is not None
    expected = intrinsic_dimension(X).dimension
    assert report.finding("intrinsic_dimension").value == pytest.approx(expected, rel=1e-9)
    X[:] = X[0]
    X[0] += 1.0
    assert _verdict(diagnose(X, k=3), "duplicates") == "problem"


def test_twonn_from_the_shared_search_equals_the_metric() -> None:
    X = _gaussian(400, 10, 5)
    report = diagnose(X)
    assert report.finding("intrinsic_dimension").value == pytest.approx(intrinsic_dimension(X).dimension, rel=1e-9)


def test_cosine_metric() -> None:
    X = _gaussian(300, 12, 0) + 3.0  # a common offset: a cone
    report = diagnose(X, metric="cosine")
    assert report.metrics["hubness"]["metric"] == "cosine"
    assert report.finding("intrinsic_dimension").value > 1
    assert _verdict(report, "isotropy") in ("warning", "problem")


def test_norm_spread_warns_for_lognormal_scales() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 16)) * np.exp(1.2 * rng.standard_normal((400, 1)))
    assert _verdict(diagnose(X), "norm_spread") == "warning"


def test_one_dominant_direction_is_a_spectrum_warning() -> None:
    X = _gaussian(400, 64, 0)
    X[:, 0] *= 20.0
    spectrum = diagnose(X).finding("spectrum")
    assert spectrum.verdict == "warning" and "rogue" in spectrum.reason
    # in d = 2 one of two directions holding 57% is not a warning
    assert _verdict(diagnose(_gaussian(100, 2, 0)), "spectrum") == "info"


@pytest.mark.parametrize(
    ("X", "not_computed"),
    [
        (np.ones((20, 5)), {"hubness", "isotropy", "effective_rank", "intrinsic_dimension"}),
        (np.random.default_rng(0).standard_normal((50, 1)), {"uniformity", "isotropy"}),
    ],
    ids=["identical rows", "one feature"],
)
def test_degenerate_data_still_gives_a_report(X: np.ndarray, not_computed: set[str]) -> None:
    report = diagnose(X, k=2)
    skipped = {f.key for f in report.findings if f.reason.startswith("Not computed")}
    assert skipped == not_computed
    json.loads(report.to_json())
    assert report.to_html().startswith("<!DOCTYPE html>")


# ----------------------------------------------------------------- input, determinism, progress


def test_embedding_input_and_labels_override() -> None:
    X = _gaussian(200, 8, 0)
    emb = Embedding(X=X, labels=np.repeat([0, 1], 100), label_names=("a", "b"), name="layer 3")
    report = diagnose(emb)
    assert report.source == "layer 3" and report.n_classes == 2
    assert report.series["classes"]["names"] == ["a", "b"]
    overridden = diagnose(emb, labels=np.repeat(["x", "y", "z", "w"], 50))
    assert overridden.n_classes == 4 and overridden.series["classes"]["names"] == ["w", "x", "y", "z"]
    assert diagnose(X).source == "array" and diagnose(X).n_classes == 0
    assert diagnose(X).finding("nc1") is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"X": np.full((5, 3), np.nan)}, "NaN"),
        ({"X": np.zeros((2, 3))}, "at least 3"),
        ({"X": np.ones(5)}, "2-D"),
        ({"labels": np.zeros(7)}, "labels must have shape"),
        ({"k": 50}, "k < n_samples"),
        ({"k": 0}, r"k must be an integer >= 1; got 0"),
        ({"metric": "manhattan"}, "metric"),
    ],
)
def test_bad_input_is_refused(kwargs: dict, match: str) -> None:
    X = kwargs.pop("X", _gaussian(20, 4, 0))
    with pytest.raises(ValueError, match=match):
        diagnose(X, **kwargs)


def test_same_seed_same_report() -> None:
    X = _gaussian(300, 24, 0)
    labels = np.random.default_rng(0).integers(0, 3, 300)
    report_module._BASELINE_CACHE.clear()
    first = diagnose(X, labels=labels, seed=7).to_dict()
    report_module._BASELINE_CACHE.clear()
    second = diagnose(X, labels=labels, seed=7).to_dict()
    for d in (first, second):
        d.pop("seconds"), d.pop("timings"), d["metrics"]["settings"].pop("baseline_cached")
    assert first == second
    third = diagnose(X, labels=labels, seed=8).to_dict()
    assert third["findings"][3]["baseline"] != first["findings"][3]["baseline"]  # hubness baseline re-drawn


def test_progress_is_monotone_and_ends_at_one() -> None:
    seen: list[tuple[float, str]] = []
    diagnose(_gaussian(200, 8, 0), labels=np.repeat([0, 1], 100), codes=np.arange(200) % 7,
             progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)


def test_every_finding_is_well_formed(labelled: Report) -> None:
    keys = [f.key for f in labelled.findings]
    assert keys == ["duplicates", "zero_rows", "norm_spread", "hubness", "uniformity", "isotropy",
                    "effective_rank", "spectrum", "intrinsic_dimension", "class_balance", "nc1", "ncc_accuracy",
                    "nc2", "codebook_dead", "codebook_perplexity"]
    for f in labelled.findings:
        assert f.verdict in VERDICTS and f.page in PAGES
        assert f.reason and f.title
        assert f.value is None or math.isfinite(f.value)
    assert sum(labelled.verdict_counts().values()) == len(labelled.findings)


def test_finding_validates_and_drops_nan() -> None:
    with pytest.raises(ValueError, match="verdict"):
        Finding("x", "X", 1.0, None, "", "fine", "why", "hubness")
    with pytest.raises(ValueError, match="page"):
        Finding("x", "X", 1.0, None, "", "good", "why", "data")
    assert Finding("x", "X", float("nan"), np.float64(2.0), "", "good", "why", "hubness").value is None


# ----------------------------------------------------------------- JSON and HTML


def test_json_round_trips_with_documented_keys(labelled: Report, tmp_path) -> None:
    path = tmp_path / "report.json"
    text = labelled.to_json(path)
    assert path.read_text(encoding="utf-8").strip() == text

    def refuse(constant: str) -> None:
        raise AssertionError(f"JSON holds {constant}")

    data = json.loads(text, parse_constant=refuse)
    assert set(data) == {"format", "source", "n_samples", "n_features", "n_classes", "seconds", "summary",
                         "findings", "metrics", "timings", "series"}
    assert data["source"] == MALICIOUS and data["n_samples"] == 400 and data["n_classes"] == 4
    assert set(data["findings"][0]) == {"key", "title", "value", "baseline", "baseline_note", "verdict",
                                        "reason", "page"}
    assert data["metrics"]["neural_collapse"]["class_counts"] == [100, 100, 100, 100]
    assert isinstance(data["metrics"]["hubness"]["skewness"], float)
    assert data["series"]["classes"]["names"] == sorted(["cat", "dog", MALICIOUS, "fish"])  # encode_labels order


def test_to_dict_has_only_plain_python_types(labelled: Report) -> None:
    def walk(value) -> None:
        if isinstance(value, dict):
            assert all(isinstance(k, str) for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (bool, int, float, str), type(value)
            if isinstance(value, float):
                assert math.isfinite(value)

    walk(labelled.to_dict())


def test_html_is_self_contained_and_escaped(labelled: Report, tmp_path) -> None:
    path = tmp_path / "report.html"
    page = labelled.to_html(path)
    assert path.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)
    assert "<link" not in page.lower()
    assert "@import" not in page and "url(" not in page.split("<script", 1)[0]
    # plotly.js is inlined exactly once; four interactive figures use it.
    assert page.count("Plotly.newPlot") == 4 and page.count("<script") == 5
    assert MALICIOUS not in page  # source and class name escaped everywhere
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    shown = re.findall(r'<span class="badge"[^>]*>[^<]*?(PROBLEM|WARNING|NOTE|GOOD)</span>', page)
    assert {"PROBLEM", "WARNING", "NOTE", "GOOD"} <= set(shown)  # verdicts read without colour


def test_html_without_labels_or_codes_has_two_figures() -> None:
    page = diagnose(_gaussian(120, 6, 0)).to_html()
    assert page.count("Plotly.newPlot") == 2
