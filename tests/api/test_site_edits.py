"""Organisers' site edits through the API, and applied by the app at start-up."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import NOW, competition, seed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"area_m2": 0}, "area_m2"),
        ({"area_m2": "stor"}, "area_m2"),
        ({"target_pct": 100}, "target_pct"),
        ({"target_pct": -1}, "target_pct"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),  # blank: a sign would show nothing
        ({"municipality": "Mora\nkommun"}, "municipality"),  # one line on a sign
        ({"name": "Mora\u0000kommunhus"}, "name"),
        ({"meters": []}, "meters"),
    ],
)
def test_bad_edits_are_400_and_change_nothing(tmp_path, body, field):
    store = SQLiteStore(tmp_path / "bad.db")
    tokens = TokenSet({"anna": hash_token("t")})
    with TestClient(create_app([competition()], store, clock=NOW.timestamp, tokens=tokens)) as c:
        r = c.patch(
            "/api/competitions/liten/sites/alfa", json=body, headers={"Authorization": "Bearer t"}
        )
        assert r.status_code == 400 and field in r.json()["error"]["message"]
        assert c.get("/api/competitions/liten").json()["sites_detail"][0]["area_m2"] == 1000
    assert store.organiser.site_edits("liten") == {}
    store.close()


def test_names_are_trimmed(tmp_path):
    store = SQLiteStore(tmp_path / "trim.db")
    tokens = TokenSet({"anna": hash_token("t")})
    with TestClient(create_app([competition()], store, clock=NOW.timestamp, tokens=tokens)) as c:
        r = c.patch(
            "/api/competitions/liten/sites/alfa",
            json={"name": "  Årjängs kommunhus "},
            headers={"Authorization": "Bearer t"},
        )
        assert r.status_code == 200 and r.json()["name"] == "Årjängs kommunhus"
    assert store.organiser.site_edits("liten")["alfa"]["name"] == "Årjängs kommunhus"
    store.close()


def test_stored_edits_apply_at_start_up_and_stale_ones_are_skipped(tmp_path):
    store = SQLiteStore(tmp_path / "startup.db")
    seed(store)
    organiser = store.organiser
    organiser.save_site_edit("liten", "alfa", {"area_m2": 100.0, "target_pct": 15.0}, "anna", 1)
    # a site since removed from the file
    organiser.save_site_edit("liten", "borttagen", {"area_m2": 5.0}, "anna", 2)
    with TestClient(create_app([competition()], store, clock=NOW.timestamp)) as c:
        sites = {s["id"]: s for s in c.get("/api/competitions/liten").json()["sites_detail"]}
        assert sites["alfa"]["area_m2"] == 100.0 and sites["alfa"]["target_pct"] == 15.0
        board = c.get("/api/competitions/liten/leaderboard?metric=kwh_per_m2").json()
        alfa = next(e for e in board["entries"] if e["site"] == "alfa")
        assert alfa["kwh_per_m2"] == pytest.approx(168 * 8.0 / 100.0, abs=1e-3)
        assert c.get("/api/displays/alfa-lobby/frame").status_code == 200
    store.close()
