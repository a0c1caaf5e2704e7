"""The audit log of both stores: entries come back in order as appended, SQLite refuses to
change or delete one, and the hash chain shows an entry changed or deleted anyway (by an
administrator who drops SQLite's triggers, or writes and deletes InfluxDB points)."""

from __future__ import annotations

import sqlite3

import pytest

from ingest.store import open_store
from ingest.store.audit import (
    GENESIS_SHA256,
    AuditEntry,
    entry_sha256,
    verify_audit_chain,
)
from ingest.store.influx import InfluxStore
from ingest.store.line_protocol import encode_point
from ingest.store.sqlite import SQLiteStore

T0_MS = 1_299_000_000_000


def _entry(i: int, competition: str = "kommunhus-2011", **changes) -> AuditEntry:
    values = {
        "competition": competition,
        "ts_ms": T0_MS + i,
        "who": "anna",
        "action": "site_edit",
        "subject": "soderhamn",
        "before": {"area_m2": 4200.0 + i, "name": "Söderhamns kommunhus"},
        "after": {"area_m2": 4300.0 + i, "tags": ["a", 1, None, True]},
        "reason": f"uppmätt igen ({i}); 100 % säkert",
    }
    return AuditEntry(**{**values, **changes})


def test_entries_come_back_in_order_as_appended(any_store):
    log = any_store.organiser
    ids = [log.append_audit(_entry(i)) for i in range(4)]
    log.append_audit(_entry(9, competition="annan"))
    assert ids == sorted(ids) and len(set(ids)) == 4
    entries = log.list_audit("kommunhus-2011")
    assert [e.id for e in entries] == ids
    for i, entry in enumerate(entries):
        assert entry == _entry(i, id=ids[i], prev_sha256=entry.prev_sha256)
    assert entries[0].prev_sha256 == GENESIS_SHA256
    assert entries[2].prev_sha256 == entry_sha256(entries[1])
    assert verify_audit_chain(entries) == []
    # a page after an entry, and a limit
    assert [e.id for e in log.list_audit("kommunhus-2011", after_id=ids[1])] == ids[2:]
    assert [e.id for e in log.list_audit("kommunhus-2011", limit=2)] == ids[:2]
    page = log.list_audit("kommunhus-2011", after_id=ids[1])
    assert verify_audit_chain(page, after_sha256=entry_sha256(entries[1])) == []
    assert verify_audit_chain(page) != []  # not from the start of the log
    (other,) = log.list_audit("annan")
    assert other.prev_sha256 == GENESIS_SHA256  # each competition has its own chain


def test_the_chain_goes_on_after_a_restart(store_url):
    store = open_store(store_url)
    store.organiser.append_audit(_entry(0, action="config_loaded", before=None, after="ab12"))
    store.close()
    store = open_store(store_url)
    try:
        store.organiser.append_audit(_entry(1, action="closed", reason=""))
        entries = store.organiser.list_audit("kommunhus-2011")
        assert [e.action for e in entries] == ["config_loaded", "closed"]
        assert entries[0].before is None and entries[0].after == "ab12"
        assert verify_audit_chain(entries) == []
    finally:
        store.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"action": "Held Accepted"}, "short code"),
        ({"reason": "x" * 2001}, "at most 2,000"),
        ({"who": ""}, "who must not be empty"),
        ({"before": float("nan")}, "JSON value"),
        ({"after": {"big": "x" * 30_000}}, "at most 20,000"),
        ({"ts_ms": 1.5}, "integer"),
        ({"id": 7}, "the store's"),
        ({"reason": "\ud800"}, "surrogate"),
    ],
)
def test_an_entry_the_store_cannot_keep_is_refused(any_store, changes, message):
    with pytest.raises(ValueError, match=message):
        any_store.organiser.append_audit(_entry(0, **changes))
    assert any_store.organiser.list_audit("kommunhus-2011") == []


def test_sqlite_refuses_to_change_or_delete_an_entry(tmp_path):
    store = SQLiteStore(tmp_path / "audit.db")
    try:
        for i in range(2):
            store.organiser.append_audit(_entry(i))
        before = store.organiser.list_audit("kommunhus-2011")
        conn = sqlite3.connect(tmp_path / "audit.db")
        for sql in (
            "UPDATE audit SET reason = 'nothing happened' WHERE id = 1",
            "DELETE FROM audit WHERE id = 2",
            "DELETE FROM audit",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        conn.close()
        assert store.organiser.list_audit("kommunhus-2011") == before
    finally:
        store.close()


def test_sqlite_chain_shows_an_entry_changed_or_deleted_past_the_triggers(tmp_path):
    path = tmp_path / "audit.db"
    store = SQLiteStore(path)
    try:
        ids = [store.organiser.append_audit(_entry(i)) for i in range(4)]
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("DROP TRIGGER audit_no_update")  # what an administrator can do
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("UPDATE audit SET after_json = '{\"area_m2\":9999.0}' WHERE id = ?", (ids[1],))
        problems = verify_audit_chain(store.organiser.list_audit("kommunhus-2011"))
        assert len(problems) == 1
        assert f"entry {ids[2]} does not follow entry {ids[1]}" in problems[0]
        conn.execute("DELETE FROM audit WHERE id IN (?, ?)", (ids[1], ids[2]))
        (problem,) = verify_audit_chain(store.organiser.list_audit("kommunhus-2011"))
        assert f"entry {ids[3]} does not follow entry {ids[0]}" in problem
        conn.execute("DELETE FROM audit WHERE id = ?", (ids[0],))
        (problem,) = verify_audit_chain(store.organiser.list_audit("kommunhus-2011"))
        assert f"entry {ids[3]} does not follow the start of the log" in problem
        conn.close()
    finally:
        store.close()


def test_influx_chain_shows_an_entry_overwritten_or_deleted(
    influxd, influx_database, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    try:
        ids = [store.organiser.append_audit(_entry(i)) for i in range(4)]
        # an administrator writes a point over entry 1 (same series and time)
        forged = encode_point(
            "audit", {"competition": "kommunhus-2011"}, {"after_json": '{"area_m2":1.0}'}, ids[1]
        )
        assert influxd.write_lines(db, forged, precision="ns").status_code == 204
        (problem,) = verify_audit_chain(store.organiser.list_audit("kommunhus-2011"))
        assert f"entry {ids[2]} does not follow entry {ids[1]}" in problem
        # … and deletes entries 1 and 2
        for entry_id in ids[1:3]:
            influxd.query(
                db, f'DELETE FROM "audit" WHERE time >= {entry_id} AND time <= {entry_id}'
            )
        entries = store.organiser.list_audit("kommunhus-2011")
        assert [e.id for e in entries] == [ids[0], ids[3]]
        (problem,) = verify_audit_chain(entries)
        assert f"entry {ids[3]} does not follow entry {ids[0]}" in problem
    finally:
        store.close()


def test_influx_entries_are_never_written_over(influxd, influx_database, tmp_path, monkeypatch):
    """Entries appended back to back, by two store objects on one database (two processes),
    are all kept, in one chain."""
    monkeypatch.chdir(tmp_path)
    db = influx_database()
    first = InfluxStore(influxd.url(db, "first"))
    second = InfluxStore(influxd.url(db, "second"))
    try:
        for i in range(40):
            (first if i % 2 else second).organiser.append_audit(_entry(i))
        entries = first.organiser.list_audit("kommunhus-2011")
        assert [e.ts_ms - T0_MS for e in entries] == list(range(40))
        assert verify_audit_chain(entries) == []
    finally:
        first.close()
        second.close()


def test_verify_names_entries_out_of_order_or_of_another_competition():
    a = _entry(0, id=1, prev_sha256=GENESIS_SHA256)
    b = _entry(1, id=2, prev_sha256=entry_sha256(a))
    assert verify_audit_chain([a, b]) == []
    assert any("out of id order" in p for p in verify_audit_chain([b, a]))
    c = _entry(2, competition="annan", id=3, prev_sha256=entry_sha256(b))
    assert any("of competition 'annan'" in p for p in verify_audit_chain([a, b, c]))
    assert verify_audit_chain([]) == []
