"""The audit log through the API: what is appended (site edits, annotations, the competition
file at every start, method changes), the JSON with its chain status and the CSV download."""

from __future__ import annotations

import csv
import hashlib
import io
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML, NOW, competition, seed
from tests.services import free_port, wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "kommunhus-2011.toml"
TOKEN = "audit-organiser-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "audit.db")
    seed(s)
    yield s
    s.close()


def _client(store, comp=None, sources=None) -> TestClient:
    app = create_app(
        [comp or competition()],
        store,
        clock=NOW.timestamp,
        tokens=TokenSet({"bo": hash_token(TOKEN)}),
        config_sources=sources,
    )
    return TestClient(app, raise_server_exceptions=False)


def _entries(client: TestClient) -> list[dict]:
    r = client.get("/api/competitions/liten/audit", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["chain_ok"] is True
    return r.json()["entries"]


def test_the_competition_file_is_recorded_at_each_start_it_changed(store):
    data = COMPETITION_TOML.encode()
    with _client(store, sources={"liten": ("liten.toml", data)}) as client:
        (loaded,) = _entries(client)
    assert (loaded["action"], loaded["who"], loaded["subject"]) == (
        "config_loaded",
        "serve",
        "liten",
    )
    assert loaded["after"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert loaded["after"]["of"] == "file" and loaded["after"]["file"] == "liten.toml"
    assert loaded["after"]["parameters"]["baseline_method"] == "previous-year"
    assert loaded["before"] is None

    # a restart with the same file appends nothing
    with _client(store, sources={"liten": ("liten.toml", data)}) as client:
        assert len(_entries(client)) == 1

    # a changed file: its hash, and the method and parameters that changed, before → after
    changed = COMPETITION_TOML.replace(
        'baseline = { method = "previous-year" }', 'baseline = { method = "pre-period", weeks = 4 }'
    ).replace('  [[site.meter]]\n  id = "gamma-main"', '  [[site.meter]]\n  id = "gamma-new"')
    comp = parse_competition(changed, "liten.toml")
    with _client(store, comp, {"liten": ("liten.toml", changed.encode())}) as client:
        loaded2, method = _entries(client)[1:]
    assert loaded2["action"] == "config_loaded"
    assert loaded2["before"] == {"sha256": loaded["after"]["sha256"]}
    assert loaded2["after"]["sha256"] == hashlib.sha256(changed.encode()).hexdigest()
    assert method["action"] == "method_changed"
    assert method["before"]["baseline_method"] == "previous-year"
    assert method["after"]["baseline_method"] == "pre-period"
    assert (method["before"]["weeks"], method["after"]["weeks"]) == (8, 4)
    # every site's effective method changed with the competition's; gamma's meter too
    assert sorted(method["after"]["sites"]) == ["alfa", "beta", "gamma"]
    assert method["before"]["sites"]["gamma"] == {
        "baseline_method": "previous-year",
        "weather": None,
        "meters": ["gamma-main"],
    }
    assert method["after"]["sites"]["gamma"] == {
        "baseline_method": "pre-period",
        "weather": None,
        "meters": ["gamma-new"],
    }
    assert "start" not in method["after"]  # only what changed


def test_a_competition_built_in_code_is_hashed_as_its_model(store):
    with _client(store) as client:
        (loaded,) = _entries(client)
    assert loaded["after"]["of"].startswith("model")
    assert len(loaded["after"]["sha256"]) == 64
    with _client(store) as client:  # the same model again: nothing new
        assert len(_entries(client)) == 1


def test_site_edits_and_annotations_are_audited(store):
    with _client(store) as client:
        r = client.patch(
            "/api/competitions/liten/sites/beta",
            json={"area_m2": 650, "name": "Piteå stadshus", "target_pct": 10, "reason": "Atemp"},
            headers=AUTH,
        )
        assert r.status_code == 200, r.text
        r = client.post(
            "/api/competitions/liten/sites/alfa/annotations",
            json={"ts": "2011-03-05T18:00:00+01:00", "text": "Nattvandring"},
            headers=AUTH,
        )
        assert r.status_code == 201, r.text
        annotation = r.json()["id"]
        r = client.delete(f"/api/competitions/liten/annotations/{annotation}", headers=AUTH)
        assert r.status_code == 200, r.text
        again = client.delete(f"/api/competitions/liten/annotations/{annotation}", headers=AUTH)
        assert again.status_code == 404
        bad = client.patch(
            "/api/competitions/liten/sites/beta", json={"reason": "x" * 3000}, headers=AUTH
        )
        assert bad.status_code == 400
        entries = _entries(client)
    edit, added, deleted = entries[1:]
    # the unchanged target is not listed
    assert (edit["action"], edit["who"], edit["subject"], edit["reason"]) == (
        "site_edit",
        "bo",
        "beta",
        "Atemp",
    )
    assert edit["before"] == {"name": "Piteå kommunhus", "area_m2": 500.0}
    assert edit["after"] == {"name": "Piteå stadshus", "area_m2": 650.0}
    assert (added["action"], added["subject"], added["before"]) == (
        "annotation_added",
        "alfa",
        None,
    )
    assert added["after"] == {
        "id": annotation,
        "ts": "2011-03-05T17:00:00+00:00",
        "text": "Nattvandring",
    }
    assert (deleted["action"], deleted["subject"], deleted["after"]) == (
        "annotation_deleted",
        "alfa",
        None,
    )
    assert deleted["before"]["text"] == "Nattvandring" and deleted["before"]["author"] == "bo"


def test_the_csv_download_is_an_attachment_no_spreadsheet_runs(store):
    with _client(store) as client:
        client.post(
            "/api/competitions/liten/sites/alfa/annotations",
            json={"ts": 1299348000, "text": '=HYPERLINK("http://evil","klicka")'},
            headers=AUTH,
        )
        client.patch(
            "/api/competitions/liten/sites/alfa",
            json={"area_m2": 1100, "reason": "+SUM(A1:A9)"},
            headers=AUTH,
        )
        r = client.get("/api/competitions/liten/audit.csv", headers=AUTH)
        assert client.get("/api/competitions/liten/audit.csv").status_code == 401
        entries = _entries(client)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="liten-audit.csv"'
    assert r.headers["content-type"].startswith("text/csv")
    text = r.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == [
        "id",
        "ts",
        "who",
        "action",
        "subject",
        "before",
        "after",
        "reason",
        "prev_sha256",
    ]
    assert [r[3] for r in rows[1:]] == [e["action"] for e in entries]
    edit = rows[-1]
    assert edit[7] == "'+SUM(A1:A9)"  # the reason, neutralised
    assert edit[5] == '{"area_m2":1000.0}' and edit[6] == '{"area_m2":1100.0}'
    assert edit[8] == entries[-1]["prev_sha256"]
    added = rows[-2]
    assert '=HYPERLINK(\\"http://evil\\"' in added[6]  # inside JSON: starts with {, not =
    assert not any(cell.lstrip(" ").startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_the_audit_json_pages_and_says_when_the_chain_is_broken(store, tmp_path):
    with _client(store) as client:
        for area in (1001, 1002, 1003):
            client.patch("/api/competitions/liten/sites/alfa", json={"area_m2": area}, headers=AUTH)
        whole = client.get("/api/competitions/liten/audit", headers=AUTH).json()
        assert whole["count"] == 4 and whole["chain_ok"] is True
        assert whole["entries"][0]["ts"] == "2011-03-07T23:00:00+00:00"  # NOW, in UTC
        latest = client.get("/api/competitions/liten/audit?limit=2&latest=true", headers=AUTH)
        assert [e["after"] for e in latest.json()["entries"]] == [
            {"area_m2": 1002.0},
            {"area_m2": 1003.0},
        ]
        after = client.get("/api/competitions/liten/audit?after_id=3", headers=AUTH).json()
        assert [e["id"] for e in after["entries"]] == [4]
        for query in ("limit=0", "limit=10001", "after_id=-1", "latest=perhaps"):
            r = client.get(f"/api/competitions/liten/audit?{query}", headers=AUTH)
            assert r.status_code == 400, query
        assert client.get("/api/competitions/nope/audit", headers=AUTH).status_code == 404
        assert client.get("/api/competitions/liten/audit").status_code == 401

        # someone with the database file edits an entry behind the store's back
        db = sqlite3.connect(tmp_path / "audit.db")
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET after_json = '{\"area_m2\":1.0}' WHERE id = 2")
        db.commit()
        db.close()
        broken = client.get("/api/competitions/liten/audit", headers=AUTH).json()
    assert broken["chain_ok"] is False
    assert "entry 3 does not follow entry 2" in broken["chain_problems"][0]


def _serve_once(config: Path, db: Path) -> None:
    """Start ``wattleague serve`` on ``config`` and ``db``, wait until it answers, stop it."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wattleague",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--store",
            f"sqlite:///{db}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def answered():
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
            except httpx.HTTPError:
                return None

        wait_until(answered, timeout_s=120, interval_s=0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_serve_records_the_files_hash_at_each_start_it_changed(tmp_path):
    config, db = tmp_path / "kommunhus.toml", tmp_path / "store.db"
    text = EXAMPLE.read_text(encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    _serve_once(config, db)
    _serve_once(config, db)  # the same file: nothing new
    changed = text.replace('method = "previous-year" }', 'method = "pre-period", weeks = 6 }')
    assert changed != text
    config.write_text(changed, encoding="utf-8")
    _serve_once(config, db)
    store = SQLiteStore(db)
    try:
        entries = store.organiser.list_audit("kommunhus-2011")
    finally:
        store.close()
    assert [(e.action, e.who) for e in entries] == [
        ("config_loaded", "serve"),
        ("config_loaded", "serve"),
        ("method_changed", "serve"),
    ]
    assert entries[0].after["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert entries[0].after["file"] == str(config)
    assert entries[1].after["sha256"] == hashlib.sha256(changed.encode()).hexdigest()
    assert entries[2].before["baseline_method"] == "previous-year"
    assert (entries[2].after["baseline_method"], entries[2].after["weeks"]) == ("pre-period", 6)
