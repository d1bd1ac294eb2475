"""What the report and the comparison share: per-stage timing with progress, JSON-safe values, and export."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from analysis.validation import ProgressFn


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


class Exported:
    """``to_json`` and ``to_html`` for a result that has ``to_dict()`` and ``_html()`` (its page, drawn by
    analysis.views, which is imported only there so that the metrics never import plotly)."""

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _html(self) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        """Strict JSON text (no NaN); also written to `path` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained HTML page (inline plotly.js, nothing fetched); also written to `path` when given."""
        text = self._html()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text
