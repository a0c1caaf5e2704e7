"""The site page shows the site's baseline fingerprint (small, the full value copyable), in a
real headless Chromium against the API served by uvicorn."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

pytest_plugins = ["tests.api.test_leaderboard_page"]  # its make_board and board fixtures


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => +document.body.dataset.loaded >= 1", timeout=10_000)


def test_site_page_shows_the_baseline_fingerprint_in_both_languages(board, page: Page):
    detail = httpx.get(f"{board.url}/api/competitions/spar/sites/are").json()
    fingerprint = detail["baseline_fingerprint"]
    assert len(fingerprint) == 64

    _open(page, board.url + "/sites/spar/are")
    line = page.locator("#fingerprint")
    expect(line).to_be_visible()
    expect(line).to_contain_text("Baslinjens fingeravtryck (SHA-256)")
    # the whole value is the text (a click selects it all) and the title; the box shows its
    # start, small
    code = page.locator("#fp")
    expect(code).to_have_text(fingerprint)
    expect(code).to_have_attribute("title", fingerprint)
    box = code.bounding_box()
    assert box is not None and box["width"] < 200
    assert (
        page.evaluate("() => getComputedStyle(document.getElementById('fp')).userSelect") == "all"
    )

    _open(page, board.url + "/sites/spar/are?lang=en")
    expect(line).to_contain_text("Baseline fingerprint (SHA-256)")
    expect(code).to_have_text(fingerprint)
