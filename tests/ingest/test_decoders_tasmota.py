"""Tests for the Tasmota SENSOR decoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest

from ingest.decoders.tasmota import decode_tasmota
from ingest.readings import DecodeError, Reading

STOCKHOLM = ZoneInfo("Europe/Stockholm")
TOPIC = "tele/kommunhus-kok/SENSOR"
# A Sonoff POW R2 / Athom plug as Tasmota publishes it every TelePeriod
SENSOR = {
    "Time": "2022-01-11T21:57:38",
    "ENERGY": {
        "TotalStartTime": "2021-12-01T10:00:00",
        "Total": 3.705,
        "Yesterday": 0.160,
        "Today": 0.059,
        "Period": 1,
        "Power": 5,
        "ApparentPower": 13,
        "ReactivePower": 12,
        "Factor": 0.40,
        "Voltage": 231,
        "Current": 0.056,
    },
}
RECEIVED = datetime(2022, 1, 11, 20, 57, 40, tzinfo=UTC)  # 21:57:40 in Stockholm (CET)


def decode(doc, received=RECEIVED, tz=STOCKHOLM) -> list[Reading]:
    payload = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return decode_tasmota(payload, TOPIC, received, tz=tz)


def error(doc, **kwargs) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(doc, **kwargs)
    return info.value


def sensor(time: str | float | None = "2022-01-11T21:57:38", **energy) -> dict:
    doc = {"ENERGY": {**SENSOR["ENERGY"], **energy}}
    if time is not None:
        doc["Time"] = time
    return doc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_sensor_message_in_local_time():
    assert decode(SENSOR) == [Reading(None, utc(2022, 1, 11, 20, 57, 38), 3.705, 5.0)]


def test_summer_local_time_is_two_hours_ahead():
    [r] = decode(sensor("2022-07-01T12:00:00"), received=utc(2022, 7, 1, 10, 0, 3))
    assert r.ts_utc == utc(2022, 7, 1, 10, 0)


def test_other_site_zone():
    helsinki = ZoneInfo("Europe/Helsinki")
    [r] = decode(SENSOR, received=utc(2022, 1, 11, 19, 57, 40), tz=helsinki)
    assert r.ts_utc == utc(2022, 1, 11, 19, 57, 38)


def test_naive_time_without_a_zone_uses_the_receive_time():
    [r] = decode(SENSOR, tz=None)
    assert r.ts_utc == RECEIVED


def test_missing_time_uses_the_receive_time():
    [r] = decode(sensor(time=None))
    assert r.ts_utc == RECEIVED


@pytest.mark.parametrize("tz", [None, STOCKHOLM])
def test_time_with_an_offset_is_taken_as_it_is(tz):  # SetOption52 1
    [r] = decode(sensor("2022-01-11T21:57:38+01:00"), tz=tz)
    assert r.ts_utc == utc(2022, 1, 11, 20, 57, 38)


def test_unix_seconds_time():
    [r] = decode(sensor(1641934658))
    assert r.ts_utc == utc(2022, 1, 11, 20, 57, 38)


# DST in Stockholm, 2025: 03-30 02:00 → 03:00 (01:00 UTC); 10-26 03:00 → 02:00 (01:00 UTC)
@pytest.mark.parametrize(
    ("local", "received", "expected"),
    [
        # autumn: 02:30 happens twice; the occurrence nearest the receive time wins
        ("2025-10-26T02:30:00", utc(2025, 10, 26, 0, 30, 4), utc(2025, 10, 26, 0, 30)),
        ("2025-10-26T02:30:00", utc(2025, 10, 26, 1, 30, 4), utc(2025, 10, 26, 1, 30)),
        ("2025-10-26T02:59:59", utc(2025, 10, 26, 1, 0, 2), utc(2025, 10, 26, 0, 59, 59)),
        ("2025-10-26T02:00:00", utc(2025, 10, 26, 0, 0, 2), utc(2025, 10, 26, 0, 0)),
        ("2025-10-26T02:00:00", utc(2025, 10, 26, 1, 0, 2), utc(2025, 10, 26, 1, 0)),
        ("2025-10-26T03:00:00", utc(2025, 10, 26, 2, 0, 1), utc(2025, 10, 26, 2, 0)),
        # a delayed message from the first 02:45 that arrives during the second 02:05
        ("2025-10-26T02:45:00", utc(2025, 10, 26, 1, 5), utc(2025, 10, 26, 0, 45)),
        # spring: 02:30 does not exist; shifted forward to 03:30 CEST
        ("2025-03-30T02:30:00", utc(2025, 3, 30, 1, 30, 4), utc(2025, 3, 30, 1, 30)),
        ("2025-03-30T01:59:59", utc(2025, 3, 30, 1, 0, 1), utc(2025, 3, 30, 0, 59, 59)),
        ("2025-03-30T03:00:00", utc(2025, 3, 30, 1, 0, 2), utc(2025, 3, 30, 1, 0)),
        # the days around both changes
        ("2025-03-29T12:00:00", utc(2025, 3, 29, 11, 0, 2), utc(2025, 3, 29, 11, 0)),
        ("2025-03-31T12:00:00", utc(2025, 3, 31, 10, 0, 2), utc(2025, 3, 31, 10, 0)),
        ("2025-10-25T12:00:00", utc(2025, 10, 25, 10, 0, 2), utc(2025, 10, 25, 10, 0)),
        ("2025-10-27T12:00:00", utc(2025, 10, 27, 11, 0, 2), utc(2025, 10, 27, 11, 0)),
    ],
)
def test_local_time_across_dst(local, received, expected):
    [r] = decode(sensor(local), received=received)
    assert r.ts_utc == expected and r.ts_utc.tzinfo is UTC


def test_status_10_reply_is_read_like_sensor():
    [r] = decode({"StatusSNS": SENSOR})
    assert (r.energy_kwh, r.power_w) == (3.705, 5.0)


def test_two_channel_device_with_one_total():  # Shelly 2.5 / Sonoff Dual R3 on Tasmota
    readings = decode(sensor(Power=[12, 34], Total=5.5))
    ts = utc(2022, 1, 11, 20, 57, 38)
    assert readings == [
        Reading(None, ts, None, 12.0, "1"),
        Reading(None, ts, None, 34.0, "2"),
        Reading(None, ts, 5.5, None, "total"),
    ]


def test_per_channel_totals():  # SetOption129 1
    readings = decode(sensor(Power=[12, 0], Total=[5.5, 1.25]))
    ts = utc(2022, 1, 11, 20, 57, 38)
    assert readings == [Reading(None, ts, 5.5, 12.0, "1"), Reading(None, ts, 1.25, 0.0, "2")]


def test_negative_power_is_export_and_counts_as_zero_import():
    assert decode(sensor(Power=-230))[0].power_w == 0.0
    assert [r.power_w for r in decode(sensor(Power=[-5, 7]))[:2]] == [0.0, 7.0]


def test_energy_only_or_power_only():
    doc = {"Time": "2022-01-11T21:57:38", "ENERGY": {"Total": 1.0}}
    assert decode(doc)[0] == Reading(None, utc(2022, 1, 11, 20, 57, 38), 1.0, None)
    doc = {"Time": "2022-01-11T21:57:38", "ENERGY": {"Power": 7, "Total": None}}
    assert decode(doc)[0] == Reading(None, utc(2022, 1, 11, 20, 57, 38), None, 7.0)


@pytest.mark.parametrize(
    ("doc", "reason", "says"),
    [
        (  # tele/<topic>/STATE
            {"Time": "2022-01-11T21:57:38", "Uptime": "0T01:02:03", "POWER": "ON"},
            "no_value",
            "no ENERGY object (keys: POWER, Time, Uptime)",
        ),
        ({"Time": "2022-01-11T21:57:38", "DS18B20": {"Temperature": 21.3}}, "no_value", "ENERGY"),
        ({"ENERGY": {"Voltage": 230}}, "no_value", "neither Total"),
        ({"ENERGY": {"Power": [None, None]}}, "no_value", "hold no numbers"),
        ({"ENERGY": 5}, "undecodable", "ENERGY: expected an object"),
        ([SENSOR], "undecodable", "expected a JSON object"),
        (b"POWER ON", "undecodable", "not valid JSON"),
        (b'{"ENERGY": {"Power": 1e999}}', "non_finite", "out of range"),
        (sensor(Power="5 W"), "non_numeric", "ENERGY.Power: expected a number"),
        (sensor(Total=[1.0, "x"]), "non_numeric", "ENERGY.Total[1]"),
        (sensor(Power=True), "non_numeric", "ENERGY.Power"),
        (sensor(Total=-1.5), "negative_value", "ENERGY.Total"),
        (sensor(Total=[1.0, 2.0, 3.0], Power=[1, 2]), "undecodable", "3 channels"),
        (sensor("yesterday"), "bad_timestamp", "'yesterday'"),
        (sensor(["2022"]), "bad_timestamp", "Time"),
        (sensor("0001-01-01T00:00:00"), "bad_timestamp", "out of range"),
        (sensor(1e30), "bad_timestamp", "out of range"),
    ],
)
def test_errors(doc, reason, says):
    exc = error(doc)
    assert exc.reason == reason and says in str(exc)


def test_received_time_in_another_zone_is_normalised():
    received = RECEIVED.astimezone(STOCKHOLM)
    [r] = decode(sensor(time=None), received=received)
    assert r.ts_utc == RECEIVED and r.ts_utc.tzinfo is UTC
    [r] = decode(SENSOR, received=received + timedelta(hours=5), tz=None)
    assert r.ts_utc.tzinfo is UTC
