"""`replens capture`: a tiny BERT over a labelled CSV, then `replens report` on the run it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.cli import main  # noqa: E402
from analysis.data import load_run  # noqa: E402
from tests.tiny_models import sentences, tiny_bert  # noqa: E402


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("cli") / "bert")


def test_capture_then_report(bert, tmp_path, capsys) -> None:
    table = tmp_path / "inputs.parquet"
    n = 40
    pl.DataFrame({"sentence": sentences(n, seed=3), "topic": ["pets", "weather"] * (n // 2)}).write_parquet(table)
    out = tmp_path / "run.safetensors"
    code = main(["capture", str(bert), str(table), "--out", str(out), "--text-column", "sentence",
                 "--label-column", "topic", "--pooling", "cls", "--batch-size", "16", "--max-length", "8"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "100%" in captured.err and "16/40 examples" in captured.err  # the progress line
    assert f"wrote {out}" in captured.out
    run = load_run(out)
    assert run.layers == ("embeddings", "layer_1", "layer_2") and run.steps == (0,)
    assert run.activations[("layer_2", 0)].shape == (n, 32)
    assert run.label_names == ("pets", "weather")
    np.testing.assert_array_equal(run.labels, np.tile([0, 1], n // 2))
    assert "cls" in run.task.lower() or "first (CLS)" in run.task

    report = tmp_path / "report.json"
    code = main(["report", str(out), "--layer", "layer_1", "--json", str(report), "--quiet"])
    assert code == 0, capsys.readouterr().err
    findings = json.loads(report.read_text())["findings"]
    assert findings and all(f["verdict"] for f in findings)


def test_a_pickled_model_exits_2_with_how_to_convert(bert, tmp_path, capsys) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "config.json").write_text((bert / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(b"x")
    texts = tmp_path / "t.txt"
    texts.write_text("the cat\n")
    code = main(["capture", str(folder), str(texts), "--out", str(tmp_path / "r.safetensors"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "safe_serialization=True" in err
    assert not (tmp_path / "r.safetensors").exists()


def test_inputs_are_required_after_the_model(tmp_path, capsys) -> None:
    assert main(["capture", str(tmp_path), "--out", str(tmp_path / "r.safetensors")]) == 2
    assert "at least one MODEL_DIR" in capsys.readouterr().err
