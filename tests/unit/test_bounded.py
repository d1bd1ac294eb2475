"""The bounded-child helper itself: it must catch an over-allocation and measure growth."""

from __future__ import annotations

from tests.bounded import run_bounded


def test_an_allocation_beyond_the_allowance_fails_in_the_child():
    result = run_bounded("numpy:ones", (64 * 2**20,), allowance_bytes=256 * 2**20)  # 512 MiB
    assert result.error_type == "MemoryError"


def test_peak_growth_counts_what_the_call_touched():
    # 16 Mi float64 ones = 128 MiB resident, within a 512 MiB allowance.
    result = run_bounded("numpy:ones", (16 * 2**20,), allowance_bytes=512 * 2**20)
    assert result.error_type is None
    assert 100 * 2**20 < result.peak_rss_growth < 200 * 2**20
