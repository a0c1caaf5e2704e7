"""SQLite store, organiser part (``organiser.OrganiserStore``): annotations, site edits, the
audit log, held data and closed competitions.

Tables, in the readings' file, made when the store opens:

- ``annotation(id, competition, site, ts_ms, text, author)``: an action a site took;
- ``site_edit(id, competition, site, changes, author, ts_ms)``: an organiser's edit of a site,
  ``changes`` the changed fields as JSON;
- ``audit(id, competition, ts_ms, who, action, subject, before_json, after_json, reason,
  prev_sha256)``: the audit log (``audit``); triggers abort every UPDATE and DELETE of it;
- ``held``: held data (``sqlite_held``, which ingest's writes use too);
- ``closing(competition, closed_ms, who, bundle_zlib, bundle_bytes, bundle_sha256,
  manifest_sha256)``: a closed competition, its bundle's canonical JSON compressed with zlib;
  triggers abort every UPDATE and DELETE of it.

It writes on the readings store's writer connection, under its lock (``SQLiteStore``): one
writer per process for the whole file, as before the store had two parts. It reads on the
calling thread's reader connection.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterator

from ingest.store import sqlite_held
from ingest.store.audit import AuditEntry, chained, checked_entry
from ingest.store.checks import json_value, sha256_hex
from ingest.store.closing import (
    Closing,
    already_closed,
    checked_closing,
    parsed_bundle,
)
from ingest.store.held import (
    HeldItem,
    UnknownHeld,
    checked_decision,
    checked_item,
    decided_error,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS annotation (
    id INTEGER PRIMARY KEY,
    competition TEXT NOT NULL,
    site TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS site_edit (
    id INTEGER PRIMARY KEY,
    competition TEXT NOT NULL,
    site TEXT NOT NULL,
    changes TEXT NOT NULL,
    author TEXT NOT NULL,
    ts_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    competition TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before_json TEXT NOT NULL,
    after_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_competition ON audit (competition, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: an entry cannot be changed');
END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: an entry cannot be deleted');
END;
CREATE TABLE IF NOT EXISTS closing (
    competition TEXT PRIMARY KEY,
    closed_ms INTEGER NOT NULL,
    who TEXT NOT NULL,
    bundle_zlib BLOB NOT NULL,
    bundle_bytes INTEGER NOT NULL,
    bundle_sha256 TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS closing_no_update BEFORE UPDATE ON closing
BEGIN
    SELECT RAISE(ABORT, 'a closed competition is frozen: its closing cannot be changed');
END;
CREATE TRIGGER IF NOT EXISTS closing_no_delete BEFORE DELETE ON closing
BEGIN
    SELECT RAISE(ABORT, 'a closed competition is frozen: its closing cannot be deleted');
END;
"""
_ANNOTATION_KEYS = ("id", "competition", "site", "ts_ms", "text", "author")


class SQLiteOrganiser:
    """Organiser data on the readings store's connections: its ``writer``, the
    ``write_lock`` every write of that connection takes, and ``reader``, which gives the
    calling thread's connection."""

    def __init__(
        self,
        writer: sqlite3.Connection,
        write_lock: threading.Lock,
        reader: Callable[[], sqlite3.Connection],
    ) -> None:
        self._writer = writer
        self._write_lock = write_lock
        self._reader = reader
        with write_lock:
            writer.executescript(_SCHEMA + sqlite_held.SCHEMA)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction on the writer (BEGIN IMMEDIATE: a read in it sees the latest
        commit of any process), under the write lock."""
        with self._write_lock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:  # SQLite may have rolled back already
                    cur.execute("ROLLBACK")
                raise

    # -- annotations ---------------------------------------------------------------------

    def add_annotation(
        self, competition: str, site: str, ts_ms: int, text: str, author: str
    ) -> int:
        with self._write_lock:
            cur = self._writer.execute(
                "INSERT INTO annotation (competition, site, ts_ms, text, author) "
                "VALUES (?, ?, ?, ?, ?)",
                (competition, site, int(ts_ms), text, author),
            )
            return int(cur.lastrowid)

    def list_annotations(self, competition: str, site: str | None = None) -> list[dict]:
        sql = (
            "SELECT id, competition, site, ts_ms, text, author FROM annotation "
            "WHERE competition = ?"
        )
        args: list = [competition]
        if site is not None:
            sql += " AND site = ?"
            args.append(site)
        rows = self._reader().execute(sql + " ORDER BY ts_ms, id", args).fetchall()
        return [dict(zip(_ANNOTATION_KEYS, row, strict=True)) for row in rows]

    def delete_annotation(self, competition: str, annotation_id: int) -> bool:
        with self._write_lock:
            cur = self._writer.execute(
                "DELETE FROM annotation WHERE id = ? AND competition = ?",
                (int(annotation_id), competition),
            )
            return cur.rowcount > 0

    # -- site edits ----------------------------------------------------------------------

    def save_site_edit(
        self, competition: str, site: str, changes: dict, by: str, ts_utc_s: float
    ) -> None:
        with self._write_lock:
            self._writer.execute(
                "INSERT INTO site_edit (competition, site, changes, author, ts_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (competition, site, json.dumps(changes), by, int(ts_utc_s * 1000)),
            )

    def site_edits(self, competition: str) -> dict[str, dict]:
        rows = self._reader().execute(
            "SELECT site, changes FROM site_edit WHERE competition = ? ORDER BY ts_ms, id",
            (competition,),
        )
        merged: dict[str, dict] = {}
        for site, changes in rows.fetchall():
            merged.setdefault(site, {}).update(json.loads(changes))
        return merged

    # -- the audit log ---------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> int:
        entry = checked_entry(entry)
        with self._transaction() as cur:
            last = cur.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE competition = ? ORDER BY id DESC "
                "LIMIT 1",
                (entry.competition,),
            ).fetchone()
            (entry_id,) = cur.execute("SELECT coalesce(max(id), 0) + 1 FROM audit").fetchone()
            entry = chained(entry, entry_id, None if last is None else _audit_entry(last))
            cur.execute(
                f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.id,
                    entry.competition,
                    entry.ts_ms,
                    entry.who,
                    entry.action,
                    entry.subject,
                    json.dumps(entry.before, separators=(",", ":")),
                    json.dumps(entry.after, separators=(",", ":")),
                    entry.reason,
                    entry.prev_sha256,
                ),
            )
        return entry_id

    def list_audit(
        self, competition: str, after_id: int = 0, limit: int = 10_000
    ) -> list[AuditEntry]:
        rows = self._reader().execute(
            f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE competition = ? AND id > ? ORDER BY id "
            "LIMIT ?",
            (competition, int(after_id), int(limit)),
        )
        return [_audit_entry(row) for row in rows.fetchall()]

    # -- held data (sqlite_held) -----------------------------------------------------------

    def hold(self, items: list[HeldItem]) -> list[int]:
        checked = [checked_item(item) for item in items]
        with self._transaction() as cur:
            return sqlite_held.insert_held(cur, checked)

    def list_held(
        self, competition: str, status: str | None = "pending", site: str | None = None
    ) -> list[HeldItem]:
        return sqlite_held.list_held(self._reader(), competition, status, site)

    def get_held(self, held_id: int) -> HeldItem | None:
        return sqlite_held.get_held(self._reader(), held_id)

    def set_what_if(self, held_id: int, what_if: dict) -> HeldItem:
        what_if = json_value(what_if, "a held item's what_if")
        if not isinstance(what_if, dict):
            raise ValueError(f"a held item's what_if must be a JSON object, got {what_if!r:.80}")
        with self._transaction() as cur:
            self._pending(cur, held_id)
            cur.execute(
                "UPDATE held SET what_if = ? WHERE id = ?",
                (json.dumps(what_if, separators=(",", ":")), int(held_id)),
            )
        return self.get_held(held_id)

    def decide(self, held_id: int, status: str, who: str, reason: str, ts_ms: int) -> HeldItem:
        who, reason, ts_ms = checked_decision(status, who, reason, ts_ms)
        with self._transaction() as cur:
            self._pending(cur, held_id)
            cur.execute(
                "UPDATE held SET status = ?, decided_by = ?, decided_ms = ?, reason = ? "
                "WHERE id = ?",
                (status, who, ts_ms, reason, int(held_id)),
            )
        return self.get_held(held_id)

    def _pending(self, cur: sqlite3.Cursor, held_id: int) -> None:
        """Raise unless ``held_id`` is a pending item (in the caller's transaction)."""
        row = cur.execute("SELECT status FROM held WHERE id = ?", (int(held_id),)).fetchone()
        if row is None:
            raise UnknownHeld(f"there is no held item {held_id}")
        if row[0] != "pending":
            raise decided_error(sqlite_held.get_held(cur.connection, held_id))

    # -- closed competitions ---------------------------------------------------------------

    def close_competition(
        self, competition: str, closed_ms: int, who: str, bundle: dict, manifest_sha256: str
    ) -> None:
        closing, data = checked_closing(competition, closed_ms, who, bundle, manifest_sha256)
        packed = zlib.compress(data, 6)
        with self._transaction() as cur:
            before = cur.execute(
                "SELECT closed_ms, who FROM closing WHERE competition = ?", (closing.competition,)
            ).fetchone()
            if before is not None:
                raise already_closed(closing.competition, *before)
            cur.execute(
                "INSERT INTO closing (competition, closed_ms, who, bundle_zlib, bundle_bytes, "
                "bundle_sha256, manifest_sha256) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    closing.competition,
                    closing.closed_ms,
                    closing.who,
                    packed,
                    len(data),
                    sha256_hex(data),
                    closing.manifest_sha256,
                ),
            )

    def closing(self, competition: str) -> Closing | None:
        row = (
            self._reader()
            .execute(
                "SELECT closed_ms, who, bundle_zlib, bundle_sha256, manifest_sha256 FROM closing "
                "WHERE competition = ?",
                (competition,),
            )
            .fetchone()
        )
        if row is None:
            return None
        closed_ms, who, packed, digest, manifest = row
        try:
            data = zlib.decompress(packed)
        except zlib.error:
            data = b""  # fails the SHA-256 check below, which says so
        bundle = parsed_bundle(competition, data, digest)
        return Closing(competition, closed_ms, who, bundle, manifest)


_AUDIT_COLUMNS = (
    "id, competition, ts_ms, who, action, subject, before_json, after_json, reason, prev_sha256"
)


def _audit_entry(row: tuple) -> AuditEntry:
    entry_id, competition, ts_ms, who, action, subject, before, after, reason, prev = row
    return AuditEntry(
        competition,
        ts_ms,
        who,
        action,
        subject,
        json.loads(before),
        json.loads(after),
        reason,
        entry_id,
        prev,
    )
