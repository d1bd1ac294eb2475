"""Augmentations of the contrastive lab: random shifts, pixel masking and Gaussian noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["augment_images", "shift_images"]


def shift_images(images: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """Shift each image by whole pixels, filling the uncovered border with 0.

    ``out[i, r, c] = images[i, r - dy[i], c - dx[i]]`` where that pixel exists,
    else 0: a positive `dy` moves the content down, a positive `dx` right.

    Parameters
    ----------
    images : Tensor of shape (n, H, W)
    dy, dx : int Tensor of shape (n,)
        Shifts with ``|dy| < H`` and ``|dx| < W``.

    Returns
    -------
    Tensor of shape (n, H, W)
    """
    if images.ndim != 3:
        raise ValueError(f"shift_images: images must have shape (n, H, W); got {tuple(images.shape)}.")
    n, H, W = images.shape
    dy = torch.as_tensor(dy, dtype=torch.long).reshape(-1)
    dx = torch.as_tensor(dx, dtype=torch.long).reshape(-1)
    if dy.numel() != n or dx.numel() != n:
        raise ValueError(f"shift_images: dy and dx need one shift per image ({n}).")
    pad = max(int(dy.abs().max()) if n else 0, int(dx.abs().max()) if n else 0)
    if pad >= max(H, W):
        raise ValueError(f"shift_images: shifts must be smaller than the image ({H}x{W}).")
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = torch.arange(H)[None, :] - dy[:, None] + pad  # (n, H)
    cols = torch.arange(W)[None, :] - dx[:, None] + pad  # (n, W)
    batch = torch.arange(n)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def augment_images(
    x: torch.Tensor,
    *,
    image_shape: tuple[int, int] | None,
    max_shift: int,
    noise_std: float,
    mask_prob: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """One random augmented view of each row: shift, then mask, then noise.

    Zero is taken to be the blank background: shifted-in and masked pixels
    become 0. Steps, each skipped when its strength is 0 (so all three at 0
    return an unchanged copy and draw no random numbers):

    1. shift (images only): the row, reshaped to `image_shape`, moves by
       integers ``dy, dx`` drawn uniformly from ``-max_shift..max_shift``
       (`shift_images`);
    2. masking: each pixel independently set to 0 with probability `mask_prob`;
    3. noise: ``N(0, noise_std^2)`` added to every pixel.

    Parameters
    ----------
    x : Tensor of shape (n, n_features)
    image_shape : (H, W) or None
        With ``H * W == n_features``; None means the rows are not images and
        `max_shift` must be 0.
    max_shift : int
    noise_std : float
    mask_prob : float
    generator : torch.Generator
        All randomness comes from it (reproducible views).

    Returns
    -------
    Tensor of shape (n, n_features)
    """
    out = x.clone()
    n, d = out.shape
    if max_shift > 0:
        if image_shape is None or image_shape[0] * image_shape[1] != d:
            raise ValueError(
                f"augment_images: shifts need image_shape with H*W = {d}; got {image_shape!r}."
            )
        dy = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator)
        dx = torch.randint(-max_shift, max_shift + 1, (n,), generator=generator)
        out = shift_images(out.reshape(n, *image_shape), dy, dx).reshape(n, d)
    if mask_prob > 0:
        keep = torch.rand(out.shape, generator=generator) >= mask_prob
        out = out * keep
    if noise_std > 0:
        out = out + noise_std * torch.randn(out.shape, generator=generator)
    return out
