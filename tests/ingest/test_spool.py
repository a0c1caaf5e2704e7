"""The spool file: messages come back as they went in (raw payload included), rows written by
earlier versions still read, and one file belongs to one process."""

from __future__ import annotations

import base64
import sqlite3
import subprocess
import sys

import orjson
import pytest

from ingest.store.base import Message, Rejected, StoredReading, StoredTemperature
from ingest.store.spool import Spool, SpoolInUse, SpoolUnreadable, decode_messages


def _messages() -> list[Message]:
    payload = b'[{"ts": 1300000000, "energy_kwh": 1.5}, {"ts": "x"}]'
    return [
        Message(
            "t/a",
            1_000,
            "mqtt",
            [StoredReading("a", 1_300_000_000_000, 1.5, None)],
            [
                Rejected("bad_timestamp", "reading[1]: ts 'x'", "t/a", payload, 1_000),
                Rejected("conflicting_duplicate", "other values", "t/a", b"", 1_000),
            ],
            [StoredTemperature("smhi", 1_300_000_000_000, -3.5)],
            payload,
        ),
        Message("import:json", 2_000, "import", [StoredReading("b", 5, None, 100.0)]),
    ]


def test_messages_come_back_as_spooled_with_their_payload(tmp_path):
    spool = Spool(tmp_path / "spool.db")
    try:
        spool.append(_messages())
        batch_id, back = spool.oldest()
        assert back == _messages()
        assert back[0].rejected[0].payload == back[0].payload  # stored once, both have it
        spool.replace(batch_id, back[1:])
        assert spool.oldest() == (batch_id, back[1:])
        assert spool.depth() == 1 and spool.oldest_age_s() >= 0.0
    finally:
        spool.close()


def test_rows_of_an_older_version_still_read(tmp_path):
    path = tmp_path / "old.db"
    old_row = orjson.dumps(  # no payload of the message; each entry's payload in base64
        [
            {
                "topic": "t/a",
                "received_ms": 1_000,
                "source": "mqtt",
                "readings": [["a", 7, 1.0, None]],
                "rejected": [
                    ["too_old", "d", "t/a", base64.b64encode(b"raw").decode(), 1_000, "x"]
                ],
            }
        ]
    )
    with sqlite3.connect(path) as conn:  # the table as it was: no spooled_ms
        conn.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY, batch BLOB NOT NULL)")
        conn.execute("INSERT INTO spool (batch) VALUES (?)", (old_row,))
    spool = Spool(path)
    try:
        (msg,) = spool.oldest()[1]
        assert msg.payload == b"" and msg.rejected[0].payload == b"raw"
        assert msg.temperatures == [] and msg.readings == [StoredReading("a", 7, 1.0, None)]
        assert spool.oldest_age_s() >= 0.0  # counted from opening: the row has no time
    finally:
        spool.close()
    assert decode_messages(old_row)[0].rejected[0].source == "x"


def test_an_unreadable_row_says_which(tmp_path):
    spool = Spool(tmp_path / "spool.db")
    try:
        spool._conn.execute("INSERT INTO spool (batch) VALUES (x'7b')")
        with pytest.raises(SpoolUnreadable) as caught:
            spool.oldest()
        spool.set_aside(caught.value.batch_id, "test")
        assert spool.oldest() is None and spool.set_aside_count() == 1
    finally:
        spool.close()


def test_one_process_per_spool_file(tmp_path):
    path = tmp_path / "spool.db"
    spool = Spool(path)
    try:
        other = subprocess.run(
            [sys.executable, "-c", f"from ingest.store.spool import Spool; Spool({str(path)!r})"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.returncode == 1
        assert "SpoolInUse" in other.stderr and "in use by another process" in other.stderr
        with pytest.raises(SpoolInUse, match=r"\?spool="):
            Spool(path)
    finally:
        spool.close()
    Spool(path).close()  # free once its holder closed it
