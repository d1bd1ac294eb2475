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

Where things live: ``data`` (the Gaussian mixture, long-tail subsampling,
label noise), ``config`` (`CollapseLabConfig`, `PRESETS`) and ``train``
(`train_collapse_lab`); every public name is re-exported here.

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

from analysis.models.collapse_lab.config import (
    DATASETS,
    DEFAULT_LAB_MLP,
    PRESETS,
    CollapseLabConfig,
)
from analysis.models.collapse_lab.data import (
    flip_labels,
    gaussian_mixture_dataset,
    long_tail_counts,
    long_tail_subsample,
)
from analysis.models.collapse_lab.train import train_collapse_lab

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
