"""InfluxDB store: held data (``organiser.HeldData``), written by ingest and by organisers' tools.

Measurements, in the readings' database (times in ns):

- ``held`` — tags ``competition``, ``site``; fields ``meter``, ``kind``, ``source``, ``topic``,
  ``what_if`` (JSON), ``status``, ``content_sha256``, ``decided_by``, ``reason`` (strings),
  ``received_ms``, ``first_ts_ms``, ``last_ts_ms``, ``payload_rows``, ``payload_parts``,
  ``decided_ms`` (ints); time = the item's id: its receive time in ns plus a sequence number,
  as the quarantine's ids. A decision or a new what-if is written onto the same point (same
  series and time: InfluxDB merges the fields).
- ``held_payload`` — tags ``competition``, ``site``, ``part``; field ``data``: the payload's
  rows as JSON, compressed and cut into parts (``influx_blob``); time = the item's id.

An item is read back only whole: its payload's ``content_sha256`` is checked
(``held.content_sha256``). ``InfluxStore.write`` posts a message's items in the first request
of its batch, with the readings of that request (``held_lines``); it gives them their ids before
it tries, so that a batch spooled and replayed writes the same points again.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections import defaultdict
from dataclasses import replace

from ingest.store.held import HeldItem, content_sha256
from ingest.store.influx_blob import blob_from_parts, blob_parts
from ingest.store.influx_http import InfluxHTTP, series_rows
from ingest.store.influxql import literal
from ingest.store.line_protocol import decode_tag, decode_text, encode_point

SAME_PER_QUERY = 50  # content hashes looked up in one query


class HeldDamaged(ValueError):
    """A held item's payload in InfluxDB is incomplete or not what was held."""


# one sequence for every store of the process; a random start keeps two processes apart
_SEQ = itertools.count(secrets.randbelow(1_000_000))


def new_held_id(received_ms: int) -> int:
    """An id [ns]: the receive time and a sequence number."""
    return int(received_ms) * 1_000_000 + next(_SEQ) % 1_000_000


def to_write(http: InfluxHTTP, items: list[HeldItem]) -> tuple[list[int], list[HeldItem]]:
    """Of checked items with their ids: the id each is kept under, and those to write.

    An item whose data a pending stored item has (or an earlier one of ``items``) is kept under
    that item's id and not written; nor is one whose id is stored already (a spooled batch
    written in part before): writing it again would undo a decision taken since.
    """
    same = _pending_same(http, items)
    stored = _stored_ids(http, items)
    ids: list[int] = []
    out: list[HeldItem] = []
    for item in items:
        digest = content_sha256(item)
        if digest in same:
            ids.append(same[digest])
            continue
        same[digest] = item.id
        ids.append(item.id)
        if item.id not in stored:
            out.append(item)
    return ids, out


def held_lines(items: list[HeldItem]) -> list[str]:
    """The lines (ns precision) of checked items with their ids: payload parts, then item."""
    lines = []
    for item in items:
        tags = {"competition": item.competition, "site": item.site}
        data = json.dumps(item.payload, separators=(",", ":")).encode("ascii")
        parts = blob_parts(data)
        lines += [
            encode_point("held_payload", {**tags, "part": str(k)}, {"data": part}, item.id)
            for k, part in enumerate(parts)
        ]
        lines.append(
            encode_point(
                "held",
                tags,
                {
                    "meter": item.meter,
                    "kind": item.kind,
                    "source": item.source,
                    "topic": item.topic,
                    "received_ms": int(item.received_ms),
                    "first_ts_ms": int(item.first_ts_ms),
                    "last_ts_ms": int(item.last_ts_ms),
                    "what_if": json.dumps(item.what_if, separators=(",", ":")),
                    "status": "pending",
                    "content_sha256": content_sha256(item),
                    "payload_rows": len(item.payload),
                    "payload_parts": len(parts),
                },
                item.id,
            )
        )
    return lines


def update_line(item: HeldItem, fields: dict[str, object]) -> str:
    """A line (ns) that writes ``fields`` onto a stored item's point."""
    return encode_point(
        "held", {"competition": item.competition, "site": item.site}, fields, item.id
    )


def _pending_same(http: InfluxHTTP, items: list[HeldItem]) -> dict[str, int]:
    """Of checked items, the content hashes that a pending stored item has, → its id."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for item in items:
        wanted[item.competition].add(content_sha256(item))
    found: dict[str, int] = {}
    for competition, digests in wanted.items():
        ordered = sorted(digests)
        for lo in range(0, len(ordered), SAME_PER_QUERY):
            same = " OR ".join(
                f'"content_sha256" = {literal(d)}' for d in ordered[lo : lo + SAME_PER_QUERY]
            )
            (result,) = http.query(
                f'SELECT "content_sha256" FROM "held" WHERE "competition" = '
                f"{literal(competition)} AND \"status\" = 'pending' AND ({same})",
                epoch="ns",
            )
            for _, row in series_rows(result):
                found.setdefault(row["content_sha256"], int(row["time"]))
    return found


def _stored_ids(http: InfluxHTTP, items: list[HeldItem]) -> set[int]:
    """The ids of ``items`` that are stored already."""
    spans: dict[str, list[int]] = defaultdict(list)
    for item in items:
        spans[item.competition].append(item.id)
    stored: set[int] = set()
    for competition, ids in spans.items():
        (result,) = http.query(
            f'SELECT "payload_parts" FROM "held" WHERE "competition" = {literal(competition)} '
            f"AND time >= {min(ids)} AND time <= {max(ids)}",
            epoch="ns",
        )
        stored.update(int(row["time"]) for _, row in series_rows(result))
    return stored & {item.id for item in items}


def undo_statements(items: list[HeldItem]) -> list[str]:
    """InfluxQL that deletes the points of written items (a refused batch's)."""
    statements = []
    for item in items:
        where = (
            f'"competition" = {literal(item.competition)} AND "site" = {literal(item.site)} '
            f"AND time >= {item.id} AND time <= {item.id}"
        )
        statements += [
            f'DELETE FROM "held" WHERE {where}',
            f'DELETE FROM "held_payload" WHERE {where}',
        ]
    return statements


def read_held(http: InfluxHTTP, where: str) -> list[HeldItem]:
    """The held items a ``WHERE`` condition selects, whole, in id order."""
    (result,) = http.query(f'SELECT * FROM "held" WHERE {where}', epoch="ns")
    rows = sorted((row for _, row in series_rows(result)), key=lambda row: row["time"])
    if not rows:
        return []
    parts = _payload_parts(http, rows)
    items = []
    for row in rows:
        held_id = int(row["time"])
        competition, site = decode_tag(row["competition"]), decode_tag(row["site"])
        have = parts.get((competition, site, held_id), {})
        wanted = int(row["payload_parts"])
        item = HeldItem(
            competition,
            site,
            decode_text(row["meter"]),
            decode_text(row["kind"]),
            decode_text(row["source"]),
            int(row["received_ms"]),
            int(row["first_ts_ms"]),
            int(row["last_ts_ms"]),
            [],
            json.loads(decode_text(row["what_if"])),
            decode_text(row["status"]),
            held_id,
            None if row.get("decided_by") is None else decode_text(row["decided_by"]),
            None if row.get("decided_ms") is None else int(row["decided_ms"]),
            None if row.get("reason") is None else decode_text(row["reason"]),
            decode_text(row.get("topic") or ""),
        )
        try:
            if sorted(have) != list(range(wanted)):
                raise ValueError(f"{len(have)} of its {wanted} parts are stored")
            payload = json.loads(blob_from_parts([have[k] for k in range(wanted)]))
        except ValueError as exc:
            raise HeldDamaged(
                f"held item {held_id} of competition {competition!r}: its payload in InfluxDB "
                f"cannot be read ({exc})"
            ) from None
        item = replace(item, payload=payload)
        if content_sha256(item) != row["content_sha256"]:
            raise HeldDamaged(
                f"held item {held_id} of competition {competition!r}: its payload in InfluxDB "
                "is not the data that was held (content_sha256 differs)"
            )
        items.append(item)
    return items


def _payload_parts(http: InfluxHTTP, rows: list[dict]) -> dict[tuple, dict[int, str]]:
    """(competition, site, id) → part number → data, of the items of ``rows``."""
    spans: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        spans[decode_tag(row["competition"])].append(int(row["time"]))
    parts: dict[tuple, dict[int, str]] = defaultdict(dict)
    for competition, ids in spans.items():
        (result,) = http.query(
            f'SELECT "data" FROM "held_payload" WHERE "competition" = {literal(competition)} '
            f'AND time >= {min(ids)} AND time <= {max(ids)} GROUP BY "site", "part"',
            epoch="ns",
        )
        for tags, row in series_rows(result):
            key = (competition, decode_tag(tags["site"]), int(row["time"]))
            parts[key][int(tags["part"])] = row["data"]
    return parts
