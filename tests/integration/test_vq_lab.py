"""The VQ lab: a small VQ autoencoder on the digits and its codebook-collapse remedies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from analysis.models import VQ_PRESETS, VQAutoencoder, VQConfig, code_usage, train_vq

TINY = VQConfig(
    codebook_size=32,
    code_dim=4,
    hidden_sizes=(32,),
    epochs=4,
    batch_size=128,
    lr=3e-3,
    n_checkpoints=4,
    restart_every=5,
)


@pytest.fixture(scope="module")
def plain_run():
    return train_vq(TINY)


@pytest.fixture(scope="module")
def restart_run():
    return train_vq(replace(TINY, restart_dead=True))


def test_run_shapes_codes_and_curves(plain_run) -> None:
    run = plain_run
    K = TINY.codebook_size
    assert run.layers == ("encoder", "reconstruction")
    assert run.steps[0] == 0 and len(run.steps) == TINY.n_checkpoints
    assert run.steps[-1] == TINY.epochs * 11  # 1,347 train rows in batches of 128
    n = run.n_samples
    assert n == 1797 and run.labels.shape == (n,)
    assert run.metadata.columns == ["id", "split", "digit", "source_index"]
    for step in run.steps:
        assert run.activations[("encoder", step)].shape == (n, TINY.code_dim)
        assert run.activations[("reconstruction", step)].shape == (n, 64)
        codes = run.codes[("encoder", step)]
        assert codes.dtype == np.int64 and codes.shape == (n,)
        assert codes.min() >= 0 and codes.max() < K
        assert run.codebooks[("encoder", step)].shape == (K, TINY.code_dim)
    assert set(run.curves) == {"step", "train_recon", "test_recon", "perplexity", "dead_fraction"}
    assert len({len(v) for v in run.curves.values()}) == 1
    # Training lowers the reconstruction error.
    assert run.curves["train_recon"][-1] < run.curves["train_recon"][0]
    # The curves agree with the recorded train codes.
    n_train = int((run.metadata["split"] == "train").sum())
    perplexity, dead = code_usage(run.codes[("encoder", run.steps[-1])][:n_train], K)
    assert run.curves["perplexity"][-1] == pytest.approx(perplexity)
    assert run.curves["dead_fraction"][-1] == pytest.approx(dead)


def test_deterministic(plain_run) -> None:
    again = train_vq(TINY)
    last = plain_run.steps[-1]
    np.testing.assert_array_equal(again.codes[("encoder", last)], plain_run.codes[("encoder", last)])
    np.testing.assert_array_equal(
        again.codebooks[("encoder", last)], plain_run.codebooks[("encoder", last)]
    )
    assert again.curves == plain_run.curves


def test_restart_raises_utilisation_over_plain(plain_run, restart_run) -> None:
    plain_dead = plain_run.curves["dead_fraction"][-1]
    restart_dead = restart_run.curves["dead_fraction"][-1]
    assert plain_dead > 0.4  # plain VQ leaves many codes unused
    assert restart_dead < plain_dead - 0.3


def test_kmeans_init_uses_more_codes_at_step_zero(plain_run) -> None:
    run = train_vq(replace(TINY, kmeans_init=True, epochs=1))
    # Every k-means centre is some train sample's nearest code; the random
    # codes near the origin are not.
    assert run.curves["dead_fraction"][0] <= 0.05
    assert run.curves["dead_fraction"][0] < plain_run.curves["dead_fraction"][0] - 0.1


def test_cosine_codes_and_inputs_are_unit_norm() -> None:
    run = train_vq(replace(TINY, cosine=True, epochs=1))
    for step in run.steps:
        np.testing.assert_allclose(np.linalg.norm(run.codebooks[("encoder", step)], axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(
            np.linalg.norm(run.activations[("encoder", step)], axis=1), 1, atol=1e-5
        )


def test_lookup_dim_factorises_codes() -> None:
    run = train_vq(replace(TINY, lookup_dim=2, epochs=1))
    assert run.codebooks[("encoder", 0)].shape == (TINY.codebook_size, 2)
    assert run.activations[("encoder", 0)].shape == (run.n_samples, 2)


def test_ema_moves_codebook_without_gradients() -> None:
    config = replace(TINY, ema=True)
    model = VQAutoencoder(64, config)
    assert "codebook" not in dict(model.named_parameters())
    assert not model.codebook.requires_grad
    # One EMA step moves a chosen code towards the mean of its inputs.
    z = torch.full((8, config.code_dim), 2.0)
    codes = torch.zeros(8, dtype=torch.long)
    before = model.codebook[0].clone()
    model.ema_update(z, codes)
    assert (model.codebook[0] - 2.0).abs().max() < (before - 2.0).abs().max()
    # And over training the recorded codebook changes.
    run = train_vq(replace(config, epochs=1))
    first, last = run.steps[0], run.steps[-1]
    assert not np.allclose(run.codebooks[("encoder", first)], run.codebooks[("encoder", last)])
    # The plain model's codebook is a parameter.
    assert "codebook" in dict(VQAutoencoder(64, TINY).named_parameters())


def test_progress_ends_at_one_and_should_stop() -> None:
    fractions: list[float] = []
    train_vq(replace(TINY, epochs=1), progress=lambda f, _m: fractions.append(f))
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    polls = {"n": 0}

    def stop() -> bool:
        polls["n"] += 1
        return polls["n"] > 3

    run = train_vq(TINY, should_stop=stop)
    assert run.steps[-1] == 3
    assert "stopped early at step 3" in run.task


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"codebook_size": 1}, "codebook_size"),
        ({"code_dim": 0}, "code_dim"),
        ({"beta": -1}, "beta"),
        ({"ema": 1}, "ema"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"lookup_dim": 0}, "lookup_dim"),
        ({"restart_every": 0}, "restart_every"),
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"lr": float("nan")}, "lr"),
        ({"n_checkpoints": 1}, "n_checkpoints"),
    ],
)
def test_config_validation(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        VQConfig(**kwargs)


def test_config_helpers_and_presets() -> None:
    with pytest.raises(ValueError, match="VQConfig"):
        train_vq("plain")  # type: ignore[arg-type]
    assert VQConfig().to_dict()["hidden_sizes"] == [128, 64]
    assert "plain VQ" in VQ_PRESETS["plain"].describe()
    remedies = VQ_PRESETS["all remedies"]
    assert remedies.ema and remedies.kmeans_init and remedies.restart_dead and remedies.cosine
    assert remedies.lookup_dim is not None
    assert VQ_PRESETS["plain"].codebook_size == 256
    assert VQ_PRESETS["small K"].codebook_size == 16
