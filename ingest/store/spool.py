"""A durable local spool of messages that could not reach a remote store yet.

Batches are appended to a SQLite file with ``synchronous=FULL`` (on disk before the MQTT
acknowledgement) and taken back in the order they came.

One spool file belongs to one process: opening it takes an exclusive lock (``flock`` on
``<path>.lock``, which names the holder's pid), and a second process opening the same path is
refused with ``SpoolInUse``. Two processes sharing a spool would replay each other's batches.

Format: a row per batch, ``batch`` the messages as JSON, ``spooled_ms`` when it was spooled
(NULL in rows of files written before that column existed). A message keeps its raw payload
(``payload``, base64) so that a message the server refuses on replay is quarantined with the
bytes it arrived with; its rejected entries carry ``null`` for a payload that is the message's
own. Files written before payloads were kept read as messages without one. A message's held
items (``Message.held``) are a list ``held`` of objects with ``HeldItem``'s fields, their ids
included (the message has no ``held`` key when it has none, as in files written before held
data). A batch that cannot be read back is set aside (table ``spool_set_aside``) instead of
blocking the ones behind it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

import orjson

from ingest.store.base import Message, Rejected, StoredReading, StoredTemperature
from ingest.store.held import HeldItem

_HELD_FIELDS = tuple(HeldItem.__dataclass_fields__)


class SpoolInUse(ValueError):
    """Another process holds the spool file."""


class SpoolUnreadable(ValueError):
    """A spooled batch cannot be decoded (``batch_id`` says which)."""

    def __init__(self, batch_id: int, cause: BaseException) -> None:
        super().__init__(f"spooled batch {batch_id} cannot be read: {type(cause).__name__}")
        self.batch_id = batch_id


def encode_messages(messages: list[Message]) -> bytes:
    out = []
    for m in messages:
        own = m.payload
        out.append(
            {
                "topic": m.topic,
                "received_ms": m.received_ms,
                "source": m.source,
                "readings": [[r.meter_id, r.ts_ms, r.energy_kwh, r.power_w] for r in m.readings],
                "rejected": [
                    [
                        q.reason,
                        q.detail,
                        q.topic,
                        None if _is_own(q.payload, own) else base64.b64encode(q.payload).decode(),
                        q.received_ms,
                        q.source,
                    ]
                    for q in m.rejected
                ],
                "temperatures": [[t.station, t.ts_ms, t.temp_c] for t in m.temperatures],
                "payload": base64.b64encode(own).decode(),
            }
        )
        if m.held:
            out[-1]["held"] = [
                {name: getattr(item, name) for name in _HELD_FIELDS} for item in m.held
            ]
    return orjson.dumps(out)


def decode_messages(blob: bytes) -> list[Message]:
    messages = []
    for m in orjson.loads(blob):
        own = base64.b64decode(m.get("payload") or "")
        messages.append(
            Message(
                m["topic"],
                m["received_ms"],
                m["source"],
                [StoredReading(*r) for r in m["readings"]],
                [_rejected(q, own) for q in m["rejected"]],
                [StoredTemperature(*t) for t in m.get("temperatures", [])],
                own,
                [HeldItem(**item) for item in m.get("held", [])],
            )
        )
    return messages


def _is_own(payload: bytes, own: bytes) -> bool:
    """Whether a rejected entry's payload is its message's (usually the same object)."""
    return bool(own) and (payload is own or payload == own)


def _rejected(q: list, own: bytes) -> Rejected:
    """A rejected entry as spooled: ``q[3]`` None is the message's own payload."""
    payload = own if q[3] is None else base64.b64decode(q[3])
    return Rejected(q[0], q[1], q[2], payload, q[4], q[5])


class Spool:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _take_lock(self.path)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")  # on disk before we acknowledge
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY, batch BLOB NOT NULL, "
                "spooled_ms INTEGER)"
            )
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(spool)")}
            if "spooled_ms" not in columns:  # a file from before the column
                self._conn.execute("ALTER TABLE spool ADD COLUMN spooled_ms INTEGER")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS spool_set_aside (id INTEGER PRIMARY KEY, "
                "batch BLOB NOT NULL, spooled_ms INTEGER, error TEXT NOT NULL)"
            )
        except BaseException:
            _release_lock(self._lock_fd)
            raise
        self._opened_ms = _now_ms()

    def append(self, messages: list[Message]) -> None:
        blob = encode_messages(messages)
        with self._lock:
            self._conn.execute(
                "INSERT INTO spool (batch, spooled_ms) VALUES (?, ?)", (blob, _now_ms())
            )

    def oldest(self) -> tuple[int, list[Message]] | None:
        """The oldest batch, or None; ``SpoolUnreadable`` if it cannot be decoded."""
        with self._lock:
            row = self._conn.execute("SELECT id, batch FROM spool ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None
        try:
            return row[0], decode_messages(row[1])
        except (ValueError, TypeError, KeyError, IndexError, binascii.Error) as exc:
            raise SpoolUnreadable(row[0], exc) from exc

    def replace(self, batch_id: int, messages: list[Message]) -> None:
        """Keep only ``messages`` of a batch (the rest of it was stored)."""
        blob = encode_messages(messages)
        with self._lock:
            self._conn.execute("UPDATE spool SET batch = ? WHERE id = ?", (blob, batch_id))

    def remove(self, batch_id: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))

    def set_aside(self, batch_id: int, error: str) -> None:
        """Move a batch that cannot be replayed out of the way, into ``spool_set_aside``."""
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                "INSERT INTO spool_set_aside (id, batch, spooled_ms, error) "
                "SELECT id, batch, spooled_ms, ? FROM spool WHERE id = ?",
                (error, batch_id),
            )
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))

    def set_aside_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM spool_set_aside").fetchone()[0]

    def depth(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM spool").fetchone()[0]

    def oldest_age_s(self) -> float:
        """How long the oldest batch has waited [s]; 0 when the spool is empty. A batch from
        before ``spooled_ms`` was recorded counts from when this process opened the file."""
        with self._lock:
            row = self._conn.execute(
                "SELECT coalesce(spooled_ms, ?) FROM spool ORDER BY id LIMIT 1", (self._opened_ms,)
            ).fetchone()
        return 0.0 if row is None else max(0.0, (_now_ms() - row[0]) / 1000.0)

    def adopt(self, other: str | Path) -> int:
        """Move the batches of another spool file (one no process holds) behind ours; returns
        how many. Nothing happens when another process holds it."""
        if not Path(other).exists():
            return 0
        try:
            fd = _take_lock(str(other))
        except SpoolInUse:
            return 0
        try:
            with self._lock:
                self._conn.execute("ATTACH DATABASE ? AS other", (str(other),))
                try:
                    tables = {
                        r[0]
                        for r in self._conn.execute(
                            "SELECT name FROM other.sqlite_master WHERE type = 'table'"
                        )
                    }
                    if "spool" not in tables:
                        return 0
                    columns = {r[1] for r in self._conn.execute("PRAGMA other.table_info(spool)")}
                    when = "spooled_ms" if "spooled_ms" in columns else "NULL"
                    with self._conn:
                        self._conn.execute("BEGIN IMMEDIATE")
                        moved = self._conn.execute(
                            "INSERT INTO main.spool (batch, spooled_ms) "
                            f"SELECT batch, {when} FROM other.spool ORDER BY id"
                        ).rowcount
                        self._conn.execute("DELETE FROM other.spool")
                    return moved
                finally:
                    self._conn.execute("DETACH DATABASE other")
        finally:
            _release_lock(fd)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        _release_lock(self._lock_fd)


def lock_path(path: str | Path) -> str:
    return f"{path}.lock"


def _take_lock(path: str) -> int:
    """Lock ``path``'s lock file for this process, or raise ``SpoolInUse``."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise SpoolInUse(
            f"the InfluxDB spool file {path} is in use by another process (pid {holder}): a "
            "spool belongs to one process, or they would replay each other's batches. Give "
            "each process its own: each ingest worker its own --mqtt-client-id (the default "
            "spool file is named after it), or its own spool in the store URL, e.g. "
            "influxdb://host:8086/db?spool=/var/lib/wattleague/spool-ingest-2.db"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _release_lock(fd: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
