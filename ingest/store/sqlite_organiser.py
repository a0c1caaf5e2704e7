"""SQLite store, organiser part (``organiser.OrganiserStore``): annotations and site edits.

Tables, in the readings' file, made when the store opens:

- ``annotation(id, competition, site, ts_ms, text, author)``: an action a site took;
- ``site_edit(id, competition, site, changes, author, ts_ms)``: an organiser's edit of a site,
  ``changes`` the changed fields as JSON.

It writes on the readings store's writer connection, under its lock (``SQLiteStore``): one
writer per process for the whole file, as before the store had two parts. It reads on the
calling thread's reader connection.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable

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
            writer.executescript(_SCHEMA)

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
