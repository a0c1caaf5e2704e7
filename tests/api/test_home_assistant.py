"""Home Assistant MQTT discovery against a real Mosquitto: configs, states, availability, removal.

Every config is checked against Home Assistant's MQTT sensor discovery schema, written out below
as a table from Home Assistant's own schema (``homeassistant/components/mqtt/sensor.py``,
``schemas.py`` and the "MQTT Sensor" page): a key outside it, a missing required key or a value
of the wrong type fails, as do device class / unit / state class combinations Home Assistant
rejects or warns about.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import date
from urllib.parse import urlsplit

import jinja2
import orjson
import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.home_assistant_discovery import HomeAssistantLink
from ingest.mqtt_url import parse_mqtt_url
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML, NOW, seed
from tests.services import free_port, wait_until
from wattleague.demo_competition import demo_competition

PUBLIC_URL = "https://watt.example.se"

# -- Home Assistant's MQTT sensor schema, as a table --------------------------------------------


def _string(v) -> bool:
    return isinstance(v, str)


def _optional_string(v) -> bool:
    return v is None or isinstance(v, str)


def _bool(v) -> bool:
    return isinstance(v, bool)


def _publish_topic(v) -> bool:
    # valid_publish_topic: a non-empty UTF-8 string without wildcards or NUL
    return isinstance(v, str) and v != "" and not set(v) & {"+", "#", "\0"}


def _subscribe_topic(v) -> bool:
    return isinstance(v, str) and v != "" and "\0" not in v


def _one_of(*values):
    return lambda v: v in values


def _int_between(lo: int, hi: int | None = None):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= (hi or v)


def _icon(v) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[a-z0-9-]+:[a-z0-9-]+", v) is not None


def _http_url(v) -> bool:
    parts = urlsplit(v) if isinstance(v, str) else None
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)


def _string_list(v) -> bool:
    return isinstance(v, list) and v != [] and all(isinstance(x, str) for x in v)


def _check(value, table: dict, where: str) -> list[str]:
    """Problems of ``value`` against ``table`` (key → (required, check))."""
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    problems = [f"{where}: unknown key {k!r}" for k in value if k not in table]
    for key, (required, ok) in table.items():
        if key not in value:
            if required:
                problems.append(f"{where}: required key {key!r} missing")
        elif not ok(value[key]):
            problems.append(f"{where}: {key} = {value[key]!r} has the wrong type or value")
    return problems


AVAILABILITY_ENTRY = {
    "topic": (True, _subscribe_topic),
    "payload_available": (False, _string),
    "payload_not_available": (False, _string),
    "value_template": (False, _string),
}
DEVICE = {  # MQTT_ENTITY_DEVICE_INFO_SCHEMA
    "identifiers": (False, _string_list),
    "connections": (False, lambda v: isinstance(v, list)),
    "manufacturer": (False, _string),
    "model": (False, _string),
    "model_id": (False, _string),
    "name": (False, _string),
    "hw_version": (False, _string),
    "serial_number": (False, _string),
    "sw_version": (False, _string),
    "via_device": (False, _string),
    "suggested_area": (False, _string),
    "configuration_url": (False, _http_url),
}
ORIGIN = {  # MQTT_ORIGIN_INFO_SCHEMA
    "name": (True, _string),
    "sw_version": (False, _string),
    "support_url": (False, _http_url),
}
SENSOR_STATE_CLASSES = ("measurement", "measurement_angle", "total", "total_increasing")
SENSOR = {  # the sensor platform's discovery schema (MQTT_RO_SCHEMA + entity common + sensor)
    "state_topic": (True, _subscribe_topic),
    "availability": (False, lambda v: isinstance(v, list) and v != []),
    "availability_mode": (False, _one_of("all", "any", "latest")),
    "availability_template": (False, _string),
    "availability_topic": (False, _subscribe_topic),
    "payload_available": (False, _string),
    "payload_not_available": (False, _string),
    "device": (False, lambda v: isinstance(v, dict)),
    "device_class": (False, lambda v: v is None or isinstance(v, str)),
    "enabled_by_default": (False, _bool),
    "encoding": (False, _string),
    "entity_category": (False, _one_of("config", "diagnostic")),
    "entity_picture": (False, _http_url),
    "expire_after": (False, _int_between(1)),
    "force_update": (False, _bool),
    "icon": (False, _icon),
    "json_attributes_template": (False, _string),
    "json_attributes_topic": (False, _subscribe_topic),
    "last_reset_value_template": (False, _string),
    "name": (False, _optional_string),
    "default_entity_id": (False, _string),
    "object_id": (False, _string),
    "options": (False, lambda v: isinstance(v, list)),
    "origin": (False, lambda v: isinstance(v, dict)),
    "qos": (False, _int_between(0, 2)),
    "state_class": (False, lambda v: v is None or v in SENSOR_STATE_CLASSES),
    "suggested_display_precision": (False, _int_between(0)),
    "unique_id": (False, _string),
    "unit_of_measurement": (False, _optional_string),
    "value_template": (False, _string),
}
# device class → the units Home Assistant accepts and the state classes it allows
DEVICE_CLASSES = {
    "power": ({"mW", "W", "kW", "MW", "GW", "TW", "BTU/h"}, {"measurement"}),
    "energy": (
        {"mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "J", "kJ", "MJ", "GJ", "cal", "kcal", "Mcal"},
        {"total", "total_increasing"},
    ),
}


DISCOVERY_TOPIC = re.compile(r"[^/]+(/[^/]+)*/sensor/([a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config")


def sensor_problems(topic: str, config: dict) -> list[str]:
    """Every way ``config`` breaks Home Assistant's MQTT sensor discovery schema."""
    problems = _check(config, SENSOR, topic)
    if DISCOVERY_TOPIC.fullmatch(topic) is None:
        problems.append(f"{topic}: not <prefix>/sensor/[<node_id>/]<object_id>/config")
    if "availability" in config and "availability_topic" in config:
        problems.append(f"{topic}: availability and availability_topic are exclusive")
    for i, entry in enumerate(config.get("availability", [])):
        problems += _check(entry, AVAILABILITY_ENTRY, f"{topic} availability[{i}]")
    if "device" in config:
        device = config["device"]
        problems += _check(device, DEVICE, f"{topic} device")
        if not device.get("identifiers") and not device.get("connections"):
            problems.append(f"{topic}: a device needs identifiers or connections")
        if "unique_id" not in config:
            problems.append(f"{topic}: a device is only registered for an entity with unique_id")
    if "origin" in config:
        problems += _check(config["origin"], ORIGIN, f"{topic} origin")
    device_class = config.get("device_class")
    if device_class is not None:
        if device_class not in DEVICE_CLASSES:
            problems.append(f"{topic}: device class {device_class!r} not expected here")
        else:
            units, state_classes = DEVICE_CLASSES[device_class]
            if config.get("unit_of_measurement") not in units:
                problems.append(f"{topic}: {device_class} in {config.get('unit_of_measurement')}")
            if config.get("state_class") not in state_classes:
                problems.append(f"{topic}: {device_class} with {config.get('state_class')}")
    if "last_reset_value_template" in config and config.get("state_class") != "total":
        problems.append(f"{topic}: last_reset_value_template needs state_class total")
    return problems


def render(template: str, payload: bytes) -> str:
    """A value template rendered as Home Assistant renders it (``value_json`` from JSON)."""
    return jinja2.Environment().from_string(template).render(value_json=orjson.loads(payload))


# -- a broker watcher and the app ---------------------------------------------------------------


class Watcher:
    """A subscriber remembering the last payload and the history of every matching topic."""

    def __init__(self, port: int, *filters: str) -> None:
        self.last: dict[str, bytes] = {}
        self.history: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe([(f, 1) for f in filters])
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.last[msg.topic] = msg.payload
            self.history.append((msg.topic, msg.payload, msg.retain))

    def retained(self) -> dict[str, bytes]:
        """What is retained now (empty payloads cleared it)."""
        with self._lock:
            return {t: p for t, p in self.last.items() if p}

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.history if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def retained_now(port: int, *filters: str, settle_s: float = 0.5) -> dict[str, bytes]:
    """The retained messages a new subscriber gets."""
    w = Watcher(port, *filters)
    time.sleep(settle_s)
    w.close()
    return w.retained()


def competition_toml(cid: str, prefix: str, without: str | None = None, interval_s=5) -> str:
    toml = COMPETITION_TOML.replace('id = "liten"', f'id = "{cid}"')
    if without is not None:
        start = toml.index(f'[[site]]\nid = "{without}"')
        end = toml.find("[[site]]", start + 1)
        end = toml.index("[[display]]", start) if end == -1 else end
        toml = toml[:start] + toml[end:]
        toml = re.sub(rf'\[\[display\]\]\nid = "[^"]+"\nsite = "{without}"[^\[]*', "", toml)
    return toml + (
        f'\n[home_assistant]\ndiscovery_prefix = "{prefix}"\nstate_interval_s = {interval_s}\n'
    )


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """A seeded SQLite file the tests only read (seeding takes seconds)."""
    path = tmp_path_factory.mktemp("ha-store") / "ha.db"
    s = SQLiteStore(path)
    seed(s)
    s.close()
    return path


@pytest.fixture
def store(store_path):
    s = SQLiteStore(store_path)
    yield s
    s.close()


@pytest.fixture
def names():
    """A competition id and a discovery prefix no other test uses (the broker is shared)."""
    tag = uuid.uuid4().hex[:8]
    return f"ha-{tag}", f"ha{tag}"


@contextmanager
def running(toml: str, store, broker_url: str, public_url: str | None = PUBLIC_URL):
    comp = parse_competition(toml, "ha.toml")
    link = HomeAssistantLink(parse_mqtt_url(broker_url), public_url)
    app = create_app([comp], store, clock=NOW.timestamp, home_assistant=link)
    with TestClient(app):
        yield comp


def configs_of(retained: dict[str, bytes], prefix: str, cid: str) -> dict[str, dict]:
    node = f"{prefix}/sensor/wattleague_{cid}/"
    return {t: orjson.loads(p) for t, p in retained.items() if t.startswith(node)}


# -- tests ------------------------------------------------------------------------------------


def test_configs_follow_home_assistants_sensor_schema(mosquitto, store, names):
    cid, prefix = names
    with running(competition_toml(cid, prefix), store, mosquitto.url):
        watcher = Watcher(mosquitto.port, f"{prefix}/#", f"wattleague-ha/{cid}/#")
        wait_until(lambda: len(configs_of(watcher.retained(), prefix, cid)) == 15)
        configs = configs_of(watcher.retained(), prefix, cid)
        watcher.close()
    problems = [p for topic, config in configs.items() for p in sensor_problems(topic, config)]
    assert problems == []
    # one device per site, five sensors each
    devices = {tuple(c["device"]["identifiers"]) for c in configs.values()}
    assert devices == {(f"wattleague.{cid}.{s}",) for s in ("alfa", "beta", "gamma")}
    by_key = {}
    for c in configs.values():
        assert c["device"]["manufacturer"] == "Watt League"
        assert c["device"]["model"] and c["device"]["name"]
        sid = c["device"]["identifiers"][0].rsplit(".", 1)[1]
        assert c["device"]["configuration_url"] == f"{PUBLIC_URL}/sites/{cid}/{sid}"
        by_key.setdefault(c["unique_id"].rsplit(".", 1)[1], []).append(c)
    assert sorted(by_key) == [
        "power_kw",
        "rank_kwh_per_m2",
        "rank_reduction",
        "reduction_pct",
        "saved_kwh",
    ]
    for c in by_key["power_kw"]:
        assert (c["device_class"], c["state_class"], c["unit_of_measurement"]) == (
            "power",
            "measurement",
            "kW",
        )
    for c in by_key["saved_kwh"]:
        assert (c["device_class"], c["state_class"], c["unit_of_measurement"]) == (
            "energy",
            "total",
            "kWh",
        )
    for c in by_key["reduction_pct"]:
        assert c["unit_of_measurement"] == "%"
    # the site page the device links to exists
    assert {c["device"]["name"] for c in by_key["power_kw"]} == {
        "Älvdalens kommunhus",
        "Piteå kommunhus",
        "Mora kommunhus",
    }


def test_states_are_numbers_and_availability_online_then_offline(mosquitto, store, names):
    cid, prefix = names
    availability = f"wattleague-ha/{cid}/availability"
    watcher = Watcher(mosquitto.port, f"{prefix}/#", f"wattleague-ha/{cid}/#")
    with running(competition_toml(cid, prefix), store, mosquitto.url):
        wait_until(lambda: len(watcher.retained()) >= 15 + 3 + 1)
        wait_until(lambda: watcher.last.get(availability) == b"online")
        configs = configs_of(watcher.retained(), prefix, cid)
        states = {
            t: watcher.last[t]
            for t in (f"wattleague-ha/{cid}/{s}/state" for s in ("alfa", "beta", "gamma"))
        }
    wait_until(lambda: watcher.last.get(availability) == b"offline")
    watcher.close()
    assert watcher.payloads(availability)[-2:] == [b"online", b"offline"]
    # 168 h: alfa saved 20 % (336 kWh) at 8 kW, beta 10 % (84 kWh), gamma 5 % (168 kWh)
    assert orjson.loads(states[f"wattleague-ha/{cid}/alfa/state"]) == {
        "power_kw": 8.0,
        "saved_kwh": 336.0,
        "reduction_pct": 20.0,
        "rank_reduction": 1,
        "rank_kwh_per_m2": 1,
    }
    assert orjson.loads(states[f"wattleague-ha/{cid}/gamma/state"])["rank_kwh_per_m2"] == 3
    for topic, config in configs.items():
        payload = states[config["state_topic"]]
        value = render(config["value_template"], payload)
        assert float(value) == pytest.approx(float(value)), (topic, value)  # a finite number
        # every availability entry says online: serve's (as retained) and the figure's
        assert render(config["availability"][1]["value_template"], payload) == "online"
        assert config["availability"][0]["topic"] == availability


def test_an_unknown_figure_is_left_out_and_its_sensor_unavailable(mosquitto, store, names):
    cid, prefix = names
    toml = competition_toml(cid, prefix).replace(
        '  [[site.meter]]\n  id = "gamma-main"', '  [[site.meter]]\n  id = "gamma-unseeded"'
    )
    watcher = Watcher(mosquitto.port, f"wattleague-ha/{cid}/#", f"{prefix}/#")
    with running(toml, store, mosquitto.url):
        topic = f"wattleague-ha/{cid}/gamma/state"
        wait_until(lambda: topic in watcher.last)
        state = watcher.last[topic]
        configs = configs_of(watcher.retained(), prefix, cid)
    watcher.close()
    assert b"NaN" not in state and b"null" not in state
    assert "power_kw" not in orjson.loads(state)  # no meter reading: no power now
    for config in configs.values():
        if config["state_topic"] == topic and config["unique_id"].endswith(".power_kw"):
            assert render(config["value_template"], state) == "None"  # HA: unknown
            assert render(config["availability"][1]["value_template"], state) == "offline"


def test_unique_ids_are_unique_and_stable_across_restarts(mosquitto, store, names):
    cid, prefix = names
    seen = []
    for _ in range(2):
        with running(competition_toml(cid, prefix), store, mosquitto.url):
            watcher = Watcher(mosquitto.port, f"{prefix}/#")
            wait_until(lambda w=watcher: len(configs_of(w.retained(), prefix, cid)) == 15)
            configs = configs_of(watcher.retained(), prefix, cid)
            watcher.close()
        ids = [c["unique_id"] for c in configs.values()]
        assert len(set(ids)) == len(ids) == 15
        seen.append({t: c["unique_id"] for t, c in configs.items()})
    assert seen[0] == seen[1]


def test_a_site_that_leaves_the_file_is_removed_at_the_next_start(mosquitto, store, names):
    cid, prefix = names
    with running(competition_toml(cid, prefix), store, mosquitto.url):
        wait_until(
            lambda: len(configs_of(retained_now(mosquitto.port, f"{prefix}/#"), prefix, cid)) == 15
        )
        wait_until(lambda: retained_now(mosquitto.port, f"wattleague-ha/{cid}/gamma/state"))
    watcher = Watcher(mosquitto.port, f"{prefix}/#", f"wattleague-ha/{cid}/#")
    with running(competition_toml(cid, prefix, without="gamma"), store, mosquitto.url):
        wait_until(
            lambda: sum(1 for t, p in watcher.last.items() if "gamma" in t and p == b"") == 6
        )
    watcher.close()
    left = retained_now(mosquitto.port, f"{prefix}/#", f"wattleague-ha/{cid}/#")
    assert not [t for t in left if "gamma" in t]
    assert len(configs_of(left, prefix, cid)) == 10
    assert f"wattleague-ha/{cid}/alfa/state" in left


def test_a_changed_discovery_prefix_clears_the_old_one(mosquitto, store, names):
    cid, prefix = names
    with running(competition_toml(cid, prefix), store, mosquitto.url):
        wait_until(
            lambda: len(configs_of(retained_now(mosquitto.port, f"{prefix}/#"), prefix, cid)) == 15
        )
        wait_until(lambda: retained_now(mosquitto.port, f"wattleague-ha/{cid}/published"))
    new = f"{prefix}/moved"
    with running(competition_toml(cid, new), store, mosquitto.url):
        wait_until(
            lambda: len(configs_of(retained_now(mosquitto.port, f"{new}/#"), new, cid)) == 15
        )
        wait_until(
            lambda: (
                configs_of(retained_now(mosquitto.port, f"{prefix}/sensor/#"), prefix, cid) == {}
            )
        )


def test_custom_discovery_prefix_with_levels(mosquitto, store, names):
    cid, prefix = names
    custom = f"{prefix}/site-b/ha"
    with running(competition_toml(cid, custom), store, mosquitto.url, public_url=None):
        configs = wait_until(
            lambda: (
                configs_of(retained_now(mosquitto.port, f"{custom}/#"), custom, cid)
                if len(configs_of(retained_now(mosquitto.port, f"{custom}/#"), custom, cid)) == 15
                else None
            )
        )
    assert all(t.startswith(f"{custom}/sensor/wattleague_{cid}/") for t in configs)
    assert all(sensor_problems(t, c) == [] for t, c in configs.items())
    assert all("configuration_url" not in c["device"] for c in configs.values())


def test_home_assistant_coming_online_gets_the_configs_again(mosquitto, store, names):
    cid, prefix = names
    with running(competition_toml(cid, prefix, interval_s=3600), store, mosquitto.url):
        watcher = Watcher(mosquitto.port, f"{prefix}/sensor/#", f"wattleague-ha/{cid}/+/state")
        wait_until(lambda: len(watcher.retained()) == 18)
        before = len(watcher.history)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        client.publish(f"{prefix}/status", b"online", qos=1).wait_for_publish(5)
        # the 15 configs and 3 states again, not retained (live) this time
        wait_until(lambda: len(watcher.history) >= before + 18)
        client.disconnect()
        client.loop_stop()
        watcher.close()


def test_serve_killed_leaves_offline_by_its_last_will(mosquitto, store_path, names, tmp_path):
    cid, prefix = names
    config = tmp_path / "ha.toml"
    config.write_text(competition_toml(cid, prefix), encoding="utf-8")
    availability = f"wattleague-ha/{cid}/availability"
    watcher = Watcher(mosquitto.port, availability)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wattleague",
            "serve",
            "--config",
            str(config),
            "--store",
            f"sqlite:///{store_path}",
            "--mqtt",
            mosquitto.url,
            "--port",
            str(free_port()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: watcher.last.get(availability) == b"online" or proc.poll(), 30)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_until(lambda: watcher.last.get(availability) == b"offline", 10)
    finally:
        if proc.poll() is None:
            proc.kill()
        watcher.close()


def test_serve_refuses_a_bad_public_url(tmp_path):
    from click.testing import CliRunner

    from wattleague.cli import main

    config = tmp_path / "ha.toml"
    config.write_text(competition_toml("liten", "homeassistant"), encoding="utf-8")
    result = CliRunner().invoke(
        main, ["serve", "--config", str(config), "--public-url", "watt.example.se"]
    )
    assert result.exit_code == 2
    assert "--public-url" in result.output and "https://watt.example.se" in result.output


def test_the_demo_competition_publishes_to_home_assistant():
    comp = demo_competition(date(2025, 1, 15))
    assert comp.home_assistant is not None
    assert comp.home_assistant.discovery_prefix == "homeassistant"
