"""A competition scored against a CalTRACK regression baseline, temperatures from a station."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

import scoring.caltrack.hourly
from api.app import create_app
from api.scoreboard import Scoreboard
from ingest.store.base import Message, StoredReading, StoredTemperature
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import TZ

TOML = """
[competition]
id = "reg"
name = "Regression"
start = 2011-03-01
end = 2011-03-31
baseline = { method = "%s" }

[[weather]]
id = "station"

[[site]]
id = "s"
municipality = "S kommun"
name = "S kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "s-main"
"""
FIRST = datetime(2010, 3, 1, tzinfo=TZ)
NOW = datetime(2011, 3, 15, tzinfo=TZ)


def _temp_c(day: int) -> float:
    """A Swedish year: -7 °C in mid-January, +17 °C in mid-July (day 0 is 2010-03-01)."""
    return 5.0 - 12.0 * np.cos(2 * np.pi * (day + 45) / 365.0)


def _seed(store: SQLiteStore) -> None:
    readings, temps, register = [], [], 1000.0
    t = FIRST.timestamp()
    day = 0
    while t <= NOW.timestamp():
        temp = _temp_c(day)
        # 100 kWh/day plus 4 kWh per degree-day below 15 °C; 10 % less from the start
        kwh_day = 100.0 + 4.0 * max(15.0 - temp, 0.0)
        if t >= datetime(2011, 3, 1, tzinfo=TZ).timestamp():
            kwh_day *= 0.9
        for h in range(24):
            readings.append(StoredReading("s-main", int((t + h * 3600) * 1000), register, None))
            temps.append(StoredTemperature("station", int((t + h * 3600) * 1000), temp))
            register += kwh_day / 24.0
        t += 86400.0
        day += 1
    store.write([Message("seed", 0, "test", readings, temperatures=temps)])


@pytest.mark.parametrize("method", ["regression", "regression-daytype", "regression-hourly"])
def test_a_ten_percent_saving_shows_against_the_regression_baseline(tmp_path, method):
    store = SQLiteStore(tmp_path / "reg.db")
    _seed(store)
    comp = parse_competition(TOML % method)
    with TestClient(create_app([comp], store, clock=NOW.timestamp)) as client:
        (entry,) = client.get("/api/competitions/reg/leaderboard").json()["entries"]
    assert entry["baseline_kwh"] > 0 and entry["completeness"] == pytest.approx(1.0)
    assert entry["reduction_pct"] == pytest.approx(10.0, abs=1.0)
    store.close()


def test_regression_needs_a_weather_station():
    from scoring.competition_file import ConfigError

    with pytest.raises(ConfigError, match=r"needs outdoor temperature"):
        parse_competition((TOML % "regression").replace('[[weather]]\nid = "station"\n', ""))


def test_regression_history_is_a_baseline_year(tmp_path):
    from api.scoreboard import Scoreboard

    board = Scoreboard(parse_competition(TOML % "regression"), SQLiteStore(tmp_path / "x.db"))
    first, last = board._history_days()
    assert (first, last) == (datetime(2010, 3, 1).date(), datetime(2011, 2, 28).date())
    assert last - first == timedelta(days=364)


def test_hourly_models_are_fitted_once_per_history(tmp_path, monkeypatch):
    """A new reading rescores the competition with the TOWT models fitted on the history
    before; the baseline equals one fitted afresh."""
    fits = []
    real_fit = scoring.caltrack.hourly.fit_hourly  # the scoreboard imports it when it fits
    monkeypatch.setattr(
        scoring.caltrack.hourly,
        "fit_hourly",
        lambda *a, **k: fits.append(1) or real_fit(*a, **k),
    )
    store = SQLiteStore(tmp_path / "reg.db")
    _seed(store)
    comp = parse_competition(TOML % "regression-hourly")
    board = Scoreboard(comp, store, clock=NOW.timestamp)
    first = board.snapshot()
    late = StoredReading("s-main", int((NOW.timestamp() + 1800) * 1000), 1e6, None)
    store.write([Message("live", 0, "test", [late])])
    second = board.snapshot()
    assert second is not first and len(fits) == 1
    fresh = Scoreboard(comp, store, clock=NOW.timestamp).snapshot()
    np.testing.assert_array_equal(second.baseline_ok, fresh.baseline_ok)
    np.testing.assert_allclose(second.baseline_kwh, fresh.baseline_kwh)
    assert second.baseline_ok.any()
    store.close()
