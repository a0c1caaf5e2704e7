"""Decoding and validation of one message: stored or quarantined, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.routing import Routing
from ingest.validation import Limits, process_message
from scoring.competition_file import parse_competition

COMP = parse_competition("""
[competition]
id = "c"
name = "C"
start = 2011-03-01
end = 2011-05-31

[[site]]
id = "s"
municipality = "S kommun"
name = "S kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "s-main"
  max_power_w = 50000
  [[site.meter]]
  id = "s-senml"
  topic = "senml/s"
  format = "senml"
""")
ROUTING = Routing.from_competitions([COMP])
NOW = datetime(2011, 3, 2, 12, 0, tzinfo=UTC)
TOPIC = "wattleague/c/s/s-main"


def _process(payload, topic=TOPIC, limits=Limits()):
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return process_message(topic, data, NOW, ROUTING, limits)


def test_valid_reading_is_stored_in_utc_milliseconds():
    msg = _process({"ts": "2011-03-02T12:00:00+01:00", "energy_kwh": 10.5, "power_w": 1200})
    assert msg.rejected == []
    (r,) = msg.readings
    assert (r.meter_id, r.energy_kwh, r.power_w) == ("s-main", 10.5, 1200.0)
    assert r.ts_ms == int(datetime(2011, 3, 2, 11, 0, tzinfo=UTC).timestamp() * 1000)


def test_unix_seconds_and_lists_are_accepted():
    msg = _process([{"ts": 1299067200, "power_w": 5}, {"ts": 1299067260.5, "power_w": 6}])
    assert [r.ts_ms for r in msg.readings] == [1299067200000, 1299067260500]


@pytest.mark.parametrize(
    ("payload", "reason", "says"),
    [
        (b"\x00\xff garbage", "bad_encoding", "NUL byte at offset 0"),
        (b"\xff garbage", "bad_encoding", "not valid UTF-8"),
        (b"garbage", "undecodable", "not valid JSON"),
        ({"ts": 1299067200}, "no_value", "energy_kwh"),
        ({"energy_kwh": 5}, "missing_timestamp", "'ts'"),
        ({"ts": "yesterday", "power_w": 5}, "bad_timestamp", "'yesterday'"),
        ({"ts": "2011-03-02T12:00:00", "power_w": 5}, "naive_timestamp", "no UTC offset"),
        ({"ts": 1299067200, "power_w": "5 W"}, "non_numeric", "power_w"),
        ({"ts": 1299067200, "power_w": -3}, "negative_value", "power_w = -3"),
        ({"ts": 1299067200, "power_w": 60000}, "power_above_max", "max_power_w = 50000"),
        ({"ts": 1299067200 + 86400, "power_w": 5}, "future_timestamp", "after the receive time"),
        ({"ts": 1199067200, "power_w": 5}, "too_old", "days before"),
        ({"ts": 1299067200, "power_w": 5, "meter": "other"}, "meter_mismatch", "'other'"),
        ([], "empty", "empty list"),
    ],
)
def test_bad_input_is_quarantined_with_its_reason(payload, reason, says):
    msg = _process(payload)
    assert msg.readings == []
    (q,) = msg.rejected
    assert q.reason == reason and says in q.detail
    assert q.topic == TOPIC and q.payload == (
        payload if isinstance(payload, bytes) else orjson.dumps(payload)
    )


def test_huge_json_number_is_rejected_not_stored_as_infinity():
    msg = _process(b'{"ts": 1299067200, "power_w": 1e999}')
    assert msg.readings == [] and msg.rejected[0].reason in ("undecodable", "non_finite")


def test_one_bad_reading_does_not_take_its_neighbours_down():
    msg = _process(
        [
            {"ts": 1299067200, "power_w": 5},
            {"ts": 1299067260, "power_w": -1},
            {"ts": 1299067320, "power_w": 7},
        ]
    )
    assert [r.power_w for r in msg.readings] == [5.0, 7.0]
    (q,) = msg.rejected
    assert q.reason == "negative_value" and q.detail.startswith("reading[1]")


def test_unknown_topic_is_quarantined_unless_the_payload_names_a_known_meter():
    unknown = _process({"ts": 1299067200, "power_w": 5}, topic="wattleague/c/x/y")
    assert unknown.rejected[0].reason == "unknown_topic"
    named = _process({"ts": 1299067200, "power_w": 5, "meter": "s-main"}, topic="wattleague/c/gw")
    assert [r.meter_id for r in named.readings] == ["s-main"]
    stranger = _process({"ts": 1299067200, "power_w": 5, "meter": "zz"}, topic="wattleague/c/gw")
    assert stranger.rejected[0].reason == "unknown_meter"


def test_senml_topic_uses_the_senml_decoder():
    pack = [
        {"bn": "s-senml:", "bt": 1299067200, "bu": "Wh", "n": "energy", "v": 1500},
        {"n": "power", "u": "W", "v": 800},
    ]
    msg = _process(pack, topic="senml/s")
    (r,) = msg.readings
    assert (r.meter_id, r.energy_kwh, r.power_w) == ("s-senml", 1.5, 800.0)


def test_routing_subscriptions_do_not_overlap():
    assert ROUTING.subscriptions() == ["wattleague/#", "senml/s"]
