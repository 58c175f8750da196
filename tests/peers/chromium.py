"""Headless Chromium (Debian's `chromium`) for rendering the HTML report as a browser does.

`Chromium(path).screenshot(html_file, png, width, height)` and `.dump_dom(html_file)` run one
headless browser each, with a fresh profile directory, no network services (background
networking, component updates and sync off) and no sandbox (tests run as root). The fixture
`chromium` skips when the browser is missing, and fails under CI=true (tests/conftest.py).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.conftest import require_program

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
)


class Chromium:
    def __init__(self, path: str):
        self.path = path

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        profile = tempfile.mkdtemp(prefix="hotline-chromium-")
        try:
            return subprocess.run(
                [self.path, *FLAGS, f"--user-data-dir={profile}", *args],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    def screenshot(self, page: Path, png: Path, width: int = 1200, height: int = 2000) -> None:
        done = self._run(f"--screenshot={png}", f"--window-size={width},{height}", page.as_uri())
        if not png.exists():
            raise RuntimeError(f"chromium wrote no screenshot: {done.stderr.decode()[-2000:]}")

    def dump_dom(self, page: Path) -> str:
        """The DOM after the page was loaded and laid out, as HTML text."""
        done = self._run("--dump-dom", page.as_uri())
        if done.returncode != 0:
            raise RuntimeError(f"chromium --dump-dom failed: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode("utf-8")


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    return Chromium(require_program("chromium", "the HTML report's browser test"))
