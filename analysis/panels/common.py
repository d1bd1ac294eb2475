"""What every page needs from the library besides its own panel: the error family and the shipped samples.

The app reaches `analysis` only through `analysis.panels`, `analysis.views` and
`analysis.data` (issue 16, `tests/unit/test_layering.py`); these names are
re-exported here so that rule holds without moving the modules they live in.
"""

from __future__ import annotations

from analysis.errors import USER_ERRORS, user_message
from analysis.samples import ensure_samples, sample_paths
from analysis.validation import ProgressFn

__all__ = ["USER_ERRORS", "ProgressFn", "ensure_samples", "sample_paths", "user_message"]
