"""The broker user `wattleague deploy mosquitto-acl` makes for Home Assistant discovery: with it
`serve` publishes every site's configs, states and availability through the shipped Mosquitto
config, and it can publish nothing ingest reads (no forged meter readings)."""

from __future__ import annotations

import csv
import time

from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.home_assistant_discovery import HomeAssistantLink
from ingest.mqtt_url import parse_mqtt_url
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.deploy.broker import Client, DeployedMosquitto
from tests.fixtures import COMPETITION_TOML, NOW, seed
from tests.services import wait_until
from wattleague.broker_users import HOME_ASSISTANT_USER, INGEST_USER
from wattleague.cli import main

TOML = COMPETITION_TOML + '\n[home_assistant]\ndiscovery_prefix = "ha/test"\n'


def test_serve_publishes_discovery_with_its_own_user_and_nothing_else(tmp_path, test_ca):
    config = tmp_path / "liten.toml"
    config.write_text(TOML)
    out = tmp_path / "broker-files"
    result = CliRunner().invoke(
        main, ["deploy", "mosquitto-acl", "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with open(out / "credentials.csv", newline="") as f:
        passwords = {row["username"]: row["password"] for row in csv.DictReader(f)}
    acl = (out / "acl").read_text() if (out / "acl").exists() else ""
    assert HOME_ASSISTANT_USER in passwords
    broker = DeployedMosquitto(tmp_path / "mosquitto", out, test_ca)
    broker.start()
    store = SQLiteStore(tmp_path / "store.db")
    seed(store)
    try:
        watcher = Client(broker.port, INGEST_USER, passwords[INGEST_USER])
        assert watcher.subscribe("wattleague/#") == [1]  # what ingest reads
        ha = HOME_ASSISTANT_USER
        url = f"mqtt://{ha}:{passwords[ha]}@127.0.0.1:{broker.port}"
        link = HomeAssistantLink(parse_mqtt_url(url), None)
        comp = parse_competition(TOML, "liten.toml")
        app = create_app([comp], store, clock=NOW.timestamp, home_assistant=link)
        with TestClient(app):
            reader = Client(broker.port, ha, passwords[ha])
            reader.subscribe("ha/test/sensor/wattleague_liten/#", "wattleague-ha/liten/#")
            sites = {s.id for s in comp.sites}
            wait_until(
                lambda: {t.split("/")[-2].split("_", 2)[-1] for t, _ in reader.received
                         if t.endswith("/config")} >= sites,
                timeout_s=20,
            )  # fmt: skip
            topics = {t for t, _ in reader.received}
            assert "wattleague-ha/liten/availability" in topics
            assert any(t.endswith("/state") for t in topics)
            # the same user cannot forge a meter reading: the broker drops it
            reader.publish("wattleague/liten/alfa/alfa-main", b'{"ts": 1, "energy_kwh": 1}')
            time.sleep(1.0)
            reader.close()
        assert not [t for t, _ in watcher.received if t.startswith("wattleague/liten/alfa")]
        watcher.close()
        assert acl == "" or f"user {HOME_ASSISTANT_USER}" in acl
    finally:
        store.close()
        broker.stop()
