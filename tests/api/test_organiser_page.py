"""The organiser page in a real headless Chromium: token, data quality, site and action edits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.api.test_kiosk_page import TOKEN, make_server  # noqa: F401 (fixture)
from tests.api.test_leaderboard_page import ELAPSED_H, NOW

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _league(page: Page) -> list[str]:
    return page.eval_on_selector_all("#league tbody tr", "rs => rs.map(r => r.dataset.site)")


def _sign_in(page: Page, url: str, token: str = TOKEN) -> None:
    page.goto(url + "/organiser")
    page.fill("#token", token)
    page.click("#login button[type=submit]")


def _loaded(page: Page, at_least: int = 1) -> None:
    page.wait_for_function("n => +document.body.dataset.loaded >= n", arg=at_least, timeout=10_000)


def test_a_wrong_token_shows_nothing(make_server, page: Page):  # noqa: F811
    server = make_server()
    _sign_in(page, server.url, "not-the-token")
    expect(page.locator("#login-msg")).to_have_text("Nyckeln godtogs inte.")
    expect(page.locator("#main")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_data_quality_silent_meters_quarantine_and_completeness(make_server, page: Page):  # noqa: F811
    server = make_server()
    # 20 min later only Åre reported again; one reading for an unknown meter is quarantined
    later = NOW + timedelta(minutes=20)
    server.clock.now_s = later.timestamp()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = [
        {"meter": "are-main", "ts": (later - timedelta(minutes=1)).isoformat(), "power_w": 7000},
        {"meter": "okand-mätare", "ts": later.isoformat(), "power_w": 1},
    ]
    r = httpx.post(server.url + "/api/readings", json=body, headers=headers)
    assert r.status_code == 200, r.text
    reasons = r.json()["quarantined"]
    assert len(reasons) == 1

    _sign_in(page, server.url)
    _loaded(page)
    expect(page.locator("#quality-summary")).to_have_text(
        "2 av 3 mätare tysta (ingen mätning på 15 min)"
    )
    silent = page.eval_on_selector_all(
        "#meters tbody tr.silent", "rs => rs.map(r => r.dataset.meter)"
    )
    assert sorted(silent) == ["alvdalen-main", "ostersund-main"]
    expect(page.locator("#meters tr[data-meter=are-main]")).not_to_have_class("silent")
    reason = reasons[0]["reason"]
    expect(page.locator(f"#quarantine tr[data-reason='{reason}'] td.num")).to_have_text("1")
    expect(page.locator("#quarantine-recent tbody tr")).to_have_count(1)
    expect(page.locator("#completeness tbody tr")).to_have_count(3)
    expect(page.locator("#completeness tr[data-site=are] td.num").first).to_have_text("100,0 %")
    # the token is kept for the tab only, and a reload signs in by itself
    assert page.evaluate("k => sessionStorage.getItem(k)", "wattleague-organiser-token") == TOKEN
    page.reload()
    _loaded(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "organiser.png"), full_page=True)


def test_area_edit_changes_the_kwh_per_m2_league_and_survives_a_restart(
    make_server,  # noqa: F811
    page: Page,
):
    server = make_server()
    _sign_in(page, server.url)
    _loaded(page)
    # 72 h x 8 / 9 / 9,5 kW on 500 / 1000 / 2000 m²: 1,152 / 0,648 / 0,342 kWh/m²
    assert _league(page) == ["ostersund", "alvdalen", "are"]

    row = page.locator("#sites tr[data-site=ostersund]")
    row.locator("input[name=area_m2]").fill("200")
    row.locator("input[name=name]").fill("Östersunds rådhus (Storgatan)")
    row.locator("button.save").click()
    expect(page.locator("#sites-msg")).to_contain_text("ostersund")
    # 72 x 9,5 / 200 = 3,42 kWh/m²: last now
    page.wait_for_function(
        "() => [...document.querySelectorAll('#league tbody tr')].map(r => r.dataset.site)"
        ".join() === 'alvdalen,are,ostersund'",
        timeout=10_000,
    )
    expect(page.locator("#league tr[data-site=ostersund] td.num").first).to_have_text("3,420")

    server.stop()
    server.start()  # a new app on the same store, from the unchanged competition file
    board = httpx.get(server.url + "/api/competitions/spar/leaderboard?metric=kwh_per_m2").json()
    assert [e["site"] for e in board["entries"]] == ["alvdalen", "are", "ostersund"]
    east = next(e for e in board["entries"] if e["site"] == "ostersund")
    assert east["name"] == "Östersunds rådhus (Storgatan)"
    assert east["kwh_per_m2"] == pytest.approx(ELAPSED_H * 9.5 / 200, abs=1e-3)
    page.reload()
    _loaded(page)
    assert _league(page) == ["alvdalen", "are", "ostersund"]
    expect(page.locator("#sites tr[data-site=ostersund] input[name=area_m2]")).to_have_value("200")


def test_a_bad_edit_is_refused_with_its_reason(make_server, page: Page):  # noqa: F811
    server = make_server()
    _sign_in(page, server.url)
    _loaded(page)
    row = page.locator("#sites tr[data-site=are]")
    row.locator("input[name=area_m2]").fill("-5")
    row.locator("button.save").click()
    expect(page.locator("#sites-msg")).to_contain_text("area_m2")
    expect(page.locator("#sites-msg")).to_have_class("msg bad")
    assert _league(page) == ["ostersund", "alvdalen", "are"]


def test_actions_are_added_and_deleted(make_server, page: Page):  # noqa: F811
    server = make_server()
    _sign_in(page, server.url + "", TOKEN)
    _loaded(page)
    page.select_option("#action-site", "alvdalen")
    page.fill("#action-ts", "2024-02-06T18:00")
    page.fill("#action-text", "Släckte ventilationen på natten")
    page.click("#action-form button[type=submit]")
    expect(page.locator("#actions tbody tr")).to_have_count(1)
    stored = httpx.get(server.url + "/api/competitions/spar/annotations").json()["annotations"]
    assert [(a["site"], a["text"]) for a in stored] == [
        ("alvdalen", "Släckte ventilationen på natten")
    ]
    page.locator("#actions tbody button").click()
    expect(page.locator("#actions tbody tr")).to_have_count(0)
    assert httpx.get(server.url + "/api/competitions/spar/annotations").json()["annotations"] == []


def test_past_consumption_is_uploaded_from_the_page(make_server, page: Page, tmp_path):  # noqa: F811
    """A grid operator's export (cp1252, decimal commas) chosen in the form: a dry run stores
    nothing, the real upload stores the rows and the reply is shown."""
    server = make_server()
    rows = ["Anläggnings-id;735999100000000000", "Från;Till;kWh"]
    for h in range(24):  # 2023-01-09, before the seeded baseline weeks, local time
        rows.append(f"2023-01-09 {h:02d}:00;2023-01-09 {h + 1:02d}:00;{10 + h / 10:.1f}")
    rows[-1] = rows[-1].replace("2023-01-09 24:00", "2023-01-10 00:00")
    export = tmp_path / "förbrukning.csv"
    export.write_bytes(("\r\n".join(rows) + "\r\n").replace(".", ",").encode("cp1252"))
    meter = "alvdalen-main"

    def stored() -> int:
        day = NOW.replace(year=2023, month=1, day=9)
        series = server.store.read_series(
            [meter], day.timestamp(), (day + timedelta(days=1, hours=1)).timestamp()
        )
        return series[meter].ts_s.size if meter in series else 0

    _sign_in(page, server.url, TOKEN)
    _loaded(page)
    page.select_option("#upload-kind", "consumption")
    page.select_option("#upload-target", meter)
    page.set_input_files("#upload-file", str(export))
    page.click("#upload-form button[type=submit]")  # dry run: checked by default
    expect(page.locator("#upload-msg")).to_contain_text("24 rader")
    assert stored() == 0
    page.uncheck("#upload-dry")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-msg")).to_contain_text("24 rader: ")
    expect(page.locator("#upload-reply")).to_contain_text('"dry_run": false')
    # the page refreshed after the dry run: the meter chosen is still the one uploaded to
    expect(page.locator("#upload-reply")).to_contain_text(f'"meter": "{meter}"')
    assert page.input_value("#upload-target") == meter
    assert stored() == 25  # 24 hours: a reading at each bound
