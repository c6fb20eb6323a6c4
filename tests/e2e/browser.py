"""Headless Chromium for the browser tier: Debian's ``chromium`` + ``chromium-driver``, nothing downloaded.

Selenium Manager (which would fetch drivers from the internet) stays off: the driver and browser
binaries are passed explicitly and ``SE_OFFLINE`` is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests may run as root (CI containers)
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1100",
)


def ensure_chromium() -> None:
    """Install Debian's Chromium and its driver when missing (root + apt only; else explain)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{CHROMIUM} and {CHROMEDRIVER} are missing: as root, `apt-get install chromium chromium-driver`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=240)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "chromium-driver"],
        check=True,
        env=env,
        timeout=240,
    )


@contextmanager
def chromium() -> Iterator[Any]:
    """A new headless Chromium with an empty profile, both gone afterwards."""
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll ``condition`` until it returns something truthy (the React UI renders asynchronously)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # elements detach while React re-renders
            last_error = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


def log_in(driver: Any, base_url: str, username: str, password: str) -> None:
    """Sign in through the simple auth manager's login page."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/")
    wait_for(lambda: driver.find_elements(By.NAME, "username"), "the login form")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(
        lambda: (
            "/auth/login" not in driver.current_url
            and driver.find_elements(By.CSS_SELECTOR, "[data-testid=nav-dags-link]")
        ),
        "the home page after signing in",
    )


def save_screenshot(target: Any, path: Path) -> None:
    """Save a PNG of a page (driver) or of one element, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target.screenshot(str(path)) if hasattr(target, "tag_name") else target.save_screenshot(str(path))
