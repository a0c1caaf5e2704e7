"""Tests for the emonhub MQTT decoder."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.decoders.emon import decode_emon
from ingest.readings import DecodeError, Reading

RECEIVED = datetime(2024, 2, 1, 9, 30, 0, tzinfo=UTC)


def decode(payload, topic: str) -> list[Reading]:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return decode_emon(raw, topic, RECEIVED)


def error(payload, topic: str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(payload, topic)
    return info.value


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("emon/emontx3/P1", b"245.5", Reading(None, RECEIVED, None, 245.5, "1")),
        ("emon/emonpi/power2", b"1200", Reading(None, RECEIVED, None, 1200.0, "2")),
        ("emon/emonpi/POWER2", b" 1200\n", Reading(None, RECEIVED, None, 1200.0, "2")),
        ("emon/emontx4/E1", b"123456", Reading(None, RECEIVED, 123.456, None, "1")),
        ("emon/emonpi/energy3", b"5e3", Reading(None, RECEIVED, 5.0, None, "3")),
        ("emon/emontx4/p6", b"0", Reading(None, RECEIVED, None, 0.0, "6")),
        ("emon/emontx3/P1", b"-300", Reading(None, RECEIVED, None, 0.0, "1")),  # export
        ("custombase/emontx3/E2", b"42", Reading(None, RECEIVED, 0.042, None, "2")),
    ],
)
def test_one_value_per_topic(topic, payload, expected):
    assert decode(payload, topic) == [expected]


def test_json_node_message_pairs_power_and_energy_by_number():
    doc = {"P1": 120, "P2": 2300.5, "E1": 5000, "vrms": 239.2, "T1": 21.5, "time": 1706779800}
    at = datetime.fromtimestamp(1706779800, tz=UTC)
    assert decode(doc, "emon/emontx4") == [
        Reading(None, at, 5.0, 120.0, "1"),
        Reading(None, at, None, 2300.5, "2"),
    ]


def test_json_without_time_uses_the_receive_time():
    assert decode({"power1": 10, "energy1": 1000}, "emon/emonpi") == [
        Reading(None, RECEIVED, 1.0, 10.0, "1")
    ]


def test_json_channels_are_ordered_by_number():
    readings = decode({"P10": 1, "P2": 2, "E1": 3}, "emon/x")
    assert [r.channel for r in readings] == ["1", "2", "10"]


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "says"),
    [
        ("emon/emontx3/vrms", b"239.2", "no_value", "input 'vrms'"),
        ("emon/emontx3/T1", b"21.5", "no_value", "input 'T1'"),
        ("emon/emontx3/pulse", b"100", "no_value", "input 'pulse'"),
        ("emon/emontx3/P1", b"", "empty", "empty payload"),
        ("emon/emontx3/P1", b"  \n", "empty", "empty payload"),
        ("emon/emontx3/P1", b"abc", "non_numeric", "expected a number"),
        ("emon/emontx3/P1", b"nan", "non_numeric", "expected a number"),
        ("emon/emontx3/P1", b"1_000", "non_numeric", "expected a number"),
        ("emon/emontx3/P1", b"1e999", "non_finite", "not a finite number"),
        ("emon/emontx3/E1", b"-5", "negative_value", "E1"),
        ("emon/emontx3", {"vrms": 239.2, "T1": 21.5}, "no_value", "keys: T1, vrms"),
        ("emon/emontx3", {"P1": "120"}, "non_numeric", "P1"),
        ("emon/emontx3", {"E1": -1}, "negative_value", "E1"),
        ("emon/emontx3", {"P1": 1, "time": "now"}, "bad_timestamp", "time"),
        ("emon/emontx3", b'{"P1": 1e400}', "non_finite", "out of range"),
        ("emon/emontx3", b"{not json", "undecodable", "not valid JSON"),
        ("emon/emontx3", b"[1, 2]", "undecodable", "JSON object of inputs"),
    ],
)
def test_errors(topic, payload, reason, says):
    exc = error(payload, topic)
    assert exc.reason == reason and says in str(exc)
