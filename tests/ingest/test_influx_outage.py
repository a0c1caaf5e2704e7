"""InfluxDB goes away and comes back: nothing is lost, nothing is stored twice, every kWh lands
in its hour; data the server refuses (4xx) goes to the quarantine instead of being retried.

Each test starts its own ``influxd`` (data in its tmp dir), so stopping it leaves the
session's server alone.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.rollup import cells_from_readings
from ingest.routing import Routing
from ingest.store.base import Message, StoredReading
from ingest.store.influx import InfluxStore
from scoring.competition_file import parse_competition
from tests.fixtures import one_site_toml
from tests.influx import Influxd
from tests.ingest.test_rollup import _assert_same_cells
from tests.services import publish_all, wait_until

pytestmark = pytest.mark.timeout(120)

H0 = 1_300_000_000 - 1_300_000_000 % 3600 + 3600  # an hour start (2011-03-13 08:00 UTC)
METERS = [f"m{i:02d}" for i in range(20)]


@pytest.fixture
def server(tmp_path):
    s = Influxd(tmp_path / "influxd")
    problem = None
    try:
        s.start()
    except RuntimeError as exc:
        problem = str(exc)
    if problem:  # outside the except: no chained traceback around the message
        pytest.fail(problem, pytrace=False)
    yield s
    s.stop()


def _stream(seconds: int, step_s: int = 10) -> list[tuple[str, float, float, float]]:
    """(meter, ts_s, register_kwh, power_w) every ``step_s`` for every meter, in time order.

    Register steps of 1/64 kWh and whole watts keep every sum exact enough to compare.
    """
    out = []
    for k in range(seconds // step_s):
        for i, meter in enumerate(METERS):
            out.append(
                (meter, float(H0 + k * step_s), 1000.0 * i + k / 64, float(500 + (k * 7 + i) % 900))
            )
    return out


def _message(readings, received_ms: int) -> Message:
    return Message(
        "wattleague/outage",
        received_ms,
        "mqtt",
        [StoredReading(m, int(t * 1000), e, p) for m, t, e, p in readings],
    )


def _cells(store: InfluxStore) -> dict:
    out = {}
    for meter, h in store.read_hourly(METERS, 0, 2e9).items():
        for i, hour in enumerate(h.hour_s.tolist()):
            out[(meter, hour)] = [h.reg_kwh[i], h.reg_s[i], h.pow_kwh[i], h.pow_s[i]]
    return out


def _assert_stored_exactly(store: InfluxStore, readings) -> None:
    assert store.count_readings() == len(readings)
    series = store.read_series(METERS, 0, 2e9)
    for meter in METERS:
        want = sorted((t, e, p) for m, t, e, p in readings if m == meter)
        s = series[meter]
        got = list(zip(s.ts_s.tolist(), s.energy_kwh.tolist(), s.power_w.tolist(), strict=True))
        assert got == want, meter
    _assert_same_cells(_cells(store), cells_from_readings(readings))


def test_outage_spools_and_replays_every_reading_once_in_its_hour(server):
    readings = _stream(2 * 3600)  # 20 meters x 720 readings over two hours
    late = readings[7::97]  # held back, sent after the restart: they split stored intervals
    on_time = [r for i, r in enumerate(readings) if (i - 7) % 97 != 0]
    batches = [on_time[i : i + 60] for i in range(0, len(on_time), 60)]
    store = InfluxStore(server.url("outage"), replay_interval_s=0.2)
    try:
        spooled_results, outage_at, back_at = [], len(batches) // 3, len(batches) // 2
        for n, batch in enumerate(batches):
            if n == outage_at:
                server.stop()
                down_since = time.monotonic()
            if n == back_at:
                time.sleep(max(0.0, 3.0 - (time.monotonic() - down_since)))  # a few seconds
                assert store.spool_depth() > 0
                server.start()
            messages = [_message(batch[:30], n), _message(batch[30:], n)]
            if n % 10 == 5:
                messages.append(_message(batches[n - 1][:10], n))  # a redelivery: duplicates
            result = store.write(messages)
            if outage_at <= n < back_at:
                # the data is in the spool, on disk, before write() returns
                assert result.spooled == len(batch) + (10 if n % 10 == 5 else 0)
                assert result.inserted == 0
                spooled_results.append(result)
                assert store.spool_depth() == len(spooled_results)
        wait_until(lambda: store.spool_depth() == 0, timeout_s=60)
        assert store.spool.depth() == 0
        assert len(spooled_results) == back_at - outage_at
        # late readings after the replay, in two batches
        store.write([_message(late[: len(late) // 2], 1)])
        store.write([_message(late[len(late) // 2 :], 2)])
        _assert_stored_exactly(store, readings)
        # the spool stays empty and writes go straight to the server again
        assert store.write([_message(readings[:5], 3)]).duplicates == 5
    finally:
        store.close()


COMPETITION = one_site_toml("outage", "Avbrott", list(METERS), end="2011-03-31")


def test_outage_under_the_ingest_worker_loses_nothing(server, mosquitto, request):
    """MQTT → IngestWorker → InfluxDB while InfluxDB is stopped for a few seconds."""
    readings = _stream(3600)
    by_meter = {m: [r for r in readings if r[0] == m] for m in METERS}
    messages = [
        (
            f"wattleague/outage/alfa/{m}",
            orjson.dumps(
                [{"ts": t, "energy_kwh": e, "power_w": p} for _, t, e, p in rows[i : i + 12]]
            ),
        )
        for i in range(0, 360, 12)
        for m, rows in by_meter.items()
    ]
    store = InfluxStore(server.url("worker"), replay_interval_s=0.2)
    worker = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([parse_competition(COMPETITION, "outage.toml")]),
        client_id=f"outage-{request.node.name}",
        clock=lambda: H0 + 3600.0,
    )
    worker.start()
    try:
        assert worker.connected.wait(10)
        third = len(messages) // 3
        publish_all(mosquitto.port, messages[:third])
        wait_until(lambda: worker.stats["messages"] == third, timeout_s=60)
        server.stop()
        publish_all(mosquitto.port, messages[third : 2 * third])
        # the worker spools and acknowledges: it keeps taking messages while the store is down
        wait_until(lambda: worker.stats["messages"] == 2 * third, timeout_s=60)
        assert store.spool_depth() > 0
        server.start()
        publish_all(mosquitto.port, messages[2 * third :])
        wait_until(lambda: worker.stats["messages"] == len(messages), timeout_s=60)
        wait_until(lambda: store.spool_depth() == 0, timeout_s=60)
        _assert_stored_exactly(store, readings)
        assert store.quarantine_counts() == {}
    finally:
        worker.stop()
        store.close()


def test_refused_data_goes_to_the_quarantine_instead_of_being_retried(server):
    store = InfluxStore(server.url("refused"), replay_interval_s=0.2)
    try:
        t = H0 * 1000
        store.write([_message([("m00", H0 - 86400 * 30, 1.0, None)], t)])  # creates the database
        # someone made energy_kwh a string in this shard (InfluxDB 1.x fixes types per shard)
        response = server.write_lines("refused", f'reading,meter=other energy_kwh="text" {t}')
        assert response.status_code == 204
        started = time.monotonic()
        result = store.write([_message([("m00", H0 + 10, 5.0, 100.0)], t + 10_000)])
        assert time.monotonic() - started < 5  # no retries with backoff, no spool
        assert (result.inserted, result.quarantined, result.spooled) == (0, 1, 0)
        assert store.spool_depth() == 0
        assert store.quarantine_counts() == {"store_rejected": 1}
        (row,) = store.list_quarantine(reason="store_rejected")
        assert row["topic"] == "wattleague/outage" and row["received_ms"] == t + 10_000
        assert "field type conflict" in row["detail"] and "400" in row["detail"]
        assert b"m00" in row["payload"] and b"5.0" in row["payload"]
        assert store.read_series(["m00"], H0, H0 + 3600) == {}
        # the refused message's own rejects are kept too, and the store keeps working
        ok = store.write([_message([("m01", H0 - 86400 * 30, 1.0, None)], t)])
        assert ok.inserted == 1
    finally:
        store.close()


def test_other_messages_of_a_refused_batch_keep_their_energy(server):
    """InfluxDB 1.x writes what it accepts of a request and refuses the rest (a "partial write",
    here a field type conflict in one shard): the refused reading leaves no energy behind, and
    the others count as inserted, once."""
    store = InfluxStore(server.url("partial"), replay_interval_s=0.2)
    try:
        t = H0 * 1000
        week = 8 * 86400
        store.write([_message([("m00", H0 - 10 * week, 1.0, None)], t)])
        assert server.write_lines("partial", f'reading,meter=x energy_kwh="text" {t}').is_success
        bad = _message([("m00", H0 + 10, 5.0, None)], t)  # in the shard with the string field
        good = _message([("m01", H0 + week, 1.0, None), ("m01", H0 + week + 600, 2.0, None)], t)
        result = store.write([bad, good])
        assert result.quarantined == 1
        assert result.inserted == 2
        assert sum(store.read_hourly(["m01"], 0, 2e9)["m01"].reg_kwh) == pytest.approx(1.0)
        m00 = store.read_hourly(["m00"], 0, 2e9).get("m00")
        assert m00 is None or sum(m00.reg_kwh) == 0.0  # the refused 5 kWh left nothing
        assert store.quarantine_counts() == {"store_rejected": 1}
    finally:
        store.close()


def test_outage_between_the_requests_of_a_batch_loses_nothing(server, monkeypatch):
    """A batch is posted a group of meters at a time: the server goes away after the first
    group's request, the rest is spooled and replayed, and every reading counts once."""
    import ingest.store.influx as influx_module

    monkeypatch.setattr(influx_module, "LINES_PER_POST", 3)  # one meter per request
    store = InfluxStore(server.url("between"), replay_interval_s=0.2)
    try:
        first = [(m, float(H0), 1.0, None) for m in ("m00", "m01", "m02")]
        store.write([_message(first, 1)])
        real_write = store.http.write
        posted: list[list[str]] = []

        def write_then_cut(lines, **kw):
            real_write(lines, **kw)
            posted.append(lines)
            if any(line.startswith("reading,") for line in lines):
                server.stop()  # this group is in; the next groups find no server

        store.http.write = write_then_cut
        second = [(m, float(H0 + 600), 2.0, None) for m in ("m00", "m01", "m02")]
        assert store.write([_message(second, 2)]).spooled == 3
        # the cut came between the requests of one batch (two are posted at a time)
        # (the previous batch's change marker may have gone alone, on its timer)
        posted = [lines for lines in posted if not all(x.startswith("writes ") for x in lines)]
        assert 1 <= len(posted) < 3
        for lines in posted:  # each request holds its energy pieces before its readings
            first_reading = next(i for i, x in enumerate(lines) if x.startswith("reading,"))
            prefix = ("energy,", "hourly,", "writes ")
            assert all(x.startswith(prefix) for x in lines[:first_reading])
            assert any(x.startswith("energy,") for x in lines[:first_reading])
        store.http.write = real_write
        server.start()
        wait_until(lambda: store.spool_depth() == 0, timeout_s=30)
        assert store.count_readings() == 6
        _assert_same_cells(_cells(store), cells_from_readings(first + second))
    finally:
        store.close()


def test_concurrent_writes_and_replay_keep_order(server):
    """Writes keep arriving from another thread while the replay drains the spool."""
    readings = _stream(1800)
    batches = [readings[i : i + 40] for i in range(0, len(readings), 40)]
    store = InfluxStore(server.url("order"), replay_interval_s=0.1)
    done = threading.Event()
    progress = {"n": 0}

    def writer():
        for n, batch in enumerate(batches):
            store.write([_message(batch, n)])
            progress["n"] = n + 1
            time.sleep(0.01)
        done.set()

    try:
        thread = threading.Thread(target=writer)
        server.stop()
        thread.start()
        wait_until(lambda: progress["n"] >= len(batches) // 3, timeout_s=60)
        assert store.spool_depth() > 0
        server.start()
        assert done.wait(60)
        thread.join()
        wait_until(lambda: store.spool_depth() == 0, timeout_s=60)
        _assert_stored_exactly(store, readings)
    finally:
        store.close()
