"""The rows the quarantine stores for the rejected parts of a write (both stores use this).

A message can be rejected many times over (one entry per bad reading), and its payload and a
reading's detail come from whoever sent it. What is stored per message is bounded:

- a payload is stored once per message: with the first entry that has it; the message's other
  entries with the same payload store an empty one;
- a payload longer than ``QUARANTINE_PAYLOAD_MAX_BYTES`` is stored cut to that length;
- every entry records its payload's full length (``payload_bytes``) and SHA-256
  (``payload_sha256``, hex), so a cut or shared payload can still be recognised;
- a detail longer than ``QUARANTINE_DETAIL_MAX_CHARS`` is cut, with a note of its full length.

So a 1 MB message with 10,000 rejected readings stores 48 KiB of payload, not 10 GB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple

from ingest.store.base import Rejected

# Of a payload, the first this many bytes are kept [bytes]. Meter messages are smaller (the
# decoders' caps: DSMR 8 KiB, Tasmota 16 KiB, Shelly 32 KiB; 48 KiB holds ~1,000 readings of
# the project's JSON), so they stay whole and can be reprocessed; only batches of SenML (cap
# 256 KiB) or JSON (cap 1 MiB) above it are cut, and cannot be. The broker lets a client send
# a little over 1 MiB (max_packet_size), so a flood of the largest messages stores 22x less,
# and 48 KiB of a larger one is still enough to see what is wrong with it. In base64 (the
# InfluxDB store) 48 KiB is 64 KiB, InfluxDB's documented limit for a string field.
QUARANTINE_PAYLOAD_MAX_BYTES = 48 * 1024
# Of a detail, at most this many characters are kept, the note of the full length included.
# Details quote values from the payload, so their length is the sender's to choose. Validation
# cuts its details at 2,000 characters (plus a note); this is the store's own bound, twice
# that so validation's details pass whole, for whatever else reaches the quarantine
# (conflicts, InfluxDB's answer to a refused write, a spool written by an older version).
QUARANTINE_DETAIL_MAX_CHARS = 4_000


class QuarantineRow(NamedTuple):
    """One quarantine entry as stored."""

    received_ms: int
    source: str
    topic: str
    reason: str
    detail: str
    payload: bytes  # at most QUARANTINE_PAYLOAD_MAX_BYTES; empty if stored with another entry
    payload_bytes: int  # the whole payload's length [bytes]
    payload_sha256: str  # of the whole payload, hex


def quarantine_rows(messages: Iterable[Iterable[Rejected]]) -> list[QuarantineRow]:
    """The rows to store for the rejected entries of each message, in order.

    Parameters
    ----------
    messages : iterable of iterables of Rejected
        The rejected entries of each message of a write (one iterable per message; an entry
        on its own, such as a conflicting duplicate, is a message of one).

    Returns
    -------
    list of QuarantineRow
        One row per entry; within a message each distinct payload is stored with its first
        entry only, cut to ``QUARANTINE_PAYLOAD_MAX_BYTES`` [bytes].
    """
    rows: list[QuarantineRow] = []
    for entries in messages:
        # the entries of a message usually share one payload object: hash each object once
        # (the dict holds the payloads, so their ids stay unique while it lives)
        digests: dict[int, tuple[bytes, str]] = {}
        stored: set[tuple[int, str]] = set()  # (length, sha256) of payloads already stored
        for q in entries:
            known = digests.get(id(q.payload))
            if known is None:
                known = digests[id(q.payload)] = (q.payload, hashlib.sha256(q.payload).hexdigest())
            key = (len(q.payload), known[1])
            if key in stored:
                payload = b""
            else:
                stored.add(key)
                payload = bytes(q.payload[:QUARANTINE_PAYLOAD_MAX_BYTES])
            rows.append(
                QuarantineRow(
                    q.received_ms,
                    q.source,
                    q.topic,
                    q.reason,
                    bounded_detail(q.detail),
                    payload,
                    len(q.payload),
                    known[1],
                )
            )
    return rows


def bounded_detail(detail: str) -> str:
    """``detail`` cut to ``QUARANTINE_DETAIL_MAX_CHARS`` characters, with a note of its length."""
    if len(detail) <= QUARANTINE_DETAIL_MAX_CHARS:
        return detail
    note = f"… (cut: {len(detail):,} characters in all)"
    return detail[: QUARANTINE_DETAIL_MAX_CHARS - len(note)] + note


def payload_truncated(payload: bytes, payload_bytes: int | None) -> bool:
    """Whether a stored entry holds less than its whole payload: cut at the limit, or empty
    because an earlier entry of the same message holds it. Entries stored before lengths were
    recorded (``payload_bytes`` None) hold their whole payload."""
    return payload_bytes is not None and len(payload) < payload_bytes
