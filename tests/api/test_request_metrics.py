"""/metrics counts the requests served per method, route template and status class."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition


def _requests(client: TestClient) -> dict[tuple[str, str, str], float]:
    families = text_string_to_metric_families(client.get("/metrics").text)
    return {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for f in families
        if f.name == "wattleague_http_requests"
        for s in f.samples
        if s.name == "wattleague_http_requests_total"
    }


def test_requests_are_counted_by_route_template_and_status_class(tmp_path):
    store = SQLiteStore(tmp_path / "m.db")
    with TestClient(create_app([competition()], store, clock=NOW.timestamp)) as client:
        for _ in range(3):
            assert client.get("/api/competitions/liten/leaderboard").status_code == 200
        assert client.get("/api/competitions/nope/leaderboard").status_code == 404
        assert client.get("/no/such/path").status_code == 404
        assert client.get("/api/quarantine").status_code == 401
        counts = _requests(client)
    board = "/api/competitions/{cid}/leaderboard"
    assert counts[("GET", board, "2xx")] == 3
    assert counts[("GET", board, "4xx")] == 1  # the template, not the competition asked for
    assert counts[("GET", "unmatched", "4xx")] == 1
    assert counts[("GET", "/api/quarantine", "4xx")] == 1
    store.close()
