"""analysis.panels.report: the Report page's (and `replens report`'s) diagnosis of a Selection equals
`analysis.report.diagnose` called directly (issue 16), with no Streamlit."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from analysis.cli import main
from analysis.data import Embedding, Run, Selection, save_run
from analysis.panels import report as panel
from analysis.report import diagnose


def _strip(d: dict) -> dict:
    """A report's dict without what depends on when it ran: its times and whether the baseline was cached."""
    d = json.loads(json.dumps(d))
    d.pop("seconds", None)
    for part in (d, d.get("metrics", {})):
        part.pop("timings", None)
    d.get("metrics", {}).get("settings", {}).pop("baseline_cached", None)
    return d


def _same(a, b) -> None:
    """Equal reports up to the time they took."""
    assert _strip(a.to_dict()) == _strip(b.to_dict())


def _run() -> Run:
    rng = np.random.default_rng(0)
    n = 120
    activations = {(layer, step): rng.standard_normal((n, dim)).astype(np.float32)
                   for layer, dim in (("hidden", 16), ("output", 8)) for step in (0, 10)}
    return Run(activations=activations, layers=("hidden", "output"), steps=(0, 10),
               labels=np.repeat(np.arange(4), n // 4), codes={("output", 10): rng.integers(0, 5, n)},
               codebooks={("output", 10): rng.standard_normal((32, 8)).astype(np.float32)},
               metadata=pl.DataFrame({"split": ["train", "test", "train"] * (n // 3)}), name="tiny")


def test_the_report_of_an_embedding_is_diagnose_of_it() -> None:
    X = np.random.default_rng(1).standard_normal((80, 10)).astype(np.float32)
    emb = Embedding(X=X, labels=np.arange(80) % 2, name="e")
    got = panel.report_panel(Selection(emb), source="shown name")
    _same(got.report, diagnose(emb, source="shown name"))
    assert got.counts == got.report.verdict_counts()
    # Worst first: every finding once, problems before warnings before notes before good ones.
    assert sorted(map(id, got.findings)) == sorted(map(id, got.report.findings))
    ranks = [panel.ORDER.index(f.verdict) for f in got.findings]
    assert ranks == sorted(ranks)


def test_the_report_of_a_run_cell_uses_its_rows_labels_and_codes() -> None:
    run = _run()
    sel = Selection(run, "output", 10, split="train")
    got = panel.report_panel(sel, k=5, metric="cosine", seed=3)
    want = diagnose(sel.embedding, codes=sel.codes, codebook_size=32, k=5, metric="cosine", seed=3)
    _same(got.report, want)
    assert got.report.n_samples == 80 and any(f.page == "codebook" for f in got.report.findings)
    # Explicit codes (the CLI's) win over the selection's.
    other = np.zeros(80, dtype=np.int64)
    _same(panel.report_panel(sel, codes=other, codebook_size=4).report,
          diagnose(sel.embedding, codes=other, codebook_size=4))
    # A cell without codes has no codebook findings.
    plain = panel.report_panel(Selection(run, "hidden", 0))
    _same(plain.report, diagnose(run.embedding("hidden", 0)))
    assert not any(f.page == "codebook" for f in plain.report.findings)


def test_the_cli_report_is_the_panels_report(tmp_path, capsys) -> None:
    run = _run()
    path = save_run(run, tmp_path / "tiny.safetensors")
    out = tmp_path / "r.json"
    assert main(["report", str(path), "--json", str(out), "--quiet", "--k", "7"]) == 0
    written = json.loads(out.read_text())
    sel = Selection(run, "output", 10)
    want = json.loads(panel.report_panel(sel, k=7).report.to_json())
    assert _strip(written) == _strip(want)
