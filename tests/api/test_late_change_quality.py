"""Late changes in the data-quality view (``GET …/quality``): readings for a day three days
ago that arrive now are flagged, with their effect on the site's score; yesterday's are not.
On both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.base import Message, StoredReading
from tests.fixtures import LOADS_KW, TZ, competition, hourly_readings

TOKEN = "quality-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2011, 3, 8, 12, 0, tzinfo=TZ)  # 180 hours of the period elapsed
START = datetime(2011, 3, 1, tzinfo=TZ)
# alfa's gateway kept these hours and sent them now; meanwhile alfa ran at 4 kW, not 8
THREE_DAYS_AGO = (datetime(2011, 3, 5, 9, tzinfo=TZ), 7)  # 09:00 … 15:00: 7 readings
YESTERDAY = (datetime(2011, 3, 7, 9, tzinfo=TZ), 7)
GAP_KW = 4.0


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _alfa_competition() -> list[StoredReading]:
    """Hourly register readings of alfa from the start to NOW: 8 kW, and 4 kW in the hours
    the gateway kept (08:00 to 16:00 of both days)."""
    out, t, register = [], START.astimezone(UTC), 50_000.0
    while t <= NOW:
        out.append(StoredReading("alfa-main", _ms(t), round(register, 6), None))
        local = t.astimezone(TZ)
        slow = local.date() in (THREE_DAYS_AGO[0].date(), YESTERDAY[0].date()) and (
            8 <= local.hour < 16
        )
        register += GAP_KW if slow else LOADS_KW["alfa-main"][1]
        t += timedelta(hours=1)
    return out


def _kept(readings: list[StoredReading], first: datetime, n: int) -> list[StoredReading]:
    wanted = {_ms(first + timedelta(hours=h)) for h in range(n)}
    return [r for r in readings if r.ts_ms in wanted]


@pytest.fixture
def client(any_store):
    for meter, (base_kw, comp_kw) in LOADS_KW.items():
        readings = hourly_readings(
            meter, datetime(2010, 3, 2, tzinfo=TZ), datetime(2010, 3, 31, tzinfo=TZ), base_kw
        )
        if meter != "alfa-main":
            readings += hourly_readings(meter, START, NOW, comp_kw, register_kwh=50_000.0)
        any_store.write([Message("seed", 0, "test", readings)])
    alfa = _alfa_competition()
    late = _kept(alfa, *THREE_DAYS_AGO)
    recent = _kept(alfa, *YESTERDAY)
    on_time = [r for r in alfa if r not in late and r not in recent]
    any_store.write([Message("on-time", 0, "test", on_time)])
    # the gateway is back: what it kept arrives now
    any_store.write([Message("buffer", _ms(NOW), "test", late + recent)])
    app = create_app(
        [competition()], any_store, clock=NOW.timestamp, tokens=TokenSet({"o": hash_token(TOKEN)})
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_a_day_changed_three_days_later_is_flagged_with_its_effect_and_yesterday_is_not(client):
    r = client.get("/api/competitions/liten/quality", headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["late_after_h"] == 48
    [site] = body["late_changes"]  # beta and gamma sent everything on time
    assert site["site"] == "alfa" and site["name"] == "Älvdalens kommunhus"
    assert site["readings"] == 7
    assert site["register_kwh"] == pytest.approx(6 * GAP_KW)  # across the 7 readings
    [day] = site["days"]  # yesterday ended 36 h ago: not late
    assert day == {
        "meter": "alfa-main",
        "day": "2011-03-05",
        "readings": 7,
        "first_reading": "2011-03-05T09:00:00+01:00",
        "last_reading": "2011-03-05T15:00:00+01:00",
        "first_received": "2011-03-08T12:00:00+01:00",
        "last_received": "2011-03-08T12:00:00+01:00",
        "register_kwh": pytest.approx(24.0),
    }
    # with them, 08:00-16:00 of that day is 8 measured hours at 4 kW against a 10 kW
    # baseline; without them it is one 8-hour pair, not measured, so not matched (yesterday's
    # 8 hours at 4 kW count in both):
    #   with:    180 h, actual 164 x 8 + 16 x 4 = 1,376 kWh, baseline 1,800: 23.56 %
    #   without: 172 h, actual 164 x 8 + 8 x 4 = 1,344 kWh, baseline 1,720: 21.86 %
    effect = site["effect"]
    assert effect == {
        "reduction_pct": pytest.approx(23.56),
        "reduction_pct_without": pytest.approx(21.86),
        "change_pct_points": pytest.approx(1.70),
        "actual_kwh": pytest.approx(1376.0),
        "actual_kwh_without": pytest.approx(1344.0),
        "change_kwh": pytest.approx(32.0),
        "hours_matched": 180,
        "hours_matched_without": 172,
    }
    # "with" is the score everyone sees
    board = client.get("/api/competitions/liten/leaderboard").json()["entries"]
    alfa = next(e for e in board if e["site"] == "alfa")
    assert alfa["reduction_pct"] == effect["reduction_pct"]
    assert alfa["hours_matched"] == effect["hours_matched"]


def test_nothing_late_nothing_flagged(any_store):
    for meter, (_, comp_kw) in LOADS_KW.items():
        readings = hourly_readings(meter, START, NOW, comp_kw, register_kwh=50_000.0)
        any_store.write([Message("seed", 0, "test", readings)])
    app = create_app(
        [competition()], any_store, clock=NOW.timestamp, tokens=TokenSet({"o": hash_token(TOKEN)})
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/competitions/liten/quality", headers=AUTH)
    assert r.status_code == 200 and r.json()["late_changes"] == []
