"""Capture from real (tiny, random-weight) transformers models: layers, shapes, values, refusals.

Expected values come from the model's own ``output_hidden_states`` run one example at a time
(no padding at all), pooled here with numpy: an independent path from the batched, masked capture.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.capture_inputs import read_inputs  # noqa: E402
from analysis.capture_models import check_model_dir, load_model  # noqa: E402
from analysis.capture_run import CaptureCancelled, capture_run, checkpoint_steps  # noqa: E402
from analysis.data import load_run  # noqa: E402
from tests.tiny_models import image_folder, sentences, tiny_bert, tiny_vit  # noqa: E402

TEXTS = sentences(7, seed=1)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    texts = root / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")  # a trailing blank line is skipped
    return {"bert": tiny_bert(root / "bert"), "vit": tiny_vit(root / "vit"), "texts": texts,
            "images": image_folder(root / "images"), "root": root}


def _own_hidden_states(folder: Path, texts: list[str]) -> list[list[np.ndarray]]:
    """Per example, per layer: the model's (tokens, width) hidden states, run alone (no padding)."""
    import torch
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = BertModel.from_pretrained(folder, local_files_only=True).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            hidden = model(**tokenizer(text, return_tensors="pt"), output_hidden_states=True).hidden_states
            out.append([h[0].numpy() for h in hidden])
    return out


@pytest.mark.parametrize("pooling", [None, "cls", "last"])
def test_bert_capture_equals_the_models_own_hidden_states(models, tmp_path, pooling) -> None:
    out = capture_run([models["bert"]], models["texts"], tmp_path / "run.safetensors", pooling=pooling,
                      batch_size=3)  # 3 batches of unequal padding
    run = load_run(out)
    assert run.layers == ("embeddings", "layer_1", "layer_2")
    assert run.steps == (0,)
    own = _own_hidden_states(models["bert"], TEXTS)
    pick = {None: lambda h: h.mean(axis=0), "cls": lambda h: h[0], "last": lambda h: h[-1]}[pooling]
    for i, layer in enumerate(run.layers):
        got = run.activations[(layer, 0)]
        assert got.shape == (7, 32) and got.dtype == np.float32
        expected = np.stack([pick(example[i]) for example in own])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # Distinct texts give distinct vectors (a tokenizer mapping every word to [UNK] would not).
    assert len(set(TEXTS)) == 7 and len(np.unique(run.activations[("layer_2", 0)], axis=0)) == 7
    assert run.metadata["text"].to_list() == TEXTS
    assert run.labels is None


def test_batch_size_does_not_change_the_activations(models, tmp_path) -> None:
    a = load_run(capture_run([models["bert"]], models["texts"], tmp_path / "a.safetensors", batch_size=1))
    b = load_run(capture_run([models["bert"]], models["texts"], tmp_path / "b.safetensors", batch_size=64))
    for key in a.activations:
        np.testing.assert_allclose(a.activations[key], b.activations[key], rtol=1e-5, atol=1e-5)


def test_labels_and_other_columns_come_from_a_table(models, tmp_path) -> None:
    table = tmp_path / "reviews.csv"
    pl.DataFrame({"review": TEXTS, "stars": ["good", "bad"] * 3 + ["good"], "id": list(range(7))}).write_csv(table)
    run = load_run(capture_run([models["bert"]], table, tmp_path / "r.safetensors", text_column="review",
                               label_column="stars", pooling="cls"))
    assert run.label_names == ("bad", "good")
    assert run.labels.tolist() == [1, 0, 1, 0, 1, 0, 1]
    assert run.metadata["text"].to_list() == TEXTS  # renamed so that hover shows it
    assert run.metadata["id"].to_list() == list(range(7))
    with pytest.raises(ValueError, match="no column 'body'"):
        read_inputs(table, text_column="body")


def test_vit_over_an_image_folder(models, tmp_path) -> None:
    import torch
    from PIL import Image
    from transformers import ViTImageProcessor, ViTModel

    run = load_run(capture_run([models["vit"]], models["images"], tmp_path / "v.safetensors", batch_size=4))
    assert run.layers == ("embeddings", "layer_1", "layer_2")
    assert run.label_names == ("cats", "dogs") and run.labels.tolist() == [0, 0, 0, 1, 1, 1]
    paths = run.metadata["path"].to_list()
    assert paths == ["cats/0.png", "cats/1.png", "cats/2.png", "dogs/0.png", "dogs/1.png", "dogs/2.png"]
    assert all(png.startswith(b"\x89PNG") for png in run.metadata["image"].to_list())
    processor = ViTImageProcessor.from_pretrained(models["vit"], local_files_only=True)
    model = ViTModel.from_pretrained(models["vit"], local_files_only=True).eval()
    images = [Image.open(models["images"] / p).convert("RGB") for p in paths]
    with torch.no_grad():
        hidden = model(**processor(images=images, return_tensors="pt"), output_hidden_states=True).hidden_states
    for i, layer in enumerate(run.layers):  # default for a vision transformer: the CLS token
        np.testing.assert_allclose(run.activations[(layer, 0)], hidden[i][:, 0].numpy(), rtol=1e-5, atol=1e-5)


def test_checkpoints_become_steps(models, tmp_path) -> None:
    first = tiny_bert(tmp_path / "checkpoint-100", seed=1)
    second = tiny_bert(tmp_path / "checkpoint-300", seed=2)
    run = load_run(capture_run([first, second], models["texts"], tmp_path / "c.safetensors"))
    assert run.steps == (100, 300)
    assert not np.allclose(run.activations[("layer_2", 100)], run.activations[("layer_2", 300)])
    assert checkpoint_steps(["ckpt-5", "ckpt-2"]) == [0, 1]  # not growing: positions
    assert checkpoint_steps(["a", "b1"]) == [0, 1]
    assert checkpoint_steps(["epoch1", "epoch2/"]) == [1, 2]


def test_a_pickled_weights_file_is_refused_with_how_to_convert(models, tmp_path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text((models["bert"] / "config.json").read_text())
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="pytorch_model.bin.*safe_serialization=True"):
        check_model_dir(folder)


def test_an_unknown_architecture_is_refused(models, tmp_path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    config = json.loads((models["bert"] / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "my-own-net"}))
    (folder / "model.safetensors").write_bytes((models["bert"] / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="'my-own-net' is not an architecture"):
        load_model(folder)


def test_code_in_the_model_folder_is_never_run(models, tmp_path) -> None:
    folder = tmp_path / "remote"
    folder.mkdir()
    marker = tmp_path / "ran.txt"
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    config = json.loads((models["bert"] / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes((models["bert"] / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="modeling_evil.py.*never runs code"):
        capture_run([folder], models["texts"], tmp_path / "x.safetensors")
    assert not marker.exists()
    assert not (tmp_path / "x.safetensors").exists()


def test_a_stop_request_leaves_no_file(models, tmp_path) -> None:
    stop = threading.Event()
    calls = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 2:  # after loading and the first batch
            stop.set()

    with pytest.raises(CaptureCancelled):
        capture_run([models["bert"]], models["texts"], tmp_path / "s.safetensors", batch_size=2,
                    progress=progress, should_stop=stop)
    assert list(tmp_path.iterdir()) == []


def test_a_run_over_the_memory_budget_is_refused_before_writing(models, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "100B")  # 7 x 32 x 4 = 896 bytes per layer
    with pytest.raises(ValueError, match="7 examples x 32 features x 4 bytes"):
        capture_run([models["bert"]], models["texts"], tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_text_model_on_images_and_bad_options_are_refused(models, tmp_path) -> None:
    with pytest.raises(ValueError, match="text model but the inputs are images"):
        capture_run([models["bert"]], models["images"], tmp_path / "i.safetensors")
    with pytest.raises(ValueError, match="pooling must be one of"):
        capture_run([models["bert"]], models["texts"], tmp_path / "p.safetensors", pooling="max")
    with pytest.raises(ValueError, match="no such file or folder"):
        read_inputs(tmp_path / "missing.txt")


def test_texts_are_cut_to_the_models_positions(tmp_path) -> None:
    short = tiny_bert(tmp_path / "short", max_positions=16)
    texts = tmp_path / "long.txt"
    texts.write_text("\n".join(sentences(3, seed=4, words=40)).replace(" ", " cat dog ") + "\n")
    asked = load_run(capture_run([short], texts, tmp_path / "a.safetensors", max_length=128))
    fits = load_run(capture_run([short], texts, tmp_path / "b.safetensors", max_length=16))
    np.testing.assert_array_equal(asked.activations[("layer_2", 0)], fits.activations[("layer_2", 0)])
    with pytest.raises(ValueError, match="threads must be >= 1"):
        capture_run([short], texts, tmp_path / "c.safetensors", threads=0)
