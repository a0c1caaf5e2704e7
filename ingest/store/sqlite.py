"""SQLite store (WAL): the embedded default.

Readings are keyed (ts_ms, meter_id) in a WITHOUT ROWID table: readings arrive in time order, and
with the time first in the key inserts append at the end of the B-tree (about 7x faster than
(meter_id, ts), see shared/reference/performance-notes.md). Writes are idempotent: the same
reading stored twice is one row.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import defaultdict
from pathlib import Path

import numpy as np

from ingest.store.base import (
    Message,
    MeterSeries,
    MeterState,
    Rejected,
    WriteResult,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    topic TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    ts_ms INTEGER NOT NULL,
    meter_id TEXT NOT NULL,
    energy_kwh REAL,
    power_w REAL,
    message_id INTEGER,
    PRIMARY KEY (ts_ms, meter_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_state (
    meter_id TEXT PRIMARY KEY,
    last_ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    power_w REAL,
    energy_kwh REAL
);
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


class SQLiteStore:
    """Store backend on one SQLite file; safe to share between threads of one process."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._writer = self._connect()
        with self._writer:
            self._writer.executescript(_SCHEMA)
        self._token_lock = threading.Lock()
        self._token_conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash (kill -9); only an OS crash or power loss
        # can lose the last transactions. FULL would fsync every commit.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # -- writing -------------------------------------------------------------------------

    def write(self, messages: list[Message]) -> WriteResult:
        inserted = duplicates = conflicts = quarantined = 0
        with self._write_lock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                rows: list[tuple] = []
                rejected: list[Rejected] = []
                for msg in messages:
                    rejected.extend(msg.rejected)
                    if not msg.readings:
                        continue
                    cur.execute(
                        "INSERT INTO messages (received_ms, source, topic) VALUES (?, ?, ?)",
                        (msg.received_ms, msg.source, msg.topic),
                    )
                    message_id = cur.lastrowid
                    rows.extend(
                        (r.ts_ms, r.meter_id, r.energy_kwh, r.power_w, message_id)
                        for r in msg.readings
                    )
                before = self._writer.total_changes
                cur.executemany(
                    "INSERT OR IGNORE INTO readings (ts_ms, meter_id, energy_kwh, power_w, "
                    "message_id) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
                inserted = self._writer.total_changes - before
                if inserted < len(rows):
                    dup, conflicting = self._classify_ignored(cur, rows, messages)
                    duplicates, conflicts = dup, len(conflicting)
                    rejected.extend(conflicting)
                if rejected:
                    cur.executemany(
                        "INSERT INTO quarantine (received_ms, source, topic, reason, detail, "
                        "payload) VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            (q.received_ms, q.source, q.topic, q.reason, q.detail, q.payload)
                            for q in rejected
                        ],
                    )
                    quarantined = len(rejected)
                self._update_meter_state(cur, messages)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return WriteResult(inserted, duplicates, conflicts, quarantined)

    def _classify_ignored(
        self, cur: sqlite3.Cursor, rows: list[tuple], messages: list[Message]
    ) -> tuple[int, list[Rejected]]:
        """Split ignored rows into exact duplicates and conflicts with what is stored."""
        stored: dict[tuple[int, str], tuple] = {}
        for ts_ms, meter_id, *_ in rows:
            hit = cur.execute(
                "SELECT energy_kwh, power_w, message_id FROM readings "
                "WHERE ts_ms = ? AND meter_id = ?",
                (ts_ms, meter_id),
            ).fetchone()
            stored[(ts_ms, meter_id)] = hit
        topic_of = {}
        for msg in messages:
            for r in msg.readings:
                topic_of[(r.ts_ms, r.meter_id)] = msg
        duplicates = 0
        conflicts: list[Rejected] = []
        seen_own: set[tuple[int, str]] = set()
        for ts_ms, meter_id, energy_kwh, power_w, message_id in rows:
            key = (ts_ms, meter_id)
            hit = stored[key]
            if hit[2] == message_id and key not in seen_own:
                seen_own.add(key)  # the row this very batch inserted
                continue
            if _same(hit[0], energy_kwh) and _same(hit[1], power_w):
                duplicates += 1
                continue
            msg = topic_of[key]
            conflicts.append(
                Rejected(
                    "conflicting_duplicate",
                    f"meter {meter_id!r} at {ts_ms} ms already has energy_kwh={hit[0]}, "
                    f"power_w={hit[1]}; this message says energy_kwh={energy_kwh}, "
                    f"power_w={power_w}",
                    msg.topic,
                    b"",
                    msg.received_ms,
                    msg.source,
                )
            )
        return duplicates, conflicts

    def _update_meter_state(self, cur: sqlite3.Cursor, messages: list[Message]) -> None:
        latest: dict[str, tuple] = {}
        for msg in messages:
            for r in msg.readings:
                prev = latest.get(r.meter_id)
                if prev is None or r.ts_ms >= prev[1]:
                    latest[r.meter_id] = (
                        r.meter_id,
                        r.ts_ms,
                        msg.received_ms,
                        r.power_w,
                        r.energy_kwh,
                    )
        if latest:
            cur.executemany(
                "INSERT INTO meter_state (meter_id, last_ts_ms, received_ms, power_w, energy_kwh) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (meter_id) DO UPDATE SET "
                "last_ts_ms = excluded.last_ts_ms, received_ms = excluded.received_ms, "
                "power_w = excluded.power_w, energy_kwh = excluded.energy_kwh "
                "WHERE excluded.last_ts_ms >= meter_state.last_ts_ms",
                list(latest.values()),
            )

    # -- reading -------------------------------------------------------------------------

    def read_series(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterSeries]:
        if not meter_ids:
            return {}
        wanted = set(meter_ids)
        rows = (
            self._reader()
            .execute(
                "SELECT meter_id, ts_ms, energy_kwh, power_w FROM readings "
                "WHERE ts_ms >= ? AND ts_ms < ?",
                (int(start_s * 1000), int(end_s * 1000)),
            )
            .fetchall()
        )
        by_meter: dict[str, list[tuple]] = defaultdict(list)
        for meter_id, ts_ms, energy_kwh, power_w in rows:
            if meter_id in wanted:
                by_meter[meter_id].append((ts_ms, energy_kwh, power_w))
        out = {}
        for meter_id, items in by_meter.items():
            arr = np.array(items, dtype=float)  # None becomes NaN
            out[meter_id] = MeterSeries(arr[:, 0] / 1000.0, arr[:, 1], arr[:, 2])
        return out

    def meter_states(self) -> dict[str, MeterState]:
        rows = (
            self._reader()
            .execute(
                "SELECT meter_id, last_ts_ms, received_ms, power_w, energy_kwh FROM meter_state"
            )
            .fetchall()
        )
        return {m: MeterState(m, ts / 1000.0, rx / 1000.0, p, e) for m, ts, rx, p, e in rows}

    def quarantine_counts(self) -> dict[str, int]:
        rows = (
            self._reader()
            .execute("SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY reason")
            .fetchall()
        )
        return dict(rows)

    def list_quarantine(self, limit: int = 100, reason: str | None = None) -> list[dict]:
        sql = "SELECT id, received_ms, source, topic, reason, detail, payload FROM quarantine"
        args: tuple = ()
        if reason is not None:
            sql += " WHERE reason = ?"
            args = (reason,)
        sql += " ORDER BY id DESC LIMIT ?"
        rows = self._reader().execute(sql, (*args, limit)).fetchall()
        keys = ("id", "received_ms", "source", "topic", "reason", "detail", "payload")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def count_readings(self) -> int:
        return self._reader().execute("SELECT count(*) FROM readings").fetchone()[0]

    def change_token(self) -> int:
        # data_version is per connection: it changes when *another* connection commits. One
        # dedicated connection answers for every thread, so tokens are comparable across calls.
        with self._token_lock:
            return self._token_conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        self._writer.close()
        self._token_conn.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
