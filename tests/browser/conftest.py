"""Playwright driving Debian's Chromium (`/usr/bin/chromium`) against the live app.

Playwright's own browser download does not work here; `.ci/run` installs the `chromium`
package. Screenshots of the key pages are saved under `test-artifacts/screenshots/`.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="package")
def chromium():
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between page actions are still synchronous and safe. Only while the browser runs.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


#: The pages must work without JavaScript, so the browser runs with it switched off.
DESKTOP = {"viewport": {"width": 1200, "height": 900}, "java_script_enabled": False}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "java_script_enabled": False,
}


def _tab(chromium, options: dict):
    context = chromium.new_context(**options)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    return context, tab


@pytest.fixture
def page(chromium):
    """A desktop-sized browser tab."""
    context, tab = _tab(chromium, DESKTOP)
    yield tab
    context.close()


@pytest.fixture
def phone(chromium):
    """A phone-sized browser tab, for the responsive layout."""
    context, tab = _tab(chromium, PHONE)
    yield tab
    context.close()


@pytest.fixture
def screenshot(page):
    """`screenshot(name)` saves the whole page (or `of=` another tab) under the artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, of=None) -> Path:
        path = ARTIFACTS / f"{name}.png"
        (of or page).screenshot(path=str(path), full_page=True)
        return path

    return take
