"""One number format for every card, caption and table cell that shows a metric (issue 18 item 4).

Three significant digits, written out in plain decimals for 0.001 <= |x| < 100,000 and in scientific
notation only outside that range, where plain decimals would be all zeros ("0.0000193") or too wide
("1234567"): "1.93e-5". From 100 up, every integer digit shows, with separators and no decimals
("12,346"); trailing zeros are dropped, as Python's ``g`` format does ("0.08", not "0.0800").
"""

from __future__ import annotations

import math

SMALL = 1e-3
LARGE = 1e5
MISSING = "—"


def format_number(value: float | int | None, *, digits: int = 3) -> str:
    """`value` to `digits` significant digits, scientific only when |value| < 1e-3 or >= 1e5.

    None, NaN and ±inf read "—" ("undefined" is the caller's word where it needs one).
    """
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}.")
    if value is None:
        return MISSING
    x = float(value)
    if not math.isfinite(x):
        return MISSING
    if x == 0.0:
        return "0"
    # Round first, so 9.9996 becomes 10.0 and 99,999.7 crosses into scientific like its rounded value.
    rounded = float(f"{x:.{digits}g}")
    magnitude = abs(rounded)
    if magnitude < SMALL or magnitude >= LARGE:
        mantissa, exponent = f"{rounded:.{digits - 1}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(exponent)}"
    if magnitude >= 10 ** (digits - 1):
        # Whole numbers keep every integer digit ("1,234", not "1,230"): they still fit a card.
        return f"{x:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(magnitude))
    text = f"{rounded:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(value: float | None, *, decimals: int = 1) -> str:
    """A share in [0, 1] as a percentage ("99.3%"); "—" when missing."""
    if value is None or not math.isfinite(float(value)):
        return MISSING
    return f"{float(value):.{decimals}%}"
