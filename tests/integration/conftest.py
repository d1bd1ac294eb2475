"""Integration tests train small torch models: one intra-op thread for all of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    # These matrices are tiny: on a shared 2-core machine a second intra-op
    # thread makes each step many times slower, not faster. Restored afterwards.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
