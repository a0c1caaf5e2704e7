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
    apps = awtrix_payload(state, "sv", duration_s=8, lifetime_s=600)
    figures, top, chart = apps  # three custom apps: <app>0, <app>1, <app>2 on the clock
    assert all(set(app) <= DOCUMENTED for app in apps)
    assert figures["text"] == "8,0 kW  Idag 5,3%  Sparat 20,0%  #1 av 3"
    assert top["text"] == "Topp 3: 1.Älvdalens 20,0%  2.Piteå 10,0%  3.Mora 5,0%"
    assert all(app["color"] == "#00FF40" and app["lifetimeMode"] == 1 for app in apps)
    assert (figures["progress"], figures["duration"], figures["lifetime"]) == (100, 8, 600)
    assert chart["bar"] == [k * 10 for k in range(4, 20)]  # the last 16 hours, in 0.1 kW
    with_icon = awtrix_payload(state, "en", icon="12345")
    assert all(app["icon"] == "12345" for app in with_icon)
    assert len(with_icon[2]["bar"]) == 11  # 11 bars beside an icon


def test_the_bar_chart_never_shares_an_app_with_text():
    # the firmware draws a bar chart over the whole panel: text beside it would be hidden
    state = DisplayState(**{**SAVING.__dict__, "recent_kw": (1.0, 2.0)})
    for apps in (awtrix_payload(state, "sv"), awtrix_payload(SAVING, "en")):
        assert len(apps) == 3  # always three, so no app is left over on the clock
        assert all(not ("bar" in app and "text" in app) for app in apps)
        assert "progress" not in apps[2]  # the chart is not drawn over by a progress bar
    assert awtrix_payload(SAVING, "en")[2]["text"] == "kW: no data"


def test_lifetime_outlasts_the_update_interval():
    # a display rotating every 20 min must not be framed red between two updates
    apps = awtrix_payload(SAVING, "sv", duration_s=10, lifetime_s=900, update_s=1200)
    assert all(app["lifetime"] == 3600 for app in apps)
    assert awtrix_payload(SAVING, "sv", lifetime_s=900, update_s=10)[0]["lifetime"] == 900


def test_payload_below_target_stale_and_unknown():
    assert awtrix_payload(BEHIND, "en")[0]["color"] == "#FFA000"
    assert awtrix_payload(BEHIND, "en")[0]["progress"] == 50
    stale = awtrix_payload(DisplayState("x", 3.0, stale=True), "en", ascii=True)
    assert all(app["color"] == "#FF0000" for app in stale)
    assert "progress" not in stale[0] and all("bar" not in app for app in stale)
    assert stale[0]["text"].startswith("3.0 kW!")
    assert awtrix_text(DisplayState("x"), "sv") == "– kW  Idag –  Sparat –"
    ascii_top = awtrix_payload(SAVING, "sv", ascii=True)[1]["text"]
    assert ascii_top == "Topp 3: 1.Alvdalens 20,0%  2.Pitea 10,0%  3.Mora 5,0%"


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
    assert got == payload and len(got) == 3
    for app in got:
        assert app["lifetimeMode"] == 1 and app["lifetime"] == 120 and app["icon"] == "energy"
        assert set(app) <= DOCUMENTED


def test_unreachable_broker_is_an_error_that_names_it():
    port = free_port()
    with pytest.raises(PublishError, match=f"127.0.0.1:{port}"):
        publish_awtrix(f"mqtt://127.0.0.1:{port}", "p", "a", {}, timeout_s=2)
    with pytest.raises(PublishError, match="mqtt://"):
        publish_awtrix("http://x", "p", "a", {})
