"""analysis.capture: forward-hook activation capture and record_activations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from analysis.capture import ActivationCapture, capture, record_activations


def _all_hooks_gone(model: nn.Module) -> bool:
    return all(not m._forward_hooks for m in model.modules())


@pytest.fixture()
def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))


@pytest.fixture()
def x() -> torch.Tensor:
    return torch.randn(10, 5, generator=torch.Generator().manual_seed(1))


class SeqModel(nn.Module):
    """(batch, positions, features) outputs, plus a tuple-returning block."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class TupleBlock(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.lin(x)
        return out, out.sum()


class TupleModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = TupleBlock()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)[0]


# --- hooks lifecycle --------------------------------------------------------


def test_hooks_removed_after_normal_exit(mlp: nn.Sequential, x: torch.Tensor) -> None:
    with capture(mlp, ["0", "1"]) as cap:
        assert mlp[0]._forward_hooks and mlp[1]._forward_hooks
        assert cap.active
        mlp(x)
    assert _all_hooks_gone(mlp)
    assert not cap.active


def test_hooks_removed_after_exception_in_block(mlp: nn.Sequential, x: torch.Tensor) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with capture(mlp, ["0", "2"]):
            mlp(x)
            raise RuntimeError("boom")
    assert _all_hooks_gone(mlp)


def test_hooks_removed_when_a_hook_raises(x: torch.Tensor) -> None:
    model = SeqModel()
    with pytest.raises(ValueError, match="pooling"):
        with capture(model, ["proj"]):  # 3-D output, no pooling: the hook raises
            model(torch.randn(2, 6, 3))
    assert _all_hooks_gone(model)


def test_capture_cannot_be_nested(mlp: nn.Sequential) -> None:
    cap = capture(mlp, ["0"])
    with cap:
        with pytest.raises(RuntimeError, match="already active"):
            cap.__enter__()
    assert _all_hooks_gone(mlp)


def test_record_activations_leaves_no_hooks(mlp: nn.Sequential, x: torch.Tensor) -> None:
    record_activations(mlp, x, ["0", "1", "2"])
    assert _all_hooks_gone(mlp)


# --- values ------------------------------------------------------------------


def test_captured_values_equal_manual_forward(mlp: nn.Sequential, x: torch.Tensor) -> None:
    with capture(mlp, {"pre": "0", "post": "1", "logits": "2"}) as cap:
        with torch.no_grad():
            mlp(x)
    acts = cap.activations()
    W1, b1 = mlp[0].weight.detach().numpy(), mlp[0].bias.detach().numpy()
    W2, b2 = mlp[2].weight.detach().numpy(), mlp[2].bias.detach().numpy()
    xn = x.numpy()
    pre = xn @ W1.T + b1
    post = np.maximum(pre, 0)
    np.testing.assert_allclose(acts["pre"], pre, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["post"], post, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["logits"], post @ W2.T + b2, rtol=1e-5, atol=1e-6)
    for arr in acts.values():
        assert arr.dtype == np.float32 and arr.shape[0] == x.shape[0]


def test_batches_concatenate_in_call_order(mlp: nn.Sequential, x: torch.Tensor) -> None:
    with capture(mlp, ["1"]) as cap:
        mlp(x[:3])
        mlp(x[3:])
    assert len(cap.records["1"]) == 2
    expected = torch.relu(mlp[0](x)).detach().numpy()
    np.testing.assert_allclose(cap.activations()["1"], expected, rtol=1e-5, atol=1e-6)


def test_single_name_string_is_one_layer(mlp: nn.Sequential, x: torch.Tensor) -> None:
    with capture(mlp, "2") as cap:  # not ["2"] split into characters
        mlp(x)
    assert list(cap.activations()) == ["2"]


def test_whole_model_by_empty_name(mlp: nn.Sequential, x: torch.Tensor) -> None:
    out = record_activations(mlp, x, [""])
    np.testing.assert_allclose(out[""], mlp(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_inplace_op_after_hooked_layer_does_not_alter_capture(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(inplace=True))
    with torch.no_grad():
        expected = model[0](x).numpy().copy()
    assert (expected < 0).any()  # otherwise the test proves nothing
    out = record_activations(model, x, ["0"])
    np.testing.assert_allclose(out["0"], expected, rtol=1e-5, atol=1e-6)


def test_tuple_output_uses_first_element() -> None:
    torch.manual_seed(0)
    model = TupleModel()
    x = torch.randn(7, 3)
    out = record_activations(model, x, ["block"])
    np.testing.assert_allclose(
        out["block"], model.block.lin(x).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_one_dimensional_output_becomes_a_column() -> None:
    class Scalar(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum(dim=1)

    model = nn.Sequential(Scalar())
    x = torch.randn(4, 3)
    out = record_activations(model, x, ["0"])
    np.testing.assert_allclose(out["0"], x.sum(dim=1, keepdim=True).numpy(), rtol=1e-5, atol=1e-6)


# --- 3-D pooling -------------------------------------------------------------


@pytest.fixture()
def seq_batch() -> tuple[SeqModel, torch.Tensor, np.ndarray]:
    torch.manual_seed(0)
    model = SeqModel()
    x = torch.randn(5, 6, 3)
    with torch.no_grad():
        full = model.proj(x).numpy()  # (5, 6, 4)
    return model, x, full


def test_pooling_mean(seq_batch: tuple[SeqModel, torch.Tensor, np.ndarray]) -> None:
    model, x, full = seq_batch
    out = record_activations(model, x, ["proj"], pooling="mean")["proj"]
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out, full.mean(axis=1), rtol=1e-5, atol=1e-6)


def test_pooling_last(seq_batch: tuple[SeqModel, torch.Tensor, np.ndarray]) -> None:
    model, x, full = seq_batch
    out = record_activations(model, x, ["proj"], pooling="last")["proj"]
    assert out.shape == (5, 4)
    np.testing.assert_array_equal(out, full[:, -1, :])


def test_pooling_flatten(seq_batch: tuple[SeqModel, torch.Tensor, np.ndarray]) -> None:
    model, x, full = seq_batch
    out = record_activations(model, x, ["proj"], pooling="flatten")["proj"]
    assert out.shape == (5, 24)
    np.testing.assert_array_equal(out, full.reshape(5, 24))
    np.testing.assert_array_equal(out[:, 4:8], full[:, 1, :])  # position-major


def test_three_d_without_pooling_is_an_error(
    seq_batch: tuple[SeqModel, torch.Tensor, np.ndarray],
) -> None:
    model, x, _ = seq_batch
    with pytest.raises(ValueError, match="3-D output.*pooling='mean'"):
        record_activations(model, x, ["proj"])
    assert _all_hooks_gone(model)


def test_pooling_does_not_touch_two_d_layers(mlp: nn.Sequential, x: torch.Tensor) -> None:
    plain = record_activations(mlp, x, ["1"])
    pooled = record_activations(mlp, x, ["1"], pooling="mean")
    np.testing.assert_array_equal(plain["1"], pooled["1"])


def test_four_d_output_needs_flatten() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, kernel_size=3, padding=1))
    x = torch.randn(3, 1, 4, 4)
    with pytest.raises(ValueError, match="4-D"):
        record_activations(model, x, ["0"], pooling="mean")
    out = record_activations(model, x, ["0"], pooling="flatten")["0"]
    assert out.shape == (3, 2 * 4 * 4)


def test_unknown_pooling_is_an_error(mlp: nn.Sequential) -> None:
    with pytest.raises(ValueError, match="pooling must be one of"):
        capture(mlp, ["0"], pooling="max")


# --- errors ------------------------------------------------------------------


def test_unknown_layer_lists_available_names(mlp: nn.Sequential) -> None:
    with pytest.raises(ValueError) as info:
        capture(mlp, ["0", "fc9"])
    message = str(info.value)
    assert "'fc9'" in message
    for name in ("'0'", "'1'", "'2'"):
        assert name in message
    assert _all_hooks_gone(mlp)  # validated before registering anything


def test_unknown_layer_suggests_close_names() -> None:
    model = nn.Sequential()
    model.add_module("encoder", nn.Linear(2, 2))
    with pytest.raises(ValueError, match="did you mean 'encoder'"):
        capture(model, ["encodr"])


def test_empty_layers_is_an_error(mlp: nn.Sequential) -> None:
    with pytest.raises(ValueError, match="empty"):
        capture(mlp, [])


def test_uncalled_layer_is_reported(x: torch.Tensor) -> None:
    class WithSpare(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(5, 2)
            self.spare = nn.Linear(2, 2)  # registered, never called by forward

        def forward(self, t: torch.Tensor) -> torch.Tensor:
            return self.used(t)

    with pytest.raises(ValueError, match="not called"):
        record_activations(WithSpare(), x, ["used", "spare"])


def test_layer_called_twice_is_reported(x: torch.Tensor) -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.shared = nn.Linear(5, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.shared(self.shared(x))

    with pytest.raises(ValueError, match="more than once"):
        record_activations(Twice(), x, ["shared"])


def test_bad_batch_size(mlp: nn.Sequential, x: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        record_activations(mlp, x, ["0"], batch_size=0)


def test_empty_data_is_an_error(mlp: nn.Sequential) -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        record_activations(mlp, torch.empty(0, 5), ["0"])
    with pytest.raises(ValueError, match="no batches"):
        record_activations(mlp, [], ["0"])


# --- record_activations: data forms, modes, gradients ---------------------------


def test_data_forms_agree(mlp: nn.Sequential, x: torch.Tensor) -> None:
    reference = record_activations(mlp, x, ["1", "2"])
    loader = DataLoader(TensorDataset(x, torch.arange(len(x))), batch_size=3)
    forms = {
        "tensor, batch 3": record_activations(mlp, x, ["1", "2"], batch_size=3),
        "float64 ndarray": record_activations(mlp, x.double().numpy(), ["1", "2"], batch_size=4),
        "(x, y) loader": record_activations(mlp, loader, ["1", "2"]),
        "tensor iterable": record_activations(mlp, [x[:6], x[6:]], ["1", "2"]),
    }
    for label, out in forms.items():
        for layer in ("1", "2"):
            assert out[layer].shape == reference[layer].shape, label
            np.testing.assert_allclose(
                out[layer], reference[layer], rtol=1e-5, atol=1e-6, err_msg=label
            )


def test_read_only_ndarray_is_accepted(mlp: nn.Sequential, x: torch.Tensor) -> None:
    arr = x.numpy().copy()
    arr.setflags(write=False)  # like a memory-mapped run
    out = record_activations(mlp, arr, ["2"])
    np.testing.assert_allclose(out["2"], mlp(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_runs_in_eval_mode_without_grad_and_restores_modes(x: torch.Tensor) -> None:
    seen: dict[str, bool] = {}

    class Probe(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            seen["training"] = self.training
            seen["grad"] = torch.is_grad_enabled()
            return t

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Dropout(p=0.9), Probe())
    model.train()
    out = record_activations(model, x, ["0", "1"])
    assert seen == {"training": False, "grad": False}
    # Eval-mode dropout is the identity.
    np.testing.assert_array_equal(out["1"], out["0"])
    assert all(m.training for m in model.modules())


def test_mixed_training_flags_are_restored_exactly(mlp: nn.Sequential, x: torch.Tensor) -> None:
    mlp.train()
    mlp[0].eval()  # e.g. a frozen first layer
    before = [m.training for m in mlp.modules()]
    record_activations(mlp, x, ["2"])
    assert [m.training for m in mlp.modules()] == before


def test_training_flags_restored_after_error(x: torch.Tensor) -> None:
    model = SeqModel()
    model.train()
    with pytest.raises(ValueError):
        record_activations(model, torch.randn(2, 4, 3), ["proj"])
    assert model.training and model.proj.training


def test_activation_capture_class_is_exported(mlp: nn.Sequential) -> None:
    cap = capture(mlp, {"h": "1"})
    assert isinstance(cap, ActivationCapture)
    assert cap.layer_map == {"h": "1"}
