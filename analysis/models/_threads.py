"""A context manager for torch's intra-op thread count, shared by the trainers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily use `n` intra-op threads, restoring the previous count.

    The models trained here are tiny: on a small shared machine a second
    intra-op thread makes each step slower, not faster, and one thread makes
    results independent of the machine's core count.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
