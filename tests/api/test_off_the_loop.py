"""Heavy requests run in worker threads: while an organiser's upload or bulk readings are
parsed and stored, the event loop keeps answering the leaderboard (which it serves itself).

Ordering, not timing: many leaderboard requests, each sent after the whole heavy request was
on the wire, are answered before the heavy request's own answer. Were the parsing on the
event loop, none could be answered until it ended.
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta

import httpx
import orjson
import pytest

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.request_limits import RequestLimits
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import LOADS_KW, NOW, TZ, competition, hourly_readings
from tests.imports.grid_files import grid_csv
from tests.services import RunningApp

TOKEN = "heavy-token"
BOARD = "/api/competitions/liten/leaderboard"
ANSWERED_BEFORE = 20  # leaderboard answers that must come before the heavy request's


@pytest.fixture
def running(tmp_path):
    store = SQLiteStore(tmp_path / "heavy.db")
    for meter_id in ("alfa-main", "beta-main"):  # gamma's meter is heard from over HTTP
        readings = hourly_readings(
            meter_id, datetime(2011, 3, 1, tzinfo=TZ), NOW, LOADS_KW[meter_id][1]
        )
        store.write([Message("seed", 0, "test", readings)])
    app = create_app(
        [competition()],
        store,
        clock=NOW.timestamp,
        tokens=TokenSet({"o": hash_token(TOKEN)}),
        request_limits=RequestLimits(exempt=("127.0.0.1",)),
    )
    with RunningApp(app) as running:
        yield running
    store.close()


def _consumption_file(target_bytes: int, kwh: float = 1.25) -> bytes:
    """A grid export of 15-minute rows before the competition, of about ``target_bytes``."""
    rows, t, step = [], datetime(2002, 1, 1), timedelta(minutes=15)
    while len(rows) * 40 < target_bytes:
        rows.append((t, t + step, kwh))
        t += step
    return grid_csv(rows)


def _readings(target_bytes: int) -> bytes:
    """Bulk readings of the project's JSON for gamma's meter, 5 minutes apart up to the
    clock, of about ``target_bytes``."""
    n = target_bytes // 70
    first_s = NOW.timestamp() - 300 * n
    return orjson.dumps(
        [
            {"meter": "gamma-main", "ts": first_s + 300 * i, "energy_kwh": 1000 + i / 12}
            for i in range(n)
        ]
    )


def _heavy_then_light(url: str, path: str, body: bytes) -> tuple[bytes, int]:
    """Send ``body`` to ``path`` on a raw connection; from the moment it is all sent, ask for
    the leaderboard again and again until the heavy answer comes. Returns the heavy answer's
    status line and how many leaderboard answers came before it."""
    host, port = url.removeprefix("http://").split(":")
    sent, done = threading.Event(), threading.Event()
    answer: list[bytes] = []

    def heavy() -> None:
        with socket.create_connection((host, int(port))) as s:
            s.sendall(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            sent.set()
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
            answer.append(b"".join(chunks))
            done.set()

    thread = threading.Thread(target=heavy)
    thread.start()
    answered = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.get(BOARD).status_code == 200  # connected, before the heavy one is sent
        assert sent.wait(60)
        while not done.is_set():
            r = client.get(BOARD)
            assert r.status_code == 200
            if not done.is_set():
                answered += 1
    thread.join(60)
    return answer[0].split(b"\r\n", 1)[0], answered


@pytest.mark.parametrize(
    "kwh",
    [
        1.25,
        # every row read and refused: all the work is parsing, none importing
        -1.25,
    ],
)
def test_an_upload_does_not_hold_up_the_leaderboard(running, kwh):
    path = "/api/competitions/liten/imports/consumption?meter=alfa-main&dry_run=true"
    status, answered = _heavy_then_light(running.url, path, _consumption_file(4_000_000, kwh))
    assert status == b"HTTP/1.1 200 OK"
    assert answered >= ANSWERED_BEFORE


def test_bulk_readings_do_not_hold_up_the_leaderboard(running):
    body = _readings(4_000_000)
    assert len(body) < 4 * 1024 * 1024  # the endpoint's own limit
    status, answered = _heavy_then_light(running.url, "/api/readings", body)
    assert status == b"HTTP/1.1 200 OK"
    assert answered >= ANSWERED_BEFORE
