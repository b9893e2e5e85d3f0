"""Debian's chromium for the Playwright tests: installed with apt-get when missing, never downloaded
by `playwright install` (this network has no browser CDN)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium keeps dialling Google's hosts, which this
# sandbox refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's chromium, installing it when missing."""
    if not shutil.which("chromium"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, env=env)
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed and apt-get could not install it")
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_args() -> list[str]:
    return list(CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots: a temporary directory, so `make test` never
    rewrites the tracked docs/*.png. `SCREENSHOT_DIR=docs make test` (or `make screenshots`)
    refreshes the pictures in the README on purpose."""
    configured = os.environ.get("SCREENSHOT_DIR")
    path = Path(configured).resolve() if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
