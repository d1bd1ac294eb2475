"""The one number format of cards and captions (issue 18 item 4): hand-written cases."""

from __future__ import annotations

import math

import pytest

from analysis.views.numbers import format_number, format_percent


@pytest.mark.parametrize(("value", "shown"), [
    (0.0809, "0.0809"),
    (13.5, "13.5"),
    (5.89, "5.89"),
    (-2.2504, "-2.25"),
    (0.000556, "5.56e-4"),      # below 1e-3: scientific, never "0.000556" cut to "0.000..."
    (1.93e-5, "1.93e-5"),
    (0.001, "0.001"),           # the threshold itself is plain
    (0.0009996, "0.001"),       # rounds up across the threshold: plain
    (0.5, "0.5"),               # trailing zeros dropped
    (1.0, "1"),
    (0, "0"),
    (9.9996, "10"),
    (123.4, "123"),
    (1234.4, "1,234"),          # every integer digit, with separators
    (12345.6, "12,346"),
    (99999.7, "1e5"),           # rounds to 1e5: scientific like its rounded value
    (123456, "1.23e5"),
    (-3.4e7, "-3.4e7"),
])
def test_format_number_hand_written_cases(value, shown):
    assert format_number(value) == shown


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf])
def test_missing_values_read_as_a_dash(missing):
    assert format_number(missing) == "—"
    assert format_percent(missing) == "—"


def test_digits_option_and_bad_digits():
    assert format_number(0.123456, digits=2) == "0.12"
    assert format_number(3.14159, digits=5) == "3.1416"
    with pytest.raises(ValueError, match="digits must be at least 1"):
        format_number(1.0, digits=0)


def test_format_percent():
    assert format_percent(0.993) == "99.3%"
    assert format_percent(0.5, decimals=0) == "50%"


def test_no_output_is_longer_than_a_card_holds():
    """Eight characters fit the narrowest card at 1,500 px; any magnitude stays within them."""
    for exponent in range(-12, 13):
        for mantissa in (1.0, 1.23456, 9.99951):
            assert len(format_number(mantissa * 10.0 ** exponent)) <= 8
