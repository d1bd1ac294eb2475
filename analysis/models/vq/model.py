"""`VQAutoencoder`, the encoder / vector quantiser / decoder, and `code_usage`."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from analysis.models.vq.config import VQConfig

__all__ = ["VQAutoencoder", "code_usage"]


def _mlp(widths: Sequence[int]) -> nn.Sequential:
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
        blocks[f"linear{i}"] = nn.Linear(int(a), int(b))
        if i < len(widths) - 1:
            blocks[f"act{i}"] = nn.ReLU()
    return nn.Sequential(blocks)


class VQAutoencoder(nn.Module):
    """MLP encoder, nearest-code vector quantiser (K codes), MLP decoder.

    ``quantiser_input(x)`` gives the vectors compared with the codebook
    (encoder output, projected to `lookup_dim` and/or L2-normalised as the
    config says); ``codes_of`` their nearest codes; ``decode_codes`` the
    decoder's image of given codes. With ``config.ema`` the codebook is a
    buffer (no gradient) updated by `ema_update`.
    """

    def __init__(self, in_features: int, config: VQConfig) -> None:
        super().__init__()
        self.config = config
        K, d = config.codebook_size, config.quantiser_dim
        self.encoder = _mlp([in_features, *config.hidden_sizes, config.code_dim])
        self.decoder = _mlp([config.code_dim, *reversed(config.hidden_sizes), in_features])
        if config.lookup_dim is not None:
            self.project_in: nn.Module = nn.Linear(config.code_dim, d)
            self.project_out: nn.Module = nn.Linear(d, config.code_dim)
        else:
            self.project_in = nn.Identity()
            self.project_out = nn.Identity()
        # The original VQ-VAE initialisation: uniform in [-1/K, 1/K].
        init = torch.empty(K, d).uniform_(-1.0 / K, 1.0 / K)
        if config.ema:
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(K))
            self.register_buffer("ema_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)

    def codes_table(self) -> torch.Tensor:
        """The effective codes, shape (K, quantiser_dim): unit rows under ``cosine``."""
        book = self.codebook
        return F.normalize(book, dim=1) if self.config.cosine else book

    def quantiser_input(self, x: torch.Tensor) -> torch.Tensor:
        z = self.project_in(self.encoder(x))
        return F.normalize(z, dim=1) if self.config.cosine else z

    def codes_of(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code (Euclidean; on unit rows = largest cosine)."""
        book = self.codes_table()
        d2 = (z * z).sum(1, keepdim=True) - 2 * z @ book.T + (book * book).sum(1)[None, :]
        return d2.argmin(dim=1)

    def decode_quantised(self, q: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.project_out(q))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The decoder's output for each given code index, shape (len(codes), in_features)."""
        return self.decode_quantised(self.codes_table()[codes])

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.quantiser_input(x)
        codes = self.codes_of(z.detach())
        q = self.codes_table()[codes]
        q_st = z + (q - z).detach()  # straight-through estimator
        return {"z": z, "codes": codes, "q": q, "recon": self.decode_quantised(q_st)}

    @torch.no_grad()
    def ema_update(self, z: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step of the codebook towards the mean of its assigned inputs."""
        cfg = self.config
        K = cfg.codebook_size
        one_hot = F.one_hot(codes, K).to(z.dtype)
        self.ema_count.mul_(cfg.ema_decay).add_(one_hot.sum(0), alpha=1 - cfg.ema_decay)
        self.ema_sum.mul_(cfg.ema_decay).add_(one_hot.T @ z, alpha=1 - cfg.ema_decay)
        n = self.ema_count.sum()
        count = (self.ema_count + cfg.ema_eps) / (n + K * cfg.ema_eps) * n
        self.codebook.copy_(self.ema_sum / count[:, None])

    @torch.no_grad()
    def set_codes(self, which: torch.Tensor, values: torch.Tensor) -> None:
        """Overwrite the codes `which` with `values` (EMA statistics reset to match)."""
        self.codebook.data[which] = values
        if self.config.ema:
            self.ema_count[which] = 1.0
            self.ema_sum[which] = values


def code_usage(codes: np.ndarray, codebook_size: int) -> tuple[float, float]:
    """(perplexity, dead fraction) of a code assignment.

    ``perplexity = exp(H)`` of the code histogram (1 when one code takes all,
    K when all are used equally); ``dead fraction`` = share of the K codes
    that no sample uses (utilisation is one minus it).
    """
    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=int(codebook_size))
    p = counts[counts > 0] / max(int(counts.sum()), 1)
    entropy = float(-(p * np.log(p)).sum())
    return math.exp(entropy), float((counts == 0).mean())
