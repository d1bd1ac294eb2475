"""RepLens metrics: one module per diagnostic family, pure numpy.

Every metric is a plain function with keyword-only options returning a frozen
dataclass with ``to_dict()``. Add a new family by importing its public
function here and listing it in ``__all__`` (one line each, alphabetical
within the list), so ``from analysis.metrics import <name>`` keeps working.
"""

from __future__ import annotations

from analysis.metrics.anchors import choose_anchors, relative_representation
from analysis.metrics.cca import cca_correlations, pwcca, svcca
from analysis.metrics.cka import cka_matrix, linear_cka, rbf_cka
from analysis.metrics.codebook import codebook_usage
from analysis.metrics.hubness import hubness
from analysis.metrics.hubness_reduction import reduce_hubness
from analysis.metrics.information import information_plane_point
from analysis.metrics.intrinsic_dimension import intrinsic_dimension
from analysis.metrics.isotropy import isotropy
from analysis.metrics.ksg import ksg_mutual_information
from analysis.metrics.minority_collapse import minority_collapse
from analysis.metrics.neighbor_agreement import knn_agreement
from analysis.metrics.neural_collapse import neural_collapse
from analysis.metrics.neuron_matching import neuron_matching
from analysis.metrics.procrustes import procrustes_distance
from analysis.metrics.retrieval import rerank_retrieval, retrieval_recall
from analysis.metrics.spectrum import covariance_spectrum, effective_rank
from analysis.metrics.sphere import alignment, uniformity
from analysis.metrics.superposition import superposition_geometry
from analysis.metrics.transfer_collapse import transfer_collapse
from analysis.metrics.whitening import (
    all_but_the_top,
    pca_whitening,
    zca_whitening,
    zipfian_whitening,
)

__all__ = [
    "alignment",
    "choose_anchors",
    "cka_matrix",
    "codebook_usage",
    "covariance_spectrum",
    "effective_rank",
    "hubness",
    "information_plane_point",
    "intrinsic_dimension",
    "isotropy",
    "knn_agreement",
    "ksg_mutual_information",
    "linear_cka",
    "neural_collapse",
    "procrustes_distance",
    "rbf_cka",
    "reduce_hubness",
    "relative_representation",
    "rerank_retrieval",
    "retrieval_recall",
    "superposition_geometry",
    "uniformity",
    # whitening and isotropy remedies (issue 19)
    "all_but_the_top",
    "pca_whitening",
    "zca_whitening",
    "zipfian_whitening",
    # CCA family and convergent learning (issue 19 section 3)
    "cca_correlations",
    "neuron_matching",
    "pwcca",
    "svcca",
    "minority_collapse",
    "transfer_collapse",
]
