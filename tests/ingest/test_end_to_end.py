"""The spine end to end: MQTT publish → ingest worker → store → leaderboard over HTTP.

Every test runs against each store backend (``store_url``: SQLite and InfluxDB), the worker's
store opened from its URL as ``wattleague ingest --store`` does.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from api.app import create_app
from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store import open_store
from scoring.competition_file import parse_competition
from tests.services import RunningApp, publish_all, wait_until

TZ = ZoneInfo("Europe/Stockholm")
COMPETITION = """
[competition]
id = "e2e"
name = "Energispartävling för kommunhus"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-14
baseline = { method = "previous-year" }

[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
target_pct = 10
  [[site.meter]]
  id = "alfa-main"

[[site]]
id = "beta"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 500
  [[site.meter]]
  id = "beta-main"
  topic = "senml/beta"
  format = "senml"

[[display]]
id = "alfa-lobby"
site = "alfa"
columns = 20
rows = 4
"""
NOW = datetime(2011, 3, 8, 0, 0, tzinfo=TZ)  # 7 full days (168 hours) of the period elapsed
# history arrives before the start: from the competition's first hour it would be held
# (ingest.baseline_lock)
BEFORE_START = datetime(2011, 2, 28, 12, 0, tzinfo=TZ)


def _hourly(first: datetime, last: datetime, power_kw: float, offset_kwh: float):
    """Hourly (ts_s, register_kwh) of a constant load from ``first`` to ``last`` inclusive."""
    t, reg = first.timestamp(), offset_kwh  # step in Unix seconds: immune to DST wall-clock sums
    while t <= last.timestamp():
        yield t, reg
        t += 3600.0
        reg += power_kw


def _json_messages(topic: str, readings) -> list[tuple[str, bytes]]:
    rows = [{"ts": ts, "energy_kwh": round(e, 6)} for ts, e in readings]
    return [(topic, orjson.dumps(rows[i : i + 24])) for i in range(0, len(rows), 24)]


def _senml_messages(topic: str, readings) -> list[tuple[str, bytes]]:
    rows = list(readings)
    out = []
    for i in range(0, len(rows), 24):
        chunk = rows[i : i + 24]
        bt = chunk[0][0]
        pack = [{"bn": "beta-main:", "bt": bt, "bu": "kWh", "n": "energy", "v": chunk[0][1]}]
        pack += [{"n": "energy", "t": ts - bt, "v": e} for ts, e in chunk[1:]]
        out.append((topic, orjson.dumps(pack)))
    return out


@pytest.fixture
def competition():
    return parse_competition(COMPETITION, "e2e.toml")


@pytest.fixture
def clock():
    """The worker's clock: ``clock[0]`` is the time it reads (NOW unless a test sets it)."""
    return [NOW]


@pytest.fixture
def worker(mosquitto, competition, store_url, request, clock):
    store = open_store(store_url)
    w = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([competition]),
        client_id=f"e2e-{request.node.name}",
        clock=lambda: clock[0].timestamp(),
    )
    w.start()
    assert w.connected.wait(10)
    yield w
    w.stop()
    store.close()


def test_published_readings_reach_the_leaderboard(mosquitto, competition, worker, clock):
    # Baseline a year earlier: alfa 10 kW, beta 5 kW; competition: alfa 8 kW, beta 4.5 kW.
    # 2011-03-01 (Tuesday) maps to 2010-03-02 (Tuesday), 364 days earlier.
    base_first, base_last = datetime(2010, 3, 2, tzinfo=TZ), datetime(2010, 3, 9, tzinfo=TZ)
    comp_first, comp_last = datetime(2011, 3, 1, tzinfo=TZ), NOW
    clock[0] = BEFORE_START  # the history, before the baselines lock
    publish_all(
        mosquitto.port,
        _json_messages(
            "wattleague/e2e/alfa/alfa-main", _hourly(base_first, base_last, 10.0, 1000.0)
        )
        + _senml_messages("senml/beta", _hourly(base_first, base_last, 5.0, 200.0)),
    )
    wait_until(lambda: worker.store.count_readings() == (7 * 24 + 1) * 2)
    clock[0] = NOW
    publish_all(
        mosquitto.port,
        _json_messages("wattleague/e2e/alfa/alfa-main", _hourly(comp_first, comp_last, 8.0, 5000.0))
        + _senml_messages("senml/beta", _hourly(comp_first, comp_last, 4.5, 900.0)),
    )
    expected_readings = 2 * (7 * 24 + 1) * 2
    wait_until(lambda: worker.store.count_readings() == expected_readings)

    app = create_app([competition], worker.store, clock=NOW.timestamp, stream_interval_s=0.1)
    with RunningApp(app) as running:
        board = httpx.get(f"{running.url}/api/competitions/e2e/leaderboard").json()
        frame = httpx.get(f"{running.url}/api/displays/alfa-lobby/frame?format=txt&page=0").text
    entries = {e["site"]: e for e in board["entries"]}
    # alfa: 168 h x 8 kW = 1344 kWh against 168 h x 10 kW = 1680 kWh → 20 % saved, 1.344 kWh/m²
    assert entries["alfa"]["actual_kwh"] == pytest.approx(1344.0)
    assert entries["alfa"]["baseline_kwh"] == pytest.approx(1680.0)
    assert entries["alfa"]["saved_kwh"] == pytest.approx(336.0)
    assert entries["alfa"]["reduction_pct"] == pytest.approx(20.0)
    assert entries["alfa"]["kwh_per_m2"] == pytest.approx(1.344)
    assert entries["alfa"]["completeness"] == pytest.approx(1.0)
    # beta: 168 x 4.5 = 756 kWh against 168 x 5 = 840 kWh → 10 %, 756 / 500 = 1.512 kWh/m²
    assert entries["beta"]["reduction_pct"] == pytest.approx(10.0)
    assert entries["beta"]["kwh_per_m2"] == pytest.approx(1.512)
    assert [e["site"] for e in board["entries"]] == ["alfa", "beta"]
    assert [e["rank"] for e in board["entries"]] == [1, 2]
    lines = frame.rstrip("\n").split("\n")
    assert len(lines) == 4 and all(len(line) == 20 for line in lines)
    assert "#1 av 2" in lines[0]


def test_duplicates_are_stored_once_and_bad_messages_quarantined(mosquitto, worker):
    topic = "wattleague/e2e/alfa/alfa-main"
    good = orjson.dumps({"ts": "2011-03-02T10:00:00+01:00", "energy_kwh": 12.5, "power_w": 900})
    publish_all(
        mosquitto.port,
        [
            (topic, good),
            (topic, good),  # redelivered or re-sent: stored once
            (topic, b"{not json"),
            (topic, orjson.dumps({"ts": "2011-03-02T10:05:00+01:00", "power_w": "lots"})),
            ("wattleague/e2e/nowhere/nobody", orjson.dumps({"ts": 1299056400, "power_w": 5})),
            (topic, orjson.dumps({"ts": "2011-03-02T10:10:00", "power_w": 5})),
        ],
    )
    wait_until(lambda: sum(worker.store.quarantine_counts().values()) == 4)
    assert worker.store.count_readings() == 1
    assert worker.store.quarantine_counts() == {
        "naive_timestamp": 1,
        "non_numeric": 1,
        "undecodable": 1,
        "unknown_topic": 1,
    }
    rows = {q["reason"]: q for q in worker.store.list_quarantine()}
    assert rows["undecodable"]["payload"] == b"{not json"
    assert rows["undecodable"]["topic"] == topic
    assert "power_w" in rows["non_numeric"]["detail"]
    assert "nowhere" in rows["unknown_topic"]["detail"]
