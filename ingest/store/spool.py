"""A durable local spool of messages that could not reach a remote store yet.

Batches are appended to a SQLite file with ``synchronous=FULL`` (on disk before the MQTT
acknowledgement) and taken back in the order they came.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from pathlib import Path

import orjson

from ingest.store.base import Message, Rejected, StoredReading, StoredTemperature


def encode_messages(messages: list[Message]) -> bytes:
    return orjson.dumps(
        [
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
                        base64.b64encode(q.payload).decode(),
                        q.received_ms,
                        q.source,
                    ]
                    for q in m.rejected
                ],
                "temperatures": [[t.station, t.ts_ms, t.temp_c] for t in m.temperatures],
            }
            for m in messages
        ]
    )


def decode_messages(blob: bytes) -> list[Message]:
    return [
        Message(
            m["topic"],
            m["received_ms"],
            m["source"],
            [StoredReading(*r) for r in m["readings"]],
            [Rejected(q[0], q[1], q[2], base64.b64decode(q[3]), q[4], q[5]) for q in m["rejected"]],
            [StoredTemperature(*t) for t in m.get("temperatures", [])],
        )
        for m in orjson.loads(blob)
    ]


class Spool:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # on disk before we acknowledge
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY, batch BLOB NOT NULL)"
        )

    def append(self, messages: list[Message]) -> None:
        with self._lock:
            self._conn.execute("INSERT INTO spool (batch) VALUES (?)", (encode_messages(messages),))

    def oldest(self) -> tuple[int, list[Message]] | None:
        with self._lock:
            row = self._conn.execute("SELECT id, batch FROM spool ORDER BY id LIMIT 1").fetchone()
        return (row[0], decode_messages(row[1])) if row else None

    def remove(self, batch_id: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM spool WHERE id = ?", (batch_id,))

    def depth(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM spool").fetchone()[0]

    def close(self) -> None:
        self._conn.close()
