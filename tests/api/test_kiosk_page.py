"""The lobby kiosk page (``[[display]] kind = "kiosk"``) in a real headless Chromium.

Same seeded store as the leaderboard page's tests: baseline 10 kW, competition loads 8, 9 and
9.5 kW give 20 %, 10 % and 5 %.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.api.test_leaderboard_page import (
    ELAPSED_H,
    NOW,
    SITES,
    Clock,
    SiteSpec,
    _competition_toml,
    _seed,
)
from tests.services import RunningApp

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TOKEN = "kiosk-organiser-token"
KIOSK_DISPLAY = """
[[display]]
id = "alvdalen-lobby"
site = "alvdalen"
kind = "kiosk"
"""


class Server:
    """The app on a fixed port that the test can stop and start again on the same store."""

    def __init__(
        self, store: SQLiteStore, sites: list[SiteSpec], clock: Clock, extra: str = ""
    ) -> None:
        toml = _competition_toml("spar", "Energispartävling för kommunhus", sites)
        self.competition = parse_competition(toml + KIOSK_DISPLAY + extra, "spar.toml")
        self.store, self.clock = store, clock
        self.running: RunningApp | None = None
        self.port: int | None = None

    def start(self) -> None:
        app = create_app(
            [self.competition],
            self.store,
            clock=self.clock,
            stream_interval_s=0.2,
            tokens=TokenSet({"test": hash_token(TOKEN)}),
        )
        self.running = RunningApp(app)
        if self.port is None:
            self.port = self.running.port
        self.running.port = self.running.server.config.port = self.port
        self.running.__enter__()

    def stop(self) -> None:
        if self.running is not None:
            self.running.__exit__(None, None, None)
            assert not self.running.thread.is_alive(), "uvicorn did not stop"
            self.running = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def make_server(tmp_path) -> Iterator:
    made: list[Server] = []

    def make(sites: list[SiteSpec] = SITES, extra: str = "") -> Server:
        """A started server; ``extra`` is appended to its competition file."""
        store = SQLiteStore(tmp_path / f"kiosk-{len(made)}.db")
        _seed(store, sites)
        server = Server(store, sites, Clock(NOW), extra)
        server.start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
        server.store.close()


def _rows(page: Page) -> list[str]:
    return page.eval_on_selector_all("#sites .site", "rows => rows.map(r => r.dataset.site)")


def _open(page: Page, url: str, n: int) -> None:
    page.goto(url)
    page.wait_for_function(
        "n => document.querySelectorAll('#sites .site').length === n", arg=n, timeout=10_000
    )


def test_kiosk_shows_all_sites_and_its_own(make_server, page: Page):
    server = make_server()
    failed: list[str] = []  # a lobby TV logs no errors: not even a missing favicon
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    _open(page, server.url + "/kiosk/alvdalen-lobby", 3)

    assert _rows(page) == ["are", "alvdalen", "ostersund"]
    assert failed == []
    assert page.locator(".site .pct").all_text_contents() == ["20,0 %", "10,0 %", "5,0 %"]
    assert page.locator(".site .kw").all_text_contents() == ["8,0 kW", "9,0 kW", "9,5 kW"]
    assert page.locator(".site.own").get_attribute("data-site") == "alvdalen"
    expect(page.locator("#own .name")).to_have_text("Älvdalens kommunhus")
    expect(page.locator("#own .rank")).to_have_text("plats 2 av 3")
    expect(page.locator("#title")).to_have_text("Energispartävling för kommunhus")
    expect(page.locator("#offline")).to_be_hidden()

    # readable from five metres on a 1080p screen: big letters, nothing cut off or scrolled
    sizes = page.evaluate(
        """() => ({
            name: parseFloat(getComputedStyle(document.querySelector('.site .name')).fontSize),
            own: parseFloat(getComputedStyle(document.querySelector('#own .big')).fontSize),
            doc: document.scrollingElement.scrollHeight, inner: innerHeight,
            width: document.body.scrollWidth, innerW: innerWidth,
        })"""
    )
    assert sizes["name"] >= 40 and sizes["own"] >= 60, sizes
    assert sizes["doc"] <= sizes["inner"] and sizes["width"] <= sizes["innerW"], sizes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kiosk.png"))


def test_kiosk_for_a_competition_in_english(make_server, page: Page):
    server = make_server()
    _open(page, server.url + "/kiosk?competition=spar&lang=en", 3)
    assert page.evaluate("() => document.documentElement.lang") == "en"
    assert page.locator(".site.own").count() == 0
    expect(page.locator("#own")).to_be_hidden()
    expect(page.locator("#offline")).to_have_text(
        "No connection to the server – showing the last standings, retrying…"
    )
    # English figures have a decimal point, as the English display frames do
    assert page.locator(".site .pct").all_text_contents() == ["20.0 %", "10.0 %", "5.0 %"]


def test_kiosk_of_an_unknown_display_is_a_404(make_server):
    server = make_server()
    r = httpx.get(server.url + "/kiosk/nowhere")
    assert r.status_code == 404
    assert "alvdalen-lobby" in r.json()["error"]["message"]
    assert httpx.get(server.url + "/kiosk?competition=nope").status_code == 404


def test_kiosk_updates_when_a_reading_arrives(make_server, page: Page):
    server = make_server()
    _open(page, server.url + "/kiosk/alvdalen-lobby", 3)
    origin = page.evaluate("() => performance.timeOrigin")

    # one minute later Älvdalen's meter reports 3 kW (register continued at 9 kW)
    ts = NOW + timedelta(minutes=1)
    register_kwh = 50_000.0 + ELAPSED_H * 9.0 + 9.0 / 60
    r = httpx.post(
        server.url + "/api/readings",
        json=[
            {
                "meter": "alvdalen-main",
                "ts": ts.isoformat(),
                "energy_kwh": register_kwh,
                "power_w": 3000,
            }
        ],
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    server.clock.now_s = ts.timestamp()

    expect(page.locator(".site[data-site=alvdalen] .kw")).to_have_text("3,0 kW", timeout=10_000)
    expect(page.locator("#own .kw")).to_have_text("3,0 kW nu")
    assert page.evaluate("() => performance.timeOrigin") == origin, "the page was reloaded"


def test_kiosk_notice_when_the_server_is_away_and_recovery(make_server, page: Page):
    server = make_server()
    _open(page, server.url + "/kiosk/alvdalen-lobby", 3)
    expect(page.locator("#offline")).to_be_hidden()

    server.stop()
    expect(page.locator("#offline")).to_be_visible(timeout=35_000)
    expect(page.locator("#offline")).to_have_text(
        "Ingen kontakt med servern – visar senaste ställningen, försöker igen…"
    )
    assert _rows(page) == ["are", "alvdalen", "ostersund"]  # the last standings stay up
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kiosk-offline.png"))

    server.start()  # a new process on the same port and store
    expect(page.locator("#offline")).to_be_hidden(timeout=35_000)
    assert _rows(page) == ["are", "alvdalen", "ostersund"]


def test_kiosk_fits_24_sites_on_a_1080p_screen(make_server, page: Page):
    sites = [
        SiteSpec(
            "alvdalen" if i == 5 else f"site-{i:02d}",
            f"Kommun {i}",
            f"Kommunhuset på Storgatan {i}",
            1000,
            10.0 * (1 - i / 100),
        )
        for i in range(1, 25)
    ]
    server = make_server(sites)
    _open(page, server.url + "/kiosk/alvdalen-lobby", 24)
    box = page.evaluate(
        """() => ({
            doc: document.scrollingElement.scrollHeight, inner: innerHeight,
            last: Math.max(...[...document.querySelectorAll('.site')]
                .map(r => r.getBoundingClientRect().bottom)),
            right: Math.max(...[...document.querySelectorAll('.site')]
                .map(r => r.getBoundingClientRect().right)),
            name: parseFloat(getComputedStyle(document.querySelector('.site .name')).fontSize),
        })"""
    )
    assert box["doc"] <= box["inner"] and box["last"] <= box["inner"], box
    assert box["right"] <= 1920 and box["name"] >= 28, box
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kiosk-24.png"))
