"""The SQLite store's quarantine: bounded payloads, the tally of entries per reason, and the
migration of files written before either existed."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from ingest.store import sqlite as sqlite_store
from ingest.store.base import Message, Rejected, StoredReading
from ingest.store.sqlite import SQLiteStore

MB = 1_000_000
# the quarantine table and its index as the store made them before payload lengths and the tally
OLD_QUARANTINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine (reason, id);
"""


def old_store_file(path: Path, entries: list[tuple]) -> None:
    """A store file as the previous version left it, with quarantine ``entries`` of
    (received_ms, source, topic, reason, detail, payload)."""
    conn = sqlite3.connect(path)
    conn.executescript(sqlite_store._SCHEMA + OLD_QUARANTINE_SCHEMA)
    conn.executemany(
        "INSERT INTO quarantine (received_ms, source, topic, reason, detail, payload) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        entries,
    )
    conn.commit()
    conn.close()


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "store.db")
    yield s
    s.close()


def _file_bytes(path: Path) -> int:
    return sum(os.path.getsize(p) for p in path.parent.glob(path.name + "*"))


def test_a_1mb_message_with_many_bad_readings_stores_its_payload_once_and_cut(tmp_path):
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    payload = b'[{"meter": "nobody", "ts": 1300000000, "power_w": 1}' + b" " * (MB - 53) + b"]"
    bad = [Rejected("unknown_meter", f"reading[{i}]", "a/b", payload, 5_000) for i in range(2_000)]
    good = StoredReading("m1", 4_000, 1.0, None)
    result = store.write([Message("a/b", 5_000, "mqtt", [good], bad)])
    assert (result.inserted, result.quarantined) == (1, 2_000)
    assert store.quarantine_counts() == {"unknown_meter": 2_000}
    entries = store.list_quarantine(limit=10_000)
    first = entries[-1]  # the oldest: the message's first entry holds the payload
    assert first["payload"] == payload[: 48 * 1024] and first["detail"] == "reading[0]"
    assert all(e["payload"] == b"" for e in entries[:-1])
    sha = hashlib.sha256(payload).hexdigest()
    assert {(e["payload_bytes"], e["payload_sha256"], e["payload_truncated"]) for e in entries} == {
        (MB, sha, True)
    }
    store.close()
    assert _file_bytes(path) < 2 * MB  # was 2,000 copies of 1 MB


def test_a_conflicting_duplicate_has_no_payload(store):
    store.write([Message("t", 1, readings=[StoredReading("m1", 1000, 5.0, None)])])
    store.write([Message("t", 2, readings=[StoredReading("m1", 1000, 7.5, None)])])
    (entry,) = store.list_quarantine()
    assert entry["reason"] == "conflicting_duplicate"
    assert (entry["payload"], entry["payload_bytes"], entry["payload_truncated"]) == (b"", 0, False)


def test_released_entries_leave_the_counts_and_dropped_ones_stay(tmp_path):
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    rejected = [
        Rejected("unknown_meter", "a", "x/y", b"{1}", 5),
        Rejected("unknown_meter", "b", "x/z", b"{2}", 6),
        Rejected("undecodable", "c", "x/z", b"{", 7),
        Rejected("undecodable", "d", "x/z", b"{", 8),
    ]
    store.write([Message("x/y", 5, rejected=rejected)])
    ids = {e["detail"]: e["id"] for e in store.list_quarantine()}
    # retention drops an entry by itself (deploy prune): it stays counted
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM quarantine WHERE id = ?", (ids["d"],))
    conn.commit()
    conn.close()
    assert store.quarantine_counts() == {"undecodable": 2, "unknown_meter": 2}
    # reprocessed: one stored now, one quarantined again; an id no longer there changes nothing
    again = Message("x/z", 7, rejected=[Rejected("undecodable", "c", "x/z", b"{", 7)])
    store.write([again], release_ids=[ids["a"], ids["c"], ids["d"]])
    assert store.quarantine_counts() == {"undecodable": 2, "unknown_meter": 1}
    assert sorted(e["detail"] for e in store.list_quarantine()) == ["b", "c"]
    store.write([], release_ids=[e["id"] for e in store.list_quarantine()])
    assert store.quarantine_counts() == {"undecodable": 1}  # the dropped one
    assert store.list_quarantine() == []
    store.close()


def test_an_old_file_keeps_its_entries_and_counts(tmp_path):
    path = tmp_path / "old.db"
    old_store_file(
        path,
        [
            (1_000, "mqtt", "a/b", "undecodable", "not JSON", b"{oops"),
            (2_000, "http:anna", "http:/api/readings", "unknown_meter", "reading[0]", b"[1]"),
            (3_000, "mqtt", "a/b", "undecodable", "not JSON", b"{oops"),
        ],
    )
    store = SQLiteStore(path)
    assert store.quarantine_counts() == {"undecodable": 2, "unknown_meter": 1}
    entries = store.list_quarantine()
    assert [(e["received_ms"], e["payload"]) for e in entries] == [
        (3_000, b"{oops"),
        (2_000, b"[1]"),
        (1_000, b"{oops"),
    ]
    # their lengths were not recorded: NULL, and their payloads are whole
    assert {(e["payload_bytes"], e["payload_sha256"], e["payload_truncated"]) for e in entries} == {
        (None, None, False)
    }
    store.write(
        [Message("c/d", 4_000, rejected=[Rejected("undecodable", "x", "c/d", b"x", 4_000)])]
    )
    store.close()
    again = SQLiteStore(path)  # opening a migrated file again changes nothing
    assert again.quarantine_counts() == {"undecodable": 3, "unknown_meter": 1}
    assert again.list_quarantine(limit=1)[0]["payload_bytes"] == 1
    again.close()


def test_entries_an_older_version_still_inserts_are_counted(tmp_path):
    # during an upgrade an ingest worker of the previous version may still run: its inserts
    # know nothing of the tally, which must count them all the same
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    conn = sqlite3.connect(path)
    for received_ms in (1, 2):
        conn.execute(
            "INSERT INTO quarantine (received_ms, source, topic, reason, detail, payload) "
            "VALUES (?, 'mqtt', 'a/b', 'undecodable', 'not JSON', x'7b')",
            (received_ms,),
        )
    conn.execute("DELETE FROM quarantine WHERE received_ms = 1")  # retention
    conn.commit()
    conn.close()
    assert store.quarantine_counts() == {"undecodable": 2}
    (entry,) = store.list_quarantine()
    assert (entry["payload_bytes"], entry["payload_truncated"]) == (None, False)
    store.close()
