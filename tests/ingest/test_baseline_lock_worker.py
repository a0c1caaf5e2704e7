"""Issue 19's scenario at the ingest level, through a real Mosquitto and the ingest worker: a
competition with a two-week pre-period baseline started a week ago; one town hall publishes
late register readings one minute before each of its baseline quarter-hours, 50 kWh above the
register. They are held (not stored, listed as held data, counted), readings of the
competition period are stored as usual, and what was held survives a restart of the worker.

Every test runs against each store backend (``store_url``: SQLite and InfluxDB).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import orjson
import pytest

from ingest.metrics import IngestMetrics
from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store import open_store
from scoring.competition_file import parse_competition
from tests.fixtures import TZ
from tests.services import publish_all, wait_until

pytestmark = pytest.mark.timeout(240)

START = datetime.now(TZ).date() - timedelta(days=7)


def _toml(start: date) -> str:
    return f"""
[competition]
id = "lock"
name = "Locked baselines"
timezone = "Europe/Stockholm"
start = {start.isoformat()}
end = {(start + timedelta(days=30)).isoformat()}
baseline = {{ method = "pre-period", weeks = 2 }}

[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "alfa-main"

[[site]]
id = "beta"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "beta-main"
"""


FIRST_HOUR_S = datetime(START.year, START.month, START.day, tzinfo=TZ).timestamp()
QUARTER_S = 900.0


def _window_start_s() -> float:
    first = START - timedelta(weeks=2)
    return datetime(first.year, first.month, first.day, tzinfo=TZ).timestamp()


def _registers(first_s: float, last_s: float, power_kw: float, offset_kwh: float):
    """(ts_s, register kWh) of a constant load every quarter-hour, both ends included."""
    ts = np.arange(first_s, last_s + 1, QUARTER_S)
    return list(
        zip(ts.tolist(), (offset_kwh + power_kw * (ts - first_s) / 3600).tolist(), strict=True)
    )


def _messages(topic: str, readings, per_message: int = 96) -> list[tuple[str, bytes]]:
    rows = [{"ts": ts, "energy_kwh": round(e, 6)} for ts, e in readings]
    return [
        (topic, orjson.dumps(rows[i : i + per_message])) for i in range(0, len(rows), per_message)
    ]


TOPICS = {m: f"wattleague/lock/{s}/{m}" for s, m in (("alfa", "alfa-main"), ("beta", "beta-main"))}


@pytest.fixture
def clock():
    """The worker's clock: ``clock[0]`` is the time it reads [Unix s]."""
    return [FIRST_HOUR_S - 1.0]  # one second before the competition's first hour


def _worker(mosquitto, store, clock, name: str, metrics=None) -> IngestWorker:
    w = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([parse_competition(_toml(START), "lock.toml")]),
        client_id=f"lock-{name}",
        clock=lambda: clock[0],
        metrics=metrics,
    )
    w.start()
    assert w.subscribed.wait(10)
    return w


def _held_rows(store, site: str | None = None) -> int:
    return sum(len(h.payload) for h in store.organiser.list_held("lock", site=site))


def test_late_readings_for_a_locked_baseline_are_held_and_survive_a_restart(
    mosquitto, store_url, clock, request
):
    window_start_s = _window_start_s()
    history = {
        m: _registers(window_start_s, FIRST_HOUR_S, 10.0, offset)
        for m, offset in (("alfa-main", 1000.0), ("beta-main", 5000.0))
    }
    n_history = len(history["alfa-main"])  # 2 weeks of quarter-hours and the start's reading
    name = request.node.callspec.id
    store = open_store(store_url)
    metrics = IngestMetrics()
    worker = _worker(mosquitto, store, clock, name, metrics)
    try:
        # before the first hour: history is stored as it comes
        publish_all(
            mosquitto.port, [x for m, r in history.items() for x in _messages(TOPICS[m], r)]
        )
        wait_until(lambda: store.count_readings() == 2 * n_history)
        assert store.organiser.list_held("lock") == []
        hours_before = store.read_hourly(["alfa-main"], window_start_s, FIRST_HOUR_S)["alfa-main"]

        # a week later: the competition's readings (9 kW), and alfa's late readings one minute
        # before each baseline quarter-hour, 50 kWh above the register
        clock[0] = FIRST_HOUR_S + 7 * 86400.0
        period = {
            m: _registers(FIRST_HOUR_S + QUARTER_S, clock[0] - 3600.0, 9.0, r[-1][1] + 2.25)
            for m, r in history.items()
        }
        late = [(ts - 60.0, e + 50.0) for ts, e in history["alfa-main"][1:]]
        publish_all(
            mosquitto.port,
            _messages(TOPICS["alfa-main"], late)
            + [x for m, r in period.items() for x in _messages(TOPICS[m], r)],
        )
        n_period = len(period["alfa-main"])
        wait_until(lambda: store.count_readings() == 2 * (n_history + n_period))
        wait_until(lambda: _held_rows(store) == len(late))

        held = store.organiser.list_held("lock")
        assert {(h.site, h.meter, h.kind, h.status, h.source) for h in held} == {
            ("alfa", "alfa-main", "readings", "pending", "mqtt")
        }
        assert len(held) == len(_messages(TOPICS["alfa-main"], late))  # one a message
        assert all(h.topic == TOPICS["alfa-main"] and h.what_if == {} for h in held)
        assert sorted(row[0] for h in held for row in h.payload) == [
            round(ts * 1000) for ts, _ in late
        ]
        # the baseline window is as it was: no late reading stored, its hours unchanged
        window = store.read_series(["alfa-main"], window_start_s, FIRST_HOUR_S)["alfa-main"]
        assert window.ts_s.size == n_history - 1  # the start's own reading is the period's
        hours = store.read_hourly(["alfa-main"], window_start_s, FIRST_HOUR_S)["alfa-main"]
        assert hours.reg_kwh.tolist() == pytest.approx(hours_before.reg_kwh.tolist())
        assert hours.reg_kwh.sum() == pytest.approx(10.0 * (FIRST_HOUR_S - window_start_s) / 3600)
        assert worker.stats["readings_held"] == len(late)
        assert metrics.registry.get_sample_value("wattleague_ingest_held_readings_total") == len(
            late
        )
        ids = [h.id for h in held]
    finally:
        worker.stop()
        store.close()

    # a restart: the held data is still there, and the same late readings again hold nothing new
    store = open_store(store_url)
    worker = _worker(mosquitto, store, clock, name)
    try:
        assert [h.id for h in store.organiser.list_held("lock")] == ids
        publish_all(mosquitto.port, _messages(TOPICS["alfa-main"], late))
        wait_until(lambda: worker.stats["messages"] == len(held))
        assert [h.id for h in store.organiser.list_held("lock", status=None)] == ids
        assert store.count_readings() == 2 * (n_history + n_period)
    finally:
        worker.stop()
        store.close()
