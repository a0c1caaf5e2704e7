"""The lobby leaderboard page in a real browser against the API served by uvicorn.

The store is seeded directly with hourly register readings of constant loads, so every
reduction is known: baseline 10 kW a year earlier (364 days), competition loads 8, 9 and
9.5 kW give 20 %, 10 % and 5 %.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from api.app import create_app
from ingest.store.base import Message, StoredReading
from ingest.store.sqlite import SQLiteStore
from scoring.competition import Competition
from scoring.competition_file import parse_competition
from tests.services import RunningApp

TZ = ZoneInfo("Europe/Stockholm")
START, END = date(2024, 2, 5), date(2024, 2, 18)  # no DST change, no Swedish holiday
NOW = datetime(2024, 2, 8, 0, 0, tzinfo=TZ)  # 72 hours of the period elapsed
ELAPSED_H = 72
BASELINE_KW = 10.0
YEAR = timedelta(days=364)  # previous-year baseline: Monday maps to Monday
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NAME = "Energispartävling för kommunhus – Åre, Älvdalen och Östersund"


@dataclass(frozen=True)
class SiteSpec:
    id: str
    municipality: str
    name: str
    area_m2: float
    load_kw: float  # during the competition


SITES = [
    SiteSpec("are", "Åre kommun", "Åre kommunhus", 500, 8.0),  # 20 %, 1,152 kWh/m²
    SiteSpec("alvdalen", "Älvdalens kommun", "Älvdalens kommunhus", 1000, 9.0),  # 10 %, 0,648
    SiteSpec("ostersund", "Östersunds kommun", "Östersunds rådhus", 2000, 9.5),  # 5 %, 0,342
]


class Clock:
    """A clock the test can move: the app calls it for the current Unix time."""

    def __init__(self, now: datetime) -> None:
        self.now_s = now.timestamp()

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Board:
    running: RunningApp
    store: SQLiteStore
    clock: Clock
    competition: Competition

    @property
    def url(self) -> str:
        return self.running.url


def _competition_toml(cid: str, name: str, sites: list[SiteSpec]) -> str:
    text = f"""
[competition]
id = "{cid}"
name = "{name}"
timezone = "Europe/Stockholm"
start = {START.isoformat()}
end = {END.isoformat()}
baseline = {{ method = "previous-year" }}
"""
    for s in sites:
        text += f"""
[[site]]
id = "{s.id}"
municipality = "{s.municipality}"
name = "{s.name}"
area_m2 = {s.area_m2}
target_pct = 10
  [[site.meter]]
  id = "{s.id}-main"
"""
    return text


def _register(
    meter: str, first: datetime, hours: int, power_kw: float, offset_kwh: float
) -> list[StoredReading]:
    """Hourly readings of a constant load: ``hours + 1`` register values from ``first``."""
    t0 = first.timestamp()
    return [
        StoredReading(
            meter, int((t0 + h * 3600) * 1000), round(offset_kwh + h * power_kw, 6), power_kw * 1e3
        )
        for h in range(hours + 1)
    ]


def _write(store: SQLiteStore, readings: list[StoredReading]) -> None:
    store.write([Message("test/seed", int(time.time() * 1000), "test", readings)])


def _seed(store: SQLiteStore, sites: list[SiteSpec]) -> None:
    # The scoreboard reads history from start - 364 d - 1 d to end - 364 d + 1 d.
    base_first = datetime.combine(START, datetime.min.time(), TZ) - YEAR - timedelta(days=1)
    base_hours = ((END - START).days + 3) * 24
    comp_first = datetime.combine(START, datetime.min.time(), TZ)
    for s in sites:
        meter = f"{s.id}-main"
        _write(store, _register(meter, base_first, base_hours, BASELINE_KW, 1000.0))
        _write(store, _register(meter, comp_first, ELAPSED_H, s.load_kw, 50_000.0))


@pytest.fixture
def make_board(tmp_path) -> Iterator:
    started: list[tuple[RunningApp, SQLiteStore]] = []

    def make(cid: str, name: str, sites: list[SiteSpec]) -> Board:
        competition = parse_competition(_competition_toml(cid, name, sites), f"{cid}.toml")
        store = SQLiteStore(tmp_path / f"{cid}.db")
        _seed(store, sites)
        clock = Clock(NOW)
        app = create_app([competition], store, clock=clock, stream_interval_s=0.2)
        running = RunningApp(app)
        # uvicorn in a thread installs no signal handlers, so sse-starlette never learns of
        # the shutdown and uvicorn would wait for the open SSE stream forever (RunningApp's
        # join gives up after 10 s with the server still up). Cut the grace period short.
        running.server.config.timeout_graceful_shutdown = 1
        running.__enter__()
        started.append((running, store))
        return Board(running, store, clock, competition)

    yield make
    for running, store in started:
        running.__exit__(None, None, None)  # a second exit (offline test) is harmless
        store.close()


@pytest.fixture
def board(make_board) -> Board:
    return make_board("spar", NAME, SITES)


def _sites(page: Page) -> list[str]:
    return page.eval_on_selector_all("tr.entry", "rows => rows.map(r => r.dataset.site)")


def _clipped_cells(page: Page) -> list[str]:
    """Cells whose text is cut off (``text-overflow: ellipsis``), as "site/class"."""
    return page.eval_on_selector_all(
        "tr.entry td",
        "cells => cells.filter(c => c.scrollWidth > c.clientWidth)"
        ".map(c => c.parentElement.dataset.site + '/' + c.className)",
    )


def _open(page: Page, url: str, rows: int) -> None:
    page.goto(url)
    page.wait_for_function(
        "n => document.querySelectorAll('#entries tr.entry').length === n", arg=rows, timeout=10_000
    )


def test_leaderboard_ranks_sites_in_swedish(board: Board, page: Page):
    _open(page, board.url + "/", 3)

    assert _sites(page) == ["are", "alvdalen", "ostersund"]
    ranks = page.eval_on_selector_all("tr.entry", "rows => rows.map(r => r.dataset.rank)")
    assert ranks == ["1", "2", "3"]
    reductions = page.locator("tr.entry td.reduction").all_text_contents()
    assert reductions == ["20,0 %", "10,0 %", "5,0 %"]
    assert page.locator("tr.entry .name").all_text_contents() == [s.name for s in SITES]
    assert page.locator("tr.entry .muni").all_text_contents() == [s.municipality for s in SITES]
    assert page.locator("tr.entry td.live").all_text_contents() == ["8,0 kW", "9,0 kW", "9,5 kW"]
    # saved: 72 h x (10 - load) kW
    saved = page.locator("tr.entry td.saved").all_text_contents()
    assert saved == ["144 kWh", "72 kWh", "36 kWh"]
    assert page.locator("tr.rank-1").get_attribute("data-site") == "are"

    expect(page.locator("#title")).to_have_text(NAME)
    assert page.title() == f"{NAME} – Watt League"
    expect(page.locator("#as-of")).to_have_text("Uppdaterad 00:00 · 2024-02-08")
    expect(page.locator("#period")).to_have_text("2024-02-05 – 2024-02-18")
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#synthetic")).to_be_hidden()
    expect(page.locator("thead th.site")).to_have_text("Kommunhus")
    expect(page.locator("#league-reduction")).to_have_attribute("aria-pressed", "true")

    # A lobby TV: nothing cut off at the right even with a long name, and the board fills the
    # screen below the header with rows grown to at most 7.5 % of the height each.
    box = page.evaluate(
        """() => {
            const r = s => document.querySelector(s).getBoundingClientRect();
            return {width: innerWidth, height: innerHeight, content: document.body.scrollWidth,
                    live: r('thead th.live').right, league: r('#league-kwh').right,
                    title: r('#title').right, leagueLeft: r('#league').left,
                    boardBottom: r('#board').bottom, row: r('tr.entry').height};
        }"""
    )
    assert box["content"] <= box["width"], box
    assert box["live"] <= box["width"] and box["league"] <= box["width"], box
    assert box["title"] <= box["leagueLeft"], box  # a long title is cut with an ellipsis
    assert box["boardBottom"] >= 0.95 * box["height"], box
    assert 0.06 * box["height"] <= box["row"] <= 0.076 * box["height"], box
    assert _clipped_cells(page) == []

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard.png"))

    # The other league: kWh/m², lowest first (1,152 / 0,648 / 0,342 kWh/m²).
    page.click("#league-kwh")
    page.wait_for_function(
        "() => [...document.querySelectorAll('tr.entry')].map(r => r.dataset.site).join()"
        " === 'ostersund,alvdalen,are'",
        timeout=10_000,
    )
    expect(page.locator("#league-kwh")).to_have_attribute("aria-pressed", "true")
    assert page.locator("tr.entry td.kwhm2").all_text_contents() == ["0,3", "0,6", "1,2"]


def test_leaderboard_fits_a_1080p_screen_with_24_sites(make_board, page: Page):
    sites = [
        SiteSpec(
            f"site-{i:02d}",
            f"Kommun nr {i} i Västernorrland",
            f"Kommunhuset på Storgatan {i}",
            1000,
            BASELINE_KW * (1 - i / 100),
        )
        for i in range(1, 25)
    ]
    board = make_board("stor", "Storligan – 24 kommunhus", sites)
    _open(page, board.url + "/", 24)

    assert _sites(page) == [f"site-{i:02d}" for i in range(24, 0, -1)]
    sizes = page.evaluate(
        """() => ({
            doc: document.scrollingElement.scrollHeight, inner: innerHeight,
            board: document.getElementById('board').scrollHeight,
            boardClient: document.getElementById('board').clientHeight,
            lastRowBottom: [...document.querySelectorAll('tr.entry')].pop()
                .getBoundingClientRect().bottom,
        })"""
    )
    assert sizes["doc"] <= sizes["inner"], sizes
    assert sizes["board"] <= sizes["boardClient"], sizes  # every row visible, none scrolled away
    assert sizes["lastRowBottom"] <= sizes["inner"], sizes
    assert _clipped_cells(page) == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-24.png"))


def test_leaderboard_reorders_live_without_reload(board: Board, page: Page):
    _open(page, board.url + "/", 3)
    assert _sites(page) == ["are", "alvdalen", "ostersund"]
    origin = page.evaluate("() => { window.__marker = 1; return performance.timeOrigin; }")

    # A day later: Östersund ran at 2.5 kW for 24 h, the others as before.
    # Östersund: (72 x 9.5 + 24 x 2.5) kWh against 96 x 10 kWh → 22.5 %, now first.
    last = NOW
    for s in SITES:
        load = 2.5 if s.id == "ostersund" else s.load_kw
        readings = _register(f"{s.id}-main", last, 24, load, 50_000.0 + ELAPSED_H * s.load_kw)[1:]
        _write(board.store, readings)
    board.clock.now_s = (NOW + timedelta(hours=24)).timestamp()

    page.wait_for_function(
        "() => [...document.querySelectorAll('tr.entry')].map(r => r.dataset.site).join()"
        " === 'ostersund,are,alvdalen'",
        timeout=10_000,
    )
    assert page.evaluate("() => window.__marker") == 1, "the page was reloaded"
    assert page.evaluate("() => performance.timeOrigin") == origin
    reductions = page.locator("tr.entry td.reduction").all_text_contents()
    assert reductions == ["22,5 %", "20,0 %", "10,0 %"]
    assert page.locator("tr.rank-1").get_attribute("data-site") == "ostersund"
    expect(page.locator("#as-of")).to_have_text("Uppdaterad 00:00 · 2024-02-09")


def test_a_quiet_stream_is_not_taken_for_a_lost_server(board: Board, page: Page):
    # The board is only sent when it changes and SSE pings are comments the page never sees,
    # so with a fixed clock and no new readings the stream stays silent. Fake 31 s of silence
    # three times over: the page must reconnect each time, never show the offline banner.
    page.clock.install()
    _open(page, board.url + "/", 3)
    for _ in range(3):
        page.evaluate("() => { document.querySelector('tr.entry').__seen = 1; }")
        page.clock.run_for(31_000)
        expect(page.locator("#offline")).to_be_hidden(timeout=1)
        # the fresh connection re-sent the board, which was rendered anew
        page.wait_for_function(
            "() => !document.querySelector('tr.entry').__seen", polling=50, timeout=5_000
        )
    expect(page.locator("#offline")).to_be_hidden()


def test_leaderboard_in_english(board: Board, page: Page):
    _open(page, board.url + "/?lang=en", 3)

    assert page.evaluate("() => document.documentElement.lang") == "en"
    headers = page.locator("thead th").all_text_contents()
    assert headers == ["#", "Town hall", "Reduction", "Saved", "kWh/m²", "Target", "Live"]
    expect(page.locator("#league-reduction")).to_have_text("Reduction %")
    expect(page.locator("#as-of")).to_have_text("As of 00:00 · 2024-02-08")
    expect(page.locator("#offline")).to_have_text("No connection to the server – retrying…")
    expect(page.locator("#title")).to_have_text(NAME)  # names are data, not translated
    assert page.locator("tr.entry td.reduction").all_text_contents()[0] == "20.0 %"  # en: point


def test_offline_banner_when_the_server_goes_away(board: Board, page: Page):
    _open(page, board.url + "/", 3)
    expect(page.locator("#offline")).to_be_hidden()

    board.running.__exit__(None, None, None)
    assert not board.running.thread.is_alive(), "uvicorn did not stop"

    expect(page.locator("#offline")).to_be_visible(timeout=35_000)
    expect(page.locator("#offline")).to_have_text("Ingen kontakt med servern – försöker igen…")
    assert _sites(page) == ["are", "alvdalen", "ostersund"]  # the last board stays up
