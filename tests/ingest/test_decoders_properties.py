"""Property tests: every decoder, on any input, returns well-formed readings or raises
DecodeError — never another exception (which would stop the ingest worker's batch)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.decoders import DECODERS, decode
from ingest.decoders.auto import detect
from ingest.readings import DecodeError, Reading
from tests.ingest.test_decoders_auto import SAMPLES
from tests.ingest.test_decoders_dsmr import HANPORTEN_LINES, telegram
from tests.ingest.test_decoders_shelly import SWITCH_0, notify

# Decoders whose readings are never negative (power is import power); json and senml pass
# negative values on for validation to quarantine one reading at a time.
NON_NEGATIVE = {"dsmr", "tasmota", "shelly", "emon"}
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS: list[tuple[str, str, bytes]] = [
    (name.split("-")[0], topic, payload) for name, (topic, payload) in SAMPLES.items()
]
SEEDS += [
    (
        "shelly",
        "pro3em/events/rpc",
        orjson.dumps(
            notify(
                {
                    "ts": 1.7e9,
                    "em:0": {"id": 0, "total_act_power": -12.5},
                    "emdata:0": {"id": 0, "total_act": 12.0, "total_act_ret": 4.0},
                    "em1:1": {"act_power": 3.0},
                    "em1data:1": {"total_act_energy": 7.0},
                    "switch:2": SWITCH_0,
                }
            )
        ),
    ),
    (
        "tasmota",
        "tele/dual/SENSOR",
        orjson.dumps(
            {"Time": "2025-10-26T02:30:00", "ENERGY": {"Total": [1.5, 2.5], "Power": [3, -4]}}
        ),
    ),
    (
        "tasmota",
        "tele/dual/SENSOR",
        orjson.dumps({"Time": "2025-03-30T02:30:00", "ENERGY": {"Total": 1.5, "Power": [3, 4]}}),
    ),
    ("emon", "emon/emontx4", orjson.dumps({"P1": 1, "E1": 2, "P2": -3, "time": 1.7e9})),
    ("dsmr", "han", telegram(["0-0:1.0.0(251026023000S)", "1-0:1.8.1(1*kWh)", "1-0:1.7.0(2*W)"])),
]
TOPICS = [
    "",
    "/",
    "x/status/",
    "status/switch:0",
    "a/status/switch:0",
    "a/status/emdata:1",
    "a/status/em1data:0",
    "a/events/rpc",
    "emon/x/P1",
    "emon/x/E12",
    "emon/x",
    "emon/x/vrms",
    "tele/x/SENSOR",
    "wattleague/c/s/m",
]
ZONES = [None, ZoneInfo("Europe/Stockholm"), ZoneInfo("America/St_Johns"), ZoneInfo("UTC")]
KEYS = [
    "ts",
    "Time",
    "ENERGY",
    "Total",
    "Power",
    "StatusSNS",
    "method",
    "params",
    "switch:0",
    "em:0",
    "emdata:0",
    "em1:0",
    "em1data:0",
    "pm1:0",
    "apower",
    "aenergy",
    "total",
    "total_act",
    "act_power",
    "total_act_power",
    "total_act_energy",
    "P1",
    "E1",
    "p99",
    "time",
    "bn",
    "bt",
    "bu",
    "bv",
    "n",
    "u",
    "v",
    "t",
    "energy_kwh",
    "power_w",
    "meter",
]

received_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(ZoneInfo("Europe/Stockholm")),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -1, 1e308, -1e308, 5e-324, 2**53 + 1, 1.7e9])
    | st.text(max_size=20)
    | st.sampled_from(["NotifyStatus", "NotifyFullStatus", "2025-10-26T02:30:00", "1e999"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def check(fmt: str, topic: str, payload: bytes, received: datetime, tz) -> None:
    try:
        readings = decode(fmt, payload, topic, received, tz=tz)
    except DecodeError as exc:
        assert isinstance(exc.reason, str) and exc.reason and str(exc)
        return
    assert isinstance(readings, list) and readings, "a decoder must return readings or raise"
    non_negative = fmt in NON_NEGATIVE or (fmt == "auto" and detect(payload, topic) in NON_NEGATIVE)
    for r in readings:
        assert isinstance(r, Reading)
        assert r.ts_utc.tzinfo is not None and r.ts_utc.utcoffset() == timedelta(0)
        assert r.energy_kwh is not None or r.power_w is not None
        for value in (r.energy_kwh, r.power_w):
            assert value is None or (isinstance(value, float) and math.isfinite(value))
            assert value is None or not non_negative or value >= 0
        assert r.channel is None or isinstance(r.channel, str)
        assert r.meter_id is None or isinstance(r.meter_id, str)


@SETTINGS
@given(
    st.sampled_from(sorted(DECODERS)),
    st.binary(max_size=400),
    st.sampled_from(TOPICS),
    received_times,
    st.sampled_from(ZONES),
)
def test_arbitrary_bytes(fmt, payload, topic, received, tz):
    check(fmt, topic, payload, received, tz)


@st.composite
def mutated(draw) -> tuple[str, str, bytes]:
    fmt, topic, payload = draw(st.sampled_from(SEEDS))
    data = bytearray(payload)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "delete", "insert", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from(b'0-.e!/()*\r\n{}[]":,9'))
        elif op == "truncate":
            del data[at:]
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
    return draw(st.sampled_from([fmt, "auto"])), topic, bytes(data)


@SETTINGS
@given(mutated(), received_times, st.sampled_from(ZONES))
def test_byte_mutations_of_valid_payloads(case, received, tz):
    check(*case, received, tz)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _replace(node, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in node.items()}
    return [_replace(v, rest, value) if i == head else v for i, v in enumerate(node)]


@st.composite
def restructured(draw) -> tuple[str, str, bytes]:
    fmt, topic, payload = draw(st.sampled_from([s for s in SEEDS if s[2][:1] in (b"{", b"[")]))
    doc = orjson.loads(payload)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        doc = _replace(doc, path, draw(json_values))
    return draw(st.sampled_from([fmt, "auto"])), topic, orjson.dumps(doc)


@SETTINGS
@given(restructured(), received_times, st.sampled_from(ZONES))
def test_json_values_replaced_by_arbitrary_json(case, received, tz):
    check(*case, received, tz)


line_text = st.text(alphabet="0123456789-:.()*/!SWkKwWhHvarV ", max_size=40)


@SETTINGS
@given(
    st.lists(st.sampled_from(HANPORTEN_LINES) | line_text, max_size=12),
    st.sampled_from(["\r\n", "\n"]),
    received_times,
)
def test_dsmr_telegrams_with_valid_crc_and_arbitrary_lines(lines, eol, received):
    check("dsmr", "han", telegram(lines, eol=eol), received, None)


@SETTINGS
@given(
    st.sampled_from(["emon/x/P1", "emon/x/E1", "emon/x/energy3", "emon/x/vrms"]),
    st.text(max_size=30).map(str.encode) | st.floats().map(lambda f: repr(f).encode()),
)
def test_emon_bare_values(topic, payload):
    check("emon", topic, payload, datetime(2024, 1, 1, tzinfo=UTC), None)
