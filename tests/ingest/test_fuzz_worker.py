"""Fuzzing the running ingest worker: arbitrary bytes and mutated valid payloads over MQTT.

Whatever arrives, the worker must neither crash nor drop a message: its writer thread stays
alive and keeps storing, and every published message ends up stored (a row in ``messages``,
for a message with at least one valid reading) or quarantined (rows in ``quarantine``, one per
rejected reading), or both for a list with good and bad readings. Rows are not messages, so
the test counts messages: the worker's clock gives every received message its own receive
time, 10 ms apart, and the distinct receive times found in ``messages`` and ``quarantine``
together must be exactly as many as the messages published.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.services import publish_all, wait_until

pytestmark = pytest.mark.timeout(150)

COMPETITION = """
[competition]
id = "fuzz"
name = "Fuzz"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-14
baseline = { method = "previous-year" }

[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "alfa-main"
  max_power_w = 50000

[[site]]
id = "beta"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 500
  [[site.meter]]
  id = "beta-main"
  topic = "senml/beta"
  format = "senml"
"""
JSON_TOPIC = "wattleague/fuzz/alfa/alfa-main"
SENML_TOPIC = "senml/beta"
OTHER_TOPICS = ["wattleague/fuzz/alfa/nobody", "wattleague/elsewhere"]  # subscribed, unmapped
BASE_MS = int(datetime(2011, 3, 8, tzinfo=UTC).timestamp() * 1000)  # the worker's "now"
STEP_MS = 10  # receive times of consecutive messages; message k is received at BASE + 10 k + 5
NOW_S = BASE_MS // 1000
TS_LO, TS_HI = NOW_S - 30 * 86400, NOW_S  # plausible reading times [Unix s]

# -- payload strategies ---------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),  # orjson's integer range
    st.floats(),  # orjson writes NaN and ±inf as null
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@st.composite
def iso_times(draw) -> str:
    """ISO-8601 strings anywhere in datetime's range, with and without an offset."""
    dt = draw(st.datetimes())
    text = dt.isoformat()
    offset = draw(st.none() | st.integers(-23 * 60 - 59, 23 * 60 + 59))
    if offset is None:
        return text
    sign, minutes = ("+" if offset >= 0 else "-"), abs(offset)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


timestamps = st.one_of(
    st.integers(TS_LO, TS_HI),
    st.floats(TS_LO - 1e9, TS_HI + 1e9),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    iso_times(),
    json_values,
)
registers = st.floats(0, 1e9, allow_nan=False)
powers = st.floats(0, 1e5, allow_nan=False)


@st.composite
def json_readings(draw, mutate: bool) -> dict:
    """A valid reading of the project's JSON format, or one with fields replaced or added."""
    reading = {"ts": draw(st.integers(TS_LO, TS_HI))}
    for key, values in (("energy_kwh", registers), ("power_w", powers)):
        if draw(st.booleans()) or (key == "power_w" and len(reading) == 1):
            reading[key] = draw(values)
    if mutate:
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(["ts", "energy_kwh", "power_w", "meter", "extra"]))
            action = draw(st.sampled_from(["replace", "delete"]))
            if action == "delete":
                reading.pop(key, None)
            elif key == "ts":
                reading[key] = draw(timestamps)
            elif key == "meter":
                reading[key] = draw(st.sampled_from(["alfa-main", "beta-main", "x"]) | json_values)
            else:
                reading[key] = draw(json_values)
    return reading


@st.composite
def json_payloads(draw) -> bytes:
    mutate = draw(st.booleans())
    shape = draw(st.sampled_from(["one", "list", "value"]))
    if shape == "one":
        return orjson.dumps(draw(json_readings(mutate)))
    if shape == "list":
        return orjson.dumps(draw(st.lists(json_readings(mutate), max_size=5)))
    return orjson.dumps(draw(json_values))


@st.composite
def senml_payloads(draw) -> bytes:
    """A valid SenML pack of register and power records, or one with records mutated."""
    bt = draw(st.integers(TS_LO, TS_HI))
    pack: list = [{"bn": "beta-main:", "bt": bt, "bu": "kWh", "n": "energy", "v": 1.0}]
    for i in range(draw(st.integers(0, 4))):
        unit = draw(st.sampled_from(["kWh", "Wh", "J", "W", "kW", "V"]))
        pack.append({"n": "e", "u": unit, "t": 60 * (i + 1), "v": draw(registers)})
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            record = pack[draw(st.integers(0, len(pack) - 1))]
            key = draw(st.sampled_from(["bn", "bt", "bu", "bv", "bver", "n", "u", "t", "v", "x_"]))
            if draw(st.booleans()):
                record.pop(key, None)
            else:
                record[key] = draw(timestamps if key in ("bt", "t") else json_values)
        if draw(st.booleans()):
            pack.append(draw(json_values))
    return orjson.dumps(pack)


@st.composite
def byte_mutations(draw) -> bytes:
    """A valid payload with bytes flipped, inserted, deleted or cut off."""
    data = bytearray(draw(json_payloads() | senml_payloads()))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 4))]
        else:
            del data[i:]
    return bytes(data)


payloads = st.one_of(st.binary(max_size=300), json_payloads(), senml_payloads(), byte_mutations())
topics = st.sampled_from([JSON_TOPIC] * 4 + [SENML_TOPIC] * 4 + OTHER_TOPICS)  # mostly meters
messages = st.tuples(topics, payloads)

# -- the worker ----------------------------------------------------------------------------


def _clock():
    """Receive times BASE + 10 k + 5 ms for the k-th message: distinct after rounding to ms."""
    counter = itertools.count()
    return lambda: (BASE_MS + STEP_MS * next(counter) + STEP_MS // 2) / 1000


@pytest.fixture
def worker(mosquitto, tmp_path):
    store = SQLiteStore(tmp_path / "fuzz.db")
    w = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([parse_competition(COMPETITION, "fuzz.toml")]),
        client_id="fuzz-worker",
        clock=_clock(),
    )
    w.start()
    assert w.subscribed.wait(10)
    yield w
    w.stop()
    store.close()


def _accounted(store: SQLiteStore) -> int:
    """Messages with a row in ``messages`` or ``quarantine``, told apart by receive time."""
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        return conn.execute(
            f"SELECT count(*) FROM (SELECT received_ms / {STEP_MS} FROM messages "
            f"UNION SELECT received_ms / {STEP_MS} FROM quarantine)"
        ).fetchone()[0]


def test_worker_survives_and_accounts_for_every_message(mosquitto, worker):
    published = 0

    @settings(
        max_examples=60,
        deadline=None,
        database=None,  # nothing written into the repository
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=st.lists(messages, min_size=1, max_size=8))
    @example(batch=[(JSON_TOPIC, b'{"ts": "0001-01-01T00:00:00+01:00", "power_w": 1}')])
    @example(batch=[(JSON_TOPIC, b'{"ts": "9999-12-31T23:59:59-01:00", "power_w": 1}')])
    @example(batch=[(SENML_TOPIC, b'[{"bn": "beta-main:", "bt": -1e300, "u": "W", "v": 1}]')])
    @example(batch=[(JSON_TOPIC, b"[" * 5000 + b"]" * 5000)])
    def publish(batch: list[tuple[str, bytes]]) -> None:
        nonlocal published
        publish_all(mosquitto.port, batch)
        published += len(batch)
        wait_until(lambda: worker.stats["messages"] >= published, timeout_s=20)
        assert worker.writer_alive()
        assert _accounted(worker.store) == published, f"a message vanished: {batch!r}"

    publish()

    # Still storing: a valid reading sent afterwards arrives.
    ts = NOW_S - 100 * 86400  # older than anything the strategies send as a valid reading
    publish_all(mosquitto.port, [(JSON_TOPIC, orjson.dumps({"ts": ts, "energy_kwh": 7.5}))])
    wait_until(lambda: worker.stats["messages"] == published + 1)
    series = worker.store.read_series(["alfa-main"], ts, ts + 1)
    assert series["alfa-main"].energy_kwh.tolist() == [7.5]
    assert worker.writer_alive()
    assert _accounted(worker.store) == published + 1
    assert worker.stats["messages"] == published + 1
    # Rows: every message gave at least one; a message with good and bad readings gives both.
    quarantined_rows = sum(worker.store.quarantine_counts().values())
    with contextlib.closing(sqlite3.connect(worker.store.path)) as conn:
        message_rows = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        internal = conn.execute(
            "SELECT topic, payload, detail FROM quarantine WHERE detail LIKE 'internal error%'"
        ).fetchall()
    assert message_rows + quarantined_rows >= published + 1
    # A decoder raising anything but DecodeError is a bug, even though the worker survives it
    # (it quarantines the message as undecodable, "internal error ..." in the detail).
    assert worker.stats["internal_errors"] == len(internal) == 0, internal
