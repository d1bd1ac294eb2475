"""A shared deployment's safety settings (issue 15): the shipped Streamlit config, and caches bounded in
count and time so one server does not keep every session's results."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from analysis.data.limits import UPLOAD_LIMIT_MB

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".streamlit" / "config.toml"

# Caches that may live without a ttl, and why: the shipped samples, memory-mapped once per server.
NO_TTL = {("ui/state.py", "_sample_sources")}


@pytest.fixture(scope="module")
def config() -> dict:
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))


def test_binds_to_loopback_by_default(config) -> None:
    """Plain `streamlit run app.py` must not listen on every interface; expose it behind a proxy."""
    assert config["server"]["address"] == "127.0.0.1"


def test_request_forgery_and_cross_origin_protection_stay_on(config) -> None:
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True


def test_errors_show_no_details(config) -> None:
    assert config["client"]["showErrorDetails"] == "none"


def test_upload_limit_is_the_library_limit(config) -> None:
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB


def test_cached_results_have_a_server_wide_ceiling(config) -> None:
    assert config["server"]["maxCacheDataSize"].lower().endswith(("mb", "gb"))


def test_no_usage_statistics_and_no_file_watcher(config) -> None:
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False


def test_every_key_is_one_this_streamlit_knows(config) -> None:
    """A misspelt key is ignored silently (with a log line): a security setting would quietly be off."""
    from streamlit import config as st_config

    known = set(st_config._config_options_template)

    def keys(table: dict, prefix: str) -> set[str]:  # nested tables: [theme.light] -> theme.light.<key>
        return set().union(*(keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
                             for k, v in table.items()))

    used = keys(config, "")
    assert used <= known, sorted(used - known)


def test_the_theme_follows_the_system_light_or_dark(config) -> None:
    """Issue 18 item 7: no forced `base`; a light and a dark section, each with the RepLens accent."""
    theme = config["theme"]
    assert "base" not in theme
    assert {"primaryColor", "backgroundColor", "textColor"} <= set(theme["light"]) & set(theme["dark"])


def _cache_decorators(path: Path) -> list[tuple[str, int, ast.expr]]:
    """(function name, line, decorator) for each st.cache_data / st.cache_resource decorator."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
                    found.append((node.name, deco.lineno, deco))
    return found


CACHED_FILES = sorted([*(ROOT / "ui").rglob("*.py"), *(ROOT / "app_pages").rglob("*.py"), ROOT / "app.py"])


def test_the_cache_scan_finds_the_caches() -> None:
    assert sum(len(_cache_decorators(path)) for path in CACHED_FILES) >= 30


@pytest.mark.parametrize("path", CACHED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cache_is_bounded(path: Path) -> None:
    where = str(path.relative_to(ROOT))
    for name, line, deco in _cache_decorators(path):
        assert isinstance(deco, ast.Call), f"{where}:{line} {name}: give the cache max_entries and ttl"
        keywords = {kw.arg for kw in deco.keywords}
        assert "max_entries" in keywords, f"{where}:{line} {name}: no max_entries"
        if (where, name) not in NO_TTL:
            assert "ttl" in keywords, f"{where}:{line} {name}: no ttl"
