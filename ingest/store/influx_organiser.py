"""InfluxDB store, organiser part (``organiser.OrganiserStore``): annotations and site edits.

Measurements, in the readings' database:

- ``annotation`` — tags ``competition``, ``site``; fields ``text``, ``author``, ``ts_ms`` (int,
  when the action took effect); time (ns) = the annotation's id;
- ``site_edit`` — tags ``competition``, ``site``; fields ``changes`` (the changed fields as
  JSON), ``author``; time (ns) = when the edit was made.

It shares the readings store's HTTP client and its check that the database exists
(``InfluxStore``). Neither writes a change marker: an annotation does not move a score, and a
site edit is applied by the API itself (``api.site_edits``).
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable

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
