"""Capture from a small timm CNN saved as timm saves for the Hub (config.json + model.safetensors).

timm needs a torchvision that matches torch: `make install` installs the pair pinned in
constraints.txt and the ``models`` extra, so an import failure here is a real failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import timm.data
from timm.models import save_for_hf

from analysis.capture_models import load_model
from analysis.capture_run import capture_run
from analysis.data import load_run
from tests.tiny_models import image_folder

ARCH = "test_resnet"  # timm's own tiny test network: 4 stages, a few thousand weights


@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    root = tmp_path_factory.mktemp("timm")
    torch.manual_seed(0)
    model = timm.create_model(ARCH, pretrained=False, num_classes=2).eval()
    folder = root / "cnn"
    save_for_hf(model, folder, safe_serialization=True)
    assert (folder / "model.safetensors").is_file()
    return folder


def test_the_saved_folder_is_loaded_as_timm(cnn) -> None:
    loaded = load_model(cnn)
    assert loaded.kind == "timm" and loaded.architecture == ARCH
    assert json.loads((cnn / "config.json").read_text())["architecture"] == ARCH


def test_every_stage_is_average_pooled_and_equals_the_models_own_features(cnn, tmp_path) -> None:
    import torch
    from PIL import Image

    images = image_folder(tmp_path / "images", per_class=2)
    run = load_run(capture_run([cnn], images, tmp_path / "run.safetensors", batch_size=3))
    model = timm.create_model(ARCH, pretrained=False, num_classes=2).eval()
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(cnn / "model.safetensors")))
    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model), is_training=False)
    paths = run.metadata["path"].to_list()
    x = torch.stack([transform(Image.open(images / p).convert("RGB")) for p in paths])
    with torch.no_grad():
        final, stages = model.forward_intermediates(x)
        pre_logits = model.forward_head(final, pre_logits=True)
    assert run.layers == tuple(f"stage_{i + 1}" for i in range(len(stages))) + ("pre_logits",)
    assert run.label_names == ("cats", "dogs") and run.labels.tolist() == [0, 0, 1, 1]
    for i, stage in enumerate(stages):
        expected = stage.numpy().mean(axis=(2, 3))  # global average pool, by hand
        got = run.activations[(f"stage_{i + 1}", 0)]
        assert got.shape == (4, stage.shape[1])
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run.activations[("pre_logits", 0)], pre_logits.numpy(), rtol=1e-5, atol=1e-5)
    # A ResNet's pre-logits vector is the global average pool of its last stage.
    np.testing.assert_allclose(run.activations[("pre_logits", 0)], run.activations[(run.layers[-2], 0)],
                               rtol=1e-5, atol=1e-5)


def test_token_poolings_are_refused_for_feature_maps(cnn, tmp_path) -> None:
    images = image_folder(tmp_path / "images", per_class=1)
    with pytest.raises(ValueError, match="feature map .* pooling 'last' does not apply"):
        capture_run([cnn], images, tmp_path / "r.safetensors", pooling="last")
    assert not (tmp_path / "r.safetensors").exists()


def test_an_unknown_timm_architecture_is_refused(cnn, tmp_path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    config = json.loads((cnn / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architecture": "no_such_net"}))
    (folder / "model.safetensors").write_bytes((cnn / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="'no_such_net' is not a model timm"):
        load_model(folder)


def test_a_timm_vision_transformer_pools_its_class_token_by_default(tmp_path) -> None:
    import torch
    from PIL import Image

    torch.manual_seed(1)
    model = timm.create_model("test_vit", pretrained=False, num_classes=2).eval()
    folder = tmp_path / "vit"
    save_for_hf(model, folder, safe_serialization=True)
    images = image_folder(tmp_path / "images", per_class=1)
    run = load_run(capture_run([folder], images, tmp_path / "v.safetensors"))
    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(model), is_training=False)
    x = torch.stack([transform(Image.open(images / p).convert("RGB")) for p in run.metadata["path"].to_list()])
    with torch.no_grad():
        final, blocks = model.forward_intermediates(x, output_fmt="NLC", return_prefix_tokens=True)
    assert run.layers == tuple(f"stage_{i + 1}" for i in range(len(blocks))) + ("pre_logits",)
    for i, (_spatial, prefix) in enumerate(blocks):
        np.testing.assert_allclose(run.activations[(f"stage_{i + 1}", 0)], prefix[:, 0].numpy(),
                                   rtol=1e-5, atol=1e-5)
    mean = load_run(capture_run([folder], images, tmp_path / "m.safetensors", pooling="mean"))
    spatial, prefix = blocks[0]
    expected = torch.cat([prefix, spatial], dim=1).mean(dim=1).numpy()  # every token, class token included
    np.testing.assert_allclose(mean.activations[("stage_1", 0)], expected, rtol=1e-5, atol=1e-5)
