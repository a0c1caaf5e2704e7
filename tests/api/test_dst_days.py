"""Local days across DST changes have 23 and 25 hours, in the series and in the scores."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import TZ, hourly_readings

TOML = """
[competition]
id = "dst"
name = "DST"
start = {start}
end = {end}
baseline = {{ method = "previous-year" }}

[[site]]
id = "s"
municipality = "S kommun"
name = "S kommunhus"
area_m2 = 100
  [[site.meter]]
  id = "s-main"
"""


@pytest.mark.parametrize(("day", "hours"), [("2011-03-27", 23), ("2011-10-30", 25)])
def test_dst_day_has_its_own_number_of_hours(tmp_path, day, hours):
    comp = parse_competition(TOML.format(start=day, end=day))
    first = date.fromisoformat(day)
    base = first - timedelta(days=364)  # 2010-03-28 and 2010-10-31 are DST days as well

    def local(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=TZ)

    store = SQLiteStore(tmp_path / "dst.db")
    # 2 kW a year earlier, 1 kW now
    store.write(
        [
            Message(
                "t",
                0,
                "test",
                hourly_readings(
                    "s-main", local(base - timedelta(1)), local(base + timedelta(3)), 2.0
                ),
            )
        ]
    )
    store.write(
        [
            Message(
                "t",
                0,
                "test",
                hourly_readings("s-main", local(first), local(first + timedelta(1)), 1.0, 500.0),
            )
        ]
    )
    now = (local(first + timedelta(1)) + timedelta(hours=1)).timestamp()
    m = first.month
    with TestClient(create_app([comp], store, clock=lambda: now)) as client:
        series = client.get("/api/competitions/dst/sites/s/series?resolution=day").json()
        board = client.get("/api/competitions/dst/leaderboard").json()
        hourly = client.get("/api/competitions/dst/sites/s/series").json()["series"]
    assert series["series"] == [
        {
            "start": f"{day}T00:00:00+01:00" if m == 3 else f"{day}T00:00:00+02:00",
            "actual_kwh": float(hours),
            "baseline_kwh": 2.0 * hours,
        }
    ]
    assert len(hourly) == hours
    (entry,) = board["entries"]
    assert board["hours_elapsed"] == hours
    # hours x 1 kWh against hours x 2 kWh: 50 %, complete, hours kWh over 100 m²
    assert (entry["actual_kwh"], entry["baseline_kwh"]) == (hours, 2 * hours)
    assert entry["reduction_pct"] == 50.0 and entry["completeness"] == 1.0
    assert entry["kwh_per_m2"] == pytest.approx(hours / 100)
    store.close()
