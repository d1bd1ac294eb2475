"""`replens report`: outputs, progress on stderr, exit code 2 with one clear line on bad input."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from analysis.cli import main
from analysis.data import Run, save_run


@pytest.fixture()
def npy_pair(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((150, 12)).astype(np.float32)
    y = np.repeat(np.arange(3), 50)
    np.save(tmp_path / "emb.npy", X)
    np.save(tmp_path / "labels.npy", y)
    np.save(tmp_path / "short.npy", y[:-1])
    return tmp_path


@pytest.fixture()
def run_file(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    activations = {(layer, step): rng.standard_normal((n, dim)).astype(np.float32)
                   for layer, dim in (("hidden", 16), ("output", 8)) for step in (0, 10)}
    codes = {("output", 10): rng.integers(0, 5, n)}
    codebooks = {("output", 10): rng.standard_normal((32, 8)).astype(np.float32)}
    run = Run(activations=activations, layers=("hidden", "output"), steps=(0, 10),
              labels=np.repeat(np.arange(4), n // 4), codes=codes, codebooks=codebooks,
              metadata=pl.DataFrame({"parity": np.arange(n) % 2}), name="tiny")
    return save_run(run, tmp_path / "tiny.safetensors")


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "nothing on stderr"
    return err[-1]


def test_report_writes_html_and_json(npy_pair, capsys) -> None:
    html, out_json = npy_pair / "r.html", npy_pair / "r.json"
    code = main(["report", str(npy_pair / "emb.npy"), "--labels", str(npy_pair / "labels.npy"), "--k", "5",
                 "--html", str(html), "--json", str(out_json)])
    assert code == 0
    captured = capsys.readouterr()
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["n_samples"] == 150 and data["n_classes"] == 3 and data["metrics"]["settings"]["k"] == 5
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    progress = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert len(progress) >= 5 and progress[-1].endswith("Done")
    assert "Traceback" not in captured.err
    assert f"wrote {out_json}" in captured.out and "Hubness" in captured.out


def test_json_only_and_quiet(npy_pair, capsys) -> None:
    out_json = npy_pair / "only.json"
    assert main(["report", str(npy_pair / "emb.npy"), "--json", str(out_json), "--quiet"]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("[")]
    assert json.loads(out_json.read_text())["n_classes"] == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{dir}/missing.npy", "--json", "{dir}/o.json"], "missing.npy: no such file"),
        (["{dir}/emb.npy", "--labels", "{dir}/short.npy", "--json", "{dir}/o.json"], "149 entries"),
        (["{dir}/emb.npy"], "--html OUT and/or --json OUT"),
        (["{dir}/emb.npy", "--labels", "class", "--json", "{dir}/o.json"], "no such file"),
        (["{dir}/emb.npy", "--layer", "a", "--json", "{dir}/o.json"], "run files only"),
        (["{dir}/emb.npy", "--k", "500", "--json", "{dir}/o.json"], "k < n_samples"),
    ],
)
def test_bad_input_exits_2_with_one_line(npy_pair, capsys, args, expected) -> None:
    argv = ["report", *(a.format(dir=npy_pair) for a in args)]
    assert main(argv) == 2
    line = _error_line(capsys)
    assert line.startswith("replens: report: ") and expected in line
    assert not (npy_pair / "o.json").exists()


def test_unreadable_file_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "broken.npy"
    path.write_bytes(b"this is not numpy")
    assert main(["report", str(path), "--json", str(tmp_path / "o.json")]) == 2
    assert "broken.npy" in _error_line(capsys)


def test_csv_label_column(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    table = pl.DataFrame({f"f{i}": rng.standard_normal(60) for i in range(5)} | {"kind": ["a", "b", "c"] * 20})
    table.write_csv(tmp_path / "t.csv")
    assert main(["report", str(tmp_path / "t.csv"), "--labels", "kind", "--json", str(tmp_path / "o.json")]) == 0
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["n_classes"] == 3 and data["n_features"] == 5


def test_run_file_defaults_to_last_layer_and_step(run_file, tmp_path, capsys) -> None:
    out_json = tmp_path / "run.json"
    assert main(["report", str(run_file), "--json", str(out_json)]) == 0
    err = capsys.readouterr().err
    assert "using layer 'output' at step 10" in err and "--layer and --step" in err
    data = json.loads(out_json.read_text())
    assert data["n_features"] == 8 and data["n_classes"] == 4
    # the run's codes and codebook size for that cell come along
    assert data["metrics"]["codebook"]["codebook_size"] == 32
    assert data["metrics"]["codebook"]["codebook_size_assumed"] is False


def test_run_file_layer_step_and_metadata_labels(run_file, tmp_path, capsys) -> None:
    out_json = tmp_path / "run.json"
    argv = ["report", str(run_file), "--layer", "hidden", "--step", "0", "--labels", "parity", "--json", str(out_json)]
    assert main(argv) == 0
    assert "using layer" not in capsys.readouterr().err
    data = json.loads(out_json.read_text())
    assert data["n_features"] == 16 and data["n_classes"] == 2 and "codebook" not in data["metrics"]


@pytest.mark.parametrize(("flag", "value", "expected"), [("--layer", "nope", "unknown layer 'nope'"),
                                                         ("--step", "7", "unknown step 7")])
def test_run_file_unknown_layer_or_step(run_file, tmp_path, capsys, flag, value, expected) -> None:
    assert main(["report", str(run_file), flag, value, "--json", str(tmp_path / "o.json")]) == 2
    line = _error_line(capsys)
    assert expected in line and "this run has" in line
