"""AWTRIX 3 custom-app payloads, published to a real Mosquitto and received by a subscriber."""

from __future__ import annotations

import queue

import orjson
import paho.mqtt.client as mqtt
import pytest

from display.awtrix import awtrix_payload, awtrix_text
from display.content import DisplayState
from display.publish import PublishError, publish_awtrix
from tests.display.test_matrix_frame import BEHIND, SAVING
from tests.services import free_port

DOCUMENTED = {"text", "icon", "color", "progress", "bar", "duration", "lifetime", "lifetimeMode"}


def test_payload_fields():
    state = DisplayState(**{**SAVING.__dict__, "recent_kw": tuple(float(k) for k in range(20))})
    payload = awtrix_payload(state, "sv", duration_s=8, lifetime_s=600)
    assert set(payload) <= DOCUMENTED
    assert payload["text"] == "8,0 kW  Idag 5,3%  Sparat 20,0%  #1 av 3"
    assert payload["color"] == "#00FF40"
    assert (payload["progress"], payload["duration"], payload["lifetime"]) == (100, 8, 600)
    assert payload["lifetimeMode"] == 1
    assert payload["bar"] == [k * 10 for k in range(4, 20)]  # the last 16 hours, in 0.1 kW
    with_icon = awtrix_payload(state, "en", icon="12345")
    assert with_icon["icon"] == "12345" and len(with_icon["bar"]) == 11  # 11 bars beside an icon


def test_payload_below_target_stale_and_unknown():
    assert awtrix_payload(BEHIND, "en")["color"] == "#FFA000"
    assert awtrix_payload(BEHIND, "en")["progress"] == 50
    stale = awtrix_payload(DisplayState("x", 3.0, stale=True), "en", ascii=True)
    assert stale["color"] == "#FF0000" and "progress" not in stale and "bar" not in stale
    assert stale["text"].startswith("3.0 kW!")
    assert awtrix_text(DisplayState("x"), "sv") == "– kW  Idag –  Sparat –"


@pytest.fixture
def subscriber(mosquitto):
    received: queue.Queue = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: received.put(msg)
    client.on_subscribe = lambda *a: subscribed.put(True)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    client.subscribe("awtrix_test/custom/#", qos=1)
    subscribed.get(timeout=5)
    yield received
    client.disconnect()
    client.loop_stop()


def test_published_payload_arrives_on_mosquitto(mosquitto, subscriber):
    payload = awtrix_payload(SAVING, "sv", icon="energy", lifetime_s=120)
    publish_awtrix(mosquitto.url, "awtrix_test", "wattleague", payload)
    msg = subscriber.get(timeout=5)
    assert msg.topic == "awtrix_test/custom/wattleague" and msg.qos == 1
    got = orjson.loads(msg.payload)
    assert got == payload
    assert got["lifetimeMode"] == 1 and got["lifetime"] == 120 and got["icon"] == "energy"
    assert set(got) <= DOCUMENTED


def test_unreachable_broker_is_an_error_that_names_it():
    port = free_port()
    with pytest.raises(PublishError, match=f"127.0.0.1:{port}"):
        publish_awtrix(f"mqtt://127.0.0.1:{port}", "p", "a", {}, timeout_s=2)
    with pytest.raises(PublishError, match="mqtt://"):
        publish_awtrix("http://x", "p", "a", {})
