"""Tests for the Shelly Gen2/Gen3 RPC and status decoder."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.decoders.shelly import decode_shelly
from ingest.readings import DecodeError, Reading

RECEIVED = datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)
TS = 1700000000.12
AT_TS = datetime.fromtimestamp(TS, tz=UTC)
RPC = "shellyplus2pm-a8032ab1c2d3/events/rpc"


def notify(params: dict, method: str = "NotifyStatus", src: str = "shellyplus2pm-a8032ab1c2d3"):
    return {"src": src, "dst": f"{src}/events", "method": method, "params": params}


def decode(doc, topic: str = RPC) -> list[Reading]:
    payload = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return decode_shelly(payload, topic, RECEIVED)


def error(doc, topic: str = RPC) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(doc, topic)
    return info.value


SWITCH_0 = {
    "id": 0,
    "apower": 123.4,
    "voltage": 231.2,
    "current": 0.571,
    "aenergy": {"total": 1234.567, "by_minute": [2056.5, 2056.5, 2056.5], "minute_ts": 1699999980},
    "temperature": {"tC": 41.2, "tF": 106.2},
}


def test_plus_1pm_notify_status():
    readings = decode(notify({"ts": TS, "switch:0": SWITCH_0}))
    assert readings == [Reading(None, AT_TS, 1.234567, 123.4, "switch:0")]


def test_plus_2pm_both_channels_in_one_notification():
    switch_1 = {"id": 1, "apower": 0.0, "aenergy": {"total": 5.0, "minute_ts": 1699999980}}
    readings = decode(notify({"ts": TS, "switch:0": SWITCH_0, "switch:1": switch_1}))
    assert [(r.channel, r.energy_kwh, r.power_w) for r in readings] == [
        ("switch:0", 1.234567, 123.4),
        ("switch:1", 0.005, 0.0),
    ]


def test_notify_status_with_only_changed_keys():
    energy_only = {"id": 0, "aenergy": {"total": 1300.0, "by_minute": [0, 0, 0]}}
    assert decode(notify({"ts": TS, "switch:0": energy_only})) == [
        Reading(None, AT_TS, 1.3, None, "switch:0")
    ]
    power_only = {"id": 0, "apower": 55.5}
    assert decode(notify({"ts": TS, "switch:0": power_only})) == [
        Reading(None, AT_TS, None, 55.5, "switch:0")
    ]


def test_notification_without_ts_uses_the_receive_time():
    [r] = decode(notify({"switch:0": SWITCH_0}))
    assert r.ts_utc == RECEIVED


def test_pro_3em_pairs_em_power_with_emdata_energy():
    params = {
        "ts": TS,
        "em:0": {
            "id": 0,
            "a_act_power": 1200.1,
            "b_act_power": 800.2,
            "c_act_power": -100.0,
            "total_act_power": 1900.3,
            "total_aprt_power": 2100.0,
        },
        "emdata:0": {
            "id": 0,
            "a_total_act_energy": 1000.0,
            "total_act": 123456.7,
            "total_act_ret": 9876.5,
        },
    }
    assert decode(notify(params, src="shellypro3em-c8f09e8a1b2c")) == [
        Reading(None, AT_TS, 123.4567, 1900.3, "em:0")
    ]


def test_pro_3em_exporting_counts_as_zero_import_power():
    params = {"ts": TS, "em:0": {"id": 0, "total_act_power": -2500.0}}
    assert decode(notify(params))[0].power_w == 0.0


def test_pro_em_em1_channels_with_em1data():
    params = {
        "ts": TS,
        "em1:0": {"id": 0, "current": 2.1, "voltage": 230.1, "act_power": 480.0},
        "em1:1": {"id": 1, "act_power": -50.0},
        "em1data:0": {"id": 0, "total_act_energy": 55000.0, "total_act_ret_energy": 10.0},
    }
    assert decode(notify(params, src="shellyproem50-08f9e0e5b1c4")) == [
        Reading(None, AT_TS, 55.0, 480.0, "em1:0"),
        Reading(None, AT_TS, None, 0.0, "em1:1"),
    ]


def test_pm_mini_pm1():
    params = {"ts": TS, "pm1:0": {"id": 0, "apower": 7.5, "aenergy": {"total": 20.0}}}
    assert decode(notify(params)) == [Reading(None, AT_TS, 0.02, 7.5, "pm1:0")]


def test_notify_full_status_skips_components_without_metering():
    params = {
        "ts": TS,
        "ble": {},
        "cloud": {"connected": True},
        "input:0": {"id": 0, "state": False},
        "switch:0": SWITCH_0,
        "sys": {"mac": "A8032AB1C2D3", "unixtime": 1700000000, "uptime": 1234},
        "wifi": {"sta_ip": "192.168.1.20", "status": "got ip", "rssi": -61},
    }
    assert decode(notify(params, method="NotifyFullStatus")) == [
        Reading(None, AT_TS, 1.234567, 123.4, "switch:0")
    ]


@pytest.mark.parametrize(
    ("topic", "status", "expected"),
    [
        (
            "shellyplus1pm-a8032ab1c2d3/status/switch:0",
            SWITCH_0,
            Reading(None, RECEIVED, 1.234567, 123.4, "switch:0"),
        ),
        (
            "kommunhus/shellypro3em/status/emdata:0",
            {"id": 0, "total_act": 5000.0, "total_act_ret": 1.0},
            Reading(None, RECEIVED, 5.0, None, "em:0"),
        ),
        (
            "kommunhus/shellypro3em/status/em:0",
            {"id": 0, "total_act_power": 321.0},
            Reading(None, RECEIVED, None, 321.0, "em:0"),
        ),
        (
            "shellyproem50/status/em1data:1",
            {"id": 1, "total_act_energy": 250.0},
            Reading(None, RECEIVED, 0.25, None, "em1:1"),
        ),
        (
            "shellypmmini/status/pm1:0",
            {"id": 0, "apower": 3.0, "aenergy": {"total": 1.0}},
            Reading(None, RECEIVED, 0.001, 3.0, "pm1:0"),
        ),
    ],
)
def test_status_topic_takes_its_component_from_the_topic(topic, status, expected):
    assert decode(status, topic) == [expected]


def test_negative_switch_power_counts_as_zero():
    assert decode(notify({"switch:0": {"apower": -3.2}}))[0].power_w == 0.0


@pytest.mark.parametrize(
    ("doc", "topic", "reason", "says"),
    [
        (
            notify(
                {"ts": TS, "events": [{"component": "input:0", "event": "single_push"}]},
                method="NotifyEvent",
            ),
            RPC,
            "no_value",
            "'NotifyEvent' carries no readings",
        ),
        (
            notify({"ts": TS, "sys": {"uptime": 5}, "wifi": {"rssi": -60}}),
            RPC,
            "no_value",
            "params: sys, ts, wifi",
        ),
        (notify({"ts": TS, "switch:0": {"output": True}}), RPC, "no_value", "no energy or power"),
        ({"mac": "A8032AB1C2D3"}, "shellyplus1pm-a8/status/sys", "no_value", "status of 'sys'"),
        ({"apower": 1}, RPC, "undecodable", "no 'method'"),
        ({"apower": 1}, "shellyplus1pm-a8/status/", "undecodable", "no 'method'"),
        (notify("switch:0"), RPC, "undecodable", "'params' must be an object"),
        ([SWITCH_0], RPC, "undecodable", "expected a JSON object"),
        (b"online", RPC, "undecodable", "not valid JSON"),
        (
            b'{"method":"NotifyStatus","params":{"switch:0":{"apower":1e400}}}',
            RPC,
            "non_finite",
            "out of range",
        ),
        (notify({"switch:0": {"apower": "12 W"}}), RPC, "non_numeric", "params.switch:0.apower"),
        (notify({"switch:0": {"aenergy": 12}}), RPC, "non_numeric", "switch:0.aenergy"),
        (
            notify({"switch:0": {"aenergy": {"total": [1]}}}),
            RPC,
            "non_numeric",
            "switch:0.aenergy.total",
        ),
        (notify({"emdata:0": {"total_act": -5}}), RPC, "negative_value", "emdata:0.total_act"),
        (notify({"ts": "soon", "switch:0": SWITCH_0}), RPC, "bad_timestamp", "params.ts"),
        (notify({"ts": 1e300, "switch:0": SWITCH_0}), RPC, "bad_timestamp", "params.ts"),
    ],
)
def test_errors(doc, topic, reason, says):
    exc = error(doc, topic)
    assert exc.reason == reason and says in str(exc)
