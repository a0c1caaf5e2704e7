"""Browser fixtures: Debian's Chromium driven by Playwright's sync API."""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (Playwright's own browsers are not used)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is not installed; run the README's test command (scripts/test.sh), "
            "which installs Debian's chromium",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own context at a lobby TV's 1920x1080."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="sv-SE")
    pg = context.new_page()
    yield pg
    context.close()
