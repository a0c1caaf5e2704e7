"""The public site page in a real headless Chromium: charts drawn from the API's series."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.test_leaderboard_page import ELAPSED_H, NOW, SITES

pytest_plugins = ["tests.api.test_leaderboard_page"]  # its make_board and board fixtures

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _open(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => +document.body.dataset.loaded >= 1", timeout=10_000)


def _drawn_points(page: Page, selector: str) -> int:
    """Points of an SVG path: its M and L commands."""
    d = page.get_attribute(selector, "d") or ""
    return len(re.findall(r"[ML]", d))


def test_site_page_draws_series_traps_and_ranks(board, page: Page):
    api = f"{board.url}/api/competitions/spar/sites/are"
    hours = httpx.get(api + "/series?resolution=hour").json()["series"]
    days = httpx.get(api + "/series?resolution=day").json()["series"]
    detail = httpx.get(api).json()
    assert len(hours) == ELAPSED_H and len(days) == 3

    _open(page, board.url + "/sites/spar/are")
    expect(page.locator("#name")).to_have_text("Åre kommunhus")
    expect(page.locator("#muni")).to_have_text("Åre kommun")
    expect(page.locator("#c-reduction")).to_have_text("20,0 %")
    expect(page.locator("#c-rank")).to_have_text("1 av 3")

    # hourly lines: one point per hour with a value, as the API gave them
    with_actual = sum(p["actual_kwh"] is not None for p in hours)
    with_base = sum(p["baseline_kwh"] is not None for p in hours)
    assert _drawn_points(page, "#chart-hour path.actual") == with_actual == ELAPSED_H
    assert _drawn_points(page, "#chart-hour path.baseline") == with_base == ELAPSED_H
    # daily bars: one pair per day, heights in proportion to the kWh (8 against 10 kW)
    page.click("#res-day")
    expect(page.locator("#chart-day")).to_be_visible()
    assert page.locator("#chart-day rect.actual").count() == len(days)
    assert page.locator("#chart-day rect.baseline").count() == len(days)
    heights = page.eval_on_selector_all(
        "#chart-day rect", "rs => rs.map(r => [r.getAttribute('class'), +r.getAttribute('height')])"
    )
    actual = [h for c, h in heights if c == "actual"]
    baseline = [h for c, h in heights if c == "baseline"]
    for a, b in zip(actual, baseline, strict=True):
        assert a / b == pytest.approx(0.8, rel=0.01)
    # rank history: one marker per elapsed day, always first
    assert page.locator("#chart-rank circle.rank").count() == len(detail["rank_history"])
    # energy traps: three rows from the detail's energy_traps
    rows = page.locator("#traps tbody tr")
    expect(rows).to_have_count(3)
    assert page.locator("#traps tbody th").all_text_contents() == [
        "Baslast natt",
        "Baslast helg",
        "Andel utanför kontorstid",
    ]
    night = detail["energy_traps"]["competition"]["night_base_kw"]
    expect(rows.nth(0).locator("td").nth(0)).to_have_text(f"{night:.1f} kW".replace(".", ","))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "site-page.png"), full_page=True)


def test_site_page_shows_actions_and_updates_without_reload(board, page: Page):
    board.store.organiser.add_annotation(
        "spar", "are", int((NOW - timedelta(hours=30)).timestamp() * 1000), "Nattvandring", "anna"
    )
    _open(page, board.url + "/sites/spar/are?lang=en")
    assert page.evaluate("() => document.documentElement.lang") == "en"
    expect(page.locator("#actions li")).to_have_count(1)
    expect(page.locator("#actions li")).to_contain_text("Nattvandring")
    assert page.locator("#chart-hour line.action").count() == 1
    # English figures have a decimal point: "20.0 %", never "20,0 %"
    expect(page.locator("#c-reduction")).to_contain_text(".")
    assert "," not in page.locator("#c-reduction").inner_text()


def test_leaderboard_links_to_site_pages(board, page: Page):
    page.goto(board.url + "/")
    page.wait_for_function("() => document.querySelectorAll('tr.entry').length === 3")
    page.click("tr[data-site=alvdalen] .name a")
    page.wait_for_url(f"{board.url}/sites/spar/alvdalen")
    page.wait_for_function("() => +document.body.dataset.loaded >= 1", timeout=10_000)
    expect(page.locator("#name")).to_have_text(SITES[1].name)


def test_unknown_site_page_is_a_404(board):
    r = httpx.get(board.url + "/sites/spar/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
