"""Write endpoints: bulk readings over HTTP, the quarantine and its reprocessing, with tokens."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML, NOW, competition, seed

TOKEN = "s3cret-organiser-token"
# the site the competition file lacked: with it, its meter's quarantined readings can be stored
DELTA_SITE = """
[[site]]
id = "delta"
municipality = "Delta kommun"
name = "Delta kommunhus"
area_m2 = 800
  [[site.meter]]
  id = "delta-main"
"""
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "org.db")
    seed(s)
    yield s
    s.close()


def _client(store, comp=None, now_s=None):
    tokens = TokenSet({"anna": hash_token(TOKEN)})
    clock = NOW.timestamp if now_s is None else (lambda: now_s)
    app = create_app(
        [comp or competition()], store, clock=clock, tokens=tokens, stream_interval_s=0.1
    )
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}]
)
def test_write_endpoints_need_a_valid_token(store, headers):
    with _client(store) as client:
        for method, path in [
            ("post", "/api/readings"),
            ("get", "/api/quarantine"),
            ("post", "/api/quarantine/reprocess"),
        ]:
            response = getattr(client, method)(path, headers=headers)
            assert response.status_code == 401, path
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"  # RFC 6750


def test_tokens_from_the_environment_are_kept_hashed():
    tokens = TokenSet.from_env(
        {
            "WATTLEAGUE_TOKEN_HASHES": f"anna:{hash_token('a')},bo:{hash_token('b')}",
            "WATTLEAGUE_TOKEN": "c",
        }
    )
    assert set(tokens.hashes) == {"anna", "bo", "default"}
    assert "a" not in tokens.hashes.values() and hash_token("c") in tokens.hashes.values()
    with pytest.raises(ValueError, match="name:sha256hex"):
        TokenSet.from_env({"WATTLEAGUE_TOKEN_HASHES": "anna:plaintext"})


def test_a_token_with_swedish_letters_works_from_curl_and_from_a_browser(store):
    # WATTLEAGUE_TOKEN=lösenord-för-kommunhusen: curl sends the header as UTF-8, a browser's
    # fetch as Latin-1; both are the token the organiser typed, anything else is not
    tokens = TokenSet.from_env({"WATTLEAGUE_TOKEN": "lösenord-för-kommunhusen"})
    app = create_app([competition()], store, clock=NOW.timestamp, tokens=tokens)
    with TestClient(app, raise_server_exceptions=False) as client:
        for encoding in ("utf-8", "latin-1"):
            header = "Bearer lösenord-för-kommunhusen".encode(encoding)
            response = client.get("/api/quarantine", headers={"Authorization": header})
            assert response.status_code == 200, (encoding, response.text)
        wrong = b"Bearer losenord-for-kommunhusen"
        assert client.get("/api/quarantine", headers={"Authorization": wrong}).status_code == 401


def test_posted_readings_are_stored_and_scored(store):
    # gamma gets one more hour at 1 kW (it normally draws 19): its actual falls by 18 kWh
    body = [
        {"meter": "gamma-main", "ts": NOW.timestamp() + 3600, "energy_kwh": 50_000 + 168 * 19 + 1}
    ]
    with _client(store, now_s=NOW.timestamp() + 3600) as client:
        before = client.get("/api/competitions/liten/sites/gamma").json()["last_reading"]
        response = client.post("/api/readings", content=orjson.dumps(body), headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {"stored": 1, "duplicates": 0, "quarantined": []}
        again = client.post("/api/readings", content=orjson.dumps(body), headers=AUTH).json()
        assert again == {"stored": 0, "duplicates": 1, "quarantined": []}
        after = client.get("/api/competitions/liten/sites/gamma").json()["last_reading"]
    assert before == "2011-03-08T00:00:00+01:00" and after == "2011-03-08T01:00:00+01:00"


def test_partly_bad_body_stores_the_good_and_reports_the_bad(store):
    body = [
        {"meter": "alfa-main", "ts": NOW.timestamp() + 60, "power_w": 900},
        {"meter": "nobody", "ts": NOW.timestamp() + 60, "power_w": 900},
        {"ts": NOW.timestamp() + 60, "power_w": 900},
    ]
    with _client(store) as client:
        response = client.post("/api/readings", content=orjson.dumps(body), headers=AUTH)
    data = response.json()
    assert response.status_code == 200 and data["stored"] == 1
    assert [q["reason"] for q in data["quarantined"]] == ["unknown_meter", "missing_meter"]
    assert data["quarantined"][0]["detail"].startswith("reading[1]")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{nope", "undecodable"),
        (b'[{"meter": "alfa-main", "ts": "2011-03-08T01:00:00", "power_w": 1}]', "naive_timestamp"),
    ],
)
def test_wholly_bad_body_is_a_422_and_quarantined(store, body, reason):
    with _client(store) as client:
        response = client.post("/api/readings", content=body, headers=AUTH)
        assert response.status_code == 422
        assert response.json()["error"]["quarantined"][0]["reason"] == reason
        listing = client.get("/api/quarantine", headers=AUTH).json()
    assert listing["counts"] == {reason: 1}
    (entry,) = listing["entries"]
    assert entry["payload"] == body.decode() and entry["source"] == "http:anna"


def test_oversized_body_is_refused(store):
    with _client(store) as client:
        response = client.post("/api/readings", content=b" " * (4 * 1024 * 1024 + 1), headers=AUTH)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_binary_payloads_are_listed_as_base64(store):
    with _client(store) as client:
        client.post("/api/readings", content=b"\xff\xfe\x00", headers=AUTH)
        (entry,) = client.get("/api/quarantine?reason=bad_encoding", headers=AUTH).json()["entries"]
    assert entry["payload_encoding"] == "base64"
    assert base64.b64decode(entry["payload"]) == b"\xff\xfe\x00"


def test_reprocessing_after_the_config_is_fixed_stores_what_was_quarantined(store):
    reading = {"meter": "delta-main", "ts": NOW.timestamp() + 60, "power_w": 700}
    with _client(store) as client:
        client.post("/api/readings", content=orjson.dumps([reading]), headers=AUTH)
        assert client.get("/api/quarantine", headers=AUTH).json()["counts"] == {"unknown_meter": 1}
        still = client.post(
            "/api/quarantine/reprocess", json={"reason": "unknown_meter"}, headers=AUTH
        ).json()
        assert still["stored"] == 0 and still["quarantined_again"] == 1
    with _client(store, parse_competition(COMPETITION_TOML + DELTA_SITE)) as client:
        done = client.post(
            "/api/quarantine/reprocess", json={"reason": "unknown_meter"}, headers=AUTH
        ).json()
        assert done == {
            "reprocessed": 1,
            "stored": 1,
            "duplicates": 0,
            "quarantined_again": 0,
            "skipped": 0,
        }
        assert client.get("/api/quarantine", headers=AUTH).json()["counts"] == {}
    assert store.meter_states()["delta-main"].power_w == 700


def test_reprocessing_skips_entries_that_hold_part_of_their_payload(store):
    def body(n: int) -> bytes:
        t = NOW.timestamp()
        return orjson.dumps(
            [{"meter": "delta-main", "ts": t - 10 * i, "power_w": 7} for i in range(n)]
        )

    big, small = body(2_000), body(3)
    assert len(big) > 48 * 1024
    with _client(store) as client:
        client.post("/api/readings", content=big, headers=AUTH)
        client.post("/api/readings", content=small, headers=AUTH)
        listing = client.get("/api/quarantine?limit=1000", headers=AUTH).json()
    entries = listing["entries"]
    assert set(listing["counts"]) == {"unknown_meter"} and len(entries) > 4
    assert listing["counts"]["unknown_meter"] == len(entries)
    # the small message's three entries: the first holds its payload, the others share it
    assert [e["payload"] for e in entries[2::-1]] == [small.decode(), "", ""]
    assert [e["payload_truncated"] for e in entries[2::-1]] == [False, True, True]
    assert {(e["payload_bytes"], e["payload_sha256"]) for e in entries[:3]} == {
        (len(small), hashlib.sha256(small).hexdigest())
    }
    # the big one's first entry holds its first 48 KiB
    assert entries[-1]["payload"] == big[: 48 * 1024].decode()
    assert entries[-1]["payload_truncated"] and entries[-1]["payload_bytes"] == len(big)
    assert all(e["payload"] == "" for e in entries[3:-1])

    with _client(store, parse_competition(COMPETITION_TOML + DELTA_SITE)) as client:
        done = client.post(
            "/api/quarantine/reprocess", json={"reason": "unknown_meter"}, headers=AUTH
        ).json()
    # only the small message can be decoded again: its first entry holds all of it
    assert done == {
        "reprocessed": 1,
        "stored": 3,
        "duplicates": 0,
        "quarantined_again": 0,
        "skipped": len(entries) - 1,
    }
    assert len(store.read_series(["delta-main"], 0, 2e9)["delta-main"].ts_s) == 3


def test_reprocess_needs_ids_or_reason(store):
    with _client(store) as client:
        response = client.post("/api/quarantine/reprocess", json={}, headers=AUTH)
        assert response.status_code == 400
        response = client.post("/api/quarantine/reprocess", json={"ids": "x"}, headers=AUTH)
        assert response.status_code == 400


def test_reprocess_ids_out_of_range_are_a_400_not_a_500(store):
    with _client(store) as client:
        response = client.post("/api/quarantine/reprocess", json={"ids": [2**63]}, headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_annotated_action_shows_its_measured_effect(tmp_path):
    from datetime import timedelta

    from ingest.store.base import Message
    from tests.fixtures import hourly_readings

    # gamma draws 19 kW against a 20 kW baseline until 2011-03-04 00:00, then 15 kW
    action = NOW - timedelta(days=4)
    own = SQLiteStore(tmp_path / "actions.db")
    seed(own, until=action)
    own.write(
        [
            Message(
                "t",
                0,
                "test",
                hourly_readings(
                    "gamma-main", action + timedelta(hours=1), NOW, 15.0, 50_000 + 72 * 19 + 15
                ),
            )
        ]
    )
    with _client(own) as client:
        made = client.post(
            "/api/competitions/liten/sites/gamma/annotations",
            json={"ts": action.isoformat(), "text": "Nattvandring, lappar på skärmarna"},
            headers=AUTH,
        )
        assert made.status_code == 201 and made.json()["author"] == "anna"
        listed = client.get("/api/competitions/liten/annotations").json()["annotations"]
        (entry,) = client.get("/api/competitions/liten/sites/gamma").json()["actions"]
        deleted = client.delete(f"/api/competitions/liten/annotations/{entry['id']}", headers=AUTH)
        gone = client.get("/api/competitions/liten/sites/gamma").json()["actions"]
    own.close()
    assert [a["text"] for a in listed] == ["Nattvandring, lappar på skärmarna"]
    effect = entry["effect"]
    # the 72 hours before: 19/20 = 0.95; the 72 hours after: 15/20 = 0.75 → -20 points
    assert effect["ratio_before"] == pytest.approx(0.95)
    assert effect["ratio_after"] == pytest.approx(0.75)
    assert effect["change_pct_points"] == pytest.approx(-20.0)
    assert effect["hours_before"] == effect["hours_after"] == 72
    assert deleted.status_code == 200 and gone == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/competitions/liten/sites/zz/annotations", {"ts": 1299500000, "text": "x"}, 404),
        ("/api/competitions/nope/sites/alfa/annotations", {"ts": 1299500000, "text": "x"}, 404),
        (
            "/api/competitions/liten/sites/alfa/annotations",
            {"ts": "2011-03-05T10:00:00", "text": "x"},
            400,
        ),
        ("/api/competitions/liten/sites/alfa/annotations", {"ts": 1299500000, "text": ""}, 400),
    ],
)
def test_bad_annotations_are_4xx(store, path, body, status):
    with _client(store) as client:
        assert client.post(path, json=body, headers=AUTH).status_code == status
        assert client.post(path, json=body).status_code in (401, 404)


def test_a_bulk_upload_larger_than_one_meter_message_is_stored(store):
    """HTTP bodies have their own limit (4 MB), above the 1 MiB cap of one MQTT message."""
    start = int(NOW.timestamp()) - 40_000
    readings = [
        {"meter": "alfa-main", "ts": start + i + 0.5, "power_w": 1000.0 + i / 1000}
        for i in range(30_000)
    ]
    body = orjson.dumps(readings)
    assert 1 << 20 < len(body) < 4 << 20
    with _client(store) as client:
        response = client.post("/api/readings", content=body, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 30_000
