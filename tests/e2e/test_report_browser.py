"""The rollout's HTML report in a real browser: Debian's Chromium, headless, renders the page.

The DOM Chromium built must hold the charts and the verdict, and its screenshot must show them:
a PNG of the window's size, many colours, and the canary's, stable's and the verdict's colours
painted over a good number of pixels. Needs `chromium` on PATH (.ci/run installs Debian's
package before this tier); needs no cluster.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from canary.rollout.report.html import render_html
from tests.e2e.support.png import decode
from tests.support.rollout_report_fixtures import report

WINDOW = (1280, 2000)
INSTALL = "apt-get install -y --no-install-recommends chromium"


@pytest.fixture(scope="module")
def cluster() -> None:
    """This module's stand-in for the tier's cluster check (tests/e2e/conftest.py): a browser
    renders a file here, so the test runs with or without the local cluster."""


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(f"no chromium on PATH: {INSTALL} (what .ci/run does)", pytrace=False)
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    path = folder / "rollout.html"
    path.write_text(render_html(report()), encoding="utf-8")
    return path


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_chromium_builds_the_charts_and_the_verdict(page: Path) -> None:
    dom = _Dom()
    dom.feed(_chromium(page.parent / "profile-dom", "--dump-dom", page.as_uri()).stdout)
    svgs = [attrs.get("id") for tag, attrs in dom.elements if tag == "svg"]
    assert svgs == ["chart-weight", "chart-error-rate", "chart-p99", "chart-evidence"]
    # The weight's step line, per metric each version's runs (the canary's p99 breaks at its null),
    # and the one test's evidence; a point per poll with data.
    assert sum(tag == "polyline" for tag, _ in dom.elements) == 1 + 2 + 3 + 1
    assert sum(tag == "circle" for tag, _ in dom.elements) == 4 + 4 + 3 + 4 + 4
    markers = [attrs for tag, attrs in dom.elements if tag == "g" and "verdict" in (attrs.get("class") or "").split()]
    assert len(markers) == 4
    text = " ".join(dom.text)
    assert "rolled back at 0:42" in text
    assert "error rate against stable: e-value 250 >= 200" in text


def test_the_screenshot_shows_the_charts_in_their_colours(page: Path) -> None:
    shot = page.parent / "rollout.png"
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    _chromium(page.parent / "profile-shot", f"--screenshot={shot}", size, page.as_uri())
    picture = decode(shot.read_bytes())
    assert (picture.width, picture.height) == WINDOW
    colours = picture.colours()
    assert len(colours) > 100, f"{len(colours)} colours: a blank or nearly blank page"
    # The colours the page's own style gives the two versions and a bad outcome. The names in the
    # header and the table take a few hundred pixels of each version's colour; the lines take the rest.
    style = page.read_text(encoding="utf-8")
    for name, at_least in (("canary", 1200), ("stable", 1200), ("bad", 2000)):
        match = re.search(rf"--{name}: #([0-9a-f]{{6}})", style)
        assert match is not None, name
        painted = colours[bytes.fromhex(match.group(1)) + b"\xff" * (picture.channels - 3)]
        assert painted >= at_least, f"{name} ({match.group(1)}) painted on {painted} pixels"
