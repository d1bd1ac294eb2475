"""What the report and the comparison share: per-stage timing with progress, and JSON-safe values."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

ProgressFn = Callable[[float, str], None]


class Stages:
    """Progress and per-stage timing: ``start`` one named stage (ending the previous), ``stop`` at the end."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._name: str | None = None
        self._started = 0.0

    def start(self, name: str, fraction: float, message: str) -> None:
        self.stop()
        self._name, self._started = name, time.perf_counter()
        if self.progress is not None:
            self.progress(float(fraction), message)

    def stop(self) -> None:
        if self._name is not None:
            self.timings[self._name] = self.timings.get(self._name, 0.0) + time.perf_counter() - self._started
            self._name = None


def json_safe(value: Any) -> Any:
    """Python scalars, lists and dicts only; NaN and Inf become None (strict JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)
