"""The dashboard in a real browser: served on 127.0.0.1 by `streamlit run`, every page opened
in headless Chromium (Debian's package, driven by Playwright), screenshotted into
``reports/screenshots/`` (CI artifacts); a Streamlit error box or a blank page fails the test.

Without /usr/bin/chromium the test is skipped, unless ``REQUIRE_BROWSER=1`` (set by .ci/run,
which installs Chromium) makes that a failure.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import PROJECT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT / "reports" / "screenshots"
#: url path -> what the page must show once rendered
PAGES = {"": "Unexpected predictability", "findings": "Findings", "curves": "Curve browser",
         "distributions": "Distributions", "topology": "Topology and null models",
         "bias": "Conductor bias", "known": "Known phenomena"}
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(pipeline_project):
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} not found (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not found")
    repo, port = pipeline_project[0], free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(repo / "dashboard/app.py"),
         "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
         "--browser.gatherUsageStats=false"], cwd=repo, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"streamlit did not come up: {server.stdout.read()}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_every_page_renders_in_chromium(served):
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS,
                                             chromium_sandbox=False)
        view = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, heading in PAGES.items():
            view.goto(f"{served}/{path}")
            view.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
            view.wait_for_function(
                "!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
            view.wait_for_timeout(1500)               # charts draw after the script ends
            view.screenshot(path=str(SCREENSHOTS / f"{path or 'overview'}.png"), full_page=True)
            errors = view.locator("[data-testid='stException'], "
                                  "[data-testid='stAlertContentError']").all_inner_texts()
            text = view.locator("[data-testid='stMain']").inner_text()
            if errors or len(text.strip()) < 40:
                problems.append((path or "overview", errors, text[:200]))
        browser.close()
    assert not problems, problems
