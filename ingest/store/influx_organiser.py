"""InfluxDB store, organiser part (``organiser.OrganiserStore``): annotations, site edits, the
audit log, held data and closed competitions.

Measurements, in the readings' database:

- ``annotation`` — tags ``competition``, ``site``; fields ``text``, ``author``, ``ts_ms`` (int,
  when the action took effect); time (ns) = the annotation's id;
- ``site_edit`` — tags ``competition``, ``site``; fields ``changes`` (the changed fields as
  JSON), ``author``; time (ns) = when the edit was made;
- ``audit`` — tag ``competition``; fields ``who``, ``action``, ``subject``, ``before_json``,
  ``after_json``, ``reason``, ``prev_sha256`` (strings), ``ts_ms`` (int); time (ns) = the
  entry's id, above every earlier entry's of the competition, so no entry is written over
  another;
- ``held``, ``held_payload``: held data (``influx_held``, which ingest's writes use too);
- ``closing`` — tag ``competition``; fields ``who``, ``manifest_sha256``, ``bundle_sha256``
  (strings), ``closed_ms``, ``bundle_bytes``, ``parts`` (ints); time (ns) = ``closed_ms`` in
  ns; ``closing_part`` — tag ``competition``; field ``data``: the bundle's canonical JSON,
  compressed and cut into parts (``influx_blob``); time = the closing's time plus the part's
  number. The parts are written first and the ``closing`` point last: a close cut short leaves
  no closing, and closing again writes the parts over.

It shares the readings store's HTTP client and its check that the database exists
(``InfluxStore``). None writes a change marker: an annotation does not move a score, a site
edit is applied by the API itself (``api.site_edits``), and the rest are not read by scoring.

InfluxDB cannot make the audit log append-only: an administrator can DELETE points. The hash
chain (``audit``) shows it. Appends are serialised within a process; two processes appending
to one competition's log in the same few milliseconds could both follow the same entry, which
``audit.verify_audit_chain`` then reports like a deleted entry. Deciding a held item, too, is
checked and written by one process at a time.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from ingest.store import influx_held
from ingest.store.audit import AuditEntry, chained, checked_entry
from ingest.store.checks import json_value, sha256_hex
from ingest.store.closing import (
    Closing,
    ClosingDamaged,
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
from ingest.store.influx_blob import blob_from_parts, blob_parts
from ingest.store.influx_http import InfluxHTTP, series_rows
from ingest.store.influxql import literal
from ingest.store.line_protocol import decode_tag, decode_text, encode_point


class InfluxOrganiser:
    """Organiser data through the readings store's ``http`` client; ``ensure_database``
    creates the database (1.x) before the first write."""

    def __init__(self, http: InfluxHTTP, ensure_database: Callable[[], None]) -> None:
        self.http = http
        self._ensure_database = ensure_database
        # added to the points' times [ns], so that two annotations or edits made at the same
        # time stay two points; a random start keeps two processes' apart
        self._seq = itertools.count(secrets.randbelow(1_000_000))
        self._audit_lock = threading.Lock()  # one append at a time: each follows the last
        self._held_lock = threading.Lock()  # one decision at a time: each finds it pending
        self._closing_lock = threading.Lock()

    # -- annotations -----------------------------------------------------------------------

    def add_annotation(
        self, competition: str, site: str, ts_ms: int, text: str, author: str
    ) -> int:
        self._ensure_database()
        annotation_id = time.time_ns() + next(self._seq) % 1000  # its time in ns is its id
        self.http.write(
            [
                encode_point(
                    "annotation",
                    {"competition": competition, "site": site},
                    {"text": text, "author": author, "ts_ms": int(ts_ms)},
                    annotation_id,
                )
            ],
            precision="ns",
        )
        return annotation_id

    def list_annotations(self, competition: str, site: str | None = None) -> list[dict]:
        where = f'"competition" = {literal(competition)}'
        if site is not None:
            where += f' AND "site" = {literal(site)}'
        (result,) = self.http.query(f'SELECT * FROM "annotation" WHERE {where}', epoch="ns")
        rows = [
            {
                "id": int(row["time"]),
                "competition": competition,
                "site": decode_tag(row["site"]),
                "ts_ms": int(row["ts_ms"]),
                "text": decode_text(row["text"]),
                "author": decode_text(row["author"]),
            }
            for _, row in series_rows(result)
        ]
        return sorted(rows, key=lambda r: (r["ts_ms"], r["id"]))

    def delete_annotation(self, competition: str, annotation_id: int) -> bool:
        if not any(a["id"] == annotation_id for a in self.list_annotations(competition)):
            return False
        self.http.query(
            f'DELETE FROM "annotation" WHERE "competition" = {literal(competition)} '
            f"AND time >= {int(annotation_id)} AND time <= {int(annotation_id)}"
        )
        return True

    # -- site edits ------------------------------------------------------------------------

    def save_site_edit(
        self, competition: str, site: str, changes: dict, by: str, ts_utc_s: float
    ) -> None:
        self._ensure_database()
        # ns time with a sequence: two edits in one second keep their order and both survive
        ts_ns = int(ts_utc_s * 1e9) + next(self._seq) % 1000
        self.http.write(
            [
                encode_point(
                    "site_edit",
                    {"competition": competition, "site": site},
                    {"changes": json.dumps(changes), "author": by},
                    ts_ns,
                )
            ],
            precision="ns",
        )

    def site_edits(self, competition: str) -> dict[str, dict]:
        (result,) = self.http.query(
            f'SELECT * FROM "site_edit" WHERE "competition" = {literal(competition)}', epoch="ns"
        )
        rows = sorted(series_rows(result), key=lambda tr: tr[1]["time"])
        merged: dict[str, dict] = {}
        for _, row in rows:
            site = decode_tag(row["site"])
            merged.setdefault(site, {}).update(json.loads(decode_text(row["changes"])))
        return merged

    # -- the audit log ---------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> int:
        entry = checked_entry(entry)
        self._ensure_database()
        with self._audit_lock:
            (last,) = self._audit(
                f'"competition" = {literal(entry.competition)} ORDER BY time DESC LIMIT 1'
            ) or (None,)
            # a time in ns: now, or just after the last entry if the clock is behind it
            entry_id = time.time_ns() // 1000 * 1000 + secrets.randbelow(1000)
            if last is not None:
                entry_id = max(entry_id, last.id + 1)
            entry = chained(entry, entry_id, last)
            self.http.write(
                [
                    encode_point(
                        "audit",
                        {"competition": entry.competition},
                        {
                            "ts_ms": entry.ts_ms,
                            "who": entry.who,
                            "action": entry.action,
                            "subject": entry.subject,
                            "before_json": json.dumps(entry.before, separators=(",", ":")),
                            "after_json": json.dumps(entry.after, separators=(",", ":")),
                            "reason": entry.reason,
                            "prev_sha256": entry.prev_sha256,
                        },
                        entry_id,
                    )
                ],
                precision="ns",
            )
        return entry_id

    def list_audit(
        self, competition: str, after_id: int = 0, limit: int = 10_000
    ) -> list[AuditEntry]:
        return self._audit(
            f'"competition" = {literal(competition)} AND time > {int(after_id)} '
            f"ORDER BY time ASC LIMIT {int(limit)}"
        )

    def _audit(self, where: str) -> list[AuditEntry]:
        (result,) = self.http.query(f'SELECT * FROM "audit" WHERE {where}', epoch="ns")
        return [
            AuditEntry(
                decode_tag(row["competition"]),
                int(row["ts_ms"]),
                decode_text(row["who"]),
                decode_text(row["action"]),
                decode_text(row["subject"]),
                json.loads(decode_text(row["before_json"])),
                json.loads(decode_text(row["after_json"])),
                decode_text(row["reason"] or ""),
                int(row["time"]),
                decode_text(row["prev_sha256"]),
            )
            for _, row in series_rows(result)
        ]

    # -- held data (influx_held) -----------------------------------------------------------

    def hold(self, items: list[HeldItem]) -> list[int]:
        checked = [
            replace(checked_item(item), id=influx_held.new_held_id(item.received_ms))
            for item in items
        ]
        self._ensure_database()
        with self._held_lock:
            ids, new = influx_held.to_write(self.http, checked)
            if new:
                self.http.write(influx_held.held_lines(new), precision="ns")
        return ids

    def list_held(
        self, competition: str, status: str | None = "pending", site: str | None = None
    ) -> list[HeldItem]:
        where = f'"competition" = {literal(competition)}'
        if site is not None:
            where += f' AND "site" = {literal(site)}'
        if status is not None:
            where += f' AND "status" = {literal(status)}'
        return influx_held.read_held(self.http, where)

    def get_held(self, held_id: int) -> HeldItem | None:
        found = influx_held.read_held(
            self.http, f"time >= {int(held_id)} AND time <= {int(held_id)}"
        )
        return found[0] if found else None

    def set_what_if(self, held_id: int, what_if: dict) -> HeldItem:
        what_if = json_value(what_if, "a held item's what_if")
        if not isinstance(what_if, dict):
            raise ValueError(f"a held item's what_if must be a JSON object, got {what_if!r:.80}")
        with self._held_lock:
            item = self._pending(held_id)
            line = influx_held.update_line(
                item, {"what_if": json.dumps(what_if, separators=(",", ":"))}
            )
            self.http.write([line], precision="ns")
        return replace(item, what_if=what_if)

    def decide(self, held_id: int, status: str, who: str, reason: str, ts_ms: int) -> HeldItem:
        who, reason, ts_ms = checked_decision(status, who, reason, ts_ms)
        with self._held_lock:
            item = self._pending(held_id)
            decision = {"status": status, "decided_by": who, "decided_ms": ts_ms, "reason": reason}
            self.http.write([influx_held.update_line(item, decision)], precision="ns")
        return replace(item, **decision)

    def _pending(self, held_id: int) -> HeldItem:
        item = self.get_held(held_id)
        if item is None:
            raise UnknownHeld(f"there is no held item {held_id}")
        if item.status != "pending":
            raise decided_error(item)
        return item

    # -- closed competitions ---------------------------------------------------------------

    def close_competition(
        self, competition: str, closed_ms: int, who: str, bundle: dict, manifest_sha256: str
    ) -> None:
        closing, data = checked_closing(competition, closed_ms, who, bundle, manifest_sha256)
        self._ensure_database()
        tags = {"competition": closing.competition}
        at_ns = closing.closed_ms * 1_000_000
        with self._closing_lock:
            before = self._closing_row(closing.competition)
            if before is not None:
                raise already_closed(
                    closing.competition, int(before["closed_ms"]), decode_text(before["who"])
                )
            parts = blob_parts(data)
            self.http.write(
                [
                    encode_point("closing_part", tags, {"data": part}, at_ns + k)
                    for k, part in enumerate(parts)
                ],
                precision="ns",
            )
            header = {
                "closed_ms": closing.closed_ms,
                "who": closing.who,
                "manifest_sha256": closing.manifest_sha256,
                "bundle_sha256": sha256_hex(data),
                "bundle_bytes": len(data),
                "parts": len(parts),
            }
            self.http.write([encode_point("closing", tags, header, at_ns)], precision="ns")

    def closing(self, competition: str) -> Closing | None:
        row = self._closing_row(competition)
        if row is None:
            return None
        at_ns, n = int(row["time"]), int(row["parts"])
        (result,) = self.http.query(
            f'SELECT "data" FROM "closing_part" WHERE "competition" = {literal(competition)} '
            f"AND time >= {at_ns} AND time < {at_ns + n}",
            epoch="ns",
        )
        parts = {int(r["time"]) - at_ns: r["data"] for _, r in series_rows(result)}
        try:
            if sorted(parts) != list(range(n)):
                raise ValueError(f"{len(parts)} of its {n} parts are stored")
            data = blob_from_parts([parts[k] for k in range(n)])
        except ValueError as exc:
            raise ClosingDamaged(
                f"the stored results bundle of competition {competition!r} cannot be read "
                f"({exc}): it was changed in the store; use the bundle directory written at "
                "closing"
            ) from None
        bundle = parsed_bundle(competition, data, decode_text(row["bundle_sha256"]))
        return Closing(
            competition,
            int(row["closed_ms"]),
            decode_text(row["who"]),
            bundle,
            decode_text(row["manifest_sha256"]),
        )

    def _closing_row(self, competition: str) -> dict | None:
        """The competition's ``closing`` point (the first, if a race wrote two), or None."""
        (result,) = self.http.query(
            f'SELECT * FROM "closing" WHERE "competition" = {literal(competition)} '
            "ORDER BY time ASC LIMIT 1",
            epoch="ns",
        )
        return next((row for _, row in series_rows(result)), None)
