"""SQLite store: held data (``organiser.HeldData``), written by ingest and by organisers' tools.

Table ``held(id, competition, site, meter, kind, source, topic, received_ms, first_ts_ms,
last_ts_ms, payload, payload_rows, content_sha256, what_if, status, decided_by, decided_ms,
reason)``: ``payload`` the rows as JSON, ``what_if`` a JSON object, ``content_sha256`` what
makes two items the same data (``held.content_sha256``). Triggers keep what was held: an item
is never deleted, its data never changes, and once decided nothing of it changes.

``insert_held`` runs on the caller's cursor, inside its transaction: ``SQLiteStore.write``
holds a message's items in the transaction of its readings.
"""

from __future__ import annotations

import json
import sqlite3

from ingest.store.held import HeldItem, content_sha256

SCHEMA = """
CREATE TABLE IF NOT EXISTS held (
    id INTEGER PRIMARY KEY,
    competition TEXT NOT NULL,
    site TEXT NOT NULL,
    meter TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    topic TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    first_ts_ms INTEGER NOT NULL,
    last_ts_ms INTEGER NOT NULL,
    payload TEXT NOT NULL,
    payload_rows INTEGER NOT NULL,
    content_sha256 TEXT NOT NULL,
    what_if TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'accepted', 'rejected')),
    decided_by TEXT,
    decided_ms INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS held_by_competition ON held (competition, status, site);
CREATE INDEX IF NOT EXISTS held_pending_content ON held (content_sha256)
    WHERE status = 'pending';
CREATE TRIGGER IF NOT EXISTS held_is_kept BEFORE DELETE ON held
BEGIN
    SELECT RAISE(ABORT, 'held items are kept: they are the record of what was held and decided');
END;
CREATE TRIGGER IF NOT EXISTS held_data_is_fixed BEFORE UPDATE OF competition, site, meter, kind,
    source, topic, received_ms, first_ts_ms, last_ts_ms, payload, payload_rows, content_sha256
    ON held
BEGIN
    SELECT RAISE(ABORT, 'the data of a held item cannot change: hold a new item');
END;
CREATE TRIGGER IF NOT EXISTS held_decision_is_final BEFORE UPDATE ON held
    WHEN OLD.status <> 'pending'
BEGIN
    SELECT RAISE(ABORT, 'a held item was decided: a decision is final');
END;
"""
_COLUMNS = (
    "id, competition, site, meter, kind, source, topic, received_ms, first_ts_ms, last_ts_ms, "
    "payload, what_if, status, decided_by, decided_ms, reason"
)


def insert_held(cur: sqlite3.Cursor, items: list[HeldItem]) -> list[int]:
    """Hold checked items (``held.checked_item``) on ``cur``, in its transaction; returns
    their ids: a pending item's for the same data held again."""
    ids = []
    for item in items:
        digest = content_sha256(item)
        same = cur.execute(
            "SELECT id FROM held WHERE content_sha256 = ? AND status = 'pending' "
            "AND competition = ? ORDER BY id LIMIT 1",
            (digest, item.competition),
        ).fetchone()
        if same is not None:
            ids.append(same[0])
            continue
        cur.execute(
            "INSERT INTO held (competition, site, meter, kind, source, topic, received_ms, "
            "first_ts_ms, last_ts_ms, payload, payload_rows, content_sha256, what_if) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.competition,
                item.site,
                item.meter,
                item.kind,
                item.source,
                item.topic,
                item.received_ms,
                item.first_ts_ms,
                item.last_ts_ms,
                json.dumps(item.payload, separators=(",", ":")),
                len(item.payload),
                digest,
                json.dumps(item.what_if, separators=(",", ":")),
            ),
        )
        ids.append(cur.lastrowid)
    return ids


def list_held(
    conn: sqlite3.Connection, competition: str, status: str | None, site: str | None
) -> list[HeldItem]:
    sql = f"SELECT {_COLUMNS} FROM held WHERE competition = ?"
    args: list = [competition]
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    if site is not None:
        sql += " AND site = ?"
        args.append(site)
    return [_item(row) for row in conn.execute(sql + " ORDER BY id", args).fetchall()]


def get_held(conn: sqlite3.Connection, held_id: int) -> HeldItem | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM held WHERE id = ?", (int(held_id),)).fetchone()
    return None if row is None else _item(row)


def _item(row: tuple) -> HeldItem:
    (
        held_id,
        competition,
        site,
        meter,
        kind,
        source,
        topic,
        received_ms,
        first_ts_ms,
        last_ts_ms,
        payload,
        what_if,
        status,
        decided_by,
        decided_ms,
        reason,
    ) = row
    return HeldItem(
        competition,
        site,
        meter,
        kind,
        source,
        received_ms,
        first_ts_ms,
        last_ts_ms,
        json.loads(payload),
        json.loads(what_if),
        status,
        held_id,
        decided_by,
        decided_ms,
        reason,
        topic,
    )
