"""The contrastive lab's encoder (outputs on the unit circle or sphere), its NT-Xent loss and the alignment/uniformity curves."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from analysis.models.mlp import (
    ACTIVATIONS,
)

__all__ = ["ContrastiveEncoder", "alignment_uniformity", "nt_xent_loss"]


class ContrastiveEncoder(nn.Module):
    """An MLP whose output rows are L2-normalised: points on the unit sphere S^(out_dim-1).

    ``hidden`` (Linear + activation blocks) gives the last hidden features;
    ``head`` maps them linearly to `out_dim`; `forward` returns the
    normalised head output.
    """

    def __init__(
        self,
        in_features: int,
        out_dim: int,
        *,
        hidden_sizes: Sequence[int] = (128, 64),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        width = int(in_features)
        for i, size in enumerate(hidden_sizes, start=1):
            blocks[f"linear{i}"] = nn.Linear(width, int(size))
            blocks[f"act{i}"] = ACTIVATIONS[activation]()
            width = int(size)
        self.hidden = nn.Sequential(blocks)
        self.head = nn.Linear(width, int(out_dim))

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(last hidden features, normalised embedding)."""
        h = self.hidden(x)
        return h, F.normalize(self.head(h), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[1]


def nt_xent_loss(
    z1: torch.Tensor, z2: torch.Tensor, *, temperature: float, negatives: bool = True
) -> torch.Tensor:
    """NT-Xent (SimCLR) loss of B positive pairs, or its alignment term alone.

    With ``z = [z1; z2]`` (2B unit rows) and ``s_ij = z_i . z_j / tau``, each
    view i is classified against its partner p(i) among the other 2B - 1 views:
    ``loss = mean_i [ -s_i,p(i) + log sum_{j != i} exp(s_ij) ]``. With
    ``negatives=False`` only ``-mean_i s_i,p(i)`` (= ``-mean cos(z1, z2) / tau``)
    is left.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, d)
        L2-normalised embeddings of the two views; row k of each is one pair.
    temperature : float
    negatives : bool, default=True

    Returns
    -------
    scalar Tensor
    """
    if not negatives:
        return -(z1 * z2).sum(dim=1).mean() / temperature
    B = z1.shape[0]
    z = torch.cat([z1, z2], dim=0)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * B, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)])
    return F.cross_entropy(logits, targets)


def alignment_uniformity(
    z1: torch.Tensor, z2: torch.Tensor, z: torch.Tensor, *, alpha: float = 2.0, t: float = 2.0
) -> tuple[float, float]:
    """Wang & Isola's alignment of positive pairs and uniformity of a point set.

    ``alignment = mean_i ||z1_i - z2_i||^alpha`` (alpha = 2: 0 when views
    coincide, at most 4); ``uniformity = log mean_{i<j} exp(-t ||z_i - z_j||^2)``
    over all pairs (0 when all points coincide; more negative = more uniform).
    Rows are assumed unit-norm. For the training curves; the library metrics
    are `analysis.metrics.alignment` / `uniformity`.
    """
    align = (z1 - z2).norm(dim=1).pow(alpha).mean()
    n = z.shape[0]
    sq = torch.cdist(z.double(), z.double()).pow(2)
    upper = torch.triu_indices(n, n, offset=1)
    values = -t * sq[upper[0], upper[1]]
    uniform = torch.logsumexp(values, dim=0) - math.log(values.numel())
    return float(align), float(uniform)
