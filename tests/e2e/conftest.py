"""Real-browser tests: the app served by `streamlit run`, driven by Debian's Chromium.

Screenshots of every page land in tests/e2e/artifacts/ (and FAILED-*.png on failure).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import chromium, running_app
from tests.e2e.helpers import ARTIFACTS


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_app(ARTIFACTS / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 1600})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
