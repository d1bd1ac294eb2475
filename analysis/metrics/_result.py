"""The shared behaviour of metric results: JSON export and the headline scalars."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return _jsonable(value.tolist())  # a documented NaN (e.g. a dead code's error) becomes null
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN or Inf
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return value


class MetricResult:
    """Mixin for the frozen result dataclasses (DESIGN.md section 3).

    Subclasses list their headline numbers in ``SCALARS``; ``to_dict`` turns
    every field JSON-ready (arrays and tuples become lists, nested results dicts,
    NaN and Inf None: ``json.dumps(result.to_dict(), allow_nan=False)`` works).
    """

    SCALARS: ClassVar[tuple[str, ...]] = ()

    def scalars(self) -> dict[str, float | None]:
        """The headline numbers only (e.g. one row of a layer x checkpoint table)."""
        return {name: getattr(self, name) for name in self.SCALARS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}
