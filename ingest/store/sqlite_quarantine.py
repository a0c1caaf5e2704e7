"""The quarantine of the SQLite store: its table, the migration of older files, and the tally.

``quarantine`` holds one row per entry (``quarantine_rows`` decides what each row keeps;
``payload_bytes`` and ``payload_sha256`` are NULL for rows stored before they were recorded).
``quarantine_tally`` counts the entries per reason. A trigger adds every inserted entry to it in
the inserting transaction, whichever process or version inserts; releasing entries
(reprocessing) takes them off it, in the releasing transaction; retention (``deploy prune``)
does not, so the counts stay exact while old entries are dropped to bound the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ingest.store.base import Rejected
from ingest.store.quarantine_rows import payload_truncated, quarantine_rows

_TABLE = """
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload BLOB NOT NULL,
    payload_bytes INTEGER,
    payload_sha256 TEXT
)
"""
_ADDED_COLUMNS = {"payload_bytes": "INTEGER", "payload_sha256": "TEXT"}
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine (reason, id)",
    # retention drops by receive time, a bounded number of entries per transaction
    "CREATE INDEX IF NOT EXISTS quarantine_received ON quarantine (received_ms)",
)
_TALLY = (
    "CREATE TABLE quarantine_tally (reason TEXT PRIMARY KEY, entries INTEGER NOT NULL) "
    "WITHOUT ROWID"
)
_TALLY_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS quarantine_tally_insert AFTER INSERT ON quarantine BEGIN
    INSERT INTO quarantine_tally (reason, entries) VALUES (NEW.reason, 1)
    ON CONFLICT (reason) DO UPDATE SET entries = entries + 1;
END
"""
_IDS_PER_STATEMENT = 500
_KEYS = (
    "id",
    "received_ms",
    "source",
    "topic",
    "reason",
    "detail",
    "payload",
    "payload_bytes",
    "payload_sha256",
)


def ensure_quarantine_schema(conn: sqlite3.Connection) -> None:
    """Create the quarantine tables, or bring an older file's up to date, in one transaction.

    An older file gets the ``payload_bytes`` and ``payload_sha256`` columns (NULL for its rows)
    and a tally counted from its rows. ``conn`` must be in autocommit mode
    (``isolation_level=None``); a file already up to date is not locked for writing.
    """
    if _up_to_date(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_TABLE)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(quarantine)")}
        for name, sql_type in _ADDED_COLUMNS.items():
            if name not in columns:
                conn.execute(f"ALTER TABLE quarantine ADD COLUMN {name} {sql_type}")
        for sql in _INDEXES:
            conn.execute(sql)
        if not _has(conn, "table", "quarantine_tally"):
            conn.execute(_TALLY)
            conn.execute(
                "INSERT INTO quarantine_tally (reason, entries) "
                "SELECT reason, count(*) FROM quarantine GROUP BY reason"
            )
        conn.execute(_TALLY_TRIGGER)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _up_to_date(conn: sqlite3.Connection) -> bool:
    columns = {row[1] for row in conn.execute("PRAGMA table_info(quarantine)")}
    return (
        set(_ADDED_COLUMNS) <= columns
        and _has(conn, "table", "quarantine_tally")
        and _has(conn, "trigger", "quarantine_tally_insert")
        and _has(conn, "index", "quarantine_received")
    )


def _has(conn: sqlite3.Connection, kind: str, name: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", (kind, name)
        ).fetchone()
        is not None
    )


def insert_quarantine(cur: sqlite3.Cursor, messages: Iterable[Iterable[Rejected]]) -> int:
    """Store the rejected entries of each message (see ``quarantine_rows``), inside the
    caller's transaction; the tally follows by its trigger. Returns the entries stored."""
    rows = quarantine_rows(messages)
    cur.executemany(
        "INSERT INTO quarantine (received_ms, source, topic, reason, detail, payload, "
        "payload_bytes, payload_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def release_quarantine(cur: sqlite3.Cursor, ids: list[int]) -> None:
    """Remove entries that were resolved (reprocessed) and take them off the tally, inside the
    caller's transaction. Ids of entries no longer stored are ignored."""
    for lo in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = [int(i) for i in ids[lo : lo + _IDS_PER_STATEMENT]]
        marks = ",".join("?" * len(chunk))
        counts = cur.execute(
            f"SELECT reason, count(*) FROM quarantine WHERE id IN ({marks}) GROUP BY reason",
            chunk,
        ).fetchall()
        cur.execute(f"DELETE FROM quarantine WHERE id IN ({marks})", chunk)
        cur.executemany(
            "UPDATE quarantine_tally SET entries = max(entries - ?, 0) WHERE reason = ?",
            [(n, reason) for reason, n in counts],
        )


def quarantine_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Entries per reason: every entry ever stored, less those released (pruned ones count)."""
    rows = conn.execute(
        "SELECT reason, entries FROM quarantine_tally WHERE entries > 0 ORDER BY reason"
    ).fetchall()
    return dict(rows)


def list_quarantine(
    conn: sqlite3.Connection, limit: int, reason: str | None, ids: list[int] | None
) -> list[dict]:
    """Most recent entries first (``Store.list_quarantine``)."""
    sql = f"SELECT {', '.join(_KEYS)} FROM quarantine"
    where, args = [], []
    if reason is not None:
        where.append("reason = ?")
        args.append(reason)
    if ids is not None:
        where.append(f"id IN ({','.join('?' * len(ids))})")
        args.extend(ids)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    out = []
    for row in conn.execute(sql, (*args, limit)).fetchall():
        entry = dict(zip(_KEYS, row, strict=True))
        entry["payload_truncated"] = payload_truncated(entry["payload"], entry["payload_bytes"])
        out.append(entry)
    return out
