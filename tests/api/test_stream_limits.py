"""Open leaderboard streams are limited in total and per client address: past either limit a
new stream gets a 503 in the API's error shape with ``Retry-After``; a closed stream frees its
slot. Served by a real uvicorn; the client addresses come from X-Forwarded-For through a
trusted proxy (loopback), as behind the project's reverse proxy."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from api.app import create_app
from api.auth import TokenSet
from api.proxies import server_options
from api.request_limits import RequestLimits
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, seed
from tests.services import RunningApp, wait_until

STREAM = "/api/competitions/liten/stream"


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "streams.db")
    seed(s)
    yield s
    s.close()


@pytest.fixture
def running(store):
    limits = RequestLimits(exempt=("127.0.0.1",), stream_max_clients=3, stream_max_per_client=2)
    app = create_app(
        [competition()], store, clock=NOW.timestamp, tokens=TokenSet({}), request_limits=limits
    )
    with RunningApp(app, **server_options(["127.0.0.1"])) as running:
        yield running, app.state.ctx.extras["stream_slots"]


def _open(stack: contextlib.ExitStack, client: httpx.Client, address: str) -> httpx.Response:
    """A stream from ``address`` (as its proxy names it), kept open until ``stack`` closes."""
    return stack.enter_context(client.stream("GET", STREAM, headers={"X-Forwarded-For": address}))


def _refused(r: httpx.Response) -> str:
    r.read()
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["retry-after"]) >= 1
    error = r.json()["error"]
    assert set(error) == {"code", "message"} and error["code"] == "too_many_streams"
    return error["message"]


def test_streams_are_limited_per_address_and_in_total(running):
    app, slots = running
    with httpx.Client(base_url=app.url, timeout=20) as client, contextlib.ExitStack() as stack:
        first = _open(stack, client, "198.51.100.1")
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("text/event-stream")
        assert _open(stack, client, "198.51.100.1").status_code == 200
        # the address's third stream: refused, naming the address and its limit
        message = _refused(_open(stack, client, "198.51.100.1"))
        assert "198.51.100.1" in message and "2 open streams" in message
        # another address still gets one: the server's third
        assert _open(stack, client, "198.51.100.2").status_code == 200
        assert slots.open == 3
        # the server is full: a fourth address is refused with the server's limit
        message = _refused(_open(stack, client, "198.51.100.3"))
        assert "3 open streams" in message
        assert slots.refused == 2
        # other requests are not streams: they pass; /metrics counts the refusals
        assert client.get("/api/competitions/liten/leaderboard").status_code == 200
        assert "wattleague_sse_refused_total 2.0" in client.get("/metrics").text

    # the streams closed: their slots are free again
    wait_until(lambda: slots.open == 0)
    assert slots.by_client == {}
    with httpx.Client(base_url=app.url, timeout=20) as client, contextlib.ExitStack() as stack:
        for address in ("198.51.100.3", "198.51.100.3", "198.51.100.4"):
            r = _open(stack, client, address)
            assert r.status_code == 200
        first = next(r.iter_lines())
        assert first.startswith("id: ")


def test_a_stream_of_an_unknown_competition_frees_its_slot(running):
    app, slots = running
    with httpx.Client(base_url=app.url, timeout=20) as client:
        for _ in range(5):  # more than the limits: each 404 gave its slot back
            r = client.get("/api/competitions/nope/stream", headers={"X-Forwarded-For": "1.2.3.4"})
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert slots.open == 0 and slots.refused == 0


def test_stream_limits_from_the_environment():
    limits = RequestLimits.from_env(
        {"WATTLEAGUE_STREAM_MAX_CLIENTS": "500", "WATTLEAGUE_STREAM_MAX_PER_CLIENT": "0"}
    )
    assert (limits.stream_max_clients, limits.stream_max_per_client) == (500, 0)
    defaults = RequestLimits.from_env({})
    assert (defaults.stream_max_clients, defaults.stream_max_per_client) == (4000, 100)
    with pytest.raises(ValueError, match="WATTLEAGUE_STREAM_MAX_CLIENTS='many'"):
        RequestLimits.from_env({"WATTLEAGUE_STREAM_MAX_CLIENTS": "many"})
    with pytest.raises(ValueError, match="WATTLEAGUE_STREAM_MAX_PER_CLIENT='-1'"):
        RequestLimits.from_env({"WATTLEAGUE_STREAM_MAX_PER_CLIENT": "-1"})
