"""analysis.models builds runs; analysis.samples builds the shipped runs from it: never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

MODELS = Path(__file__).resolve().parents[2] / "analysis" / "models"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_models_never_import_samples() -> None:
    offenders = {
        str(path.relative_to(MODELS.parent.parent)): sorted(
            name for name in _imported_modules(path) if name == "analysis.samples" or name.startswith("analysis.samples.")
        )
        for path in sorted(MODELS.rglob("*.py"))
    }
    assert not {path: names for path, names in offenders.items() if names}, (
        "analysis/models must not import analysis.samples (samples builds from models)."
    )


def test_models_import_alone_without_samples_loaded() -> None:
    # A fresh interpreter: importing the models package must not pull in analysis.samples.
    import subprocess
    import sys

    code = "import sys, analysis.models; assert 'analysis.samples' not in sys.modules, 'samples imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=MODELS.parent.parent)
