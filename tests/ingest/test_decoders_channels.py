"""Multi-channel devices: meters sharing a topic by channel, and the site zone for local times."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.routing import Routing
from ingest.validation import process_message
from scoring.competition_file import ConfigError, parse_competition

HEAD = """
[competition]
id = "c"
name = "C"
timezone = "{tz}"
start = 2025-10-01
end = 2025-10-31

[[site]]
id = "s"
municipality = "S kommun"
name = "S kommunhus"
area_m2 = 1000
"""
METERS = """
  [[site.meter]]
  id = "kok"
  topic = "shellypro4pm-c8f09e/events/rpc"
  format = "shelly"
  channel = "switch:0"
  [[site.meter]]
  id = "tvatt"
  topic = "shellypro4pm-c8f09e/events/rpc"
  format = "shelly"
  channel = "switch:1"
  max_power_w = 3000
  [[site.meter]]
  id = "plug"
  topic = "tele/plug/SENSOR"
  format = "tasmota"
  [[site.meter]]
  id = "emon-all"
  topic = "emon/emontx4"
  format = "emon"
  [[site.meter]]
  id = "emon-2"
  topic = "emon/emontx4"
  format = "emon"
  channel = "2"
  [[site.meter]]
  id = "emon-p2"
  topic = "emon/emontx3/P2"
  format = "emon"
  channel = "2"
"""
SHELLY = "shellypro4pm-c8f09e/events/rpc"
NOW = datetime(2025, 10, 15, 10, 0, 5, tzinfo=UTC)
TS = datetime(2025, 10, 15, 10, 0, 0, tzinfo=UTC).timestamp()


def routing(tz: str = "Europe/Stockholm") -> Routing:
    return Routing.from_competitions([parse_competition(HEAD.format(tz=tz) + METERS)])


def process(topic: str, doc, received: datetime = NOW, tz: str = "Europe/Stockholm"):
    payload = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return process_message(topic, payload, received, routing(tz))


def switch(i: int, watts: float, wh: float) -> dict:
    return {"id": i, "apower": watts, "aenergy": {"total": wh}}


def notify(**components) -> dict:
    params = {"ts": TS, **{k.replace("_", ":"): v for k, v in components.items()}}
    return {"src": "shellypro4pm-c8f09e", "method": "NotifyStatus", "params": params}


def stored(msg) -> list[tuple[str, float | None, float | None]]:
    return [(r.meter_id, r.energy_kwh, r.power_w) for r in msg.readings]


def test_two_meters_on_one_shelly_topic_take_their_own_channel():
    msg = process(SHELLY, notify(switch_0=switch(0, 100.0, 1000.0), switch_1=switch(1, 5.0, 2.0)))
    assert stored(msg) == [("kok", 1.0, 100.0), ("tvatt", 0.002, 5.0)]
    assert msg.rejected == []


def test_a_notification_of_one_channel_goes_to_its_meter_only():
    msg = process(SHELLY, notify(switch_1=switch(1, 7.0, 3.0)))
    assert stored(msg) == [("tvatt", 0.003, 7.0)] and msg.rejected == []


def test_unmapped_channels_are_skipped_silently():
    msg = process(SHELLY, notify(switch_0=switch(0, 1.0, 1.0), switch_3=switch(3, 9.0, 9.0)))
    assert stored(msg) == [("kok", 0.001, 1.0)] and msg.rejected == []


def test_a_message_with_only_unmapped_channels_is_quarantined_as_unknown_channel():
    msg = process(SHELLY, notify(switch_2=switch(2, 1.0, 1.0), switch_3=switch(3, 2.0, 2.0)))
    assert msg.readings == []
    (q,) = msg.rejected
    assert q.reason == "unknown_channel"
    assert "'switch:2', 'switch:3'" in q.detail and "'switch:0', 'switch:1'" in q.detail


def test_limits_apply_to_the_meter_of_the_channel():
    msg = process(SHELLY, notify(switch_0=switch(0, 3500.0, 1.0), switch_1=switch(1, 3500.0, 1.0)))
    assert stored(msg) == [("kok", 0.001, 3500.0)]
    (q,) = msg.rejected
    assert q.reason == "power_above_max"
    assert q.detail.startswith("reading[1] (channel switch:1): power_w = 3500.0 exceeds")


def test_meter_without_channel_takes_every_channel_the_others_do_not():
    msg = process("emon/emontx4", {"P1": 100, "E1": 1000, "P2": 200, "E2": 2000, "P3": 300})
    assert stored(msg) == [
        ("emon-all", 1.0, 100.0),
        ("emon-2", 2.0, 200.0),
        ("emon-all", None, 300.0),
    ]


def test_bare_value_channel_matches_the_json_channel():
    # one value per topic: a meter takes one input's topic, e.g. its power
    assert stored(process("emon/emontx3/P2", b"250")) == [("emon-p2", None, 250.0)]
    msg = process("emon/emontx3/P2", b"abc")
    assert [q.reason for q in msg.rejected] == ["non_numeric"]


def test_decode_errors_on_a_shared_topic_are_quarantined_once():
    msg = process(SHELLY, {"method": "NotifyEvent", "params": {"ts": TS}})
    assert msg.readings == [] and [q.reason for q in msg.rejected] == ["no_value"]


# --- the site's time zone reaches decoders that read local time -----------------------------


@pytest.mark.parametrize(
    ("tz", "local", "expected_hour_utc"),
    [
        ("Europe/Stockholm", "2025-10-15T12:00:00", 10),
        ("Europe/Helsinki", "2025-10-15T13:00:00", 10),
        ("Europe/London", "2025-10-15T11:00:00", 10),
    ],
)
def test_tasmota_local_time_is_read_in_the_competition_zone(tz, local, expected_hour_utc):
    msg = process(
        "tele/plug/SENSOR",
        {"Time": local, "ENERGY": {"Total": 3.7, "Power": 5}},
        received=datetime(2025, 10, 15, 10, 0, 2, tzinfo=UTC),
        tz=tz,
    )
    (r,) = msg.readings
    assert r.ts_ms == int(datetime(2025, 10, 15, expected_hour_utc, tzinfo=UTC).timestamp() * 1000)


def test_routes_carry_channel_and_zone_and_subscriptions_list_a_shared_topic_once():
    routes = routing("Europe/Helsinki")
    assert [(r.meter_id, r.channel, r.tz) for r in routes.by_topic[SHELLY]] == [
        ("kok", "switch:0", "Europe/Helsinki"),
        ("tvatt", "switch:1", "Europe/Helsinki"),
    ]
    assert routes.subscriptions().count(SHELLY) == 1


# --- competition file checks --------------------------------------------------------------


def meter(mid: str, topic: str, fmt: str = "shelly", channel: str | None = None) -> str:
    text = f'  [[site.meter]]\n  id = "{mid}"\n  topic = "{topic}"\n  format = "{fmt}"\n'
    return text + (f'  channel = "{channel}"\n' if channel is not None else "")


def problems(*meters: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_competition(HEAD.format(tz="Europe/Stockholm") + "".join(meters), "c.toml")
    return [str(p) for p in info.value.problems]


def test_same_topic_and_channel_twice_is_a_duplicate():
    meters = (meter("a", "t", channel="switch:0"), meter("b", "t", channel="switch:0"))
    (problem,) = problems(*meters)
    assert "duplicate meter topic and channel 't [switch:0]'" in problem
    text = HEAD.format(tz="Europe/Stockholm") + "".join(meters)
    assert text.splitlines()[-1] == '  channel = "switch:0"'
    assert problem.startswith(f"c.toml:{len(text.splitlines())}:")  # b's channel line
    assert "[[site.meter]] #2 'b', key channel" in problem


def test_same_topic_without_channels_is_still_a_duplicate():
    (problem,) = problems(meter("a", "t"), meter("b", "t"))
    assert "duplicate meter topic 't'" in problem


def test_meters_sharing_a_topic_must_share_the_format():
    (problem,) = problems(
        meter("a", "t", "shelly", "switch:0"), meter("b", "t", "tasmota", "switch:1")
    )
    assert "meters on topic 't' must share one format ('shelly' at site.0.meter.0.format)" in (
        problem
    )


def test_empty_channel_is_rejected():
    (problem,) = problems(meter("a", "t", channel=""))
    assert "channel" in problem and "at least 1 character" in problem


def test_one_meter_per_channel_and_one_without_is_valid():
    comp = parse_competition(
        HEAD.format(tz="Europe/Stockholm")
        + meter("a", "t", channel="switch:0")
        + meter("b", "t", channel="switch:1")
        + meter("c", "t")
    )
    assert [m.channel for m in comp.sites[0].meters] == ["switch:0", "switch:1", None]
