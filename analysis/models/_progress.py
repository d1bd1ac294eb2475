"""The progress callback every trainer reports through, and the stop request it polls."""

from __future__ import annotations

from collections.abc import Callable

from analysis.validation import ProgressFn

StopFn = Callable[[], bool]  # polled between steps: True ends training early


def clamped_progress(progress: ProgressFn | None) -> ProgressFn:
    """A reporter that clips fractions to [0, 1] and does nothing without a callback."""

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(min(max(float(fraction), 0.0), 1.0), message)

    return report
