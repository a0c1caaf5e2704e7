"""/healthz and /metrics of `serve`: store and broker connectivity, Prometheus text."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.operations import BROKER_PROBE
from ingest.broker_probe import BrokerProbe
from ingest.mqtt_url import parse_mqtt_url
from ingest.store.base import Message, Rejected
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, seed
from tests.services import RunningApp, wait_until

LITEN = (("competition", "liten"),)


def samples(text: str) -> dict[str, dict[tuple, float]]:
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def seeded_store(tmp_path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "store.db")
    seed(store)  # messages "received" at Unix time 0: every meter is silent at NOW
    return store


def test_metrics_parse_and_follow_the_store(tmp_path):
    store = seeded_store(tmp_path)
    app = create_app([competition()], store, clock=NOW.timestamp, stream_interval_s=0.05)
    with TestClient(app) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        first = samples(response.text)
        assert first["wattleague_store_up"][()] == 1.0
        assert first["wattleague_sse_clients"][()] == 0.0
        assert first["wattleague_leaderboard_age_seconds"][LITEN] == 0.0  # as_of is NOW
        assert first["wattleague_meters_silent"][LITEN] == 3.0
        assert "wattleague_broker_connected" not in first  # no probe: unknown, not 0
        assert "wattleague_quarantine_messages" not in first
        reject = Rejected("unknown_topic", "test", "x/y", b"{}", 0)
        store.write([Message("x/y", 0, rejected=[reject, reject])])
        after = samples(client.get("/metrics").text)
        assert after["wattleague_quarantine_messages"][(("reason", "unknown_topic"),)] == 2.0
    store.close()


def test_metrics_count_sse_clients(tmp_path):
    store = seeded_store(tmp_path)
    app = create_app([competition()], store, clock=NOW.timestamp, stream_interval_s=0.05)
    with (
        RunningApp(app) as running,
        httpx.Client(base_url=running.url, timeout=10) as http,
        http.stream("GET", "/api/competitions/liten/stream") as stream,
    ):
        lines = stream.iter_lines()
        while not next(lines).startswith("data:"):  # the first event: the client is counted
            pass
        metrics = samples(http.get("/metrics").text)
        assert metrics["wattleague_sse_clients"][()] == 1.0
        assert http.get("/healthz").json()["sse_clients"] == 1
    store.close()


def test_healthz_reports_broker_connectivity(tmp_path, deployed_broker, broker_files):
    store = seeded_store(tmp_path)
    password = broker_files[1]["wattleague-monitor"]
    good = BrokerProbe(
        parse_mqtt_url(f"mqtt://wattleague-monitor:{password}@127.0.0.1:{deployed_broker.port}")
    )
    bad = BrokerProbe(
        parse_mqtt_url(f"mqtt://wattleague-monitor:wrong@127.0.0.1:{deployed_broker.port}")
    )
    for probe, expected in ((good, True), (bad, False)):
        app = create_app([competition()], store, clock=NOW.timestamp)
        app.state.ctx.extras[BROKER_PROBE] = probe
        probe.start()
        try:
            with TestClient(app) as client:
                if expected:
                    wait_until(lambda c=client: c.get("/healthz").json()["broker"]["connected"])
                else:
                    wait_until(lambda p=probe: "refused" in (p.state()["error"] or ""))
                body = client.get("/healthz")
                metrics = samples(client.get("/metrics").text)
        finally:
            probe.stop()
        assert body.status_code == 200  # the API still serves leaderboards without a broker
        health = body.json()
        assert health["store"] is True
        assert health["broker"]["connected"] is expected
        assert health["status"] == ("ok" if expected else "degraded")
        assert metrics["wattleague_broker_connected"][()] == (1.0 if expected else 0.0)
    assert "Not authorized" in bad.state()["error"] or "Bad user" in bad.state()["error"]
    store.close()


def test_healthz_is_503_when_the_store_fails(tmp_path):
    store = seeded_store(tmp_path)
    app = create_app([competition()], store, clock=NOW.timestamp)
    with TestClient(app) as client:
        store.close()  # every later query raises "Cannot operate on a closed database"
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["store"] is False
        assert response.json()["store_error"] == "error"  # a code, not the exception's text
        assert "closed database" not in response.text
        assert samples(client.get("/metrics").text)["wattleague_store_up"][()] == 0.0


def test_healthz_is_503_when_influxdb_goes_away(tmp_path):
    # the InfluxDB store keeps serving its last scores while InfluxDB is away, but health
    # must say the store does not answer: that is what a load balancer and an alert look at
    from ingest.store import open_store
    from tests.influx import Influxd

    influxd = Influxd(tmp_path / "influxd")
    influxd.start()
    try:
        store = open_store(influxd.url("health"))
        app = create_app([competition()], store, clock=NOW.timestamp)
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            influxd.stop()
            response = client.get("/healthz")
            metrics = samples(client.get("/metrics").text)
    finally:
        influxd.stop()
    assert response.status_code == 503, response.json()
    assert response.json()["store"] is False
    assert response.json()["store_error"] == "unreachable"
    assert "InfluxDB answers" in response.json()["store_hint"]
    assert metrics["wattleague_store_up"][()] == 0.0


def test_healthz_is_503_when_the_sqlite_file_is_gone_or_replaced(tmp_path):
    store = seeded_store(tmp_path)
    path = tmp_path / "store.db"
    app = create_app([competition()], store, clock=NOW.timestamp)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        path.rename(tmp_path / "moved.db")  # the open connection still answers
        gone = client.get("/healthz")
        SQLiteStore(path).close()  # a new, different file at the same path
        replaced = client.get("/healthz")
    store.close()
    assert gone.status_code == 503 and gone.json()["store_error"] == "missing"
    assert replaced.status_code == 503 and replaced.json()["store_error"] == "missing"
    assert "wattleague deploy restore" in replaced.json()["store_hint"]
    assert str(tmp_path) not in gone.text + replaced.text
