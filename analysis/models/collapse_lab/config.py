"""`CollapseLabConfig`, what the collapse lab trains, and the guided `PRESETS`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from analysis.models._checks import is_int
from analysis.models.collapse_lab.data import check_fraction, check_ratio
from analysis.models.digits import digits_mlp_config
from analysis.models.mlp_config import MLPConfig

__all__ = ["DATASETS", "DEFAULT_LAB_MLP", "PRESETS", "CollapseLabConfig"]

DATASETS = ("digits", "gaussian_mixture")

# The shipped sample's settings (analysis.models.digits.digits_mlp_config()).
# Measured on the digits with one CPU thread (~9 s): the last hidden layer's
# train NC1 falls about 84x from the first checkpoint after initialisation to
# the last (2.5 -> 0.030), NC3 from 0.97 to 0.077 and the ETF distance from
# 0.89 to 0.60. tanh beats ReLU here (NC1 ~0.03 vs ~0.2).
DEFAULT_LAB_MLP = digits_mlp_config()


@dataclass(frozen=True)
class CollapseLabConfig:
    """What `train_collapse_lab` trains on and how.

    Parameters
    ----------
    dataset : {"digits", "gaussian_mixture"}, default="digits"
        The scikit-learn digits (`digits_dataset`, 10 classes, 64 features)
        or a synthetic `gaussian_mixture_dataset`.
    imbalance_ratio : float, default=1.0
        >= 1. The training split is subsampled to the long-tailed profile of
        `long_tail_counts` (class 0 largest, the last class `imbalance_ratio`
        times smaller); the test split stays as it is. 1 keeps it balanced.
    label_noise : float, default=0.0
        In [0, 1): share of training labels moved to a random other class
        (`flip_labels`), after the subsampling. Test labels stay clean.
    n_classes, n_features, n_per_class, separation : int, int, int, float
        Parameters of `gaussian_mixture_dataset` (defaults 5, 32, 200, 3.0);
        ignored for the digits.
    test_size : float, default=0.25
        Share of the data in the test split, in (0, 1).
    held_out_classes : int, default=0
        The last this-many classes are held out (Galanti et al. 2022): none
        of their samples is trained on (the head has a row per trained class
        only), but their features are recorded at every checkpoint as the
        split ``"held_out"``, to measure neural collapse on new classes.
        0 to C-2 (two classes must remain to train on).
    data_seed : int, default=0
        Seeds the data: the mixture, the split, the subsampling and the label
        flips. ``mlp.seed`` seeds the initialisation and the batch order, so
        the two can be varied separately.
    mlp : MLPConfig, default=DEFAULT_LAB_MLP
        The model and optimiser: by default the shipped ``digits_mlp``
        sample's (tanh 64-64-32, AdamW lr 2e-3, weight decay 0.1, cosine
        decay, 500 epochs), which drives the digits' last hidden layer
        clearly towards neural collapse in about 10 s on one CPU thread.
    """

    dataset: str = "digits"
    imbalance_ratio: float = 1.0
    label_noise: float = 0.0
    n_classes: int = 5
    n_features: int = 32
    n_per_class: int = 200
    separation: float = 3.0
    test_size: float = 0.25
    held_out_classes: int = 0
    data_seed: int = 0
    mlp: MLPConfig = DEFAULT_LAB_MLP

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(
                f"CollapseLabConfig.dataset must be one of {DATASETS}; got {self.dataset!r}."
            )
        ratio = check_ratio(self.imbalance_ratio, name="CollapseLabConfig.imbalance_ratio")
        noise = check_fraction(
            self.label_noise, name="CollapseLabConfig.label_noise", low_inclusive=True
        )
        share = check_fraction(
            self.test_size, name="CollapseLabConfig.test_size", low_inclusive=False
        )
        object.__setattr__(self, "imbalance_ratio", ratio)
        object.__setattr__(self, "label_noise", noise)
        object.__setattr__(self, "test_size", share)
        for name, low in (("n_classes", 2), ("n_features", 1), ("n_per_class", 2)):
            value = getattr(self, name)
            if not is_int(value) or value < low:
                raise ValueError(
                    f"CollapseLabConfig.{name} must be an integer >= {low}; got {value!r}."
                )
        try:
            sep = float(self.separation)
        except (TypeError, ValueError):
            sep = math.nan
        if isinstance(self.separation, bool) or not (math.isfinite(sep) and sep > 0):
            raise ValueError(
                "CollapseLabConfig.separation must be a positive number (mean distance between "
                f"class centres in noise std units); got {self.separation!r}."
            )
        object.__setattr__(self, "separation", sep)
        n_all = 10 if self.dataset == "digits" else int(self.n_classes)
        if not is_int(self.held_out_classes) or not 0 <= self.held_out_classes <= n_all - 2:
            raise ValueError(
                f"CollapseLabConfig.held_out_classes must be an integer from 0 to {n_all - 2} (the data set has "
                f"{n_all} classes and the network needs two to train on); got {self.held_out_classes!r}."
            )
        if not is_int(self.data_seed):
            raise ValueError(f"CollapseLabConfig.data_seed must be an integer; got {self.data_seed!r}.")
        if not isinstance(self.mlp, MLPConfig):
            raise ValueError(
                f"CollapseLabConfig.mlp must be an MLPConfig; got {type(self.mlp).__name__}."
            )

    @property
    def n_dataset_classes(self) -> int:
        """Number of classes of the configured data set (10 for the digits)."""
        return 10 if self.dataset == "digits" else int(self.n_classes)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values (``mlp`` nested)."""
        out = asdict(self)
        out["mlp"] = self.mlp.to_dict()
        return out

    def describe(self) -> str:
        """A one-line summary, e.g. ``"digits, balanced; MLP 64-64-32 (tanh), ..."``."""
        if self.dataset == "digits":
            data = "digits"
        else:
            data = (
                f"Gaussian mixture ({self.n_classes} classes, {self.n_features} features, "
                f"{self.n_per_class} per class, separation {self.separation:g})"
            )
        parts = [data]
        parts.append(
            "balanced"
            if self.imbalance_ratio == 1.0
            else f"long-tailed train split (ratio {self.imbalance_ratio:g})"
        )
        if self.label_noise > 0:
            parts.append(f"{100 * self.label_noise:g}% label noise")
        if self.held_out_classes > 0:
            parts.append(f"last {self.held_out_classes} classes held out")
        return f"{', '.join(parts)}; {self.mlp.describe()}"


def _preset(**changes: Any) -> CollapseLabConfig:
    mlp_changes = changes.pop("mlp", {})
    return CollapseLabConfig(**changes, mlp=replace(DEFAULT_LAB_MLP, **mlp_changes))


# The weight-decay pair's model (see the comment at the pair below).
_WEIGHT_DECAY_PAIR: dict[str, Any] = {"activation": "relu", "loss": "mse", "hidden_sizes": (64, 64, 64)}

PRESETS: dict[str, CollapseLabConfig] = {
    # The reference: the digits, balanced, collapsing clearly.
    "balanced": CollapseLabConfig(),
    # Minority classes' means and classifier rows crowd together (Fang et al. 2021).
    "imbalanced": _preset(imbalance_ratio=10.0),
    # Weight decay drives collapse (Zhu et al. 2021; Rangamani & Banburski-Fahey
    # 2022). "weight decay" and "no weight decay" are one pair, differing ONLY in
    # weight_decay (AdamW 1.0 vs 0), on a model that shows it: ReLU, MSE loss and
    # a 64-wide last layer. Under MSE without decay the features only need to fit
    # the head's targets, so within-class spread in the head's null space is never
    # removed; decay removes it. With the balanced preset's tanh + cross-entropy
    # the features saturate and decay barely matters (NC1 0.030 with 0.1 against
    # 0.032 without). Measured on the digits, seed 0, one CPU thread, last hidden
    # layer on train, final checkpoint (both 100% train accuracy, ~5-7 s each):
    # NC1 0.00057 vs 0.0047 (8x lower), ETF distance 0.33 vs 0.49, NC3 0.18 vs
    # 0.66; test accuracy 98.4% vs 98.2%. Seeds 1 and 2 agree (NC1 10x and 13x
    # lower, ETF distance 0.09 and 0.14 lower).
    "weight decay": _preset(mlp=_WEIGHT_DECAY_PAIR | {"weight_decay": 1.0}),
    "no weight decay": _preset(mlp=_WEIGHT_DECAY_PAIR | {"weight_decay": 0.0}),
    # Collapse is not a cross-entropy artefact (Han et al. 2022). ReLU, not tanh:
    # with tanh and MSE the class means stay far from an ETF (distance ~0.66)
    # and NC3 rises after zero error (1.02 -> 1.11, measured); with ReLU NC1
    # falls ~4000x, the ETF distance to 0.34 and NC3 to 0.42.
    "MSE loss": _preset(mlp={"loss": "mse", "activation": "relu"}),
    # Fixing the classifier to an ETF loses nothing and NC3 is immediate (Zhu et al. 2021).
    "fixed ETF head": _preset(mlp={"fixed_etf_head": True}),
    # Memorising wrong labels spoils the within-class collapse on train.
    "label noise 20%": _preset(label_noise=0.2),
}
