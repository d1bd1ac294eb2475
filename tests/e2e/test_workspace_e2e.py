"""Real browser: an upload survives a page reload, its run file downloads, and an address with view
parameters opens that view (issue 18 item 3). Each test starts its own server on a temporary
workspace folder, as a user meets it: a fresh server, the default drag mode."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import numpy as np
import pytest

from analysis.data import Run, load_run, save_run
from tests.e2e.harness import running_server
from tests.e2e.helpers import ARTIFACTS, attach_and_load, screenshot, wait_idle


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "workspaces"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(ARTIFACTS / "server-workspace.log", env={"REPLENS_WORKSPACE": str(root)}) as (url, _):
        yield url, root


def _params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _wait_for_param(page, name: str, timeout_s: float = 30) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = _params(page).get(name)
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError(f"the address never got {name}=: {page.url}")


def _shown(box) -> str:
    """What a selectbox shows: its label and chosen value (an input's value when it is searchable)."""
    inputs = box.locator("input")
    return box.inner_text() + " " + " ".join(inputs.nth(i).input_value() for i in range(inputs.count()))


def _sidebar_dataset(page) -> str:
    return _shown(page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first)


def _small_run(path: Path) -> Path:
    rng = np.random.default_rng(3)
    acts = {("h", s): rng.normal(size=(30, 4)).astype(np.float32) for s in (0, 10)}
    run = Run(activations=acts, layers=("h",), steps=(0, 10), labels=np.arange(30) % 3,
              label_names=("x", "y", "z"), task="a tiny run for the reload test", name="tiny")
    return save_run(run, path)


def test_an_upload_survives_a_reload_and_downloads(fresh_server, browser, tmp_path: Path) -> None:
    url, root = fresh_server
    context = browser.new_context(viewport={"width": 1500, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(f"{url}/data")
        page.wait_for_selector('[data-testid="stSidebar"]')
        wait_idle(page)
        ws = _wait_for_param(page, "ws")
        assert len(ws) == 32
        upload = _small_run(tmp_path / "tiny_run.safetensors")
        attach_and_load(page, upload)
        page.get_by_text("tiny_run.safetensors (run) · run · saved").wait_for()
        wait_idle(page)
        assert "tiny_run.safetensors" in _sidebar_dataset(page)
        assert _params(page)["ws"] == ws and _params(page)["dataset"].startswith("upload:")
        assert len(list((root / ws).iterdir())) == 1  # on disk, in this workspace's folder

        page.reload()  # the same address, a new Streamlit session
        page.wait_for_selector('[data-testid="stSidebar"]')
        wait_idle(page)
        page.get_by_text("tiny_run.safetensors (run) · run · saved").wait_for()
        assert "tiny_run.safetensors" in _sidebar_dataset(page)  # still the chosen dataset
        assert page.get_by_role("heading", name="tiny_run.safetensors (run)").count() == 1
        page.get_by_role("button", name="Run file").wait_for()
        page.get_by_text("samples (n)").wait_for()
        wait_idle(page)
        screenshot(page, "workspace-after-reload")

        with page.expect_download() as info:
            page.get_by_role("button", name="Run file").click()
        saved = tmp_path / "downloaded.safetensors"
        info.value.save_as(saved)
        back = load_run(saved)
        original = load_run(upload)
        assert back.layers == ("h",) and back.steps == (0, 10) and back.label_names == ("x", "y", "z")
        np.testing.assert_array_equal(back.activations[("h", 10)], original.activations[("h", 10)])
        assert info.value.suggested_filename.endswith(".safetensors")

        # Moving to another page through the sidebar keeps the workspace and the dataset in the address.
        dataset = _params(page)["dataset"]
        page.get_by_role("link", name="Explore").click()
        page.get_by_role("heading", name="Explore", level=1).wait_for()
        wait_idle(page)
        shown = _params(page)
        assert (shown.get("ws"), shown.get("dataset")) == (ws, dataset), page.url
        assert "tiny_run.safetensors" in _sidebar_dataset(page)
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "FAILED-workspace-reload.png"), full_page=True)
        raise
    finally:
        context.close()


def test_an_address_with_view_parameters_opens_that_view(fresh_server, browser) -> None:
    url, _ = fresh_server
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    params = {"dataset": "digits_mlp", "layer": "hidden1", "step": "0", "projection": "LDA",
              "colour": "vector norm", "point": "17"}
    try:
        page.goto(f"{url}/?{urlencode(params)}")
        page.wait_for_selector('[data-testid="stSidebar"]')
        page.get_by_text("The 10 nearest neighbours of id").wait_for()
        wait_idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        boxes = sidebar.locator('[data-testid="stSelectbox"]')
        assert "digits_mlp (sample)" in _shown(boxes.nth(0))
        assert "hidden1" in _shown(boxes.nth(1))
        main = page.locator('[data-testid="stMain"]')
        assert "LDA" in _shown(main.locator('[data-testid="stSelectbox"]').filter(has_text="Projection"))
        assert "vector norm" in _shown(main.locator('[data-testid="stSelectbox"]').filter(has_text="Colour by"))
        assert page.get_by_label("Point (row)").input_value() == "17"
        checkpoint = sidebar.locator('[data-testid="stSlider"]').filter(has_text="Checkpoint")
        assert checkpoint.locator('[data-testid="stSliderThumbValue"]').inner_text().strip() == "0"
        screenshot(page, "workspace-view-from-address")
        shown = _params(page)
        assert {k: shown.get(k) for k in params} == params  # written back, plus the new workspace id
        assert len(shown["ws"]) == 32

        # Another layer: the address follows, so it can be shared or bookmarked as it is now.
        boxes.nth(1).click()
        page.get_by_role("option", name=re.compile(r"^hidden2")).click()
        wait_idle(page)
        deadline = time.time() + 30
        while _params(page).get("layer") != "hidden2" and time.time() < deadline:
            page.wait_for_timeout(200)
        assert _params(page).get("layer") == "hidden2", page.url
    except BaseException:
        page.screenshot(path=str(ARTIFACTS / "FAILED-workspace-view.png"), full_page=True)
        raise
    finally:
        context.close()
