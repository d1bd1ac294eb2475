"""Issue 18 item 8: the READMEs point only to documents that are in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / "README.md", ROOT / "sample_data" / "README.md"]


def _referenced_documents(text: str) -> set[str]:
    """Markdown links and `code` spans that name a .md file or an image under docs/."""
    links = re.findall(r"\]\(([^)#\s]+)\)", text)
    spans = re.findall(r"`([^`\s]+\.md)`", text)
    return {ref for ref in links + spans if not re.match(r"[a-z]+://", ref)}


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_referenced_document_exists(readme: Path) -> None:
    refs = _referenced_documents(readme.read_text(encoding="utf-8"))
    assert refs, "the parser found no reference at all: it is broken"
    missing = sorted(ref for ref in refs if not (readme.parent / ref).exists() and not (ROOT / ref).exists())
    assert not missing, f"{readme.name} points to files that are not in the repository: {missing}"


def test_the_architecture_document_names_every_analysis_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in (ROOT / "analysis").iterdir()
                      if p.is_dir() and (p / "__init__.py").exists())
    assert packages and all(f"{name}/" in text for name in packages), packages
