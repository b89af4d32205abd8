"""Headless Chromium for the console's browser test and its README screenshots: Debian's
`chromium` and `chromium-driver`, installed with apt-get when missing (as .ci/run does)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PACKAGES = ("chromium", "chromium-driver")


def chromium_or_skip() -> None:
    """Install the browser when it is missing and this is root with apt-get; skip only when that
    is impossible, and never in CI (CI=true), where the browser test must run."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and _can_install():
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], env=environment, capture_output=True, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", *PACKAGES],
            env=environment,
            capture_output=True,
            check=False,
        )
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    reason = f"{CHROMIUM} or {CHROMEDRIVER} missing and apt-get could not install {PACKAGES}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _can_install() -> bool:
    return shutil.which("apt-get") is not None and os.geteuid() == 0


def chrome(downloads: Path, width: int = 1280, height: int = 900):
    """A headless Chromium that records the page's console and saves downloads in `downloads`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--lang=es-MX",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def full_page_screenshot(driver, path: Path, width: int = 1280, max_height: int = 6000) -> Path:
    """The whole page, not only the window: the window is made as tall as the page first."""
    driver.set_window_size(width, 600)  # the page's own height, not the last window's
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 160, max_height))  # + the window frame
    driver.save_screenshot(str(path))
    return path
