"""The dashboard in a real browser: served on 127.0.0.1 by `streamlit run`, every page and a
curve's page opened in headless Chromium (Debian's package, driven by Playwright), screenshotted
into ``reports/screenshots/`` (CI artifacts; gitignored); a Streamlit error box, a blank page or
a chart with no data drawn fails the test, and clicking a row of the curve browser must open
that curve.

Without /usr/bin/chromium the test is skipped, unless ``REQUIRE_BROWSER=1`` (set by .ci/run,
which installs Chromium) makes that a failure. By default the dashboard serves the scratch
pipeline's outputs; ``BROWSER_PROJECT=DIR`` serves those of a project where `make run` ran
instead (``BROWSER_PROJECT=. pytest tests/test_browser.py`` after `make run`).
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
         "curves?curve=37a1": "37a1 (LMFDB 37.a1)",
         "distributions": "Distributions", "topology": "Topology and null models",
         "bias": "Conductor bias", "known": "Known phenomena"}
#: A chart counts as drawn when this many of its pixels have a hue of the dashboard's
#: palettes (its marks), which its axes, grid lines and text never have.
DRAWN = 50
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(request):
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} not found (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not found")
    chosen = os.environ.get("BROWSER_PROJECT")
    repo = Path(chosen).resolve() if chosen else request.getfixturevalue("pipeline_project")[0]
    port = free_port()
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


def palette_pixels(png: bytes) -> int:
    """Pixels of the palettes' hues (reporting/figures.py) drawn with any opacity over white:
    on the segment from white to one of them, within 8 per channel, at least a quarter of the
    way. Greys are left out: text and axes are anti-aliased through them."""
    import io

    import numpy as np
    from PIL import Image

    from models.verdicts import KINDS
    from reporting.figures import NULL_COLOUR, OKABE_ITO
    colours = {*OKABE_ITO, NULL_COLOUR, *(kind.colour for kind in KINDS.values())}
    pixels = 255 - np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    found = np.zeros(pixels.shape[:2], dtype=bool)
    for colour in colours:
        found |= hue_mask(pixels, colour, 0.25)
    return int(found.sum())


def _rgb(colour: str):
    import numpy as np

    return 255 - np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def is_grey(colour: str) -> bool:
    """Text is anti-aliased through greys, so their pixels prove nothing."""
    rgb = _rgb(colour)
    return rgb.max() - rgb.min() < 16


def hue_mask(pixels, colour: str, least: float):
    """Pixels (255 − RGB) of ``colour`` drawn over white at an opacity of at least ``least``
    (none for a grey)."""
    import numpy as np

    rgb = _rgb(colour)
    if is_grey(colour):
        return np.zeros(pixels.shape[:2], dtype=bool)
    share = pixels @ rgb / (rgb @ rgb)
    residual = np.abs(pixels - share[..., None] * rgb).max(axis=2)
    return (residual <= 8) & (share >= least)


def kind_pixels(png: bytes) -> dict[str, int]:
    """Per verdict kind drawn in a hue (models.verdicts.KINDS; not the grey of
    ``not predictable``), its opaque pixels."""
    import io

    import numpy as np
    from PIL import Image

    from models.verdicts import KINDS
    pixels = 255 - np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(float)
    return {kind: int(hue_mask(pixels, colour, 0.9).sum())
            for kind, colour in ((k.name, k.colour) for k in KINDS.values()) if not is_grey(colour)}


QUIET = """() => {
  const now = Date.now();
  if (document.querySelector('[data-testid="stStatusWidget"]')) {
    window.__busy = now;
    return false;
  }
  if (window.__busy === undefined) window.__busy = now;
  return now - window.__busy > 2000;
}"""


def settle(view, heading: str) -> None:
    try:
        view.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
    except Exception as error:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        view.screenshot(path=str(SCREENSHOTS / "timed_out.png"), full_page=True)
        text = view.locator("body").inner_text()
        raise AssertionError(f"no heading {heading!r} at {view.url}; the page shows: "
                             f"{text[:2000]!r}") from error
    # the script has ended when Streamlit's running indicator has stayed away for 2 s (it
    # appears only some time after a run starts, so its absence alone proves nothing)
    view.wait_for_function(QUIET, timeout=120_000, polling=200)
    view.wait_for_timeout(1500)               # charts draw after the script ends


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
            settle(view, heading)
            name = path.replace("?curve=", "_") or "overview"
            view.set_viewport_size({"width": 1400, "height": 3000})   # the page scrolls inside
            view.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            view.set_viewport_size({"width": 1400, "height": 1000})
            errors = view.locator("[data-testid='stException'], "
                                  "[data-testid='stAlertContentError']").all_inner_texts()
            text = view.locator("[data-testid='stMain']").inner_text()
            charts = view.locator("[data-testid='stVegaLiteChart']").all()
            empty = []
            for index, chart in enumerate(charts):
                chart.scroll_into_view_if_needed()
                view.wait_for_timeout(300)
                if palette_pixels(chart.screenshot()) < DRAWN:
                    empty.append(index)
            if errors or len(text.strip()) < 40 or empty:
                problems.append((name, errors, f"empty charts {empty}", text[:200]))
        # the score chart's legend: every kind of verdict in its own hue (not predictable is
        # the grey cross), and the hues distinct
        from models.verdicts import KINDS
        assert len({kind.colour for kind in KINDS.values()}) == len(KINDS)
        view.goto(f"{served}/findings")
        settle(view, "Findings")
        chart = view.locator("[data-testid='stVegaLiteChart']").first
        chart.scroll_into_view_if_needed()
        view.wait_for_timeout(300)
        hues = kind_pixels(chart.screenshot())
        if min(hues.values()) < 15:
            problems.append(("findings", f"legend hues missing: {hues}"))
        # the known phenomena's conjecture table keeps its result column in view
        view.goto(f"{served}/known")
        settle(view, "Known phenomena")
        result = view.get_by_role("columnheader", name="result").first
        box = result.bounding_box()
        if box is None or box["x"] + box["width"] > 1400:
            problems.append(("known", f"the result column lies outside the page: {box}"))
        # a link to a curve opens on it, above the folded search
        view.goto(f"{served}/curves?curve=37a1")
        settle(view, "37a1 (LMFDB 37.a1)")
        heading = view.get_by_role("heading", name="37a1 (LMFDB 37.a1)").first.bounding_box()
        if heading is None or heading["y"] > 1000:
            problems.append(("curves?curve=37a1", f"the curve starts below the fold: {heading}"))
        # a click on the second row of the curve browser opens that curve (11a2: sorted by N)
        view.goto(f"{served}/curves")
        settle(view, "Curve browser")
        grid = view.locator("[data-testid='stDataFrame']").first.bounding_box()
        view.mouse.click(grid["x"] + 14, grid["y"] + 35 + 35 + 17)
        view.wait_for_timeout(1000)
        settle(view, "11a2 (LMFDB 11.a1)")
        view.set_viewport_size({"width": 1400, "height": 3000})
        view.screenshot(path=str(SCREENSHOTS / "curves_clicked.png"), full_page=True)
        browser.close()
    assert not problems, problems
