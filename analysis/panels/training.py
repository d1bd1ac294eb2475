"""The training lab's library side: its configs, presets and choices, the form's values, and the trainer.

`ui/train_lab.py` (the "Train a model" form of the Neural collapse page, and
`train_and_add` for every page that trains) reaches `analysis.models` only
through here (issue 16: the app imports panels, views and data). The form's
text fields are parsed here, so a bad value is a ValueError naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any

from analysis.models import TrainingDiverged
from analysis.models.collapse_lab import DATASETS, PRESETS, CollapseLabConfig, train_collapse_lab
from analysis.models.mlp import ACTIVATIONS, LOSSES, LR_SCHEDULES, OPTIMIZERS, MLPConfig

__all__ = [
    "ACTIVATION_NAMES",
    "DATASETS",
    "LOSSES",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "PRESETS",
    "CollapseLabConfig",
    "MLPConfig",
    "TrainingDiverged",
    "config_from_values",
    "config_params",
    "form_values",
    "parse_hidden_sizes",
    "train_collapse_lab",
]

# The activations the MLP offers, sorted (the form's choices).
ACTIVATION_NAMES: tuple[str, ...] = tuple(sorted(ACTIVATIONS))


def form_values(config: CollapseLabConfig) -> dict[str, object]:
    """The lab form's fields for `config` (a preset), as the widgets hold them."""
    mlp = config.mlp
    return {
        "dataset": config.dataset, "hidden": "-".join(str(h) for h in mlp.hidden_sizes),
        "activation": mlp.activation, "loss": mlp.loss, "optimizer": mlp.optimizer,
        "lr": float(mlp.lr), "wd": float(mlp.weight_decay), "schedule": mlp.lr_schedule,
        "epochs": int(mlp.epochs), "bias": bool(mlp.bias), "etf": bool(mlp.fixed_etf_head),
        "imbalance": float(config.imbalance_ratio), "noise": float(config.label_noise),
        "seed": int(mlp.seed), "classes": int(config.n_classes), "features": int(config.n_features),
        "per_class": int(config.n_per_class), "separation": float(config.separation),
        "held": int(config.held_out_classes),
    }


def parse_hidden_sizes(text: object) -> tuple[int, ...]:
    """"64-64-32" (or "64,64,32") -> (64, 64, 32); ValueError naming the field otherwise."""
    try:
        return tuple(int(part) for part in str(text).replace(",", "-").split("-") if part.strip())
    except ValueError:
        raise ValueError(f"Hidden widths {text!r}: write widths separated by '-', e.g. 64-64-32.") from None


def config_from_values(values: Mapping[str, Any]) -> CollapseLabConfig:
    """The form's values (keys of `form_values`) as a config; ValueError names the field to fix."""
    v = values
    mlp = replace(MLPConfig(), hidden_sizes=parse_hidden_sizes(v["hidden"]), activation=v["activation"],
                  loss=v["loss"], optimizer=v["optimizer"], lr=float(v["lr"]), weight_decay=float(v["wd"]),
                  lr_schedule=v["schedule"], epochs=int(v["epochs"]), bias=bool(v["bias"]),
                  fixed_etf_head=bool(v["etf"]), seed=int(v["seed"]))
    return CollapseLabConfig(dataset=v["dataset"], imbalance_ratio=float(v["imbalance"]),
                             label_noise=float(v["noise"]), n_classes=int(v["classes"]),
                             n_features=int(v["features"]), n_per_class=int(v["per_class"]),
                             separation=float(v["separation"]), held_out_classes=int(v["held"]), mlp=mlp)


def config_params(config: Any) -> str:
    """Any lab config as canonical JSON (sorted keys): the content of a trained run's key."""
    params = config.to_dict() if hasattr(config, "to_dict") else asdict(config)
    return json.dumps(params, sort_keys=True, default=str)
