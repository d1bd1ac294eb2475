"""Argument checks the lab configs share."""

from __future__ import annotations

from typing import Any

import numpy as np


def is_int(value: Any) -> bool:
    """An integer, numpy's included, but not a bool (which Python counts as an int)."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))
