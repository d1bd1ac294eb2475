from __future__ import annotations

import pytest

from analysis.data.limits import (
    DEFAULT_MEMORY_BUDGET,
    format_bytes,
    memory_budget_bytes,
    parse_size,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("4GB", 4 * 1024**3), ("512mb", 512 * 1024**2), ("1.5G", int(1.5 * 1024**3)), ("1000", 1000), (" 2 KB ", 2048),
])
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_rejects_nonsense_with_an_example() -> None:
    with pytest.raises(ValueError, match=r"Cannot read the size 'lots'.*e\.g\. 4GB"):
        parse_size("lots")


def test_budget_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("REPLENS_MEMORY_BUDGET", raising=False)
    assert memory_budget_bytes() == DEFAULT_MEMORY_BUDGET
    monkeypatch.setenv("REPLENS_MEMORY_BUDGET", "8GB")
    assert memory_budget_bytes() == 8 * 1024**3


def test_format_bytes() -> None:
    assert format_bytes(512) == "512 B" and format_bytes(1536) == "1.5 KB" and format_bytes(3 * 1024**3) == "3.0 GB"
