"""The organiser page's held data, audit log and closing in a real headless Chromium.

Same seeded store as the leaderboard page's tests (previous-year baseline 10 kW; Åre, Älvdalen
and Östersund at 8, 9 and 9.5 kW: 20, 10 and 5 %). Älvdalen's gateway then posts late register
readings into its locked baseline, 50 kWh above the register: they are held.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from tests.api.test_kiosk_page import ARTIFACTS, TOKEN, make_server  # noqa: F401 (fixture)
from tests.api.test_leaderboard_page import START, TZ, YEAR

AUTH = {"Authorization": f"Bearer {TOKEN}"}
# the seeded history starts a day before the baseline window (which starts at START - YEAR)
BASE_FIRST = datetime.combine(START, datetime.min.time(), TZ) - YEAR - timedelta(days=1)


def _hold_late_readings(url: str, hours: int = 48) -> dict:
    """Älvdalen's late readings one minute before each of its first ``hours`` hours in the
    baseline window, 50 kWh above the register; returns the held item as the API lists it."""
    late = [
        {
            "meter": "alvdalen-main",
            "ts": (BASE_FIRST + timedelta(hours=h, minutes=-1)).isoformat(),
            "energy_kwh": 1000.0 + 10.0 * h + 50.0,
        }
        for h in range(25, 25 + hours)
    ]
    r = httpx.post(url + "/api/readings", json=late, headers=AUTH)
    assert r.status_code == 200 and r.json()["stored"] == 0, r.text
    (item,) = httpx.get(url + "/api/competitions/spar/held", headers=AUTH).json()["items"]
    return item


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/organiser")
    page.fill("#token", TOKEN)
    page.click("#login button[type=submit]")
    page.wait_for_function("() => +document.body.dataset.loaded >= 1", timeout=10_000)


def _league_pct(page: Page, site: str) -> str:
    return page.locator(f"#league tr[data-site={site}] td.num").nth(1).inner_text()


def test_held_data_is_listed_with_its_what_if_and_accepted_with_a_reason(
    make_server,  # noqa: F811
    page: Page,
):
    server = make_server()
    item = _hold_late_readings(server.url)
    (fig,) = item["what_if"]["sites"]
    would = fig["if_accepted"]["reduction_pct"]
    assert fig["now"]["reduction_pct"] == 10.0 and would > 10.0

    _sign_in(page, server.url)
    row = page.locator(f"#held-items tr[data-held='{item['id']}']")
    expect(page.locator("#held-items tbody tr")).to_have_count(1)
    expect(page.locator("#held-summary")).to_have_text(
        "1 post(er) väntar på beslut: data som skulle ändra en låst baslinje."
    )
    expect(row.locator("td").nth(0)).to_have_text("alvdalen (alvdalen-main)")
    expect(row.locator("td").nth(1)).to_have_text("mätningar")
    expect(row.locator("td.what-if")).to_contain_text(
        f"alvdalen: 10,0 % → {would:.1f} %".replace(".", ",")
    )
    assert _league_pct(page, "alvdalen") == "10,0 %"
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#held").screenshot(path=str(ARTIFACTS / "organiser-held.png"))

    # no reason: nothing is decided, the page says why and puts the cursor there
    row.locator("button.accept").click()
    expect(page.locator("#held-msg")).to_have_text(
        "Ange en motivering: granskningsloggen sparar den."
    )
    expect(row.locator("input.reason-input")).to_be_focused()
    assert httpx.get(server.url + "/api/competitions/spar/held", headers=AUTH).json()["items"]

    # with a reason, Enter in the field accepts: the item goes, the league moves at once
    row.locator("input.reason-input").fill("Gatewayns buffert, kontrollerad mot mätaren")
    row.locator("input.reason-input").press("Enter")
    expect(page.locator("#held-msg")).to_have_text(
        f"Post {item['id']} godkänd: poängen räknas nu med den."
    )
    expect(page.locator("#held-items tbody tr")).to_have_count(0)
    expect(page.locator("#held-summary")).to_have_text("Inga vilande data väntar på beslut.")
    expect(page.locator("#league tr[data-site=alvdalen] td.num").nth(1)).to_have_text(
        f"{would:.1f} %".replace(".", ",")
    )
    # the audit log shows the decision first, and the chain holds
    first = page.locator("#audit-entries tbody tr").first
    expect(first).to_have_attribute("data-action", "held_accepted")
    expect(first).to_contain_text("Gatewayns buffert, kontrollerad mot mätaren")
    expect(page.locator("#audit-chain")).to_contain_text("Hashkedjan är obruten")
    page.locator("#audit").screenshot(path=str(ARTIFACTS / "organiser-audit.png"))

    # the CSV downloads with the token
    with page.expect_download() as download:
        page.click("#audit-csv")
    path = download.value.path()
    text = path.read_text(encoding="utf-8-sig")
    assert download.value.suggested_filename == "spar-audit.csv"
    assert "held_accepted" in text and "Gatewayns buffert" in text


def test_held_data_is_rejected_with_the_keyboard_in_english(
    make_server,  # noqa: F811
    page: Page,
):
    server = make_server()
    item = _hold_late_readings(server.url, hours=4)
    page.goto(server.url + "/organiser?lang=en")
    page.fill("#token", TOKEN)
    page.press("#token", "Enter")
    page.wait_for_function("() => +document.body.dataset.loaded >= 1", timeout=10_000)
    expect(page.locator("#held-title")).to_have_text("Held data (locked baselines)")
    reason = page.locator(f"#held-reason-{item['id']}")
    expect(reason).to_have_attribute("aria-label", f"Reason for item {item['id']}")
    reason.focus()
    page.keyboard.type("Test data from the installer")
    page.keyboard.press("Tab")  # to Accept
    page.keyboard.press("Tab")  # to Reject
    expect(page.locator(f"#held-reject-{item['id']}")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#held-msg")).to_have_text(f"Item {item['id']} rejected.")
    expect(page.locator("#held-items tbody tr")).to_have_count(0)
    assert _league_pct(page, "alvdalen") == "10.0 %"
    first = page.locator("#audit-entries tbody tr").first
    expect(first).to_have_attribute("data-action", "held_rejected")
    (done,) = httpx.get(
        server.url + "/api/competitions/spar/held?status=rejected", headers=AUTH
    ).json()["items"]
    assert done["reason"] == "Test data from the installer" and done["decided_by"] == "test"


def test_closing_asks_for_the_id_and_shows_the_answer(make_server, page: Page):  # noqa: F811
    server = make_server()
    _sign_in(page, server.url)
    page.fill("#close-confirm", "fel")
    page.click("#close-form button[type=submit]")
    expect(page.locator("#close-msg")).to_have_text("Skriv tävlingens id exakt (spar).")
    expect(page.locator("#close-msg")).to_have_class("msg bad")
    # the competition has not ended: the server's 409 says so, and the page shows it
    page.fill("#close-confirm", "spar")
    page.click("#close-form button[type=submit]")
    expect(page.locator("#close-msg")).to_have_class("msg bad")
    answer = httpx.post(
        server.url + "/api/competitions/spar/close", json={"confirm": "spar"}, headers=AUTH
    )
    assert answer.status_code == 409
    expect(page.locator("#close-msg")).to_have_text(answer.json()["error"]["message"])
