"""`wattleague import weather` and the weather upload: SMHI and generic CSV, rejected rows,
and imported temperatures driving a regression baseline."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.base import Message, StoredReading
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import TZ
from tests.imports.grid_files import smhi_csv
from wattleague.cli import main

TOKEN = "weather-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOML = """
[competition]
id = "wx"
name = "Weather"
start = 2011-03-01
end = 2011-03-31
baseline = { method = "regression" }

[[weather]]
id = "soderhamn-13410"

[[site]]
id = "s"
municipality = "S kommun"
name = "S kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "s-main"
"""
FIRST_UTC = datetime(2010, 2, 28, 23, tzinfo=UTC)  # local midnight of 2010-03-01
NOW = datetime(2011, 3, 15, tzinfo=TZ)


def _temp_c(t: datetime) -> float:
    """A Swedish year: -7 °C in mid-January, +17 °C in mid-July, one value per local day."""
    day = (t.astimezone(TZ).date() - datetime(2010, 3, 1).date()).days
    return round(5.0 - 12.0 * np.cos(2 * np.pi * (day + 45) / 365.0), 1)


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "wx.db")
    yield s
    s.close()


def _client(store):
    app = create_app(
        [parse_competition(TOML)],
        store,
        clock=NOW.timestamp,
        tokens=TokenSet({"o": hash_token(TOKEN)}),
    )
    return TestClient(app, raise_server_exceptions=False)


def test_an_smhi_file_on_the_command_line_stores_utc_hours_and_names_bad_rows(tmp_path, store):
    data = smhi_csv(FIRST_UTC, 48, _temp_c).decode()
    data += "2010-03-03;00:00:00;-3.5;G\n"  # line 56: fine
    data += "2010-03-03;01:00:00;abc;G\n"  # line 57: not a number
    data += "2010-03-03;02:00:00;75.0;G\n"  # line 58: °F or a typing error
    data += "2010-03-03;03:00:00;-4.0;Y\n"  # line 59: suspect, kept
    path = tmp_path / "smhi-13410.csv"
    path.write_text(data, encoding="utf-8")
    config = tmp_path / "wx.toml"
    # the command runs now: a competition that has not started, whose baselines are not locked
    # (tests/imports/test_baseline_change.py imports into a locked one)
    config.write_text(TOML.replace("2011-03", "2099-03"))
    url = f"sqlite:///{tmp_path / 'wx.db'}"
    args = ["import", "weather", "--config", str(config), "--site", "s", "--store", url]
    result = CliRunner().invoke(main, [*args, str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:57: " in result.output and f"{path}:58: " in result.output
    assert "75 °C is outside -60..50 °C" in result.output
    assert "stored 50 new" in result.output and "2 rejected" in result.output
    ts, temp = store.read_temperatures(["soderhamn-13410"], 0, 2e9)["soderhamn-13410"]
    assert ts.size == 50
    assert ts[0] == FIRST_UTC.timestamp()  # "Tid (UTC)" is UTC, not local time
    assert temp[0] == pytest.approx(_temp_c(FIRST_UTC))
    assert temp[-1] == pytest.approx(-4.0)
    again = CliRunner().invoke(main, [*args, str(path)])
    assert "stored 0 new, 50 duplicates" in again.output


def test_a_generic_csv_upload_reads_local_times_and_reports_bad_lines(store):
    body = (
        b"Tidpunkt,Temperatur\n"
        b"2010-03-01 00:00,-2.5\n"
        b"2010-03-01 01:00,-3\n"
        b"2010-03-01 02:00,\n"
        b"2011-03-27 02:30,1.0\n"  # skipped by the spring DST change
        b"2010-03-01 03:00,-3.5\n"
    )
    client = _client(store)
    url = "/api/competitions/wx/imports/weather?columns=ts=Tidpunkt,temp=Temperatur&name=t.csv"
    assert client.post(url, content=body).status_code == 401
    r = client.post(url, content=body, headers=AUTH)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["station"] == "soderhamn-13410" and report["stored"] == 3
    assert [(x["file"], x["line"]) for x in report["rejected"]] == [("t.csv", 4), ("t.csv", 5)]
    ts, temp = store.read_temperatures(["soderhamn-13410"], 0, 2e9)["soderhamn-13410"]
    # local time of Europe/Stockholm in March 2010 is UTC+1
    assert ts[0] == datetime(2010, 2, 28, 23, tzinfo=UTC).timestamp()
    assert temp.tolist() == [-2.5, -3.0, -3.5]
    bad = client.post("/api/competitions/wx/imports/weather", content=b"a;b\n1;2\n", headers=AUTH)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unreadable_file"


def test_uploaded_smhi_temperatures_drive_a_regression_baseline(store):
    readings, register = [], 1000.0
    t = FIRST_UTC
    hours = int((NOW.timestamp() - FIRST_UTC.timestamp()) // 3600)
    for h in range(hours + 1):
        ts = FIRST_UTC.timestamp() + 3600 * h
        t = datetime.fromtimestamp(ts, UTC)
        readings.append(StoredReading("s-main", int(ts * 1000), register, None))
        kwh_day = 100.0 + 4.0 * max(15.0 - _temp_c(t), 0.0)
        register += kwh_day / 24.0 * (0.9 if t >= datetime(2011, 3, 1, tzinfo=TZ) else 1.0)
    store.write([Message("seed", 0, "test", readings)])
    client = _client(store)
    (entry,) = client.get("/api/competitions/wx/leaderboard").json()["entries"]
    assert entry["hours_matched"] == 0  # no temperature yet: no regression baseline
    r = client.post(
        "/api/competitions/wx/imports/weather?name=smhi.csv",
        content=smhi_csv(FIRST_UTC, hours + 24, _temp_c),
        headers=AUTH,
    )
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    (entry,) = client.get("/api/competitions/wx/leaderboard").json()["entries"]
    assert entry["baseline_method"] == "regression" and entry["rank"] == 1
    assert entry["completeness"] == pytest.approx(1.0)
    assert entry["reduction_pct"] == pytest.approx(10.0, abs=1.0)
