"""The neural-collapse training lab: small classifiers trained into the terminal phase.

`train_collapse_lab` builds a data set (the scikit-learn digits or a synthetic
Gaussian mixture), optionally makes its training split long-tailed
(`long_tail_counts`, `long_tail_subsample`) and flips a share of its training
labels (`flip_labels`), then trains an MLP with `train_mlp` well past zero
training error, recording every hidden layer's features on train and test,
the classifier and the logits at log-spaced checkpoints into a `Run`.

`PRESETS` is a guided sequence for a live demonstration: the balanced
default, then one change at a time (imbalance, MSE loss, a fixed simplex-ETF
classifier, label noise), and a "weight decay" / "no weight decay" pair that
differs only in weight decay (on a ReLU + MSE model, where weight decay
matters; with this tanh + cross-entropy default it barely does). Each trains
in well under a minute on one CPU thread.

References
----------
.. [1] V. Papyan, X. Y. Han and D. L. Donoho, "Prevalence of neural collapse
   during the terminal phase of deep learning training", PNAS 117(40), 2020.
.. [2] X. Y. Han, V. Papyan and D. L. Donoho, "Neural collapse under MSE loss:
   proximity to and dynamics on the central path", ICLR 2022.
.. [3] Z. Zhu, T. Ding, J. Zhou, X. Li, C. You, J. Sulam and Q. Qu, "A
   geometric analysis of neural collapse with unconstrained features",
   NeurIPS 2021.
.. [4] C. Fang, H. He, Q. Long and W. J. Su, "Exploring deep neural networks
   via layer-peeled model: minority collapse in imbalanced training", PNAS
   118(43), 2021.
.. [5] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-balanced loss
   based on effective number of samples", CVPR 2019.
.. [6] Y. Yang, S. Chen, X. Li, L. Xie, Z. Lin and D. Tao, "Inducing neural
   collapse in imbalanced learning: do we really need a learnable classifier
   at the end of deep neural network?", NeurIPS 2022.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from analysis.data.schema import Run
from analysis.models._checks import is_int
from analysis.models._threads import torch_threads
from analysis.models.digits import digits_dataset, digits_mlp_config
from analysis.models.mlp import MLPConfig, ProgressFn, StopFn, train_mlp

__all__ = [
    "DATASETS",
    "DEFAULT_LAB_MLP",
    "PRESETS",
    "CollapseLabConfig",
    "flip_labels",
    "gaussian_mixture_dataset",
    "long_tail_counts",
    "long_tail_subsample",
    "train_collapse_lab",
]

DATASETS = ("digits", "gaussian_mixture")

# The shipped sample's settings (analysis.models.digits.digits_mlp_config()).
# Measured on the digits with one CPU thread (~9 s): the last hidden layer's
# train NC1 falls about 84x from the first checkpoint after initialisation to
# the last (2.5 -> 0.030), NC3 from 0.97 to 0.077 and the ETF distance from
# 0.89 to 0.60. tanh beats ReLU here (NC1 ~0.03 vs ~0.2).
DEFAULT_LAB_MLP = digits_mlp_config()


def _check_fraction(value: Any, *, name: str, low_inclusive: bool) -> float:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = math.nan
    ok = math.isfinite(fraction) and fraction < 1.0
    ok = ok and (fraction >= 0.0 if low_inclusive else fraction > 0.0)
    if not ok or isinstance(value, bool):
        interval = "[0, 1)" if low_inclusive else "(0, 1)"
        raise ValueError(f"{name} must be a fraction in {interval}; got {value!r}.")
    return fraction


def _check_ratio(value: Any, *, name: str) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = math.nan
    if isinstance(value, bool) or not (math.isfinite(ratio) and ratio >= 1.0):
        raise ValueError(
            f"{name} must be a finite number >= 1 (largest class size over smallest; "
            f"1 keeps the classes as they are); got {value!r}."
        )
    return ratio


def _check_codes(y: Any, *, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be a 1-D array of integer class codes; got dtype {arr.dtype} and "
            f"shape {arr.shape}."
        )
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} contains negative codes; class codes must be >= 0.")
    return arr.astype(np.int64, copy=False)


# --- data -----------------------------------------------------------------------------


def gaussian_mixture_dataset(
    *,
    n_classes: int = 5,
    n_features: int = 32,
    n_per_class: int = 200,
    separation: float = 3.0,
    test_size: float = 0.25,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic mixture of isotropic Gaussians, one per class, split into train and test.

    The class centres are drawn from a standard normal in R^n_features, then
    scaled together so that the mean distance between two centres (over all
    pairs) equals `separation`; each sample is its class centre plus standard
    normal noise (std 1 per coordinate). So `separation` is in units of the
    noise std: along the line joining two centres at distance s, the two
    classes overlap like two unit Gaussians s apart (Bayes error Phi(-s/2)
    for that pair). The split is stratified: every class gives
    ``round(test_size * n_per_class)`` samples to the test split; rows within
    each split are shuffled.

    Parameters
    ----------
    n_classes : int, default=5
        C >= 2.
    n_features : int, default=32
    n_per_class : int, default=200
        Samples per class before the split.
    separation : float, default=3.0
        Mean pairwise distance between the class centres (> 0).
    test_size : float, default=0.25
        Share of each class in the test split, in (0, 1); each split must get
        at least one sample of every class.
    seed : int, default=0
        Seeds the centres, the noise and the split.

    Returns
    -------
    X_train : ndarray of shape (n_train, n_features), float32
    y_train : ndarray of shape (n_train,), int64
    X_test : ndarray of shape (n_test, n_features), float32
    y_test : ndarray of shape (n_test,), int64
    """
    for name, value, low in (
        ("n_classes", n_classes, 2),
        ("n_features", n_features, 1),
        ("n_per_class", n_per_class, 2),
    ):
        if not is_int(value) or value < low:
            raise ValueError(
                f"gaussian_mixture_dataset: {name} must be an integer >= {low}; got {value!r}."
            )
    if not is_int(seed):
        raise ValueError(f"gaussian_mixture_dataset: seed must be an integer; got {seed!r}.")
    try:
        sep = float(separation)
    except (TypeError, ValueError):
        sep = math.nan
    if not (math.isfinite(sep) and sep > 0):
        raise ValueError(
            f"gaussian_mixture_dataset: separation must be a positive number (mean distance "
            f"between class centres, in noise std units); got {separation!r}."
        )
    share = _check_fraction(test_size, name="gaussian_mixture_dataset: test_size", low_inclusive=False)
    C, F, n = int(n_classes), int(n_features), int(n_per_class)
    n_test_per_class = round(share * n)
    if not 1 <= n_test_per_class <= n - 1:
        raise ValueError(
            f"gaussian_mixture_dataset: test_size={test_size!r} with n_per_class={n} gives "
            f"{n_test_per_class} test samples per class; each split needs at least one per "
            "class. Change test_size or raise n_per_class."
        )

    rng = np.random.default_rng(int(seed))
    centres = rng.standard_normal((C, F))
    diffs = centres[:, None, :] - centres[None, :, :]
    upper = np.triu_indices(C, k=1)
    mean_distance = float(np.sqrt((diffs**2).sum(axis=-1))[upper].mean())
    centres *= sep / mean_distance
    y = np.repeat(np.arange(C, dtype=np.int64), n)
    X = centres[y] + rng.standard_normal((C * n, F))

    test_rows = np.concatenate(
        [c * n + rng.permutation(n)[:n_test_per_class] for c in range(C)]
    )
    is_test = np.zeros(C * n, dtype=bool)
    is_test[test_rows] = True
    train_rows = rng.permutation(np.flatnonzero(~is_test))
    test_rows = rng.permutation(test_rows)
    X = X.astype(np.float32)
    return X[train_rows], y[train_rows], X[test_rows], y[test_rows]


def long_tail_counts(counts: Any, imbalance_ratio: float) -> np.ndarray:
    """Per-class sizes following an exponential (long-tailed) profile.

    ``n_c = min(counts[c], max(1, round(n_max * ratio ** (-c / (C - 1)))))``
    with ``n_max = max(counts)``: class 0 keeps the most samples and each
    later class geometrically fewer, down to ``n_max / ratio`` for class C-1
    (the profile of Cui et al. 2019, also used by Fang et al. 2021 for
    minority collapse). The min keeps every size feasible for subsampling, so
    when the classes start unequal the achieved largest-to-smallest ratio can
    differ slightly from `imbalance_ratio`. A ratio of 1 returns `counts`
    unchanged. Rounding is Python's (to nearest, ties to even).

    Parameters
    ----------
    counts : array-like of int, shape (n_classes,)
        Available samples per class, C >= 2 entries, all >= 0.
    imbalance_ratio : float
        Largest over smallest class size, >= 1.

    Returns
    -------
    ndarray of shape (n_classes,), int64

    Examples
    --------
    >>> long_tail_counts([100, 100, 100], 4).tolist()
    [100, 50, 25]

    References
    ----------
    .. [1] Cui et al., "Class-balanced loss based on effective number of
       samples", CVPR 2019.
    """
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.size < 2 or arr.dtype.kind not in "iu":
        raise ValueError(
            "long_tail_counts: counts must be a 1-D array of integer class sizes with at "
            f"least 2 classes; got dtype {arr.dtype} and shape {arr.shape}."
        )
    if arr.min() < 0:
        raise ValueError("long_tail_counts: counts contains negative sizes; sizes must be >= 0.")
    ratio = _check_ratio(imbalance_ratio, name="long_tail_counts: imbalance_ratio")
    sizes = arr.astype(np.int64)
    if ratio == 1.0:
        return sizes.copy()
    C = sizes.size
    n_max = int(sizes.max())
    target = [max(1, round(n_max * ratio ** (-c / (C - 1)))) for c in range(C)]
    return np.minimum(sizes, np.asarray(target, dtype=np.int64))


def long_tail_subsample(
    y: Any, *, imbalance_ratio: float, n_classes: int | None = None, seed: int = 0
) -> np.ndarray:
    """Rows to keep so that the class sizes follow `long_tail_counts`.

    Within each class the kept rows are drawn uniformly without replacement.

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Class codes 0..C-1.
    imbalance_ratio : float
        >= 1; 1 keeps every row.
    n_classes : int, optional
        C; default ``max(y) + 1``.
    seed : int, default=0

    Returns
    -------
    ndarray of int64
        Indices into `y`, ascending (the original order is kept).
    """
    codes = _check_codes(y, name="long_tail_subsample: y")
    C = int(codes.max()) + 1 if n_classes is None else int(n_classes)
    if codes.size and codes.max() >= C:
        raise ValueError(
            f"long_tail_subsample: y uses code {int(codes.max())} but n_classes={C}; "
            "pass n_classes > max(y)."
        )
    sizes = long_tail_counts(np.bincount(codes, minlength=C), imbalance_ratio)
    rng = np.random.default_rng(int(seed))
    kept = [
        rng.choice(np.flatnonzero(codes == c), size=int(sizes[c]), replace=False)
        for c in range(C)
    ]
    return np.sort(np.concatenate(kept)).astype(np.int64)


def flip_labels(
    y: Any, *, fraction: float, n_classes: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric label noise: move ``round(fraction * n)`` labels to another class.

    The rows to flip are drawn uniformly without replacement; each flipped
    label moves to a class drawn uniformly among the C-1 *other* classes, so
    exactly that many labels end up wrong (the "symmetric" noise of the
    label-noise literature, without the flips that land on the true class).

    Parameters
    ----------
    y : array-like of int, shape (n_samples,)
        Clean class codes 0..C-1.
    fraction : float
        Share of labels to flip, in [0, 1); the count is rounded to nearest
        (Python's round, ties to even).
    n_classes : int, optional
        C >= 2; default ``max(y) + 1``.
    seed : int, default=0

    Returns
    -------
    noisy : ndarray of shape (n_samples,), int64
    flipped : ndarray of shape (n_samples,), bool
        True where ``noisy != y``.
    """
    codes = _check_codes(y, name="flip_labels: y")
    p = _check_fraction(fraction, name="flip_labels: fraction", low_inclusive=True)
    C = int(codes.max()) + 1 if n_classes is None else int(n_classes)
    if C < 2:
        raise ValueError(f"flip_labels: needs n_classes >= 2 to flip a label; got {C}.")
    if codes.size and codes.max() >= C:
        raise ValueError(
            f"flip_labels: y uses code {int(codes.max())} but n_classes={C}; pass n_classes > max(y)."
        )
    n = codes.size
    rng = np.random.default_rng(int(seed))
    rows = rng.choice(n, size=round(p * n), replace=False)
    noisy = codes.copy()
    # An offset in 1..C-1 modulo C reaches each other class exactly once.
    noisy[rows] = (codes[rows] + rng.integers(1, C, size=rows.size)) % C
    flipped = np.zeros(n, dtype=bool)
    flipped[rows] = True
    return noisy, flipped


# --- configuration ---------------------------------------------------------------------


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
    data_seed: int = 0
    mlp: MLPConfig = DEFAULT_LAB_MLP

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(
                f"CollapseLabConfig.dataset must be one of {DATASETS}; got {self.dataset!r}."
            )
        ratio = _check_ratio(self.imbalance_ratio, name="CollapseLabConfig.imbalance_ratio")
        noise = _check_fraction(
            self.label_noise, name="CollapseLabConfig.label_noise", low_inclusive=True
        )
        share = _check_fraction(
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


# --- training --------------------------------------------------------------------------


def train_collapse_lab(
    config: CollapseLabConfig | None = None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    name: str = "",
) -> Run:
    """Build the data of `config`, train its MLP past zero error, and return the `Run`.

    Order of operations: the data set and its stratified split; the training
    split subsampled to the long-tailed profile (if ``imbalance_ratio > 1``);
    then a share of the remaining training labels flipped (if
    ``label_noise > 0``). The test split is untouched by both. Training runs
    on one torch intra-op thread (the previous count is restored): these
    matrices are too small to gain from more, and the result then does not
    depend on the machine's core count.

    Parameters
    ----------
    config : CollapseLabConfig, optional
        Defaults to ``CollapseLabConfig()`` (``PRESETS["balanced"]``).
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
        Layers ``hidden1``, ``hidden2``, ...; samples are the train rows then
        the test rows. ``labels`` are the labels trained on (noisy where a
        training label was flipped). Metadata columns: ``id``, ``split``,
        the class name of that label (column ``digit`` for the digits,
        ``class`` for the mixture), ``clean_label`` (the true class name),
        ``label_flipped`` (bool), and for the digits ``source_index`` (the
        row in ``sklearn.datasets.load_digits()``).
    """
    config = CollapseLabConfig() if config is None else config
    if not isinstance(config, CollapseLabConfig):
        raise ValueError(
            f"config must be a CollapseLabConfig; got {type(config).__name__}. "
            "Build one with CollapseLabConfig(...) or pick one from PRESETS."
        )
    # The data set and split use data_seed itself (data_seed=0 gives the shipped
    # sample's digits split); the subsampling and the flips get independent streams.
    subsample_seed, noise_seed = (
        int(s) for s in np.random.SeedSequence(config.data_seed).generate_state(2)
    )
    source_train: np.ndarray | None = None
    source_test: np.ndarray | None = None
    if config.dataset == "digits":
        X_tr, y_tr, X_te, y_te, source_train, source_test = digits_dataset(
            test_size=config.test_size, seed=config.data_seed, return_index=True
        )
        label_column = "digit"
        data_text = (
            "Handwritten digits (scikit-learn load_digits, 8x8 pixels standardised on the "
            "full training split)"
        )
    else:
        X_tr, y_tr, X_te, y_te = gaussian_mixture_dataset(
            n_classes=config.n_classes,
            n_features=config.n_features,
            n_per_class=config.n_per_class,
            separation=config.separation,
            test_size=config.test_size,
            seed=config.data_seed,
        )
        label_column = "class"
        data_text = (
            f"Gaussian mixture ({config.n_features} features, unit noise, mean centre "
            f"distance {config.separation:g}, {config.n_per_class} per class before the split)"
        )
    n_classes = config.n_dataset_classes
    label_names = tuple(str(c) for c in range(n_classes))

    notes = []
    if config.imbalance_ratio > 1.0:
        keep = long_tail_subsample(
            y_tr, imbalance_ratio=config.imbalance_ratio, n_classes=n_classes, seed=subsample_seed
        )
        X_tr, y_tr = X_tr[keep], y_tr[keep]
        if source_train is not None:
            source_train = source_train[keep]
        sizes = np.bincount(y_tr, minlength=n_classes)
        notes.append(
            f"long-tailed train split, imbalance ratio {config.imbalance_ratio:g} "
            f"(train sizes per class {sizes.tolist()}; test split balanced)"
        )
    clean_tr = y_tr
    flipped_tr = np.zeros(y_tr.size, dtype=bool)
    if config.label_noise > 0:
        y_tr, flipped_tr = flip_labels(
            clean_tr, fraction=config.label_noise, n_classes=n_classes, seed=noise_seed
        )
        notes.append(
            f"{100 * config.label_noise:g}% label noise ({int(flipped_tr.sum())} train labels "
            "moved to a random other class; test labels clean)"
        )

    clean_all = np.concatenate([clean_tr, y_te])
    extra: dict[str, Any] = {
        "clean_label": [label_names[c] for c in clean_all],
        "label_flipped": np.concatenate([flipped_tr, np.zeros(y_te.size, dtype=bool)]),
    }
    if source_train is not None and source_test is not None:
        extra["source_index"] = np.concatenate([source_train, source_test]).astype(np.int64)
    task = (
        f"Neural-collapse lab: {data_text}; {len(y_tr)} train / {len(y_te)} test samples, "
        f"{n_classes} classes"
        + "".join(f"; {note}" for note in notes)
        + f"; {config.mlp.describe()}"
        + (". metadata.source_index is the row in load_digits()" if source_train is not None else "")
    )
    with torch_threads(1):
        return train_mlp(
            X_tr,
            y_tr,
            X_te,
            y_te,
            config.mlp,
            progress=progress,
            should_stop=should_stop,
            label_names=label_names,
            label_column=label_column,
            extra_metadata=pl.DataFrame(extra),
            task=task,
            name=name,
        )
