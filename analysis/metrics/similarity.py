"""Similarity between two representations of the same inputs: CKA, Procrustes, anchors, shared neighbours.

Every function here compares two matrices whose row i describes the same
input (one image, one token) in two spaces: two layers, two checkpoints, two
models or two seeds. The numbers of features may differ.

This module gathers them under one name; each lives with its docstring,
formula and references in its own module:

- `analysis.metrics.cka`: `linear_cka` (plain and debiased), `cka_matrix`,
  `cka_matrices`, `rbf_cka`, `RBF_MAX_SAMPLES`; the centred products linear
  CKA reads are computed in `cka_products`.
- `analysis.metrics.procrustes`: `procrustes_distance`.
- `analysis.metrics.cca`: `cca_correlations`, `svcca`, `pwcca`, `cca_matrices` (canonical correlations).
- `analysis.metrics.neuron_matching`: `neuron_matching` (convergent learning, Li et al. 2015).
- `analysis.metrics.anchors`: `relative_representation`, `choose_anchors`.
- `analysis.metrics.neighbor_agreement`: `knn_agreement`, `NeighborAgreement`.
- `analysis.metrics._similarity_inputs`: the checks and the chunked centred
  view they share.
"""

from __future__ import annotations

from analysis.metrics.anchors import choose_anchors, relative_representation
from analysis.metrics.cca import (
    CcaResult,
    PwccaResult,
    SvccaResult,
    cca_correlations,
    cca_matrices,
    pwcca,
    svcca,
)
from analysis.metrics.cka import RBF_MAX_SAMPLES, cka_matrices, cka_matrix, linear_cka, rbf_cka
from analysis.metrics.neighbor_agreement import NeighborAgreement, knn_agreement
from analysis.metrics.neuron_matching import NeuronMatching, neuron_matching
from analysis.metrics.procrustes import procrustes_distance

__all__ = [
    "CcaResult",
    "NeighborAgreement",
    "NeuronMatching",
    "PwccaResult",
    "SvccaResult",
    "RBF_MAX_SAMPLES",
    "choose_anchors",
    "cca_correlations",
    "cca_matrices",
    "cka_matrices",
    "cka_matrix",
    "knn_agreement",
    "linear_cka",
    "neuron_matching",
    "procrustes_distance",
    "pwcca",
    "rbf_cka",
    "relative_representation",
    "svcca",
]
