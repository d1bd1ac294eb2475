"""Size limits enforced at the data boundary.

`memory_budget_bytes()` caps what any loader may allocate for one array, checked
from declared shapes (npy header, zip directory, safetensors header) before a
byte is read. Set ``REPLENS_MEMORY_BUDGET`` (e.g. ``8GB``, ``512MB``) to change it.

`UPLOAD_LIMIT_MB` is the largest upload the app accepts; `.streamlit/config.toml`
sets ``server.maxUploadSize`` to the same number (a test checks they agree).
"""

from __future__ import annotations

import os
import re

DEFAULT_MEMORY_BUDGET = 4 * 1024**3  # 4 GiB: a 1,000,000 x 1,024 float32 matrix fits
UPLOAD_LIMIT_MB = 1024

_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def parse_size(text: str) -> int:
    """Parse '512MB', '4GB', '1000000' (bytes) into a byte count."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", text.upper())
    if not match:
        raise ValueError(
            f"Cannot read the size {text!r}. Write a number with an optional unit, e.g. 4GB or 512MB."
        )
    number, unit = match.groups()
    if unit and not unit.endswith("B"):
        unit += "B"
    return int(float(number) * _UNITS[unit])


def memory_budget_bytes() -> int:
    """The per-array allocation budget (env REPLENS_MEMORY_BUDGET, default 4 GiB)."""
    text = os.environ.get("REPLENS_MEMORY_BUDGET")
    return parse_size(text) if text else DEFAULT_MEMORY_BUDGET


def format_bytes(n: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover
