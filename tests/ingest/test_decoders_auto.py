"""Tests for format detection (``format = "auto"``) and the decoder registry."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from ingest.decoders import DECODERS, decode
from ingest.decoders.auto import detect
from ingest.readings import DecodeError
from tests.ingest.test_decoders_dsmr import HANPORTEN_BODY, HANPORTEN_TIME
from tests.ingest.test_decoders_shelly import SWITCH_0, notify
from tests.ingest.test_decoders_tasmota import SENSOR

RECEIVED = HANPORTEN_TIME
STOCKHOLM = ZoneInfo("Europe/Stockholm")
SAMPLES = {
    "dsmr": ("han/p1", HANPORTEN_BODY + b"7945\r\n"),
    "senml": (
        "senml/s",
        orjson.dumps([{"bn": "m:", "bt": 1613583619, "n": "energy", "u": "kWh", "v": 6678.394}]),
    ),
    "tasmota": ("tele/plug/SENSOR", orjson.dumps(SENSOR)),
    "tasmota-status": ("stat/plug/STATUS10", orjson.dumps({"StatusSNS": SENSOR})),
    "shelly": ("shellyplus1pm-a8/events/rpc", orjson.dumps(notify({"switch:0": SWITCH_0}))),
    "shelly-status": ("shellyplus1pm-a8/status/switch:0", orjson.dumps(SWITCH_0)),
    "emon": ("emon/emontx3/P1", b"245.5"),
    "emon-json": ("emon/emontx3", orjson.dumps({"P1": 245.5, "E1": 100})),
    "json": ("wattleague/c/s/m", orjson.dumps({"ts": 1613583619, "energy_kwh": 1.0})),
    "json-list": ("wattleague/c/s/m", orjson.dumps([{"ts": 1613583619, "power_w": 1.0}])),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_format_is_detected_and_decoded_as_its_own_decoder_would(name):
    fmt = name.split("-")[0]
    topic, payload = SAMPLES[name]
    assert detect(payload, topic) == fmt
    auto = decode("auto", payload, topic, RECEIVED, tz=STOCKHOLM)
    assert auto == decode(fmt, payload, topic, RECEIVED, tz=STOCKHOLM)
    assert auto


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("some/topic", b"hello"),
        ("some/topic", b"245.5"),  # a bare number outside emon/
        ("some/topic", b'{"temperature": 21.5}'),
        ("some/topic", b"[]"),
        ("some/topic", b'[{"x": 1}]'),
        ("some/topic", b'{"ts": 1613583619}'),  # no value: not recognisably the project's JSON
        ("shellyplus1pm-a8/status/sys", b'{"uptime": 5}'),
        ("some/topic", b"/no end marker"),
        ("some/topic", b""),
    ],
)
def test_unrecognised_payload_is_unknown_format(topic, payload):
    with pytest.raises(DecodeError) as info:
        decode("auto", payload, topic, RECEIVED)
    assert info.value.reason == "unknown_format"
    assert "could not recognise" in str(info.value) and "set format explicitly" in str(info.value)


def test_detected_format_reports_its_own_errors():
    with pytest.raises(DecodeError) as info:
        decode("auto", HANPORTEN_BODY + b"0000\r\n", "han/p1", RECEIVED)
    assert info.value.reason == "bad_crc"
    with pytest.raises(DecodeError) as info:
        decode("auto", b'{"method": "NotifyEvent", "params": {}}', "x/events/rpc", RECEIVED)
    assert info.value.reason == "no_value"


def test_every_competition_format_has_a_decoder():
    from typing import get_args

    from scoring.competition import MeterFormat

    assert set(get_args(MeterFormat)) == set(DECODERS)


def test_unknown_format_name():
    with pytest.raises(DecodeError) as info:
        decode("modbus", b"", "t", datetime(2024, 1, 1, tzinfo=UTC))
    assert info.value.reason == "unknown_format" and "known: auto, dsmr" in str(info.value)
