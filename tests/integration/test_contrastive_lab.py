"""analysis.models.contrastive: augmentations, the NT-Xent loss and tiny contrastive runs."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from analysis.data import Run
from analysis.metrics import uniformity as library_uniformity
from analysis.models import (
    CONTRASTIVE_PRESETS,
    ContrastiveConfig,
    alignment_uniformity,
    augment_images,
    digits_dataset,
    nt_xent_loss,
    shift_images,
    train_contrastive,
)

# ~1,350 digits at batch 256: 6 steps an epoch, 36 steps in all (about a second).
TINY = ContrastiveConfig(hidden_sizes=(32, 16), epochs=6, n_checkpoints=5, seed=1)
TINY_SPHERE = replace(TINY, out_dim=3)
# Long enough for "no negatives" to pull every point together.
TINY_COLLAPSE = replace(TINY, epochs=15, negatives=False)
TINY_SPREAD = replace(TINY, epochs=15)


@pytest.fixture(scope="module")
def run() -> Run:
    return train_contrastive(TINY, name="tiny")


def _mean_cosine(Z: np.ndarray) -> float:
    return float((Z @ Z.T).mean())


# --- augmentations ---------------------------------------------------------------------


def test_shift_moves_pixels_by_the_shift() -> None:
    image = torch.zeros(1, 8, 8)
    image[0, 2, 3] = 1.0
    image[0, 7, 7] = 5.0  # at the corner: shifted out of the image by (+1, +1)
    out = shift_images(image, torch.tensor([1]), torch.tensor([1]))
    assert out[0, 3, 4] == 1.0
    # The corner pixel left the image and the uncovered border is blank.
    assert float(out.sum()) == 1.0
    assert torch.all(out[0, 0, :] == 0) and torch.all(out[0, :, 0] == 0)
    up_left = shift_images(image, torch.tensor([-2]), torch.tensor([-3]))
    assert up_left[0, 0, 0] == 1.0 and up_left[0, 5, 4] == 5.0
    assert float(up_left.sum()) == 6.0


def test_shift_is_per_image() -> None:
    images = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4)
    out = shift_images(images, torch.tensor([0, 1]), torch.tensor([1, 0]))
    # Image 0 moved right by one, image 1 down by one.
    torch.testing.assert_close(out[0, :, 1:], images[0, :, :-1])
    torch.testing.assert_close(out[1, 1:, :], images[1, :-1, :])
    assert torch.all(out[0, :, 0] == 0) and torch.all(out[1, 0, :] == 0)


def test_zero_strengths_give_the_identity() -> None:
    x = torch.randn(5, 64)
    generator = torch.Generator().manual_seed(0)
    out = augment_images(
        x, image_shape=(8, 8), max_shift=0, noise_std=0.0, mask_prob=0.0, generator=generator
    )
    torch.testing.assert_close(out, x, rtol=0, atol=0)
    assert out is not x


def test_each_augmentation_changes_the_input() -> None:
    x = torch.rand(50, 64) + 0.5  # no zero pixels, so masking is visible
    gen = torch.Generator().manual_seed(0)
    kwargs = {"image_shape": (8, 8), "generator": gen}
    masked = augment_images(x, max_shift=0, noise_std=0.0, mask_prob=0.3, **kwargs)
    share = float((masked == 0).double().mean())
    assert 0.25 < share < 0.35
    assert torch.all((masked == 0) | (masked == x))
    noisy = augment_images(x, max_shift=0, noise_std=0.2, mask_prob=0.0, **kwargs)
    assert float((noisy - x).std()) == pytest.approx(0.2, rel=0.1)
    shifted = augment_images(x, max_shift=2, noise_std=0.0, mask_prob=0.0, **kwargs)
    # Every shifted image is the original moved by some (dy, dx) in -2..2.
    images, moved = x.reshape(50, 8, 8), shifted.reshape(50, 8, 8)
    for i in range(50):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(moved[i], shift_images(images[i : i + 1], torch.tensor([dy]), torch.tensor([dx]))[0])
        ]
        assert len(matches) == 1
    assert not torch.equal(shifted, x)


def test_shifts_need_an_image_shape() -> None:
    with pytest.raises(ValueError, match="image_shape"):
        augment_images(
            torch.zeros(2, 10),
            image_shape=None,
            max_shift=1,
            noise_std=0.0,
            mask_prob=0.0,
            generator=torch.Generator(),
        )


# --- loss and metrics ------------------------------------------------------------------


def test_nt_xent_matches_a_direct_computation() -> None:
    torch.manual_seed(0)
    z1 = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    z2 = torch.nn.functional.normalize(torch.randn(4, 3), dim=1)
    tau = 0.5
    z = torch.cat([z1, z2])
    expected = 0.0
    for i in range(8):
        partner = (i + 4) % 8
        others = [j for j in range(8) if j != i]
        denominator = sum(math.exp(float(z[i] @ z[j]) / tau) for j in others)
        expected += -float(z[i] @ z[partner]) / tau + math.log(denominator)
    expected /= 8
    assert float(nt_xent_loss(z1, z2, temperature=tau)) == pytest.approx(expected, rel=1e-5)
    alignment_only = -float((z1 * z2).sum(dim=1).mean()) / tau
    assert float(nt_xent_loss(z1, z2, temperature=tau, negatives=False)) == pytest.approx(
        alignment_only, rel=1e-6
    )


def test_alignment_uniformity_on_known_sets() -> None:
    # Four points at the corners of a square on the circle: squared distances
    # 2 (four adjacent pairs) and 4 (two opposite pairs).
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    align, uniform = alignment_uniformity(z, z.flip(0), z)
    expected = math.log((4 * math.exp(-4) + 2 * math.exp(-8)) / 6)
    assert uniform == pytest.approx(expected, rel=1e-9)
    # z against its row-reversed self pairs neighbours: squared distance 2 each.
    assert align == pytest.approx(2.0)
    same = torch.tensor([[0.6, 0.8]] * 5)
    assert alignment_uniformity(same, same, same) == pytest.approx((0.0, 0.0))


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"out_dim": 1}, r"out_dim must be an integer >= 2"),
        ({"temperature": 0.0}, r"temperature must be a positive number"),
        ({"temperature": -1.0}, r"temperature must be a positive number"),
        ({"batch_size": 1}, r"batch_size must be an integer >= 2"),
        ({"dataset": "cifar"}, r"dataset must be one of"),
        ({"mask_prob": 1.0}, r"mask_prob must be a probability in \[0, 1\)"),
        ({"noise_std": -0.1}, r"noise_std must be a number >= 0"),
        ({"max_shift": 8}, r"max_shift must be an integer pixel count"),
        ({"dataset": "gaussian_mixture", "max_shift": 1}, r"set max_shift=0"),
        ({"hidden_sizes": (32, 0)}, r"hidden_sizes must hold at least one positive width"),
        ({"negatives": "no"}, r"negatives must be True or False"),
        ({"n_checkpoints": 1}, r"n_checkpoints must be an integer >= 2"),
        ({"activation": "sigmoid"}, r"activation must be one of"),
    ],
)
def test_config_rejects(changes: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ContrastiveConfig(**changes)


def test_config_to_dict_and_describe() -> None:
    config = ContrastiveConfig(hidden_sizes=[16], out_dim=3, negatives=False)
    assert config.hidden_sizes == (16,)
    data = config.to_dict()
    assert data["hidden_sizes"] == [16] and data["out_dim"] == 3 and data["negatives"] is False
    assert ContrastiveConfig(**data) == config
    text = config.describe()
    assert "2-sphere" in text and "no negatives" in text
    assert "circle" in ContrastiveConfig().describe()


def test_presets() -> None:
    assert set(CONTRASTIVE_PRESETS) == {
        "circle",
        "sphere",
        "low temperature",
        "high temperature",
        "no negatives",
    }
    assert CONTRASTIVE_PRESETS["circle"] == ContrastiveConfig()
    assert CONTRASTIVE_PRESETS["sphere"].out_dim == 3
    assert CONTRASTIVE_PRESETS["low temperature"].temperature < ContrastiveConfig().temperature
    assert CONTRASTIVE_PRESETS["high temperature"].temperature > ContrastiveConfig().temperature
    assert CONTRASTIVE_PRESETS["no negatives"].negatives is False


def test_train_rejects_other_configs() -> None:
    with pytest.raises(ValueError, match="config must be a ContrastiveConfig"):
        train_contrastive({"out_dim": 2})  # type: ignore[arg-type]


# --- runs ------------------------------------------------------------------------------


def test_run_layers_shapes_and_unit_norm(run: Run) -> None:
    _, y_tr, _, y_te = digits_dataset(seed=0)
    n = y_tr.size + y_te.size
    assert run.layers == ("hidden", "embedding")
    assert run.steps[0] == 0 and len(run.steps) == TINY.n_checkpoints
    assert run.steps[-1] == TINY.epochs * math.ceil(y_tr.size / TINY.batch_size)
    for step in run.steps:
        Z = run.embedding("embedding", step).X
        H = run.embedding("hidden", step).X
        assert Z.shape == (n, 2) and Z.dtype == np.float32
        assert H.shape == (n, 16)
        np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(run.labels, np.concatenate([y_tr, y_te]))
    # Training moved the embedding.
    assert not np.allclose(run.embedding("embedding", 0).X, run.embedding("embedding", run.steps[-1]).X)
    assert run.name == "tiny" and "NT-Xent onto the circle" in run.task


def test_run_metadata(run: Run) -> None:
    _, y_tr, _, y_te, index_tr, index_te = digits_dataset(seed=0, return_index=True)
    meta = run.metadata
    assert meta.columns == ["id", "split", "digit", "source_index"]
    assert meta["split"].to_list() == ["train"] * y_tr.size + ["test"] * y_te.size
    assert meta["digit"].to_list() == [str(c) for c in run.labels]
    np.testing.assert_array_equal(meta["id"].to_numpy(), np.arange(meta.height))
    np.testing.assert_array_equal(
        meta["source_index"].to_numpy(), np.concatenate([index_tr, index_te])
    )


def test_run_curves(run: Run) -> None:
    curves = run.curves
    keys = {"step", "train_loss", "alignment", "uniformity", "test_alignment", "test_uniformity"}
    assert set(curves) == keys
    lengths = {len(v) for v in curves.values()}
    assert len(lengths) == 1
    steps = curves["step"]
    assert steps[0] == 0 and steps == sorted(set(steps))
    # Every checkpoint and every epoch's end (6 steps each) has a point.
    assert {float(s) for s in run.steps} <= set(steps)
    assert {6.0 * e for e in range(1, TINY.epochs + 1)} <= set(steps)
    assert all(0.0 <= a <= 4.0 for a in curves["alignment"])
    assert all(u <= 0.0 for u in curves["uniformity"])
    # The uniformity of the recorded final embedding matches the curve.
    train = (run.metadata["split"] == "train").to_numpy()
    Z = torch.from_numpy(run.embedding("embedding", run.steps[-1]).X[train])
    _, uniform = alignment_uniformity(Z, Z, Z)
    assert uniform == pytest.approx(curves["uniformity"][-1], abs=1e-4)
    # ... and the library metric (float64, exact over all pairs) agrees with the trainer's torch version.
    assert library_uniformity(Z.numpy()).value == pytest.approx(curves["uniformity"][-1], abs=1e-4)
    # Training lowered the loss on the fixed evaluation views.
    assert curves["train_loss"][-1] < curves["train_loss"][0]


def test_sphere_run() -> None:
    sphere = train_contrastive(replace(TINY_SPHERE, epochs=2))
    Z = sphere.embedding("embedding", sphere.steps[-1]).X
    assert Z.shape[1] == 3
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)


def test_deterministic(run: Run) -> None:
    again = train_contrastive(TINY)
    assert again.steps == run.steps
    for key, value in run.activations.items():
        np.testing.assert_array_equal(again.activations[key], value)
    assert again.curves == run.curves
    other = train_contrastive(replace(TINY, seed=2))
    assert not np.array_equal(
        other.embedding("embedding", other.steps[-1]).X, run.embedding("embedding", run.steps[-1]).X
    )


def test_no_negatives_collapses_and_negatives_spread() -> None:
    collapsed = train_contrastive(TINY_COLLAPSE)
    spread = train_contrastive(TINY_SPREAD)
    Z_collapsed = collapsed.embedding("embedding", collapsed.steps[-1]).X
    Z_spread = spread.embedding("embedding", spread.steps[-1]).X
    assert _mean_cosine(Z_collapsed) > 0.99
    assert _mean_cosine(Z_spread) < 0.5
    # In the alignment-uniformity plane: collapse sits near (0, 0).
    assert collapsed.curves["uniformity"][-1] > -0.02
    assert collapsed.curves["alignment"][-1] < 0.01
    assert spread.curves["uniformity"][-1] < -0.5
    assert spread.curves["uniformity"][-1] < spread.curves["uniformity"][0]


def test_gaussian_mixture_run() -> None:
    config = ContrastiveConfig(
        dataset="gaussian_mixture", max_shift=0, hidden_sizes=(16,), epochs=3, n_checkpoints=3
    )
    mixture = train_contrastive(config)
    assert mixture.metadata.columns == ["id", "split", "class"]
    assert mixture.embedding("embedding", 0).X.shape == (1000, 2)
    assert sorted(set(mixture.labels.tolist())) == [0, 1, 2, 3, 4]


def test_should_stop_keeps_checkpoints_so_far() -> None:
    calls = {"n": 0}

    def stop_after_5() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    stopped = train_contrastive(TINY, should_stop=stop_after_5)
    assert stopped.steps[-1] == 5
    assert stopped.steps[0] == 0 and len(stopped.steps) < TINY.n_checkpoints
    assert "stopped early at step 5" in stopped.task
    assert stopped.curves["step"][-1] == 5.0


def test_progress_ends_at_one_and_threads_restored() -> None:
    fractions: list[float] = []
    threads: list[int] = []

    def progress(fraction: float, message: str) -> None:
        fractions.append(fraction)
        threads.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train_contrastive(replace(TINY, epochs=2), progress=progress)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert fractions[-1] == 1.0 and fractions[0] == 0.0
    assert fractions == sorted(fractions)
    assert set(threads) == {1}
