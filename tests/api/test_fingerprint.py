"""Baseline fingerprints through the scoreboard and the API: fixed while the competition runs
(live readings, temperatures of the period, area edits, time), changed by a locked input (a
reading in the history window, a history temperature a regression reads, a bill), and the
same from SQLite and InfluxDB."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.scoreboard import Scoreboard
from ingest.store import open_store
from ingest.store.base import Message, StoredReading, StoredTemperature
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import LOADS_KW, NOW, TZ, competition, seed

TOKEN = "fingerprint-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now_s = now.timestamp()

    def __call__(self) -> float:
        return self.now_s


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _write(store, *readings: StoredReading) -> None:
    store.write([Message("test", _ms(NOW), "test", list(readings))])


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "fingerprint.db")
    seed(s)
    yield s
    s.close()


def _prints(board: Scoreboard) -> dict[str, str]:
    """The board's fingerprints a second later: with ``history_ttl_s=0`` the history is read
    again, as it is after ``history_ttl_s`` in a server."""
    board.clock.now_s += 1.0
    return dict(zip(board.site_ids, board.snapshot().fingerprints, strict=True))


def test_each_site_has_one_and_it_stays_while_the_competition_runs(store):
    clock = Clock(NOW)
    # history read again on every snapshot: what stays the same is the data, not a cache
    board = Scoreboard(competition(), store, clock=clock, history_ttl_s=0.0)
    before = _prints(board)
    assert all(len(p) == 64 and int(p, 16) >= 0 for p in before.values())
    assert len(set(before.values())) == 3  # three loads, three histories
    reduction = board.leaderboard()["entries"][0]["reduction_pct"]

    # live readings an hour and a day on, and time passing
    for hours in (1, 24):
        t = NOW + timedelta(hours=hours)
        _write(
            store,
            *(
                StoredReading(m, _ms(t), 50_000.0 + comp_kw * (168 + hours), comp_kw * 1e3)
                for m, (_, comp_kw) in LOADS_KW.items()
            ),
        )
        clock.now_s = (t + timedelta(minutes=30)).timestamp()
        assert _prints(board) == before
    # a buffered reading inside the competition period, late
    _write(store, StoredReading("alfa-main", _ms(NOW - timedelta(minutes=90)), None, 7900.0))
    assert _prints(board) == before
    assert board.snapshot().fingerprints == tuple(before.values())
    assert board.leaderboard()["entries"][0]["reduction_pct"] == reduction


def test_a_reading_in_the_history_window_changes_that_site_only(store):
    board = Scoreboard(competition(), store, clock=Clock(NOW), history_ttl_s=0.0)
    before = _prints(board)
    # the window runs to 2010-04-01, past the seeded history (to 03-31 00:00): an hour more
    # arrives (a late history upload, an accepted held reading)
    last = datetime(2010, 3, 31, tzinfo=TZ)
    series = store.read_series(["beta-main"], last.timestamp(), last.timestamp() + 1)
    register_kwh = float(series["beta-main"].energy_kwh[-1])
    t = last + timedelta(hours=1)
    _write(store, StoredReading("beta-main", _ms(t), register_kwh + LOADS_KW["beta-main"][0], None))
    after = _prints(board)
    assert after["beta"] != before["beta"]
    assert after["alfa"] == before["alfa"] and after["gamma"] == before["gamma"]


def test_the_api_shows_it_in_the_leaderboard_and_the_site_view_and_an_area_edit_keeps_it(
    store,
):
    app = create_app(
        [competition()], store, clock=NOW.timestamp, tokens=TokenSet({"o": hash_token(TOKEN)})
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        base = "/api/competitions/liten"
        board = client.get(f"{base}/leaderboard").json()
        prints = {e["site"]: e["baseline_fingerprint"] for e in board["entries"]}
        intensity = client.get(f"{base}/leaderboard?metric=kwh_per_m2").json()
        assert {e["site"]: e["baseline_fingerprint"] for e in intensity["entries"]} == prints
        detail = client.get(f"{base}/sites/alfa").json()
        assert detail["baseline_fingerprint"] == prints["alfa"]
        assert detail["period"]["baseline_fingerprint"] == prints["alfa"]

        r = client.patch(f"{base}/sites/alfa", json={"area_m2": 250}, headers=AUTH)
        assert r.status_code == 200, r.text
        after = client.get(f"{base}/leaderboard?metric=kwh_per_m2").json()["entries"]
        alfa = next(e for e in after if e["site"] == "alfa")
        assert alfa["kwh_per_m2"] == pytest.approx(4 * intensity_of(intensity, "alfa"), rel=1e-3)
        assert {e["site"]: e["baseline_fingerprint"] for e in after} == prints


def intensity_of(board: dict, site: str) -> float:
    return next(e["kwh_per_m2"] for e in board["entries"] if e["site"] == site)


def test_sqlite_and_influxdb_give_the_same_fingerprints(tmp_path, influxd, influx_database):
    prints = []
    for url in (f"sqlite:///{tmp_path}/same.db", influxd.url(influx_database())):
        s = open_store(url)
        try:
            seed(s)
            # a reading off the hour: its hour's energy is a sum of two pieces in each store
            t = datetime(2010, 3, 10, 12, 20, tzinfo=TZ)
            _write(s, StoredReading("alfa-main", _ms(t), 2_143.333_333_3, 10_000.0))
            prints.append(Scoreboard(competition(), s, clock=Clock(NOW)).snapshot())
        finally:
            s.close()
    assert prints[0].fingerprints == prints[1].fingerprints
    assert len(prints[0].fingerprints) == 3


# -- methods that read more than metered hours: temperatures (regression), bills ----------

REGRESSION_TOML = """
[competition]
id = "temps"
name = "Temperatures"
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
"""


def test_history_temperatures_and_bills_change_it_the_periods_temperatures_do_not(tmp_path):
    from tests.api.test_billing_baseline import NOW as BILLS_NOW
    from tests.api.test_billing_baseline import _seed

    store = SQLiteStore(tmp_path / "temps.db")
    try:
        _seed(store)
        comp = parse_competition(REGRESSION_TOML)
        board = Scoreboard(comp, store, clock=Clock(BILLS_NOW), history_ttl_s=0.0)
        before = _prints(board)

        # a temperature of the competition period: read to predict, not locked
        t = datetime(2011, 3, 5, 12, 30, tzinfo=TZ)
        store.write(
            [Message("t", 0, "test", temperatures=[StoredTemperature("station", _ms(t), 30.0)])]
        )
        assert _prints(board) == before

        # one of the history: the regression's daily means change
        t = datetime(2010, 6, 5, 12, 30, tzinfo=TZ)
        store.write(
            [Message("t", 0, "test", temperatures=[StoredTemperature("station", _ms(t), 30.0)])]
        )
        after = _prints(board)
        assert after["metered"] != before["metered"]

        # a bill of the billed site
        first = datetime(2010, 3, 1, tzinfo=TZ)
        store.write_bills(
            "billed-main", [(_ms(first), _ms(datetime(2010, 4, 1, tzinfo=TZ)), 3100.0)]
        )
        with_bill = _prints(board)
        assert with_bill["billed"] != after["billed"]
        assert with_bill["metered"] == after["metered"]
    finally:
        store.close()
