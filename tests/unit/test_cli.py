from __future__ import annotations

import json

import numpy as np

from analysis.cli import main


def test_info_describes_a_good_file(tmp_path, capsys) -> None:
    path = tmp_path / "vectors.npy"
    np.save(path, np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32))
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ok"] is True and info["n"] == 40 and info["d"] == 5


def test_info_reports_a_problem_like_report_does(tmp_path, capsys) -> None:
    """Bad input: exit 2 and one line on stderr, the same contract as `replens report` and `compare`."""
    path = tmp_path / "broken.npy"
    path.write_bytes(b"not numpy at all")
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("replens: info: ") and "broken.npy" in lines[0]
    assert main(["info", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    info = json.loads(captured.out)
    assert info["ok"] is False and "broken.npy" in info["error"]
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err


def test_info_describes_a_run(capsys) -> None:
    from analysis.samples import sample_paths

    assert main(["info", str(sample_paths()["digits_mlp"]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == "run" and "hidden3" in info["layers"]


def test_samples_quick_writes_a_loadable_run(tmp_path, capsys) -> None:
    from analysis.data import load_run

    assert main(["samples", "--quick", "--out", str(tmp_path)]) == 0
    written = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert written and all(path.endswith(".safetensors") for path in written)
    run = load_run(written[0])
    assert run.n_samples > 0 and len(run.steps) >= 2
