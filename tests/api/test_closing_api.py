"""Closing through the API: POST …/close (token, confirmation, 201/409), the public closing
state, the bundle's files, and frozen results everywhere the competition is served, also
after a restart of the app on the same store."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import zipfile
import zlib
from datetime import datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.scoreboard import Scoreboard
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import TZ, competition, seed
from wattleague.cli import main

TOKEN = "s3cret-organiser-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
AFTER_END_S = datetime(2011, 4, 2, 9, tzinfo=TZ).timestamp()
DURING_S = datetime(2011, 3, 20, 9, tzinfo=TZ).timestamp()
CLOSE = "/api/competitions/liten/close"
HOUR_S = int(datetime(2011, 3, 15, 12, tzinfo=TZ).timestamp())


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "closing.db"
    store = SQLiteStore(path)
    seed(store, until=datetime(2011, 4, 1, 1, tzinfo=TZ))
    store.close()
    return path


def _client(store, now_s=AFTER_END_S):
    tokens = TokenSet({"anna": hash_token(TOKEN)})
    app = create_app([competition()], store, clock=lambda: now_s, tokens=tokens)
    return TestClient(app, raise_server_exceptions=False)


def test_close_needs_a_token_a_confirmation_and_the_end(db):
    store = SQLiteStore(db)
    try:
        with _client(store, DURING_S) as client:
            assert client.post(CLOSE, json={"confirm": "liten"}).status_code == 401
            wrong = client.post(CLOSE, json={"confirm": "other"}, headers=AUTH)
            assert wrong.status_code == 400 and "confirm" in wrong.json()["error"]["message"]
            assert client.post(CLOSE, headers=AUTH).status_code == 400  # no body
            early = client.post(CLOSE, json={"confirm": "liten"}, headers=AUTH)
            assert early.status_code == 409
            assert "ends at 2011-04-01T00:00:00+02:00" in early.json()["error"]["message"]
            missing = client.post(
                "/api/competitions/nope/close", json={"confirm": "nope"}, headers=AUTH
            )
            assert missing.status_code == 404
            assert client.get("/api/competitions/liten/closing").json() == {
                "competition": "liten",
                "closed": False,
            }
    finally:
        store.close()


def test_closed_results_are_frozen_and_survive_a_restart(db, tmp_path):
    store = SQLiteStore(db)
    try:
        with _client(store) as client:
            before = client.get("/api/competitions/liten/leaderboard").json()
            assert "closed" not in before
            closed = client.post(CLOSE, json={"confirm": "liten"}, headers=AUTH)
            assert closed.status_code == 201, closed.text
            summary = closed.json()
            assert summary["closed"] is True and summary["by"] == "anna"
            assert summary["as_of"] == "2011-04-01T00:00:00+02:00"
            sha = summary["bundle_sha256"]
            again = client.post(CLOSE, json={"confirm": "liten"}, headers=AUTH)
            assert again.status_code == 409 and sha in again.json()["error"]["message"]
            state = client.get("/api/competitions/liten/closing").json()
            assert state["closed"] is True and state["bundle_sha256"] == sha
            board = client.get("/api/competitions/liten/leaderboard?metric=kwh_per_m2").json()
            assert board["closed"]["bundle_sha256"] == sha
            assert board["as_of"] == "2011-04-01T00:00:00+02:00"
            # after closing an organiser's edit or annotation is refused (409, saying when it
            # closed) and changes no certified figure
            edit = client.patch(
                "/api/competitions/liten/sites/gamma", json={"area_m2": 100}, headers=AUTH
            )
            assert edit.status_code == 409 and "closed at" in edit.json()["error"]["message"]
            note = client.post(
                "/api/competitions/liten/sites/gamma/annotations",
                json={"ts": "2011-03-20T12:00:00+01:00", "text": "late note"},
                headers=AUTH,
            )
            assert note.status_code == 409
            after_edit = client.get("/api/competitions/liten/leaderboard?metric=kwh_per_m2")
            assert after_edit.json()["entries"] == board["entries"]
            zipped = client.get("/api/competitions/liten/closing/bundle.zip")
            assert zipped.status_code == 401
            zipped = client.get("/api/competitions/liten/closing/bundle.zip", headers=AUTH)
            assert zipped.status_code == 200 and zipped.headers["x-manifest-matches"] == "true"
        frozen = {e["site"]: e["reduction_pct"] for e in board["entries"]}
    finally:
        store.close()

    # data changed behind the store's back after closing: live figures would move
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE hourly SET reg_kwh = reg_kwh + 50 WHERE meter_id = 'alfa-main' AND hour_s = ?",
        (HOUR_S,),
    )
    conn.commit()
    conn.close()
    store = SQLiteStore(db)
    try:
        live = Scoreboard(competition(), store, clock=lambda: AFTER_END_S).leaderboard()
        assert {e["site"]: e["reduction_pct"] for e in live["entries"]}["alfa"] != frozen["alfa"]
        with _client(store, AFTER_END_S + 86400) as client:  # a restart of serve
            board = client.get("/api/competitions/liten/leaderboard").json()
            assert board["closed"]["bundle_sha256"] == sha
            assert {e["site"]: e["reduction_pct"] for e in board["entries"]} == frozen
            site = client.get("/api/competitions/liten/sites/alfa").json()
            assert site["closed"]["bundle_sha256"] == sha
            assert site["period"]["reduction_pct"] == frozen["alfa"]
            series = client.get("/api/competitions/liten/sites/alfa/series?resolution=day")
            assert series.json()["closed"]["bundle_sha256"] == sha
            csv = client.get("/api/competitions/liten/summary.csv?lang=en")
            assert csv.status_code == 200 and sha in csv.headers["x-results-closed"]
            frame = client.get("/api/displays/alfa-lobby/frame?format=json").json()
            assert frame["closed"]["bundle_sha256"] == sha
    finally:
        store.close()

    # the zip holds the certified files: its results.json is the bundle, and verify finds
    # the change made after closing
    out = tmp_path / "unzipped"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as z:
        z.extractall(out)
    bundle_dir = out / "liten-results"
    assert hashlib.sha256((bundle_dir / "results.json").read_bytes()).hexdigest() == sha
    result = CliRunner().invoke(main, ["verify", str(bundle_dir), "--store", f"sqlite:///{db}"])
    assert result.exit_code == 1
    assert any(line.startswith("alfa, actual_kwh, ") for line in result.output.splitlines())


def test_a_bundle_changed_in_the_store_is_never_served(db):
    store = SQLiteStore(db)
    try:
        with _client(store) as client:
            closed = client.post(CLOSE, json={"confirm": "liten"}, headers=AUTH)
            assert closed.status_code == 201
    finally:
        store.close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER closing_no_update")  # what an administrator can do
    conn.execute("UPDATE closing SET bundle_zlib = ?", (zlib.compress(b'{"forged":1}'),))
    conn.close()
    store = SQLiteStore(db)
    try:
        with _client(store) as client:  # a restart
            for path in ("/leaderboard", "/closing", "/sites/alfa"):
                answer = client.get(f"/api/competitions/liten{path}")
                assert answer.status_code == 503, path
                assert answer.json()["error"]["code"] == "closing_damaged"
                assert "changed in the store" in answer.json()["error"]["message"]
    finally:
        store.close()
