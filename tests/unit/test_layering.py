"""DESIGN.md section 1: arrows point one way; plotly only in analysis/views."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from analysis.data.limits import UPLOAD_LIMIT_MB

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
            found.add(node.module)
    return found


def _python_files(*folders: str) -> list[Path]:
    files = [ROOT / "app.py"] if "app.py" in folders else []
    for folder in folders:
        if folder != "app.py":
            files += sorted((ROOT / folder).rglob("*.py"))
    return files


@pytest.mark.parametrize("path", _python_files("analysis"), ids=lambda p: str(p.relative_to(ROOT)))
def test_analysis_never_imports_streamlit(path: Path) -> None:
    assert "streamlit" not in _imports(path)


@pytest.mark.parametrize("path", _python_files("analysis", "ui", "app_pages", "app.py"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_plotly_only_in_views(path: Path) -> None:
    if (ROOT / "analysis" / "views") in path.parents:
        return
    assert "plotly" not in _imports(path), f"{path} imports plotly outside analysis/views"


@pytest.mark.parametrize("path", _python_files("analysis/metrics"), ids=lambda p: p.name)
def test_metrics_import_no_views_models_or_ui(path: Path) -> None:
    banned = {"analysis.views", "analysis.models", "ui", "app_pages"}
    assert not (_imports(path) & banned)


def test_panels_exist() -> None:
    """The parametrized check below must not pass vacuously."""
    assert (ROOT / "analysis" / "panels" / "hubness.py").exists()


@pytest.mark.parametrize("path", _python_files("analysis/panels"), ids=lambda p: p.name)
def test_panels_import_no_streamlit_plotly_views_or_ui(path: Path) -> None:
    """Panels return what a page draws as data (DESIGN.md section 1); drawing is analysis.views' job."""
    banned = {"streamlit", "plotly", "analysis.views", "ui", "app_pages"}
    assert not (_imports(path) & banned), f"{path} imports {sorted(_imports(path) & banned)}"


APP_MAY_IMPORT = ("analysis.panels", "analysis.views", "analysis.data")


@pytest.mark.parametrize("path", _python_files("ui", "app_pages", "app.py"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_app_reaches_analysis_only_through_panels_views_and_data(path: Path) -> None:
    """Issue 16: ui/, app_pages/ and app.py import from analysis only panels, views and data.

    Every computation is a panel call (tested without Streamlit); the app draws.
    """
    reached = {m for m in _imports(path) if m == "analysis" or m.startswith("analysis.")}
    # `_imports` records both "analysis" and the full module of each from-import: judge the full names.
    full = {m for m in reached if m != "analysis"}
    bad = sorted(m for m in full if not m.startswith(APP_MAY_IMPORT))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}; reach them through analysis.panels"
    if "analysis" in reached and not full:  # a bare `import analysis` would reach everything
        pytest.fail(f"{path.relative_to(ROOT)} imports the analysis package itself")


@pytest.mark.parametrize("path", _python_files("app_pages", "app.py"), ids=lambda p: p.name)
def test_pages_define_no_classes(path: Path) -> None:
    """Result classes defined in pages break st.cache_data (DESIGN.md section 4)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]


def test_upload_limit_matches_streamlit_config() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB
    assert config["client"]["showErrorDetails"] == "none"
    assert config["browser"]["gatherUsageStats"] is False


def test_torch_is_pinned_in_one_place() -> None:
    pins = [p for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts
            and p.suffix in {".txt", ".toml", ".cfg"} and "torch==" in p.read_text(errors="ignore")]
    assert [p.name for p in pins] == ["constraints.txt"]


def test_no_legacy_pages_folder() -> None:
    """A pages/ folder beside app.py puts Streamlit in legacy multipage mode until
    st.navigation has run once, so a fresh server's first visit to /data would run
    that page without the app's navigation and sidebar (seen in Streamlit 1.67)."""
    assert not (ROOT / "pages").exists()
    assert (ROOT / "app_pages" / "explore.py").exists()
