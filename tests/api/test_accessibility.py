"""WCAG 2.1 A and AA on every page, in both languages, checked with axe-core in Chromium.

axe-core (shipped by ``axe-playwright-python``) runs its rules tagged ``wcag2a``, ``wcag2aa``,
``wcag21a`` and ``wcag21aa`` (and its ``best-practice`` ones: landmarks, heading order) on
each page with its data loaded: the leaderboard (both leagues), the kiosk, the site page
(hourly and daily charts), the organiser page signed out, with a refused token and signed in
(every section filled: data quality, held data, the audit log, sites, actions, an upload's
reply, a refused edit) and the embed page. No violation of any impact is allowed; the failure
lists each one's rule, the elements and axe's help. Chromium must refuse nothing under the
pages' Content-Security-Policy.

The organiser page is also operated with the keyboard alone: signing in and saving a site
edit, the focus visible at every stop.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from ingest.store.sqlite import SQLiteStore
from tests.api.test_held_page import _hold_late_readings
from tests.api.test_kiosk_page import TOKEN, Server, make_server  # noqa: F401 (fixture)
from tests.api.test_leaderboard_page import NOW, SITES, Clock, _seed

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# axe's best practices too: landmarks, one main, heading order, named table headers
AXE_TAGS = [*WCAG_TAGS, "best-practice"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
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


@pytest.fixture(autouse=True)
def _no_csp_refusals(page: Page) -> Iterator[None]:
    """Nothing a page does is refused by its Content-Security-Policy (Chromium logs each
    refusal to the console), and Chromium understands its Permissions-Policy."""
    refused: list[str] = []
    page.on(
        "console",
        lambda m: (
            refused.append(m.text)
            if "Content Security Policy" in m.text or "Permissions-Policy" in m.text
            else None
        ),
    )
    yield
    assert refused == [], refused


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA (and best-practice) violations on the page as it is now, one
    line per element."""
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


_FOCUSED = """() => {
  const e = document.activeElement, s = getComputedStyle(e);
  return { id: e.id, tag: e.tagName.toLowerCase(), name: e.getAttribute("name"),
           site: e.closest("tr") ? e.closest("tr").dataset.site || null : null,
           outline: s.outlineStyle === "none" ? 0 : parseFloat(s.outlineWidth) };
}"""


def test_the_organiser_page_works_with_the_keyboard_alone(make_server, page: Page):  # noqa: F811
    """Sign in, reach a site's floor area, change it and save it with key presses only; every
    stop on the way shows where the focus is."""
    server = make_server()
    page.goto(server.url + "/organiser")
    page.keyboard.press("Tab")
    assert page.evaluate(_FOCUSED)["id"] == "token"
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")
    _loaded(page)

    stops = []
    for _ in range(60):
        page.keyboard.press("Tab")
        now = page.evaluate(_FOCUSED)
        stops.append(now)
        if now["name"] == "area_m2" and now["site"] == "are":
            break
    else:
        pytest.fail(f"Tab never reached Åre's floor area: {stops}")
    unmarked = [s for s in stops if s["outline"] < 2]
    assert unmarked == [], f"focus not visible on {unmarked}"

    page.keyboard.press("Control+A")
    page.keyboard.type("600")
    page.keyboard.press("Tab")  # the target
    page.keyboard.press("Tab")  # its row's save button
    assert page.evaluate(_FOCUSED) | {"outline": 2} == {
        "id": "",
        "tag": "button",
        "name": None,
        "site": "are",
        "outline": 2,
    }
    page.keyboard.press("Enter")
    expect(page.locator("#sites-msg")).to_contain_text("are: area_m2")
    site = httpx.get(server.url + "/api/competitions/spar").json()
    (are,) = [s for s in site["sites_detail"] if s["id"] == "are"]
    assert are["area_m2"] == 600


@pytest.mark.parametrize("path", ["/", "/sites/spar/are", "/embed/spar/are"])
def test_pages_reflow_on_a_phone(server, browser, path):
    """At 360 CSS px (WCAG 1.4.10: 320 px at 400 % zoom is the same idea) the page scrolls
    only up and down (a wide table only inside its own box) and its text stays readable."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="sv-SE")
    page = context.new_page()
    try:
        page.goto(server.url + path)
        page.wait_for_function("() => !document.querySelector('h1').textContent.includes('…')")
        size = page.evaluate(
            "() => ({ page: document.documentElement.scrollWidth, view: innerWidth,"
            " smallest: Math.min(...[...document.querySelectorAll('h1, td, dd, dt, p, span, a')]"
            ".filter(e => e.offsetParent && e.textContent.trim())"
            ".map(e => parseFloat(getComputedStyle(e).fontSize))) })"
        )
        assert size["page"] <= size["view"], size
        assert size["smallest"] >= 12, size
        assert_accessible(page, f"{path} at 360 px")
    finally:
        context.close()
