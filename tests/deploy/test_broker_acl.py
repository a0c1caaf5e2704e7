"""The generated ACL and passwords on a real Mosquitto running the deploy/ configuration."""

from __future__ import annotations

import ssl

import pytest

from tests.deploy.broker import Client, connack
from tests.services import wait_until

OWN = {
    "alfa-main": "wattleague/liten/alfa/alfa-main",
    "beta-main": "wattleague/liten/beta/beta-main",
    "gamma-main": "wattleague/liten/gamma/gamma-main",
    "delta-main": "gateway/delta/senml",
    "weather-mora-smhi": "wattleague/liten/weather/mora-smhi",
}


@pytest.fixture
def ingest(deployed_broker, broker_files):
    client = Client(deployed_broker.port, "wattleague-ingest", broker_files[1]["wattleague-ingest"])
    yield client
    client.close()


def test_anonymous_and_wrong_passwords_are_refused(deployed_broker, broker_files):
    port, passwords = deployed_broker.port, broker_files[1]
    assert connack(port, "alfa-main", passwords["alfa-main"]) == "Success"
    assert connack(port, None, None) == "Not authorized"
    assert connack(port, "alfa-main", passwords["beta-main"]) in {
        "Not authorized",
        "Bad user name or password",
    }
    assert connack(port, "nobody", "x") in {"Not authorized", "Bad user name or password"}


def test_ingest_user_reads_every_meter_and_weather_topic(deployed_broker, broker_files, ingest):
    passwords = broker_files[1]
    codes = ingest.subscribe("wattleague/#", "gateway/delta/senml")
    assert all(c == 1 for c in codes), codes  # granted QoS 1, not 0x87 "not authorized"
    for user, topic in OWN.items():
        device = Client(deployed_broker.port, user, passwords[user])
        device.publish(topic, f"from {user}".encode())
        device.close()
    wait_until(lambda: len(ingest.received) == len(OWN))
    assert sorted(ingest.received) == sorted((t, f"from {u}".encode()) for u, t in OWN.items())


def test_meter_cannot_publish_to_another_meters_topic(deployed_broker, broker_files, ingest):
    ingest.subscribe("wattleague/#", "gateway/delta/senml")
    alfa = Client(deployed_broker.port, "alfa-main", broker_files[1]["alfa-main"])
    alfa.publish(OWN["beta-main"], b"forged")  # acknowledged, but the ACL drops it
    alfa.publish(OWN["delta-main"], b"forged")
    alfa.publish("wattleague/liten/alfa/alfa-main/extra", b"forged")
    alfa.publish(OWN["alfa-main"], b"genuine")  # same connection, later: arrives after them
    wait_until(lambda: (OWN["alfa-main"], b"genuine") in ingest.received)
    alfa.close()
    assert ingest.received == [(OWN["alfa-main"], b"genuine")]


def test_meter_cannot_read_and_ingest_cannot_publish(deployed_broker, broker_files, ingest):
    passwords = broker_files[1]
    # Mosquitto 2 grants the subscription but checks read access on every delivery
    beta = Client(deployed_broker.port, "beta-main", passwords["beta-main"])
    beta.subscribe("wattleague/#", OWN["alfa-main"])
    ingest.subscribe(OWN["alfa-main"])
    ingest.publish(OWN["alfa-main"], b"forged by a stolen ingest password")
    alfa = Client(deployed_broker.port, "alfa-main", passwords["alfa-main"])
    alfa.publish(OWN["alfa-main"], b"genuine")
    alfa.close()
    wait_until(lambda: ingest.received)
    # the broker queued alfa's message to every subscriber before it handled this publish,
    # so its PUBACK reaches beta after any copy of alfa's message would have
    beta.publish(OWN["beta-main"], b"own")
    beta.close()
    assert ingest.received[0] == (OWN["alfa-main"], b"genuine")
    assert beta.received == []


def test_ingest_user_may_use_shared_subscriptions(deployed_broker, broker_files, ingest):
    assert ingest.subscribe("$share/wattleague/wattleague/#") == [1]
    alfa = Client(deployed_broker.port, "alfa-main", broker_files[1]["alfa-main"])
    alfa.publish(OWN["alfa-main"], b"shared")
    alfa.close()
    wait_until(lambda: ingest.received)
    assert ingest.received == [(OWN["alfa-main"], b"shared")]


def test_display_publisher_writes_only_the_clock_app_topic(deployed_broker, broker_files):
    passwords = broker_files[1]
    clock = Client(deployed_broker.port, "display-delta-clock", passwords["display-delta-clock"])
    assert clock.subscribe("awtrix_1a2b3c/#") == [1]
    publisher = Client(deployed_broker.port, "wattleague-display", passwords["wattleague-display"])
    publisher.publish("awtrix_1a2b3c/notify", b"not allowed")
    publisher.publish("awtrix_1a2b3c/custom/wattleague", b'{"text": "-12 %"}')
    publisher.close()
    wait_until(lambda: clock.received)
    clock.close()
    assert clock.received == [("awtrix_1a2b3c/custom/wattleague", b'{"text": "-12 %"}')]


def test_tls_listener_accepts_a_client_that_trusts_the_ca(
    deployed_broker, broker_files, test_ca, ingest
):
    ingest.subscribe(OWN["gamma-main"])
    password = broker_files[1]["gamma-main"]
    tls_port = deployed_broker.tls_port
    gamma = Client(tls_port, "gamma-main", password, ca_certs=str(test_ca / "ca.crt"))
    gamma.publish(OWN["gamma-main"], b"over TLS")
    gamma.close()
    wait_until(lambda: ingest.received)
    assert ingest.received == [(OWN["gamma-main"], b"over TLS")]
    # a client that does not trust the CA must not get through (no fallback to plain)
    assert connack(tls_port, "gamma-main", password, cert_reqs=ssl.CERT_REQUIRED) is None
    assert connack(tls_port, "gamma-main", password) is None  # plain MQTT on the TLS port
