"""The deploy/ Mosquitto limits: what one client can make the broker hold, on a real broker
running deploy/mosquitto/mosquitto.conf, and their agreement with the ingest decoders' caps."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ingest.decoders import FORMATS
from tests.deploy.broker import DEPLOY_CONF, Client
from tests.services import wait_until

COMPOSE_CONF = Path(DEPLOY_CONF).parents[1] / "compose" / "mosquitto.conf"
ALFA = "wattleague/liten/alfa/alfa-main"


def _settings(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out[key] = value.strip()
    return out


@pytest.mark.parametrize("conf", [DEPLOY_CONF, COMPOSE_CONF], ids=["systemd", "compose"])
def test_limits_fit_the_decoders_and_bound_every_client(conf):
    s = _settings(Path(conf))
    largest_cap = max(f.max_payload_bytes for f in FORMATS.values())
    # room for the largest payload any format accepts, with its topic and properties
    assert int(s["max_packet_size"]) >= largest_cap + 65536
    # but not unbounded: nothing absurd reaches memory
    assert int(s["max_packet_size"]) <= 2 * largest_cap
    assert 0 < int(s["max_inflight_messages"]) <= 1000
    assert 0 < int(s["max_queued_bytes"]) <= 8 << 30
    assert int(s["max_queued_messages"]) > 0
    assert int(s["memory_limit"]) > int(s["max_queued_bytes"])
    assert re.fullmatch(r"\d+[hdwmy]", s["persistent_client_expiration"])
    assert "message_size_limit" not in s  # deprecated in Mosquitto 2: max_packet_size


def test_the_largest_payload_passes_and_an_absurd_one_is_refused(deployed_broker, broker_files):
    passwords = broker_files[1]
    ingest = Client(deployed_broker.port, "wattleague-ingest", passwords["wattleague-ingest"])
    alfa = beta = None
    try:
        ingest.subscribe("wattleague/#")
        alfa = Client(deployed_broker.port, "alfa-main", passwords["alfa-main"])
        at_cap = b"[" + b"0," * (FORMATS["json"].max_payload_bytes // 2 - 1) + b"]"
        assert len(at_cap) == FORMATS["json"].max_payload_bytes
        alfa.publish(ALFA, at_cap)
        wait_until(lambda: len(ingest.received) == 1)
        assert ingest.received[0] == (ALFA, at_cap)
        alfa.close()
        # 2 MiB: the broker refuses the packet and drops the connection of its sender (MQTT
        # 3.1.1: an MQTT 5 client learns the limit from the CONNACK and would not send it) ...
        gone = threading.Event()
        rogue = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="rogue-alfa", protocol=mqtt.MQTTv311
        )
        rogue.username_pw_set("alfa-main", passwords["alfa-main"])
        rogue.on_disconnect = lambda *a: gone.set()
        rogue.connect("127.0.0.1", deployed_broker.port)
        rogue.loop_start()
        try:
            wait_until(rogue.is_connected, timeout_s=5)
            rogue.publish(ALFA, b"x" * (2 << 20), qos=1)
            assert gone.wait(10), "the broker kept a client that sent 2 MiB"
        finally:
            rogue.loop_stop()
        # ... and the other meters go on
        beta = Client(deployed_broker.port, "beta-main", passwords["beta-main"])
        beta.publish("wattleague/liten/beta/beta-main", b"after")
        wait_until(lambda: len(ingest.received) == 2)
        assert ingest.received[1] == ("wattleague/liten/beta/beta-main", b"after")
    finally:
        for client in (ingest, alfa, beta):
            if client is not None:
                client.close()
