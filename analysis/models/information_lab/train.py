"""Training the 12-bit network with `train_mlp`, keeping every checkpoint's weights."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from analysis.data.schema import Run
from analysis.models._progress import StopFn
from analysis.models.information_lab.config import InformationLabConfig
from analysis.models.information_lab.run_layout import (
    CheckpointWeights,
    LabData,
    epoch_curve,
    extra_metadata,
    lab_data,
    n_steps_per_epoch,
    task_description,
)
from analysis.models.information_lab.task import LABEL_COLUMN, LABEL_NAMES
from analysis.validation import ProgressFn

if TYPE_CHECKING:  # torch is imported only to train: replay and file I/O need numpy alone.
    import numpy as np
    from torch import nn

__all__ = ["train_information_lab", "train_information_lab_with_weights"]


def _copy_weights(model: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    linears = [getattr(model, name).linear for name in model.hidden_layer_names]
    linears.append(model.classifier)
    return [
        (
            lin.weight.detach().to("cpu").float().numpy().copy(),
            lin.bias.detach().to("cpu").float().numpy().copy(),
        )
        for lin in linears
    ]


@contextlib.contextmanager
def _epoch_curve_on_divergence(config: InformationLabConfig, data: LabData) -> Iterator[None]:
    """A diverged training's kept run (`TrainingDiverged.result`) gets the ``epoch`` curve too."""
    from analysis.models._loop import TrainingDiverged

    try:
        yield
    except TrainingDiverged as exc:
        if exc.result is not None:
            exc.result.curves["epoch"] = epoch_curve(exc.result.curves["step"], n_steps_per_epoch(config, data))
        raise


def train_information_lab_with_weights(
    config: InformationLabConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> tuple[Run, CheckpointWeights]:
    """`train_information_lab`, also returning every checkpoint's weights.

    Returns
    -------
    run : Run
        As `train_information_lab`.
    weights : dict mapping step to list of (weight, bias)
        For each recorded step, one float32 ``(weight (out, in), bias (out,))``
        per Linear layer: ``hidden1`` ... ``hidden<L>``, then the classifier
        (6 pairs, 294 parameters, for the default network). With the config,
        `replay_information_run` rebuilds the run from them.
    """
    from analysis.models._threads import torch_threads
    from analysis.models.mlp import train_mlp

    config = InformationLabConfig() if config is None else config
    if not isinstance(config, InformationLabConfig):
        raise ValueError(
            f"config must be an InformationLabConfig; got {type(config).__name__}. "
            "Build one with InformationLabConfig(...) or pick one from INFORMATION_PRESETS."
        )
    data = lab_data(config)
    weights: CheckpointWeights = {}

    def keep_weights(step: int, model: nn.Module) -> None:
        weights[int(step)] = _copy_weights(model)

    # One intra-op thread: these matrices are far too small to gain from more,
    # and the run then does not depend on the machine's core count.
    with torch_threads(1), _epoch_curve_on_divergence(config, data):
        run = train_mlp(
            data.X_train,
            data.y_train,
            data.X_test,
            data.y_test,
            config.mlp_config(),
            progress=progress,
            should_stop=should_stop,
            label_names=LABEL_NAMES,
            label_column=LABEL_COLUMN,
            extra_metadata=extra_metadata(data),
            task=task_description(config, data),
            name=name,
            on_checkpoint=keep_weights,
        )
    run.curves["epoch"] = epoch_curve(run.curves["step"], n_steps_per_epoch(config, data))
    return run, weights


def train_information_lab(
    config: InformationLabConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> Run:
    """Train the 12-bit information-bottleneck network and return its `Run`.

    Builds the 4,096 inputs and their labels (module docstring), splits them
    (`twelve_bit_split`), and trains with `train_mlp` on one torch thread:
    Adam (AdamW with zero weight decay), constant learning rate,
    cross-entropy.

    Parameters
    ----------
    config : InformationLabConfig, optional
        Defaults to ``InformationLabConfig()`` (``INFORMATION_PRESETS["tanh"]``).
    progress : callable (fraction, message) -> None, optional
        Passed to `train_mlp`: non-decreasing fractions in [0, 1], last 1.0.
    should_stop : callable () -> bool, optional
        Passed to `train_mlp`: polled before every optimiser step; True stops
        training and the run keeps the checkpoints so far.
    name : str, default=""
        Name stored in the run.

    Returns
    -------
    Run
        Layers ``hidden1`` ... ``hidden5`` (widths 10, 7, 5, 4, 3 by default),
        each recorded on all 4,096 inputs (train rows, then test rows, each in
        ascending input order) at every checkpoint; logits and classifier;
        labels 0/1 named ``"y=0"``/``"y=1"``. Metadata columns: ``id``,
        ``split``, ``label``, ``input_index`` (int64: the integer whose bits
        are the row) and ``bits`` (e.g. ``"010011000101"``, most significant
        first). Curves: `train_mlp`'s plus ``epoch`` (step / steps per epoch,
        aligned with ``step``).
    """
    run, _ = train_information_lab_with_weights(
        config, progress=progress, should_stop=should_stop, name=name
    )
    return run
