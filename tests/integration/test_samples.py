"""analysis.samples: deterministic generation and the shipped sample runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import analysis.samples as samples
from analysis.data import is_run_file, load_run
from analysis.samples import ensure_samples, generate_samples, sample_paths, to_float16

MAX_SHIPPED_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def shipped_path() -> Path:
    path = sample_paths()["digits_mlp"]
    assert path.is_file(), f"{path} is missing: run `python -m analysis.samples`."
    return path


# --- generation --------------------------------------------------------------------


def test_quick_generation_is_byte_for_byte_deterministic(tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    first = generate_samples(tmp_path / "a", quick=True)
    second = generate_samples(tmp_path / "b", quick=True)
    assert [p.name for p in first] == [p.name for p in second] == [
        "digits_mlp.safetensors", "digits_contrastive.safetensors", "digits_vq_plain.safetensors",
        "digits_vq_remedies.safetensors", "ib_tanh.safetensors", "ib_relu.safetensors"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.with_suffix(".parquet").is_file()
        assert a.stat().st_mode & 0o777 == 0o644  # readable by the app's user too
    assert torch.get_num_threads() == threads  # the generator restores it
    run = load_run(first[0])
    assert run.layers == ("hidden1", "hidden2", "hidden3")
    assert all(a.dtype == np.float16 for a in run.activations.values())
    assert run.steps[0] == 0 and len(run.steps) >= 3
    assert set(run.metadata.columns) >= {"id", "split", "digit", "source_index"}
    # Regenerating over existing files replaces them (atomically) with the same bytes,
    # leaving no staging folders behind.
    again = generate_samples(tmp_path / "a", quick=True)
    assert again[0].read_bytes() == second[0].read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        [f"{name}.{suffix}" for name in samples.SAMPLE_NAMES for suffix in ("parquet", "safetensors")]
        + ["ib_tanh.weights.safetensors", "ib_relu.weights.safetensors"])
    for name in ("ib_tanh", "ib_relu"):  # the shipped part is deterministic too
        assert (tmp_path / "a" / f"{name}.weights.safetensors").read_bytes() == (
            tmp_path / "b" / f"{name}.weights.safetensors").read_bytes()
    contrastive = load_run(first[1])
    assert contrastive.layer_dim("embedding") == 2
    norms = np.linalg.norm(contrastive.activations[("embedding", contrastive.steps[-1])].astype(np.float32), axis=1)
    assert np.allclose(norms, 1.0, atol=2e-3)  # unit rows, to float16 precision


def test_generation_progress(tmp_path: Path) -> None:
    calls: list[float] = []
    generate_samples(tmp_path, quick=True, progress=lambda f, m: calls.append(f))
    assert calls and calls == sorted(calls)
    assert calls[0] >= 0.0 and calls[-1] == 1.0


def test_main_prints_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert samples.main(["--out", str(tmp_path), "--quick"]) == 0
    out = capsys.readouterr().out
    assert "Total shipped size" in out and "digits_mlp.safetensors" in out


def test_ensure_samples_generates_only_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLENS_SAMPLE_DIR", str(tmp_path))
    calls: list[Path] = []
    real = samples.generate_samples

    def quick_generate(out_dir: Path, **kwargs: object) -> list[Path]:
        calls.append(Path(out_dir))
        return real(out_dir, quick=True)

    monkeypatch.setattr(samples, "generate_samples", quick_generate)
    paths = ensure_samples()
    assert paths == {name: tmp_path / f"{name}.safetensors" for name in samples.SAMPLE_NAMES}
    assert calls == [tmp_path]
    assert is_run_file(paths["digits_mlp"])
    ensure_samples()
    assert len(calls) == 1  # present and readable: nothing regenerated
    paths["digits_mlp"].write_bytes(b"not a run")
    ensure_samples()
    assert len(calls) == 2 and is_run_file(paths["digits_mlp"])


def test_replayed_samples_come_back_from_their_weights_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analysis.models.information_lab as lab

    trained = generate_samples(tmp_path, quick=True, names=["ib_tanh"])
    original = trained[0].read_bytes()
    trained[0].unlink()
    trained[0].with_suffix(".parquet").unlink()

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a replayed sample was retrained")

    monkeypatch.setattr(lab, "train_information_lab_with_weights", no_training)
    monkeypatch.setenv("REPLENS_SAMPLE_DIR", str(tmp_path))
    monkeypatch.setattr(samples, "SAMPLE_NAMES", ("ib_tanh",))
    ensure_samples()
    assert trained[0].read_bytes() == original  # the same run, from the weights alone
    with pytest.raises(AssertionError, match="retrained"):
        generate_samples(tmp_path, quick=True, names=["ib_tanh"])  # retrain=True does train
    with pytest.raises(ValueError, match="unknown sample names"):
        generate_samples(tmp_path, names=["nope"])


def test_shipped_12_bit_runs_show_both_sides_of_the_debate() -> None:
    # tanh compresses its deepest hidden layer under 30-bin binning; ReLU does not (module docstring
    # of analysis.models.information_lab has the measured table).
    from analysis.metrics.information_table import information_plane_table

    deepest = {}
    for name in ("ib_tanh", "ib_relu"):
        weights = samples.weights_path(name)
        assert weights.is_file() and weights.stat().st_size < 400_000  # tracked in git: keep it small
        run = load_run(ensure_samples()[name])  # a fresh clone replays the run from the weights here
        assert run.n_samples == 4096 and len(run.steps) == 30
        assert run.curves["train_acc"][-1] == 1.0 and run.curves["test_acc"][-1] > 0.98
        table = information_plane_table(run, layers=["hidden5"], include_output=False)
        deepest[name] = table["i_xt"].to_numpy()
    tanh, relu = deepest["ib_tanh"], deepest["ib_relu"]
    assert tanh.max() - tanh[-1] > 3.0  # compression: 6.3 -> 1.3 bits
    assert relu[-1] >= relu.max() - 0.05  # no compression: still at its peak


def test_to_float16_guards() -> None:
    values = np.array([[0.1, -3.0, 1e4]], dtype=np.float32)
    half, error = to_float16(values, name="x")
    assert half.dtype == np.float16
    assert error == float(np.abs(half.astype(np.float32) - values).max())
    assert 0 < error <= 1e4 * 2.0**-11
    with pytest.raises(ValueError, match="does not fit float16"):
        to_float16(np.array([[70000.0]], dtype=np.float32), name="x")
    with pytest.raises(ValueError, match="NaN or Inf"):
        to_float16(np.array([[np.nan]], dtype=np.float32), name="x")


# --- the shipped sample ------------------------------------------------------------


def test_shipped_sample_loads_and_is_complete(shipped_path: Path) -> None:
    run = load_run(shipped_path)
    n = run.n_samples
    assert n == 1797  # every digit in load_digits
    assert run.labels is not None and run.labels.shape == (n,)
    assert sorted(set(run.labels.tolist())) == list(range(10))
    assert run.label_names == tuple(str(d) for d in range(10))
    assert run.splits() == ["test", "train"]
    assert run.metadata is not None and run.metadata.height == n
    assert run.metadata["source_index"].sort().to_list() == list(range(n))
    assert len(run.steps) >= 8 and run.steps[0] == 0
    assert run.layers == ("hidden1", "hidden2", "hidden3")
    for key, arr in run.activations.items():
        assert arr.dtype == np.float16 and np.isfinite(arr).all(), key
    for step in run.steps:
        weight, bias = run.classifier[step]
        assert weight.shape == (10, run.layer_dim(run.layers[-1]))
        assert bias is not None and bias.shape == (10,)
        assert run.logits[step].shape == (n, 10)
    assert set(run.curves) >= {"step", "train_loss", "train_acc", "test_loss", "test_acc"}
    assert run.task


def test_shipped_sample_is_trained_past_zero_error(shipped_path: Path) -> None:
    run = load_run(shipped_path)
    train = (run.metadata["split"] == "train").to_numpy()
    last = run.steps[-1]
    predictions = run.predictions(last)
    train_acc = float((predictions[train] == run.labels[train]).mean())
    test_acc = float((predictions[~train] == run.labels[~train]).mean())
    assert train_acc >= 0.99
    assert test_acc >= 0.9
    # "Past zero error": perfect training accuracy already at an earlier checkpoint.
    earlier = run.predictions(run.steps[-2])
    assert float((earlier[train] == run.labels[train]).mean()) >= 0.99
    # Untrained at step 0.
    assert float((run.predictions(0)[train] == run.labels[train]).mean()) < 0.3
    # The float16 hidden layer still reproduces the float32 logits' decisions.
    weight, bias = run.classifier[last]
    hidden = run.embedding(run.layers[-1], last).X
    recomputed = (hidden @ weight.T + bias).argmax(axis=1)
    assert float((recomputed == predictions).mean()) >= 0.999


def test_shipped_size_is_small(shipped_path: Path) -> None:
    # Everything shipped in sample_data/, i.e. all but the runs replayed from weights on first use.
    replayed = {f"{name}.{suffix}" for name in ("ib_tanh", "ib_relu") for suffix in ("safetensors", "parquet")}
    shipped = [p for p in shipped_path.parent.iterdir() if p.is_file() and p.name not in replayed]
    assert {"digits_mlp.safetensors", "ib_tanh.weights.safetensors"} <= {p.name for p in shipped}
    assert sum(p.stat().st_size for p in shipped) < MAX_SHIPPED_BYTES


def test_shipped_vq_pair_shows_the_contrast() -> None:
    # The pair: plain VQ uses a small part of its K = 256 codes, the remedies most of them.
    from analysis.metrics import codebook_usage

    usage = {}
    for name in ("digits_vq_plain", "digits_vq_remedies"):
        run = load_run(sample_paths()[name])
        last = run.steps[-1]
        train = (run.metadata["split"] == "train").to_numpy()
        codes = run.codes[("encoder", last)][train]
        usage[name] = codebook_usage(codes, codebook_size=run.codebooks[("encoder", last)].shape[0])
    assert usage["digits_vq_plain"].utilization < 0.3
    assert usage["digits_vq_remedies"].utilization > 0.9
    assert usage["digits_vq_remedies"].perplexity > 4 * usage["digits_vq_plain"].perplexity
