"""`replens compare`: the library's numbers on disk, run files' layers and steps, exit code 2 on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis._export import json_safe
from analysis.cli import main
from analysis.comparison import compare
from analysis.data import Run, save_run
from analysis.metrics.similarity import cka_matrix

N = 90


@pytest.fixture()
def npy_files(tmp_path):
    """a.npy, b.npy (a rotated, noisy copy of a: same width), c.npy (another width), short.npy (one row
    fewer), constant.npy, labels.npy and short_labels.npy."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), N // 3)
    A = (4.0 * rng.standard_normal((3, 10))[y] + rng.standard_normal((N, 10))).astype(np.float32)
    B = (A @ ortho_group.rvs(10, random_state=1) + 0.3 * rng.standard_normal((N, 10))).astype(np.float32)
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    np.save(tmp_path / "c.npy", np.tanh(A[:, :4]))
    np.save(tmp_path / "short.npy", B[:-1])
    np.save(tmp_path / "labels.npy", y)
    np.save(tmp_path / "short_labels.npy", y[:-1])
    np.save(tmp_path / "constant.npy", np.ones((N, 3), dtype=np.float32))
    return tmp_path


def _run(path, name: str, layers: dict[str, int], steps: tuple[int, ...], seed: int, n: int = N):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 5))
    activations = {(layer, step): (np.tanh(base @ rng.standard_normal((5, dim)) * (1 + step / 10))
                                   + 0.2 * rng.standard_normal((n, dim))).astype(np.float32)
                   for layer, dim in layers.items() for step in steps}
    run = Run(activations=activations, layers=tuple(layers), steps=steps, labels=np.arange(n) % 3, name=name)
    return save_run(run, path)


@pytest.fixture()
def runs(tmp_path):
    """Two runs of the same N inputs: "one" (hidden 12, output 6; steps 0, 10), "two" (hidden 12, logits 4; 0, 5)."""
    one = _run(tmp_path / "one.safetensors", "one", {"hidden": 12, "output": 6}, (0, 10), seed=1)
    two = _run(tmp_path / "two.safetensors", "two", {"hidden": 12, "logits": 4}, (0, 5), seed=2)
    return one, two


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines, "nothing on stderr"
    assert len([line for line in lines if line.startswith("replens: compare:")]) == 1, err
    return lines[-1]


def _compare_json(argv: list[str], out) -> dict:
    assert main(["compare", *argv, "--json", str(out), "--quiet"]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- two .npy files


def test_two_npy_files_write_the_library_numbers(npy_files, capsys) -> None:
    html, out_json = npy_files / "c.html", npy_files / "c.json"
    code = main(["compare", str(npy_files / "a.npy"), str(npy_files / "b.npy"), "--k", "6", "--seed", "3",
                 "--html", str(html), "--json", str(out_json)])
    assert code == 0
    captured = capsys.readouterr()
    data = json.loads(out_json.read_text(encoding="utf-8"))
    direct = compare(np.load(npy_files / "a.npy"), np.load(npy_files / "b.npy"), k=6, seed=3)
    assert data["metrics"] == json_safe(direct.metrics)
    assert data["series"] == json_safe(direct.series)
    assert (data["a"], data["b"], data["n_samples"]) == ("a", "b", N)
    assert data["metrics"]["k"] == 6 and data["metrics"]["stitching"] is None  # no labels given
    assert 0.5 < data["metrics"]["linear_cka"] < 1.0  # a rotated copy with noise: not a trivial value
    page = html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "a vs b" in page
    # stdout: one line per measure, with the JSON's values, then where the files went
    out = captured.out
    assert f"linear CKA          {data['metrics']['linear_cka']:.4f}" in out
    for start in ("debiased CKA", "RBF CKA", "Procrustes distance", "k-NN Jaccard", "relative cosine"):
        assert any(line.startswith(start) for line in out.splitlines()), start
    assert f"absolute cosine {data['metrics']['absolute_cosine']:.4f}" in out
    assert f"wrote {out_json}" in out and f"wrote {html}" in out
    # stderr: what A and B are, and progress, no traceback
    err = captured.err
    assert "Traceback" not in err
    assert f"replens: A = a: {N} samples x 10 features" in err
    progress = [line for line in err.splitlines() if line.startswith("[")]
    assert len(progress) >= 5 and progress[0].startswith("[  0%]")


def test_quiet_drops_progress(npy_files, capsys) -> None:
    out_json = npy_files / "q.json"
    assert main(["compare", str(npy_files / "a.npy"), str(npy_files / "c.npy"), "--json", str(out_json),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert not [line for line in captured.err.splitlines() if line.startswith("[")]
    assert "replens: B = c:" in captured.err  # the description of the inputs stays
    data = json.loads(out_json.read_text())
    assert (data["n_features_a"], data["n_features_b"]) == (10, 4) and data["metrics"]["absolute_cosine"] is None
    assert "absolute cosine" not in captured.out


def test_labels_file_gives_stitching(npy_files, capsys) -> None:
    data = _compare_json([str(npy_files / "a.npy"), str(npy_files / "b.npy"), "--labels",
                          str(npy_files / "labels.npy"), "--k", "5"], npy_files / "l.json")
    stitching = data["metrics"]["stitching"]
    assert stitching is not None and stitching["rows"] == N
    assert stitching["accuracy_same"] == 1.0  # three blobs 4 sd apart
    assert data["series"]["points"]["labels"] == np.repeat(np.arange(3), N // 3).tolist()
    assert "stitching accuracy" in capsys.readouterr().out


def test_metric_and_seed_reach_the_comparison(npy_files) -> None:
    files = [str(npy_files / "a.npy"), str(npy_files / "b.npy")]
    cosine = _compare_json([*files, "--metric", "cosine", "--seed", "7"], npy_files / "m.json")
    direct = compare(np.load(files[0]), np.load(files[1]), metric="cosine", seed=7)
    assert cosine["metrics"]["metric"] == "cosine" and cosine["metrics"] == json_safe(direct.metrics)


# --------------------------------------------------------------------------- run files


def _layers(path, step: int) -> list[np.ndarray]:
    from analysis.data import load_run

    run = load_run(path)
    return [run.activations[(layer, step)] for layer in run.layers]


def test_two_runs_give_the_layer_matrix(runs, tmp_path, capsys) -> None:
    one, two = runs
    data = _compare_json([str(one), str(two)], tmp_path / "r.json")
    layers = data["layers"]
    assert layers["rows"] == ["hidden", "output"] and layers["columns"] == ["hidden", "logits"]
    np.testing.assert_allclose(layers["cka"], cka_matrix(_layers(one, 10), _layers(two, 5)), atol=1e-12)
    np.testing.assert_allclose(layers["cka_debiased"], cka_matrix(_layers(one, 10), _layers(two, 5),
                                                                  debiased=True), atol=1e-12)
    # each side defaults to its last layer and step, and says so
    assert data["a"] == "one · output · step 10" and data["b"] == "two · logits · step 5"
    captured = capsys.readouterr()
    assert "using layer 'output' at step 10" in captured.err and "layer x layer CKA   2 x 2" in captured.out


def test_one_run_against_another_step(runs, tmp_path) -> None:
    one, _ = runs
    data = _compare_json([str(one), str(one), "--step-b", "0"], tmp_path / "s.json")
    assert data["a"] == "one · output · step 10" and data["b"] == "one · output · step 0"
    np.testing.assert_allclose(data["layers"]["cka"], cka_matrix(_layers(one, 10), _layers(one, 0)), atol=1e-12)
    assert data["metrics"]["linear_cka"] < 1.0  # two different checkpoints, not the same matrix twice


def test_layer_applies_to_b_when_b_has_it(runs, tmp_path) -> None:
    one, two = runs
    shared = _compare_json([str(one), str(two), "--layer", "hidden"], tmp_path / "h.json")
    assert shared["a"] == "one · hidden · step 10" and shared["b"] == "two · hidden · step 5"
    # "output" is not a layer of two: B keeps its own default (its last layer)
    own = _compare_json([str(one), str(two), "--layer", "output"], tmp_path / "o.json")
    assert own["a"] == "one · output · step 10" and own["b"] == "two · logits · step 5"
    assert own["n_features_b"] == 4
    # --layer-b overrides
    chosen = _compare_json([str(one), str(two), "--layer", "hidden", "--layer-b", "logits"], tmp_path / "b.json")
    assert chosen["a"] == "one · hidden · step 10" and chosen["b"] == "two · logits · step 5"
    # --step applies to B too when B's run has that step
    step = _compare_json([str(one), str(two), "--step", "0"], tmp_path / "t.json")
    assert step["a"] == "one · output · step 0" and step["b"] == "two · logits · step 0"


def test_layer_and_step_b_combine(runs, tmp_path) -> None:
    """--layer is B's too unless --layer-b, and --step unless --step-b (the --help text): each on its own."""
    one, _ = runs
    # Regression: B's layer and step were taken from A only when both --layer-b and --step-b were absent.
    data = _compare_json([str(one), str(one), "--layer", "hidden", "--step-b", "0"], tmp_path / "ls.json")
    assert data["a"] == "one · hidden · step 10" and data["b"] == "one · hidden · step 0"


def test_step_and_layer_b_combine(runs, tmp_path) -> None:
    one, _ = runs
    # Regression (same cause): B was at its last step, and the layer matrix compared step 0 with step 10.
    data = _compare_json([str(one), str(one), "--step", "0", "--layer-b", "hidden"], tmp_path / "sl.json")
    assert data["a"] == "one · output · step 0" and data["b"] == "one · hidden · step 0"
    np.testing.assert_allclose(data["layers"]["cka"], cka_matrix(_layers(one, 0), _layers(one, 0)), atol=1e-12)


def test_run_against_npy_has_no_layer_matrix(runs, tmp_path) -> None:
    one, _ = runs
    from analysis.data import load_run

    np.save(tmp_path / "hidden.npy", load_run(one).activations[("hidden", 10)])
    data = _compare_json([str(one), str(tmp_path / "hidden.npy"), "--layer", "hidden"], tmp_path / "n.json")
    assert data["layers"] is None
    assert data["metrics"]["linear_cka"] == pytest.approx(1.0, abs=1e-9)  # the same matrix
    assert data["series"]["points"]["labels"] == (np.arange(N) % 3).tolist()  # A's run labels


# --------------------------------------------------------------------------- bad input


OUTPUTS = ["--json", "{dir}/o.json", "--html", "{dir}/o.html"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{dir}/a.npy", "{dir}/short.npy", *OUTPUTS], "A has 90 rows and B has 89"),
        (["{dir}/a.npy", "{dir}/missing.npy", *OUTPUTS], "missing.npy: no such file"),
        (["{dir}/missing.npy", "{dir}/b.npy", *OUTPUTS], "missing.npy: no such file"),
        (["{dir}/a.npy", "{dir}/b.npy", "--step", "3", *OUTPUTS], "run files only"),
        (["{dir}/a.npy", "{dir}/b.npy", "--step-b", "3", *OUTPUTS], "run files only"),
        (["{dir}/a.npy", "{dir}/b.npy", "--layer-b", "x", *OUTPUTS], "run files only"),
        (["{dir}/a.npy", "{dir}/b.npy", "--labels", "{dir}/short_labels.npy", *OUTPUTS], "89"),
        (["{dir}/a.npy", "{dir}/b.npy", "--labels", "kind", *OUTPUTS], "no such file"),
        (["{dir}/a.npy", "{dir}/b.npy", "--k", "500", *OUTPUTS], "k must be an integer in [1, 89]"),
        (["{dir}/a.npy", "{dir}/constant.npy", *OUTPUTS], "is constant"),
        (["{dir}/a.npy", "{dir}/b.npy"], "--html OUT and/or --json OUT"),
    ],
)
def test_bad_input_exits_2_with_one_line(npy_files, capsys, args, expected) -> None:
    assert main(["compare", *(a.format(dir=npy_files) for a in args)]) == 2
    line = _error_line(capsys)
    assert line.startswith("replens: compare: ") and expected in line, line
    assert not (npy_files / "o.json").exists() and not (npy_files / "o.html").exists()


@pytest.mark.parametrize(("flag", "value", "expected"), [("--layer-b", "nope", "unknown layer 'nope'"),
                                                         ("--step-b", "7", "unknown step 7"),
                                                         ("--layer", "nope", "unknown layer 'nope'")])
def test_unknown_layer_or_step_leaves_existing_output_alone(runs, tmp_path, capsys, flag, value, expected) -> None:
    one, two = runs
    out = tmp_path / "old.json"
    out.write_text("previous result\n", encoding="utf-8")
    assert main(["compare", str(one), str(two), flag, value, "--json", str(out)]) == 2
    line = _error_line(capsys)
    assert expected in line and "this run has" in line, line
    assert out.read_text(encoding="utf-8") == "previous result\n"


def test_different_row_counts_between_runs(runs, tmp_path, capsys) -> None:
    one, _ = runs
    small = _run(tmp_path / "small.safetensors", "small", {"hidden": 12}, (0,), seed=3, n=50)
    assert main(["compare", str(one), str(small), "--json", str(tmp_path / "x.json")]) == 2
    assert "A has 90 rows and B has 50" in _error_line(capsys)
    assert not (tmp_path / "x.json").exists()


def test_unwritable_html_writes_no_json(npy_files, capsys) -> None:
    out_json, html = npy_files / "w.json", npy_files / "no_such_dir" / "w.html"
    assert main(["compare", str(npy_files / "a.npy"), str(npy_files / "b.npy"), "--json", str(out_json),
                 "--html", str(html), "--quiet"]) == 2
    line = _error_line(capsys)
    assert "no_such_dir" in line and "does not exist" in line
    # Regression: the JSON used to be written before the HTML was attempted, leaving half the output behind.
    assert not out_json.exists()


def test_each_run_file_is_opened_once(runs, tmp_path, monkeypatch) -> None:
    """compare reads A's and B's layer and step, then every layer of each: one load per distinct file."""
    import analysis.data
    from analysis import cli

    one, two = runs
    opened: list[str] = []
    real = analysis.data.load_run
    monkeypatch.setattr(analysis.data, "load_run", lambda path, *a, **k: opened.append(str(path)) or real(path, *a, **k))
    cli._cached_run.cache_clear()
    _compare_json([str(one), str(two), "--layer", "hidden", "--step", "0"], tmp_path / "two.json")
    assert sorted(opened) == sorted([str(one.resolve()), str(two.resolve())])
    opened.clear()
    cli._cached_run.cache_clear()
    _compare_json([str(one), str(one), "--step-b", "0"], tmp_path / "same.json")
    assert opened == [str(one.resolve())]
