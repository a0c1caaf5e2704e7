"""Sites scored on their bills (CalTRACK billing) beside metered ones, through the real app."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.scoreboard import Scoreboard
from ingest.hourly_energy import site_hours
from ingest.store.base import Message, StoredReading, StoredTemperature
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import ConfigError, parse_competition
from scoring.metrics import MEASURED_HOUR_S
from scoring.uncertainty import pre_period_residuals, savings_uncertainty
from tests.fixtures import TZ

TOKEN = "bills-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOML = """
[competition]
id = "bills"
name = "Bills"
start = 2011-03-01
end = 2011-03-31
baseline = { method = "regression" }

[[weather]]
id = "station"

[[site]]
id = "metered"
municipality = "M kommun"
name = "M kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "metered-main"

[[site]]
id = "billed"
municipality = "B kommun"
name = "B kommunhus"
area_m2 = 1000
baseline_method = "billing"
  [[site.meter]]
  id = "billed-main"

[[site]]
id = "few-bills"
municipality = "F kommun"
name = "F kommunhus"
area_m2 = 1000
baseline_method = "billing"
  [[site.meter]]
  id = "few-main"
"""
FIRST = datetime(2010, 3, 1, tzinfo=TZ)
START = datetime(2011, 3, 1, tzinfo=TZ)
NOW = datetime(2011, 3, 15, tzinfo=TZ)


def _temp_c(day: int) -> float:
    """A Swedish year: -7 °C in mid-January, +17 °C in mid-July (day 0 is 2010-03-01)."""
    return 5.0 - 12.0 * np.cos(2 * np.pi * (day + 45) / 365.0)


def _kwh_day(day: int, noise: float = 0.0) -> float:
    """100 kWh/day plus 4 kWh per degree-day below 15 °C."""
    return (100.0 + 4.0 * max(15.0 - _temp_c(day), 0.0)) * (1.0 + noise)


def _seed(store: SQLiteStore) -> None:
    """A year of hourly temperatures and of the metered site; the billed sites' meters only
    from the start, 10 % under their weather-driven use."""
    rng = np.random.default_rng(3)
    readings, temps = [], []
    register = {"metered-main": 1000.0, "billed-main": 5000.0, "few-main": 7000.0}
    t, day = FIRST.timestamp(), 0
    while t <= NOW.timestamp():
        noise = float(rng.normal(0, 0.05))
        for h in range(24):
            ts_ms = int((t + h * 3600) * 1000)
            temps.append(StoredTemperature("station", ts_ms, _temp_c(day)))
            for meter in register:
                if meter != "metered-main" and t < START.timestamp():
                    continue
                readings.append(StoredReading(meter, ts_ms, register[meter], None))
                saving = 0.9 if t >= START.timestamp() else 1.0
                register[meter] += _kwh_day(day, noise) * saving / 24.0
        t += 86400.0
        day += 1
    store.write([Message("seed", 0, "test", readings, temperatures=temps)])


def _bills_csv(months: list[tuple[int, int]]) -> bytes:
    """Monthly bills as a grid operator sends them: Från;Till;kWh, inclusive end dates."""
    lines = ["Från;Till;kWh"]
    for year, month in months:
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        kwh = sum(
            _kwh_day(d - FIRST.date().toordinal())
            for d in range(first.toordinal(), after.toordinal())
        )
        last = date.fromordinal(after.toordinal() - 1)
        lines.append(f"{first};{last};{kwh:.1f}".replace(".", ","))
    return ("\n".join(lines) + "\n").encode("utf-8")


YEAR = [(2010, m) for m in range(3, 13)] + [(2011, 1), (2011, 2)]


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "bills.db")
    _seed(s)
    yield s
    s.close()


def _client(store, comp):
    app = create_app([comp], store, clock=NOW.timestamp, tokens=TokenSet({"o": hash_token(TOKEN)}))
    return TestClient(app, raise_server_exceptions=False)


def test_a_billing_only_site_is_scored_on_its_uploaded_bills(store):
    comp = parse_competition(TOML)
    client = _client(store, comp)
    url = "/api/competitions/bills/imports/consumption?billing=true&meter="
    r = client.post(url + "billed-main", content=_bills_csv(YEAR), headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == []
    r = client.post(url + "few-main", content=_bills_csv(YEAR[-5:]), headers=AUTH)
    assert r.status_code == 200, r.text

    board = client.get("/api/competitions/bills/leaderboard").json()
    assert board["billing_sites"] == ["billed", "few-bills"]
    by_site = {e["site"]: e for e in board["entries"]}
    billed, metered, few = by_site["billed"], by_site["metered"], by_site["few-bills"]
    assert billed["baseline_method"] == "billing" and metered["baseline_method"] == "regression"
    assert billed["rank"] > 0 and billed["eligible"] and billed["baseline_problem"] is None
    assert billed["completeness"] == pytest.approx(1.0)
    assert billed["reduction_pct"] == pytest.approx(10.0, abs=1.5)
    assert metered["reduction_pct"] == pytest.approx(10.0, abs=1.5)
    assert billed["uncertainty_kwh"] is not None
    # five bills are not a baseline year: shown, not ranked, with the reason
    assert few["rank"] == 0 and not few["eligible"] and few["hours_matched"] == 0
    assert "incorrect_number_of_total_days" in few["baseline_problem"]

    site = client.get("/api/competitions/bills/sites/billed").json()
    assert site["baseline_method"] == "billing" and site["period"]["rank"] == billed["rank"]
    series = client.get("/api/competitions/bills/sites/billed/series?resolution=day").json()[
        "series"
    ]
    assert all(day["baseline_kwh"] > 0 for day in series)

    # the summaries say how each site was scored
    import subprocess

    pdf = client.get("/api/competitions/bills/sites/billed/summary.pdf?lang=en")
    assert pdf.status_code == 200, pdf.text
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    assert "Regression of the electricity bills" in " ".join(text.split())
    whole = client.get("/api/competitions/bills/summary.xlsx")
    assert whole.status_code == 200, whole.text


def test_bills_imported_on_the_command_line_score_the_same(store, tmp_path):
    from click.testing import CliRunner

    from wattleague.cli import main

    config = tmp_path / "bills.toml"
    config.write_text(TOML)
    bills = tmp_path / "bills.csv"
    bills.write_bytes(_bills_csv(YEAR))
    store.close()
    result = CliRunner().invoke(
        main,
        [
            "import",
            "consumption",
            "--config",
            str(config),
            "--meter",
            "billed-main",
            "--billing",
            "--store",
            f"sqlite:///{tmp_path / 'bills.db'}",
            # the command runs now, after the start: the bills need an accepted change
            "--accept-baseline-change",
            "the year's bills, received late",
            str(bills),
        ],
    )
    assert result.exit_code == 0, result.output
    reopened = SQLiteStore(tmp_path / "bills.db")
    try:
        comp = parse_competition(TOML)
        (entry,) = [
            e
            for e in _client(reopened, comp)
            .get("/api/competitions/bills/leaderboard")
            .json()["entries"]
            if e["site"] == "billed"
        ]
        assert entry["rank"] > 0 and entry["reduction_pct"] == pytest.approx(10.0, abs=1.5)
    finally:
        reopened.close()


def test_a_billing_site_without_a_weather_station_is_a_located_config_error():
    toml = TOML.replace('[[weather]]\nid = "station"\n', "")
    toml = toml.replace('baseline = { method = "regression" }', "")
    with pytest.raises(ConfigError, match=r"\[\[site\]\] #2 'billed', key baseline_method"):
        parse_competition(toml)


def test_a_weather_driven_site_is_less_uncertain_with_the_regression_residuals(store):
    comp = parse_competition(TOML)
    board = Scoreboard(comp, store, clock=NOW.timestamp)
    snap = board.snapshot()
    history = site_hours(store, board.meters_by_site, board.history_grid.hour_start_s)
    daytype = pre_period_residuals(
        history.energy_kwh, history.measured_s >= MEASURED_HOUR_S, board.history_grid
    )
    m = snap.metrics
    old = savings_uncertainty(daytype, m.hours_matched / 24.0, m.baseline_kwh, m.saved_kwh)
    i = board.site_index("metered")
    assert 0 < snap.uncertainty.uncertainty_kwh[i] < 0.5 * old.uncertainty_kwh[i]
    assert snap.uncertainty.significant[i]
