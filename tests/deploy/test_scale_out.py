"""Ingest workers on one shared subscription, with the deploy/ broker, ACL and credentials;
their Prometheus metrics (``wattleague ingest --metrics-port``)."""

from __future__ import annotations

import time
import urllib.request

import orjson
from prometheus_client.parser import text_string_to_metric_families

from ingest.store.sqlite import SQLiteStore
from tests.deploy.broker import Client
from tests.services import IngestProcess, free_port, wait_until

METERS = {
    "alfa-main": "wattleague/liten/alfa/alfa-main",
    "beta-main": "wattleague/liten/beta/beta-main",
    "gamma-main": "wattleague/liten/gamma/gamma-main",
}
PER_METER = 200


def scrape(port: int) -> dict[str, dict[tuple, float]]:
    """name → {label values: sample value} of a /metrics page, parsed by prometheus_client."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def total(metrics: dict, name: str) -> float:
    return sum(metrics.get(name, {}).values())


def test_shared_subscription_splits_messages_none_lost_none_twice(
    tmp_path, deployed_broker, broker_files, deploy_competition
):
    passwords = broker_files[1]
    mqtt_url = f"mqtt://wattleague-ingest:{passwords['wattleague-ingest']}@127.0.0.1:{deployed_broker.port}"
    store_url = f"sqlite:///{tmp_path}/store.db"
    workers, ports = [], []
    for i in range(2):
        w = IngestProcess(
            deploy_competition, store_url, mqtt_url, f"scale-{i}", tmp_path / f"w{i}.log", "grp"
        )
        ports.append(free_port())
        w.args += ["--metrics-port", str(ports[-1])]
        workers.append(w.start())
    try:
        for w in workers:
            w.wait_subscribed()
        assert all(total(scrape(p), "wattleague_ingest_broker_connected") == 1 for p in ports)
        first_ts = int(time.time()) - 3 * 86400
        for meter, topic in METERS.items():
            device = Client(deployed_broker.port, meter, passwords[meter])
            for k in range(PER_METER):
                row = {"ts": first_ts + 60 * k, "energy_kwh": 100.0 + k, "power_w": 500.0}
                device.publish(topic, orjson.dumps(row))
            device.publish(topic, b"{not json")  # quarantined, and counted by reason
            device.close()
        n = PER_METER * len(METERS)
        wait_until(
            lambda: (
                sum(total(scrape(p), "wattleague_ingest_messages_total") for p in ports)
                == n + len(METERS)
            ),
            timeout_s=60,
        )
        metrics = [scrape(p) for p in ports]
        stored = [total(m, "wattleague_ingest_readings_total") for m in metrics]
        assert sum(stored) == n
        assert all(s > 0 for s in stored), f"one worker got everything: {stored}"
        assert sum(total(m, "wattleague_ingest_duplicates_total") for m in metrics) == 0
        quarantined = {}
        for m in metrics:
            for labels, value in m["wattleague_ingest_quarantined_total"].items():
                reason = dict(labels)["reason"]
                quarantined[reason] = quarantined.get(reason, 0) + value
        assert sum(total(m, "wattleague_ingest_store_write_seconds_count") for m in metrics) > 0
    finally:
        stats = [w.stop() for w in workers if w.alive()]
    assert sum(s["messages"] for s in stats) == n + len(METERS)  # each message once
    assert sum(s.get("duplicates", 0) for s in stats) == 0
    store = SQLiteStore(tmp_path / "store.db")
    assert store.count_readings() == n
    assert quarantined == store.quarantine_counts() == {"undecodable": len(METERS)}
    store.close()
