"""Tests for the RFC 8428 SenML JSON decoder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.decoders.senml import decode_senml
from ingest.readings import DecodeError, Reading

NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
TOPIC = "wattleague/meters/soderhamn-main"
BT = 1.276020076001e09  # RFC 8428 §5.1.2 base time
METER = "urn:dev:ow:10e2073a0108006"


def decode(payload: bytes | str) -> list[Reading]:
    raw = payload.encode() if isinstance(payload, str) else payload
    return decode_senml(raw, TOPIC, NOW)


def error(payload: bytes | str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(payload)
    return info.value


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_rfc_5_1_2_voltage_and_current_only_has_no_energy_or_power():
    exc = error(
        '[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"A","bver":5,'
        '"n":"voltage","u":"V","v":120.1},{"n":"current","t":-5,"v":1.2},'
        '{"n":"current","t":-4,"v":1.3},{"n":"current","v":1.7}]'
    )
    assert exc.reason == "no_value"
    assert "no record with an energy (Wh, kWh, J) or power (W" in str(exc)
    assert "units: A, V" in str(exc)


def test_rfc_5_1_2_shape_with_power_base_unit_and_times_relative_to_bt():
    # The §5.1.2 pack with the base unit "A" replaced by "W": bt is absolute, t offsets it.
    readings = decode(
        '[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"W","bver":5,'
        '"n":"voltage","u":"V","v":120.1},{"n":"power","t":-5,"v":1.2},'
        '{"n":"power","t":-4,"v":1.3},{"n":"power","t":-1,"v":1.6},{"n":"power","v":1.7}]'
    )
    assert readings == [
        Reading(METER, at(BT - 5), None, 1.2),
        Reading(METER, at(BT - 4), None, 1.3),
        Reading(METER, at(BT - 1), None, 1.6),
        Reading(METER, at(BT), None, 1.7),
    ]
    assert all(r.ts_utc.tzinfo is UTC for r in readings)


def test_relative_and_missing_times_count_from_received_utc():
    readings = decode('[{"bu":"W","v":10,"t":-60},{"v":20},{"bt":-30,"v":40},{"bt":0,"t":5,"v":7}]')
    assert readings == [
        Reading(None, NOW - timedelta(seconds=60), None, 10.0),
        Reading(None, NOW, None, 20.0),
        Reading(None, NOW - timedelta(seconds=30), None, 40.0),
        Reading(None, NOW + timedelta(seconds=5), None, 7.0),
    ]


def test_time_zero_and_missing_time_are_the_same_instant():
    exc = error('[{"bu":"W","v":20},{"v":30,"t":0}]')
    assert exc.reason == "ambiguous"
    assert "record[1]" in str(exc) and "record[0] already gave one" in str(exc)


@pytest.mark.parametrize(
    ("unit", "value", "kwh"),
    [("Wh", 1234567.0, 1234.567), ("kWh", 1234.567, 1234.567), ("J", 7.2e6, 2.0)],
)
def test_energy_units_convert_to_kwh(unit, value, kwh):
    [reading] = decode(f'[{{"bn":"m1/","n":"energy","u":"{unit}","v":{value},"t":1.7e9}}]')
    assert reading == Reading("m1", at(1.7e9), pytest.approx(kwh, rel=1e-12), None)


@pytest.mark.parametrize(("unit", "value", "watts"), [("W", 2500.5, 2500.5), ("kW", 2.5, 2500.0)])
def test_power_units_convert_to_watts(unit, value, watts):
    [reading] = decode(f'[{{"u":"{unit}","v":{value}}}]')
    assert reading == Reading(None, NOW, None, pytest.approx(watts))


def test_energy_and_power_at_same_time_and_meter_merge_and_voltage_is_ignored():
    readings = decode(
        '[{"bn":"soderhamn-main/","bt":1700000000,"n":"energy","u":"kWh","v":5123.4},'
        '{"n":"power","u":"W","v":812},{"n":"voltage","u":"V","v":231.2},'
        '{"n":"current","u":"A","v":3.5},{"n":"temp","u":"Cel","v":21.5},'
        '{"n":"rh","u":"%RH","v":40},{"n":"status","vs":"ok"},{"n":"relay","vb":true},'
        '{"n":"energy","u":"kWh","t":60,"v":5123.5}]'
    )
    assert readings == [
        Reading("soderhamn-main", at(1_700_000_000), 5123.4, 812.0),
        Reading("soderhamn-main", at(1_700_000_060), 5123.5, None),
    ]


def test_base_value_is_added_and_base_fields_persist_until_redefined():
    readings = decode(
        '[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1.7e9,"bu":"Wh","bv":1000000,"v":500},'
        '{"t":60,"v":1500},'
        '{"bn":"other:","bv":0,"t":120,"v":2000},'
        '{"bu":"W","t":120,"v":300}]'
    )
    assert readings == [
        Reading("urn:dev:ow:10e2073a01080063", at(1.7e9), 1000.5, None),
        Reading("urn:dev:ow:10e2073a01080063", at(1.7e9 + 60), 1001.5, None),
        Reading("other", at(1.7e9 + 120), 2.0, 300.0),
    ]


def test_record_unit_overrides_base_unit_and_bs_is_ignored():
    [reading] = decode('[{"bu":"V","bs":12,"n":"e","u":"Wh","v":2000,"s":5}]')
    assert reading == Reading(None, NOW, 2.0, None)


def test_different_meters_at_same_time_stay_apart():
    readings = decode('[{"bn":"a:","u":"W","v":1},{"bn":"b:","u":"W","v":2}]')
    assert readings == [Reading("a", NOW, None, 1.0), Reading("b", NOW, None, 2.0)]


@pytest.mark.parametrize(
    ("payload", "reason", "where"),
    [
        (b"not json", "undecodable", "not valid JSON"),
        (b'{"bu":"W","v":1}', "undecodable", "expected an array of records, got dict"),
        (b"[]", "empty", "empty SenML array"),
        (b'[{"u":"W","v":1}, 3]', "undecodable", "record[1]: expected an object"),
        (b'[{"u":"W","v":1},{"u":"W","t":1,"v":2},{"v":"12"}]', "non_numeric", "record[2].v"),
        (b'[{"u":"W","v":true}]', "non_numeric", "record[0].v"),
        (b'[{"u":"W","bv":"x","v":1}]', "non_numeric", "record[0].bv"),
        (b'[{"u":"W","v":1e400}]', "non_finite", "number out of range"),
        (b'[{"u":"W","v":1},{"u":"W","bv":1e308,"v":1e308}]', "non_finite", "record[1].v"),
        (b'[{"u":"kW","v":1e306}]', "non_finite", "record[0].v"),
        (b'[{"u":"W","v":1,"t":"now"}]', "bad_timestamp", "record[0].t"),
        (b'[{"u":"W","v":1,"t":-1e15}]', "bad_timestamp", "record[0].t"),
        (b'[{"u":"W","v":1},{"bver":11,"u":"W","v":1}]', "unsupported_version", "record[1].bver"),
        (b'[{"bver":"10","u":"W","v":1}]', "undecodable", "record[0].bver"),
        (b'[{"u":"W","v":1,"foo_":2}]', "unsupported", "record[0].foo_"),
        (b'[{"u":5,"v":1}]', "undecodable", "record[0].u"),
        (b'[{"n":"e","u":"Wh","v":1},{"n":"f","u":"Wh","v":2}]', "ambiguous", "record[1]: 'f'"),
        (b'[{"n":"s","vs":"x"},{"u":"Cel","v":2}]', "no_value", "units: Cel"),
    ],
)
def test_errors_name_reason_and_record(payload, reason, where):
    exc = error(payload)
    assert exc.reason == reason
    assert where in str(exc)


def test_version_ten_and_below_is_accepted():
    assert decode('[{"bver":10,"u":"W","v":1}]') == [Reading(None, NOW, None, 1.0)]
