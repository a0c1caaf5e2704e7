"""Body-size and per-client rate limits: 413 and 429 JSON errors, for every client by default."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.request_limits import RequestLimits
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, seed
from tests.services import RunningApp

TOKEN = "limits-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "limits.db")
    seed(s)
    yield s
    s.close()


def _app(store, limits: RequestLimits):
    tokens = TokenSet({"anna": hash_token(TOKEN)})
    return create_app(
        [competition()], store, clock=NOW.timestamp, tokens=tokens, request_limits=limits
    )


def _error(r, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == code
    return r.json()["error"]["message"]


def test_body_over_the_limit_is_413(store):
    limits = RequestLimits(max_body_bytes=1000, exempt=())
    with TestClient(_app(store, limits)) as client:
        big = b"[" + b" " * 2000 + b"]"
        message = _error(client.post("/api/readings", content=big, headers=AUTH), 413, "too_large")
        assert "1000 bytes" in message
        # a chunked body has no length: counted as it arrives
        chunks = (b" " * 300 for _ in range(5))
        r = client.post("/api/readings", content=chunks, headers=AUTH)
        _error(r, 413, "too_large")
        # small bodies pass, chunked or not
        ok = b'[{"meter": "alfa-main", "ts": 1299538800, "power_w": 7000}]'
        assert client.post("/api/readings", content=ok, headers=AUTH).status_code == 200
        r = client.post("/api/readings", content=iter([ok[:20], ok[20:]]), headers=AUTH)
        assert r.status_code == 200, r.text


def test_reads_and_writes_have_their_own_rates(store):
    limits = RequestLimits(
        read_per_s=0.01, read_burst=3, write_per_min=0.6, write_burst=2, exempt=()
    )
    with TestClient(_app(store, limits)) as client:
        for _ in range(3):
            assert client.get("/api/competitions/liten/leaderboard").status_code == 200
        r = client.get("/api/competitions/liten/leaderboard")
        message = _error(r, 429, "too_many_requests")
        assert "reads" in message
        assert int(r.headers["retry-after"]) >= 1
        # writes are counted apart (and strictly): two pass, the third is refused
        body = {"ts": "2011-03-05T18:00:00+01:00", "text": "Släckte i förrådet"}
        url = "/api/competitions/liten/sites/alfa/annotations"
        assert client.post(url, json=body, headers=AUTH).status_code == 201
        assert client.post(url, json=body, headers=AUTH).status_code == 201
        r = client.post(url, json=body, headers=AUTH)
        assert "writes" in _error(r, 429, "too_many_requests")
        assert int(r.headers["retry-after"]) >= 1
        assert len(store.organiser.list_annotations("liten")) == 2


def test_loopback_is_limited_by_default_an_exempt_address_is_not_and_sse_passes(store):
    limits = RequestLimits(read_per_s=0.01, read_burst=2)  # default: no address exempt
    with RunningApp(_app(store, limits)) as running, httpx.Client(base_url=running.url) as http:
        codes = [
            http.get("/api/displays/alfa-lobby/frame?format=txt").status_code for _ in range(4)
        ]
        assert codes == [200, 200, 429, 429]
    exempt = RequestLimits(read_per_s=0.01, read_burst=2, exempt=("127.0.0.1",))
    with RunningApp(_app(store, exempt)) as running, httpx.Client(base_url=running.url) as http:
        for _ in range(20):
            assert http.get("/api/displays/alfa-lobby/frame?format=txt").status_code == 200
        with http.stream("GET", "/api/competitions/liten/stream", timeout=10) as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    assert line == "event: leaderboard"
                    break


def test_limits_from_the_environment():
    limits = RequestLimits.from_env(
        {
            "WATTLEAGUE_MAX_BODY_BYTES": "2048",
            "WATTLEAGUE_RATE_READ_PER_S": "5",
            "WATTLEAGUE_RATE_WRITE_PER_MIN": "0",
            "WATTLEAGUE_RATE_EXEMPT": "",
        }
    )
    assert limits.max_body_bytes == 2048 and limits.read_per_s == 5.0
    assert limits.write_per_min == 0.0 and limits.exempt == ()
    assert RequestLimits.from_env({}) == RequestLimits()
    with pytest.raises(ValueError, match="WATTLEAGUE_RATE_READ_BURST='lots'"):
        RequestLimits.from_env({"WATTLEAGUE_RATE_READ_BURST": "lots"})
    with pytest.raises(ValueError, match="WATTLEAGUE_RATE_WRITE_PER_MIN"):
        RequestLimits.from_env({"WATTLEAGUE_RATE_WRITE_PER_MIN": "-1"})
