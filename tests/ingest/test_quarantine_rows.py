"""What the quarantine stores of a message: its payload once and bounded, details bounded."""

from __future__ import annotations

import hashlib

from ingest.store.base import Rejected
from ingest.store.quarantine_rows import (
    QUARANTINE_DETAIL_MAX_CHARS,
    QUARANTINE_PAYLOAD_MAX_BYTES,
    payload_truncated,
    quarantine_rows,
)

MB = 1_000_000


def _big_payload() -> bytes:
    return b'[{"meter": "nobody", "ts": 1300000000, "power_w": 1}' + b" " * (MB - 53) + b"]"


def test_a_big_message_with_many_bad_readings_stores_its_payload_once_and_cut():
    payload = _big_payload()
    entries = [Rejected("unknown_meter", f"reading[{i}]", "t", payload, 5) for i in range(10_000)]
    rows = quarantine_rows([entries])
    assert len(rows) == 10_000
    assert rows[0].payload == payload[:QUARANTINE_PAYLOAD_MAX_BYTES]
    assert QUARANTINE_PAYLOAD_MAX_BYTES == 48 * 1024
    assert all(r.payload == b"" for r in rows[1:])
    assert {(r.payload_bytes, r.payload_sha256) for r in rows} == {
        (MB, hashlib.sha256(payload).hexdigest())
    }
    assert sum(len(r.payload) for r in rows) == 48 * 1024
    assert [r.detail for r in rows[:2]] == ["reading[0]", "reading[1]"]


def test_each_message_stores_its_own_payload_and_equal_copies_count_as_one():
    a, b = b'{"x": 1}', b"not json"
    rows = quarantine_rows(
        [
            [
                Rejected("non_numeric", "1", "t", a, 1),
                Rejected("non_numeric", "2", "t", bytes(a), 1),
            ],
            [Rejected("undecodable", "3", "u", b, 2), Rejected("store_rejected", "4", "u", a, 2)],
            [Rejected("non_numeric", "5", "t", a, 3)],  # another message: stored again
        ]
    )
    assert [r.payload for r in rows] == [a, b"", b, a, a]
    assert [r.payload_bytes for r in rows] == [8, 8, 8, 8, 8]
    assert rows[2].payload_sha256 == hashlib.sha256(b).hexdigest()
    assert rows[3].payload_sha256 == hashlib.sha256(a).hexdigest()


def test_an_entry_without_a_payload_records_zero_bytes():
    # a conflicting duplicate: the message's readings were stored, the entry has no payload
    (row,) = quarantine_rows([[Rejected("conflicting_duplicate", "m at 5", "t", b"", 1)]])
    assert (row.payload, row.payload_bytes) == (b"", 0)
    assert row.payload_sha256 == hashlib.sha256(b"").hexdigest()
    assert not payload_truncated(row.payload, row.payload_bytes)


def test_long_details_are_cut_with_their_full_length():
    detail = "value 'x" + "A" * 100_000 + "' is not a number"
    short = "reading[3]: power_w 'abc' is not a number"
    rows = quarantine_rows([[Rejected("non_numeric", detail, "t", b"1", 1)]])
    assert len(rows[0].detail) == QUARANTINE_DETAIL_MAX_CHARS
    assert rows[0].detail.startswith("value 'xAAA")
    assert rows[0].detail.endswith("(cut: 100,025 characters in all)")
    assert quarantine_rows([[Rejected("non_numeric", short, "t", b"1", 1)]])[0].detail == short


def test_truncated_means_the_entry_holds_less_than_its_whole_payload():
    assert payload_truncated(b"x" * 10, 11)
    assert payload_truncated(b"", 11)  # held by an earlier entry of its message
    assert not payload_truncated(b"x" * 11, 11)
    assert not payload_truncated(b"abc", None)  # stored before lengths were recorded
