"""The toy models of superposition (Elhage et al. 2022), trained as one batched computation.

The model maps n sparse features through m < n hidden dimensions and back::

    h = W x            (W of shape (m, n): the paper's convention)
    x' = ReLU(W^T h + b)

Feature i is 0 with probability S (the sparsity) and otherwise uniform on
[0, 1], independently of the others; the loss is the importance-weighted
squared error ``sum_i I_i (x_i - x'_i)^2``, averaged over the batch. The
paper's finding, reproduced by the default `ToyModelConfig` (n = 5, m = 2,
importance 0.9^i): dense features are stored one per dimension (the two most
important, orthogonally, the rest dropped); as they get sparser the model
stores more features than it has dimensions, first as antipodal pairs, then
all five as a regular pentagon (every feature dimensionality D_i = 2/5).

Many instances (different sparsities, importances or seeds) train at once as
one tensor computation: the weights of N instances are one tensor of shape
(N, m, n), every step draws a batch per instance with that instance's
sparsity and applies one batched forward/backward pass and one AdamW step
(AdamW is element-wise and the summed loss gives each instance the gradient
of its own loss, so instances never interact). A whole sweep therefore costs
about as much as one run.

Conventions for the results: `ToySweep.W_features` stores, per checkpoint and
instance, the paper's W^T, of shape (n_features, n_hidden): one row per
feature, as `analysis.metrics.superposition_geometry` expects.

Where things live: ``config`` (`ToyModelConfig` and its checks), ``sweep``
(`ToySweep`, the results), ``train`` (`train_toy_models`) and ``phases``
(the n = 2, m = 1 phase diagram, trained and in closed form); every public
name is re-exported here.

References
----------
.. [1] N. Elhage, T. Hume, C. Olsson, N. Schiefer, T. Henighan, S. Kravec,
   Z. Hatfield-Dodds, R. Lasenby, D. Drain, C. Chen, R. Grosse, S. McCandlish,
   J. Kaplan, D. Amodei, M. Wattenberg and C. Olah, "Toy models of
   superposition", Transformer Circuits Thread, 2022.
   https://transformer-circuits.pub/2022/toy_model/index.html
"""

from analysis.models.toy_superposition.config import (
    DEFAULT_TOY_SPARSITIES,
    TOY_LR_SCHEDULES,
    ToyModelConfig,
)
from analysis.models.toy_superposition.phases import (
    PHASE_LABELS,
    PhaseDiagram,
    classify_two_feature_model,
    phase_diagram,
    theoretical_phases,
)
from analysis.models.toy_superposition.sweep import ToySweep
from analysis.models.toy_superposition.train import train_toy_models

__all__ = [
    "DEFAULT_TOY_SPARSITIES",
    "PHASE_LABELS",
    "TOY_LR_SCHEDULES",
    "PhaseDiagram",
    "ToyModelConfig",
    "ToySweep",
    "classify_two_feature_model",
    "phase_diagram",
    "theoretical_phases",
    "train_toy_models",
]
