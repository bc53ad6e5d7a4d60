"""JupyterLab in a real browser: 04 and 00 run every cell with no error and no red stderr box, and
draw their figures as images.

Headless Chromium is driven by playwright through the system's Chromium (never a downloaded one).
Without a Chromium the test is skipped with how to enable it (Debian: `apt-get install chromium`;
or point SOR_CHROMIUM at the executable); CI installs it and sets SOR_REQUIRE_BROWSER=1, so there
the test always runs.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import TimeoutError

from conftest import REPO

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
SERVER_START_SECONDS = 60
RUN_ALL_SECONDS = 120
TOKEN = "sor-browser-test"
SHOWN_NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"  # the open tab's, not a hidden one's


def chromium() -> str | None:
    named = os.environ.get("SOR_CHROMIUM")
    return named or next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def notebooks_for(folder: Path, study: str) -> None:
    """04 and 00 as a user would open them, their parameters pointed at the smoke study."""
    folder.mkdir()
    analysis = nbformat.read(REPO / "notebooks" / "04_pareto.ipynb", as_version=4)
    parameters = next(c for c in analysis.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = parameters.source.replace(
        "parameters/embedded.yaml", str(REPO / f"parameters/{study}.yaml")
    )
    nbformat.write(analysis, folder / "04_pareto.ipynb")
    explorer = nbformat.read(REPO / "notebooks" / "00_explore.ipynb", as_version=4)
    parameters = next(c for c in explorer.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source = parameters.source.replace('first = "embedded"', f'first = "{study}"')
    parameters.source = parameters.source.replace("second = None", f'second = "{study}"')  # with itself
    assert f'second = "{study}"' in parameters.source
    nbformat.write(explorer, folder / "00_explore.ipynb")


@pytest.fixture
def jupyter_lab(smoke_reference, tmp_path):
    """A JupyterLab server on a copy of the smoke study's runs; yields its base URL."""
    runs = tmp_path / "runs"
    shutil.copytree(smoke_reference, runs)
    notebooks_for(tmp_path / "notebooks", "smoke")
    port = free_port()
    env = dict(
        os.environ,
        SOR_RUNS_DIR=str(runs),
        SOR_PROJECT_DIR=str(REPO),
        HF_HUB_OFFLINE="1",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        MPLCONFIGDIR=str(tmp_path / "matplotlib"),
    )
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}"]
    command += [f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path / 'notebooks'}"]
    command += [
        "--ServerApp.allow_root=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (tmp_path / "jupyter.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base, server, tmp_path / "jupyter.log")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def wait_for_server(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2) as answer:
                if json.load(answer):
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not start: {log.read_text()[-2000:]}")


def run_all_cells(page, base: str, notebook: str, screenshot: Path) -> dict:
    """Open `notebook`, run every cell from the Run menu, wait until the kernel is idle and every
    code cell has run; returns what the page shows."""
    page.goto(f"{base}/lab/tree/{notebook}?reset&token={TOKEN}")  # reset: no tab of the last one
    page.wait_for_selector(f"{SHOWN_NOTEBOOK} .jp-Cell", timeout=60_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)  # the kernel is up
    page.locator(f"{SHOWN_NOTEBOOK} .jp-Cell").first.click()  # the notebook, not the file browser, is active
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    try:
        page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll('SHOWN .jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""".replace("SHOWN", SHOWN_NOTEBOOK),
            timeout=RUN_ALL_SECONDS * 1000,
        )
    except TimeoutError as error:
        page.screenshot(path=str(screenshot))
        prompts = page.evaluate(
            "() => [...document.querySelectorAll('.jp-InputPrompt')].map(p => p.textContent)"
        )
        raise AssertionError(
            f"{notebook} did not finish: prompts {prompts}; screenshot {screenshot}"
        ) from error
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    return page.evaluate(
        """() => ({
            errors: document.querySelectorAll(
                'SHOWN [data-mime-type="application/vnd.jupyter.error"]').length,
            stderr: [...document.querySelectorAll('SHOWN [data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(e => e.textContent.slice(0, 300)),
            images: [...document.querySelectorAll('SHOWN .jp-RenderedImage img')]
                .filter(i => i.complete && i.naturalWidth > 100).length,
        })""".replace("SHOWN", SHOWN_NOTEBOOK)
    )


@pytest.fixture
def chromium_executable() -> str:
    executable = chromium()
    if executable is None:
        message = "no Chromium: apt-get install chromium (or set SOR_CHROMIUM) to run the browser test"
        if os.environ.get("SOR_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return executable


@pytest.mark.slow
def test_the_analysis_and_explorer_notebooks_run_clean_in_a_real_browser(
    chromium_executable, jupyter_lab, tmp_path
):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            for notebook in ("04_pareto.ipynb", "00_explore.ipynb"):
                shown = run_all_cells(page, jupyter_lab, notebook, tmp_path / f"{notebook}.png")
                assert shown["errors"] == 0, notebook
                assert shown["stderr"] == [], (notebook, shown["stderr"])
                assert shown["images"] >= 2, (notebook, shown)
        finally:
            browser.close()
