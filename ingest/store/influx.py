"""InfluxDB store: readings, hourly energy pieces and the quarantine as line protocol.

Schema (all times UTC; the README has the table for Grafana users):

- ``reading`` — one point per reading, tag ``meter``; fields ``energy_kwh`` (cumulative
  register, kWh), ``power_w`` (W), ``received_ms`` (int), ``source``, ``topic``; time = the
  reading's time, ms precision. The same reading written twice is one point.
- ``energy`` — interval energy cut at UTC hours, tags ``meter`` and ``chain`` (``reg`` or
  ``pow``); fields ``kwh`` and ``measured_s``; time = the middle of the piece. Hourly energy is
  ``sum(kwh) GROUP BY time(1h)``. A late reading that splits an interval overwrites the old
  pieces with zeros (same series and time) and adds the new ones, so sums stay exact.
- ``quarantine`` — tag ``reason``; fields ``detail``, ``topic``, ``source``, ``payload_b64``,
  ``received_ms``, ``payload_bytes`` (int, the whole payload's length), ``payload_sha256``;
  time = receive time in ns plus a sequence number (the entry's id). A payload is stored once
  per message and cut at ``QUARANTINE_PAYLOAD_MAX_BYTES`` (``quarantine_rows``).

When InfluxDB cannot be reached or answers 5xx (after retries), batches go to a durable local
spool and are replayed in order, by a background thread, once it answers again. A 4xx answer
means bad data: those messages go to the quarantine instead of being retried forever.

The chain tails (each meter's last register and power reading) are read from InfluxDB for
every batch, so one worker may take over from another; two workers writing the same meter at
the same moment may still race (use one ingest worker per meter set with InfluxDB).
"""

from __future__ import annotations

import base64
import itertools
import logging
import math
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np

from ingest.rollup import chain_pieces
from ingest.store.base import (
    Message,
    MeterHours,
    MeterSeries,
    MeterState,
    Rejected,
    WriteResult,
)
from ingest.store.conflicts import conflict, same_value
from ingest.store.influx_http import (
    InfluxHTTP,
    InfluxRejected,
    InfluxTarget,
    InfluxUnavailable,
    series_rows,
)
from ingest.store.influxql import any_of, ident, literal
from ingest.store.line_protocol import (
    decode_tag,
    decode_text,
    encode_point,
    string_field,
    tag_value,
)
from ingest.store.quarantine_rows import payload_truncated, quarantine_rows
from ingest.store.spool import Spool

log = logging.getLogger(__name__)

METERS_PER_QUERY = 100
DENSE_PIECES_PER_HOUR = 4  # above: read_hourly has InfluxDB sum the pieces per hour
# where a meter's last reading is looked for, in turn, before its first new one (None: all)
TAIL_LOOKBACKS_MS = (600_000, 86_400_000, None)
LINES_PER_POST = 5000  # at most: a reading point and about two energy pieces each
# a small batch goes in GROUPS requests (each has a fixed cost on the server), posted together
GROUPS = 2
GROUP_MIN_READINGS = 200
NO_CHANGE_MS = 2**62  # a write's since_ms when it stored no reading
MARKER_DELAY_S = 0.05  # an owed change marker waits this long for the next batch


@dataclass(frozen=True)
class _Plan:
    """What one batch writes (``InfluxStore._plan``)."""

    result: WriteResult
    rejected: list[list[Rejected]]  # to the quarantine, message by message
    new: dict[str, list[tuple]]  # meter -> rows after its tail, in time order
    reading_lines: dict[str, list[str]]  # meter -> the lines of those rows, if encoded yet
    late_rows: list[tuple]  # rows before their meter's tail, not stored yet
    late_energy_lines: list[str]  # the pieces late rows replace and add
    tails: dict[str, dict]  # meter -> {"reg": (ts_ms, kwh), "pow": (ts_ms, w), "last": ts_ms}
    since_ms: int  # the earliest time whose energy this batch changes (NO_CHANGE_MS: none)


class InfluxStore:
    """Store backend on InfluxDB 1.x (v1 API) or 2.x/3.x (v2 write, v1-compatible query)."""

    def __init__(self, url: str, replay_interval_s: float = 2.0) -> None:
        self.target = InfluxTarget.from_url(url)
        self.http = InfluxHTTP(self.target)
        spool_path = self.target.spool_path or str(
            Path.cwd() / f"wattleague-spool-{self.target.database}.db"
        )
        self.spool = Spool(spool_path)
        self._spooled = self.spool.depth()
        self._lock = threading.Lock()
        # quarantine ids are receive time (ns) + a sequence: a random start keeps two processes
        # (ingest, serve reprocessing) from writing over each other's entries
        self._seq = itertools.count(secrets.randbelow(1_000_000))
        self._database_ready = False
        self._last_token = 0
        self._token_ns: dict[int, int] = {}  # recent change tokens -> their marker's time [ns]
        self._marker_lock = threading.Lock()
        # readings stored since the last change marker, and the earliest time they changed
        self._marker_owed: tuple[int, int] | None = None
        self._marker_timer: threading.Timer | None = None
        self._marker_posting = threading.Lock()
        self._closed = False
        self._stop = threading.Event()
        self._replayer = threading.Thread(
            target=self._replay_loop, args=(replay_interval_s,), name="influx-spool", daemon=True
        )
        self._replayer.start()

    # -- writing -----------------------------------------------------------------------------

    def write(self, messages: list[Message], release_ids: list[int] = ()) -> WriteResult:
        with self._lock:
            if not self._spooled:
                try:
                    return self._write_now(messages, release_ids)
                except InfluxUnavailable as exc:
                    if release_ids:
                        raise  # reprocessing needs the server: say so to the organiser
                    log.warning("%s; spooling to %s", exc, self.spool.path)
            self.spool.append(messages)
            self._spooled += 1
            return WriteResult(0, 0, 0, 0, spooled=sum(len(m.readings) for m in messages))

    def spool_depth(self) -> int:
        return self._spooled

    def _replay_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            while self._spooled and not self._stop.is_set():
                with self._lock:
                    oldest = self.spool.oldest()
                    if oldest is None:
                        self._spooled = 0
                        break
                    batch_id, messages = oldest
                    try:
                        self._write_now(messages)
                    except InfluxUnavailable:
                        break
                    self.spool.remove(batch_id)
                    self._spooled -= 1
                    log.info("replayed spooled batch %d; %d left", batch_id, self._spooled)

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        if self.target.version == 1:
            self.http.query(f"CREATE DATABASE {ident(self.target.database)}")
        self._database_ready = True

    def _write_now(self, messages: list[Message], release_ids: list[int] = ()) -> WriteResult:
        self._ensure_database()
        plan: _Plan | None = None
        try:
            plan = self._plan(messages)
            # A group of meters at a time, each request its energy pieces before its readings:
            # if the server goes away, the replayed batch finds the readings of the groups not
            # written missing and writes their energy again (same series and times: they
            # overwrite). Readings without their energy would make the replay see duplicates
            # and skip them. Groups are encoded while earlier ones are posted.

            # The change marker owed for the previous batch (written) rides in the first request.
            owed = self._take_marker()

            def chunks():
                late = plan.late_energy_lines + _reading_lines(plan.late_rows)
                groups = self._extend(plan)
                yield owed + (late or next(groups, []))  # one request less for the marker
                yield from groups

            try:
                self.http.write_stream(chunks())
            except (InfluxUnavailable, InfluxRejected):
                if owed:
                    self._owe_marker(0, 0)  # still owed; since when no longer known: all
                raise
            self.http.write(
                [
                    encode_point(
                        "temperature", {"station": t.station}, {"temp_c": float(t.temp_c)}, t.ts_ms
                    )
                    for m in messages
                    for t in m.temperatures
                ]
            )
        except InfluxRejected as exc:
            # InfluxDB 1.x writes the points it accepts and refuses the rest ("partial write"):
            # take back what this batch added, so that what is refused leaves no energy behind
            # and the retry below counts the others as new
            if plan is not None:
                self._undo(plan)
            if len(messages) == 1:
                return self._quarantine_rejected(messages[0], str(exc))
            # find the message the server refuses; store the others
            results = [self._write_now([m]) for m in messages]
            return WriteResult(
                *(
                    sum(getattr(r, f) for r in results)
                    for f in ("inserted", "duplicates", "conflicts", "quarantined")
                )
            )
        result, rejected = plan.result, plan.rejected
        if rejected or release_ids:
            self._write_quarantine(rejected, avoid=frozenset(release_ids))
            for qid in release_ids:
                self.http.query(
                    f"DELETE FROM {ident('quarantine')} WHERE time >= {qid} AND time <= {qid}"
                )
            self._take_marker()  # the marker below covers it
            self.http.write(
                [_marker_line(result.inserted + result.quarantined, time.time_ns(), plan.since_ms)],
                precision="ns",
            )
        else:
            self._owe_marker(result.inserted, plan.since_ms)
        return result

    def _owe_marker(self, n: int, since_ms: int) -> None:
        """A change marker is due for ``n`` more stored readings that changed energy from
        ``since_ms`` on. It rides in the next batch's first request, or goes alone after
        ``MARKER_DELAY_S`` if no batch comes: under load that saves a request per batch, and
        readers see a batch at most that much later."""
        with self._marker_lock:
            owed_n, owed_since = self._marker_owed or (0, NO_CHANGE_MS)
            self._marker_owed = (owed_n + n, min(owed_since, since_ms))
            if self._marker_timer is None:
                self._marker_timer = threading.Timer(MARKER_DELAY_S, self._post_owed_marker)
                self._marker_timer.daemon = True
                self._marker_timer.start()

    def _take_marker(self) -> list[str]:
        """The owed change marker's line (no longer owed then), or none."""
        with self._marker_lock:
            if self._marker_timer is not None:
                self._marker_timer.cancel()
                self._marker_timer = None
            if self._marker_owed is None:
                return []
            (n, since_ms), self._marker_owed = self._marker_owed, None
        return [_marker_line(n, time.time_ns() // 1_000_000, since_ms)]

    def _post_owed_marker(self) -> None:
        with self._marker_posting:  # close() waits for a marker on its way
            lines = self._take_marker()
            if not lines or self._closed:
                return
            try:
                self.http.write(lines)
            except (InfluxUnavailable, InfluxRejected) as exc:
                # the readings are stored; the next write's marker tells readers about them
                log.warning("change marker not written: %s", exc)

    def _undo(self, plan: _Plan) -> None:
        """Delete the points a refused batch may have written: its new readings and the energy
        pieces after each meter's tail. Late readings overwrote existing pieces (zeros and
        replacements) that a delete cannot restore: a batch with any is left as it is."""
        if plan.late_rows or not plan.new:
            return
        statements = []
        for meter, rows in plan.new.items():
            first_ms, last_ms = rows[0][0], rows[-1][0]  # rows in time order
            tail_ms = (plan.tails.get(meter) or {}).get("last")
            # every piece of this batch ends after the tail (or the first new reading): its
            # middle lies after it; pieces written before end at the tail, so lie before it
            after_ms = tail_ms if tail_ms is not None else first_ms
            where = f'"meter" = {literal(meter)}'
            statements.append(
                f'DELETE FROM "energy" WHERE {where} AND time > {after_ms}ms '
                f"AND time <= {last_ms}ms"
            )
            statements.append(
                f'DELETE FROM "reading" WHERE {where} AND time >= {first_ms}ms '
                f"AND time <= {last_ms}ms"
            )
        for lo in range(0, len(statements), 50):
            self.http.query(";".join(statements[lo : lo + 50]))

    def _quarantine_rejected(self, msg: Message, why: str) -> WriteResult:
        readings = [[r.meter_id, r.ts_ms, r.energy_kwh, r.power_w] for r in msg.readings]
        payload = repr(readings).encode()
        self._write_quarantine(
            [
                [
                    *msg.rejected,
                    Rejected(
                        "store_rejected", why, msg.topic, payload, msg.received_ms, msg.source
                    ),
                ]
            ]
        )
        return WriteResult(0, 0, 0, len(msg.rejected) + 1)

    def _write_quarantine(
        self, rejected: list[list[Rejected]], avoid: frozenset[int] = frozenset()
    ) -> None:
        """Write the rejected entries of each message (a list per message) to the quarantine."""
        rows = quarantine_rows(rejected)
        if not rows:
            return

        def new_id(received_ms: int) -> int:
            while True:
                qid = received_ms * 1_000_000 + next(self._seq) % 1_000_000
                if qid not in avoid:  # never the id of an entry this write releases
                    return qid

        lines = [
            encode_point(
                "quarantine",
                {"reason": q.reason},
                {
                    "detail": q.detail,
                    "topic": q.topic,
                    "source": q.source,
                    "payload_b64": base64.b64encode(q.payload).decode(),
                    "received_ms": int(q.received_ms),
                    "payload_bytes": q.payload_bytes,
                    "payload_sha256": q.payload_sha256,
                },
                new_id(q.received_ms),
            )
            for q in rows
        ]
        self.http.write(lines, precision="ns")

    def _plan(self, messages: list[Message]) -> _Plan:
        """Work out what to write: the result, what to quarantine, the new readings (after their
        meter's tail) with their lines, and the energy lines of late readings."""
        rejected = [m.rejected for m in messages if m.rejected]
        # the server looks the tails up while this thread sorts the batch and encodes the
        # first request's reading lines (as if every reading were new: the common case)
        first_ms: dict[str, int] = {}
        for msg in messages:
            for r in msg.readings:
                if r.ts_ms < first_ms.get(r.meter_id, r.ts_ms + 1):
                    first_ms[r.meter_id] = r.ts_ms
        lookup = self.http.in_background(self._tails, first_ms)
        by_meter: dict[str, list[tuple]] = defaultdict(list)
        for msg in messages:
            for r in msg.readings:
                by_meter[r.meter_id].append(
                    (r.ts_ms, r.meter_id, _float(r.energy_kwh), _float(r.power_w), msg)
                )
        extra: list[tuple] = []  # a time already in the batch: (this row, the first one)
        for meter, rows in by_meter.items():
            rows.sort(key=itemgetter(0))  # stable: of equal times, the first received first
            if len({row[0] for row in rows}) < len(rows):
                kept = [rows[0]]
                for row in rows[1:]:
                    if row[0] == kept[-1][0]:
                        extra.append((row, kept[-1]))
                    else:
                        kept.append(row)
                by_meter[meter] = kept
        # meters in the order requests are made; the rest are encoded group by group, while
        # earlier groups are posted
        reading_lines: dict[str, list[str]] = {}
        encoded = 0
        for meter in sorted(by_meter):
            if lookup.done() or encoded >= LINES_PER_POST // 3:
                break
            reading_lines[meter] = _reading_lines(by_meter[meter])
            encoded += len(by_meter[meter])
        tails = lookup.result()

        new: dict[str, list[tuple]] = {}
        late_rows, duplicates = [], 0
        for meter, rows in by_meter.items():
            last = tails.get(meter, {}).get("last")
            if last is None or rows[0][0] > last:
                new[meter] = rows
                continue
            fresh = [row for row in rows if row[0] > last]
            reading_lines.pop(meter, None)
            if fresh:
                new[meter] = fresh
            for row in rows[: len(rows) - len(fresh)]:
                stored = self._stored_at(meter, row[0])
                if stored is None:
                    late_rows.append(row)
                elif same_value(stored[0], row[2]) and same_value(stored[1], row[3]):
                    duplicates += 1
                else:
                    rejected.append([conflict(meter, row[0], stored, row[2:4], row[4])])
        for row, first in extra:
            if same_value(first[2], row[2]) and same_value(first[3], row[3]):
                duplicates += 1
            else:
                rejected.append([conflict(row[1], row[0], first[2:4], row[2:4], row[4])])
        late_energy_lines: list[str] = []
        since_ms = NO_CHANGE_MS
        overlay: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for row in sorted(late_rows, key=lambda r: (r[1], r[0])):
            lines, from_ms = self._splice_late(row, tails, overlay)
            late_energy_lines += lines
            since_ms = min(since_ms, from_ms)
        for meter, rows in new.items():  # pieces from each chain's tail on
            tail = tails.get(meter) or {}
            since_ms = min(
                since_ms, rows[0][0], *(tail[k][0] for k in ("reg", "pow") if tail.get(k))
            )
        inserted = sum(len(rows) for rows in new.values()) + len(late_rows)
        conflicts = sum(1 for e in rejected for q in e if q.reason == "conflicting_duplicate")
        return _Plan(
            WriteResult(inserted, duplicates, conflicts, sum(len(e) for e in rejected)),
            rejected,
            new,
            reading_lines,
            late_rows,
            late_energy_lines,
            tails,
            since_ms,
        )

    def _tails(self, first_ms: dict[str, int]) -> dict[str, dict]:
        """Each meter's last register and power reading: {"reg": (ts_ms, v), "pow": …, "last"}.

        ``first_ms`` holds each meter's earliest reading in the batch: a meter's tail is almost
        always just before it (``_last_rows``).
        """
        tails: dict[str, dict] = {}
        names = sorted(first_ms)
        for lo in range(0, len(names), METERS_PER_QUERY):
            group = names[lo : lo + METERS_PER_QUERY]
            first = min(first_ms[m] for m in group)
            for meter, row in self._last_rows(group, first).items():
                ts_ms = int(row["time"])
                tails[meter] = {
                    "reg": None if row.get("energy_kwh") is None else (ts_ms, row["energy_kwh"]),
                    "pow": None if row.get("power_w") is None else (ts_ms, row["power_w"]),
                    "last": ts_ms,
                }
            for bound in _lookback_bounds(first):
                self._last_values(group, tails, bound)
        return tails

    def _last_rows(self, meters: list[str], before_ms: int) -> dict[str, dict]:
        """Each meter's last reading (row: time, energy_kwh, power_w as floats, received_ms).

        A query without a time bound reads a meter's whole history (with a year of readings,
        100 meters take InfluxDB 1.x over 100 ms instead of a few), so the last reading is
        looked for within each of ``TAIL_LOOKBACKS_MS`` before ``before_ms`` in turn, the last
        without a bound, until found.
        """
        rows: dict[str, dict] = {}
        for bound in _lookback_bounds(before_ms):
            unseen = [m for m in meters if m not in rows]
            if not unseen:
                break
            (result,) = self.http.query(
                'SELECT "energy_kwh", "power_w", "received_ms" FROM "reading" WHERE '
                f'{any_of("meter", unseen)}{bound} GROUP BY "meter" ORDER BY time DESC LIMIT 1'
            )
            for tags, row in series_rows(result):
                for field in ("energy_kwh", "power_w"):
                    if row.get(field) is not None:
                        row[field] = float(row[field])
                rows[decode_tag(tags["meter"])] = row
        return rows

    def _last_values(self, meters: list[str], tails: dict, bound: str) -> None:
        """Fill in the register or power value that a meter's last reading lacks, from the
        last reading (within ``bound``) that has it."""
        for kind, field in (("reg", "energy_kwh"), ("pow", "power_w")):
            lacking = [m for m in meters if m in tails and tails[m][kind] is None]
            if not lacking:
                continue
            (result,) = self.http.query(
                f'SELECT last({ident(field)}) FROM "reading" WHERE {any_of("meter", lacking)}'
                f'{bound} GROUP BY "meter"'
            )
            for tags, row in series_rows(result):
                if row.get("last") is not None:
                    tails[decode_tag(tags["meter"])][kind] = (int(row["time"]), float(row["last"]))

    def _stored_at(self, meter: str, ts_ms: int) -> tuple | None:
        (result,) = self.http.query(
            f'SELECT "energy_kwh", "power_w" FROM "reading" WHERE "meter" = {literal(meter)} '
            f"AND time = {ts_ms}ms"
        )
        for _, row in series_rows(result):
            return row.get("energy_kwh"), row.get("power_w")
        return None

    def _neighbour(self, meter: str, field: str, ts_ms: int, before: bool) -> tuple | None:
        # unbounded: a register spreads its energy over any gap, so the pair a late reading
        # splits may be weeks long
        bounds, order = (f"time < {ts_ms}ms", "DESC") if before else (f"time > {ts_ms}ms", "ASC")
        (result,) = self.http.query(
            f'SELECT {ident(field)} FROM "reading" WHERE "meter" = {literal(meter)} AND '
            f"{bounds} ORDER BY time {order} LIMIT 1"
        )
        for _, row in series_rows(result):
            if row.get(field) is not None:
                return int(row["time"]), float(row[field])
        return None

    def _splice_late(self, row: tuple, tails: dict, overlay: dict) -> tuple[list[str], int]:
        """Lines for one late reading: zero the pieces of the pair it splits, add two pairs;
        and the earliest time they touch."""
        ts_ms, meter = row[0], row[1]
        lines: list[str] = []
        from_ms = ts_ms
        for kind, col, field in (("reg", 2, "energy_kwh"), ("pow", 3, "power_w")):
            value = row[col]
            if value is None:
                continue
            prev = self._neighbour(meter, field, ts_ms, before=True)
            nxt = self._neighbour(meter, field, ts_ms, before=False)
            for point in overlay[(meter, kind)]:  # late readings earlier in this batch
                if point[0] < ts_ms and (prev is None or point[0] > prev[0]):
                    prev = point
                if point[0] > ts_ms and (nxt is None or point[0] < nxt[0]):
                    nxt = point
            here = (ts_ms, float(value))
            if prev:
                from_ms = min(from_ms, prev[0])
            if prev and nxt:
                lines += _points_lines(meter, kind, [prev, nxt], zero=True)
            lines += _points_lines(meter, kind, [p for p in (prev, here, nxt) if p])
            overlay[(meter, kind)].append(here)
            tail = tails.setdefault(meter, {"reg": None, "pow": None, "last": None})
            if tail[kind] is None or tail[kind][0] < ts_ms:
                tail[kind] = here
        return lines, from_ms

    def _extend(self, plan: _Plan):
        """For a group of meters at a time (all of a meter's new readings in one group): the
        energy pieces from each chain's tail through the new readings, then the readings."""
        group: list[str] = []
        size = 0
        n = sum(len(rows) for rows in plan.new.values())
        per_group = min(LINES_PER_POST // 3, max(GROUP_MIN_READINGS, -(-n // GROUPS)))
        for meter in sorted(plan.new):
            group.append(meter)
            size += len(plan.new[meter])
            if size >= per_group:
                yield self._extend_meters(group, plan)
                group, size = [], 0
        if group:
            yield self._extend_meters(group, plan)

    def _extend_meters(self, meters: list[str], plan: _Plan) -> list[str]:
        lines: list[str] = []
        for kind, col in (("reg", 2), ("pow", 3)):
            chain_meters, chain_ms, chain_values = [], [], []
            for meter in meters:
                tail = (plan.tails.get(meter) or {}).get(kind)
                if tail is not None:  # every new reading is after its meter's tail
                    chain_meters.append(meter)
                    chain_ms.append(tail[0])
                    chain_values.append(tail[1])
                for row in plan.new[meter]:  # in time order
                    if row[col] is not None:
                        chain_meters.append(meter)
                        chain_ms.append(row[0])
                        chain_values.append(row[col])
            if chain_meters:
                lines += _energy_lines(chain_meters, chain_ms, chain_values, kind)
        for meter in meters:
            encoded = plan.reading_lines.get(meter)
            lines += _reading_lines(plan.new[meter]) if encoded is None else encoded
        return lines

    # -- reading ---------------------------------------------------------------------------

    def read_hourly(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterHours]:
        # two groups of meters at a time: InfluxDB answers each on its own core
        groups = [
            self.http.in_background(
                self._hourly_pieces, meter_ids[lo : lo + METERS_PER_QUERY], start_s, end_s
            )
            for lo in range(0, len(meter_ids), METERS_PER_QUERY)
        ]
        parts: dict[str, list[tuple[np.ndarray, int, np.ndarray, np.ndarray]]] = defaultdict(list)
        for group in groups:
            for meter, piece in group.result():
                parts[meter].append(piece)
        out = {}
        for meter, pieces in parts.items():
            hours = np.unique(np.concatenate([p[0] for p in pieces]))
            cols = np.zeros((4, hours.size))
            for hour_s, column, kwh, seconds in pieces:
                at = np.searchsorted(hours, hour_s)
                np.add.at(cols[column], at, np.nan_to_num(kwh))
                np.add.at(cols[column + 1], at, np.nan_to_num(seconds))
            out[meter] = MeterHours(hours, cols[0], cols[1], cols[2], cols[3])
        return out

    def _hourly_pieces(self, meters: list[str], start_s: float, end_s: float) -> list[tuple]:
        """(meter, (hour_s, column, kwh, measured_s)) of the energy pieces of ``meters``."""
        where = (
            f"{any_of('meter', meters)} AND time >= {int(start_s * 1000)}ms AND "
            f"time < {int(end_s * 1000)}ms"
        )
        # Dense pieces (a meter read every 10 s has 720 an hour) are summed per UTC hour by
        # InfluxDB: sending them all takes an order of magnitude longer. Sparse ones (an hourly
        # history) are read as they are: InfluxDB 1.x's GROUP BY time(1h) takes several times
        # longer than reading a year of them.
        (counted,) = self.http.query(f'SELECT count("kwh") FROM "energy" WHERE {where}')
        n = next((row["count"] for _, row in series_rows(counted)), 0)
        span_h = max(1.0, (min(end_s, 4e9) - max(start_s, 0.0)) / 3600.0)
        if n > DENSE_PIECES_PER_HOUR * span_h * 2 * len(meters):  # two chains a meter
            q = (
                f'SELECT sum("kwh"), sum("measured_s") FROM "energy" WHERE {where} '
                'GROUP BY time(1h), "meter", "chain" fill(none)'
            )
        else:
            q = f'SELECT "kwh", "measured_s" FROM "energy" WHERE {where} GROUP BY "meter", "chain"'
        (result,) = self.http.query(q)
        out = []
        for series in result.get("series", []) or []:
            tags = series.get("tags", {}) or {}
            values = np.array(series["values"], dtype=float)  # time, kwh, measured_s
            if values.size == 0:
                continue
            column = 0 if tags.get("chain") == "reg" else 2
            hour_s = np.floor(values[:, 0] / 3.6e6) * 3600.0
            out.append((decode_tag(tags["meter"]), (hour_s, column, values[:, 1], values[:, 2])))
        return out

    def read_series(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterSeries]:
        rows: dict[str, list[tuple]] = defaultdict(list)
        for lo in range(0, len(meter_ids), METERS_PER_QUERY):
            where = any_of("meter", meter_ids[lo : lo + METERS_PER_QUERY])
            (result,) = self.http.query(
                f'SELECT "energy_kwh", "power_w" FROM "reading" WHERE {where} AND time >= '
                f'{int(start_s * 1000)}ms AND time < {int(end_s * 1000)}ms GROUP BY "meter"'
            )
            for tags, row in series_rows(result):
                rows[decode_tag(tags["meter"])].append(
                    (row["time"] / 1000.0, row.get("energy_kwh"), row.get("power_w"))
                )
        out = {}
        for meter, items in rows.items():
            a = np.array(items, dtype=float)
            out[meter] = MeterSeries(a[:, 0], a[:, 1], a[:, 2])
        return out

    def read_temperatures(
        self, stations: list[str], start_s: float, end_s: float
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for lo in range(0, len(stations), METERS_PER_QUERY):
            where = any_of("station", stations[lo : lo + METERS_PER_QUERY])
            (result,) = self.http.query(
                f'SELECT "temp_c" FROM "temperature" WHERE {where} AND time >= '
                f'{int(start_s * 1000)}ms AND time < {int(end_s * 1000)}ms GROUP BY "station"'
            )
            rows: dict[str, list] = defaultdict(list)
            for tags, row in series_rows(result):
                rows[decode_tag(tags["station"])].append((row["time"] / 1000.0, row["temp_c"]))
            for station, items in rows.items():
                a = np.array(items, dtype=float)
                out[station] = (a[:, 0], a[:, 1])
        return out

    def meter_states(self) -> dict[str, MeterState]:
        """Each meter's last reading, looked for back from now (``_last_rows``: a live meter's
        is found without reading its history)."""
        # the time condition: InfluxDB 3 may answer SHOW TAG VALUES for recent data only
        # without one (1.x reads its index either way)
        (known,) = self.http.query(
            'SHOW TAG VALUES FROM "reading" WITH KEY = "meter" WHERE time >= 0'
        )
        meters = [decode_tag(row["value"]) for _, row in series_rows(known)]
        now_ms = time.time_ns() // 1_000_000
        states = {}
        for lo in range(0, len(meters), METERS_PER_QUERY):
            for meter, row in self._last_rows(meters[lo : lo + METERS_PER_QUERY], now_ms).items():
                states[meter] = MeterState(
                    meter,
                    row["time"] / 1000.0,
                    (row.get("received_ms") or row["time"]) / 1000.0,
                    row.get("power_w"),
                    row.get("energy_kwh"),
                )
        return states

    def quarantine_counts(self) -> dict[str, int]:
        (result,) = self.http.query(
            'SELECT count("received_ms") FROM "quarantine" GROUP BY "reason"'
        )
        return {decode_tag(tags["reason"]): int(row["count"]) for tags, row in series_rows(result)}

    def list_quarantine(
        self, limit: int = 100, reason: str | None = None, ids: list[int] | None = None
    ) -> list[dict]:
        where = f' WHERE "reason" = {literal(reason)}' if reason is not None else ""
        if ids is not None:  # InfluxQL cannot OR time ranges: one query per id
            rows = []
            for qid in ids[:limit]:
                cond = f"time >= {int(qid)} AND time <= {int(qid)}"
                rows += self._quarantine_rows(
                    f"{where} AND {cond}" if where else f" WHERE {cond}", 1
                )
            return rows
        return self._quarantine_rows(where, limit)

    def _quarantine_rows(self, where: str, limit: int) -> list[dict]:
        (result,) = self.http.query(
            f'SELECT * FROM "quarantine"{where} ORDER BY time DESC LIMIT {int(limit)}', epoch="ns"
        )
        entries = [
            {
                "id": int(row["time"]),
                "received_ms": int(row["received_ms"]),
                "source": decode_text(row["source"] or ""),
                "topic": decode_text(row["topic"]),
                "reason": decode_tag(row["reason"]),
                "detail": decode_text(row["detail"]),
                "payload": base64.b64decode(row["payload_b64"] or ""),
                # absent (None) in entries written before lengths were recorded
                "payload_bytes": row.get("payload_bytes"),
                "payload_sha256": row.get("payload_sha256"),
            }
            for _, row in series_rows(result)
        ]
        for entry in entries:
            entry["payload_truncated"] = payload_truncated(entry["payload"], entry["payload_bytes"])
        return entries

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

    def save_site_edit(
        self, competition: str, site: str, changes: dict, by: str, ts_utc_s: float
    ) -> None:
        import json

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
        import json

        (result,) = self.http.query(
            f'SELECT * FROM "site_edit" WHERE "competition" = {literal(competition)}', epoch="ns"
        )
        rows = sorted(series_rows(result), key=lambda tr: tr[1]["time"])
        merged: dict[str, dict] = {}
        for _, row in rows:
            site = decode_tag(row["site"])
            merged.setdefault(site, {}).update(json.loads(decode_text(row["changes"])))
        return merged

    def count_readings(self) -> int:
        (result,) = self.http.query('SELECT count("received_ms") FROM "reading"')
        return sum(int(row["count"]) for _, row in series_rows(result))

    def change_token(self) -> int:
        self._post_owed_marker()  # this process's last write is seen here
        # every successful write adds a point to "writes": its last time changes with any write,
        # of any process, late readings included, and reading it touches one small series
        try:
            (result,) = self.http.query('SELECT last("id") FROM "writes"', epoch="ns")
        except (InfluxUnavailable, InfluxRejected):
            return self._last_token  # keep serving the last scores while it is away
        for _, row in series_rows(result):
            # a random id per marker: two markers in the same millisecond still differ
            self._last_token = hash((int(row["time"]), row["last"])) + self._spooled
            self._token_ns[self._last_token] = int(row["time"])
            while len(self._token_ns) > 64:
                del self._token_ns[next(iter(self._token_ns))]
        return self._last_token

    def changed_since_s(self, token: int) -> float | None:
        """The earliest time [Unix s] whose hourly energy any write after ``token`` (from
        ``change_token``) may have changed: from the ``since_ms`` of the ``writes`` points
        since; inf if none changed energy; None if unknown (read everything again)."""
        after_ns = self._token_ns.get(token)
        if after_ns is None:
            return None
        self._post_owed_marker()  # this process's last write is seen here
        try:
            (result,) = self.http.query(
                'SELECT count("id") AS "writes", count("since_ms") AS "saying", '
                f'min("since_ms") AS "since_ms" FROM "writes" WHERE time > {after_ns}'
            )
        except (InfluxUnavailable, InfluxRejected):
            return None
        for _, row in series_rows(result):
            if not row.get("writes"):
                return math.inf
            if row["writes"] != row.get("saying"):  # a write that does not say (a deletion)
                return None
            return row["since_ms"] / 1000.0 if row["since_ms"] < NO_CHANGE_MS else math.inf
        return math.inf

    # -- imports: bills, replacing a span of readings --------------------------------------

    def delete_readings(self, meter_id: str, start_ms: int, end_ms: int) -> int:
        with self._lock:
            self._ensure_database()
            meter = literal(meter_id)
            lines: list[str] = []
            for kind, field in (("reg", "energy_kwh"), ("pow", "power_w")):
                (result,) = self.http.query(
                    f'SELECT {ident(field)} FROM "reading" WHERE "meter" = {meter} AND '
                    f"time >= {int(start_ms)}ms AND time <= {int(end_ms)}ms"
                )
                inside = [
                    (int(row["time"]), float(row[field]))
                    for _, row in series_rows(result)
                    if row.get(field) is not None
                ]
                if not inside:
                    continue
                prev = self._neighbour(meter_id, field, int(start_ms), before=True)
                nxt = self._neighbour(meter_id, field, int(end_ms), before=False)
                chain = [p for p in (prev, *inside, nxt) if p]
                lines += _points_lines(meter_id, kind, chain, zero=True)
                if prev and nxt:
                    lines += _points_lines(meter_id, kind, [prev, nxt])
            (result,) = self.http.query(
                f'SELECT count("received_ms") FROM "reading" WHERE "meter" = {meter} AND '
                f"time >= {int(start_ms)}ms AND time <= {int(end_ms)}ms"
            )
            removed = sum(int(row["count"]) for _, row in series_rows(result))
            self.http.write(lines)
            self.http.query(
                f'DELETE FROM "reading" WHERE "meter" = {meter} AND time >= {int(start_ms)}ms '
                f"AND time <= {int(end_ms)}ms"
            )
            self.http.write([_marker_line(removed, time.time_ns())], precision="ns")
            return removed

    def write_bills(self, meter_id: str, bills: list[tuple[int, int, float]]) -> None:
        # one point per period: time = its start, field end_ms; the same start again replaces
        with self._lock:
            self._ensure_database()
            self.http.write(
                [
                    encode_point(
                        "bill",
                        {"meter": meter_id},
                        {"end_ms": int(b), "energy_kwh": float(e)},
                        int(a),
                    )
                    for a, b, e in bills
                ]
            )
            self.http.write([_marker_line(len(bills), time.time_ns())], precision="ns")

    def read_bills(self, meter_ids: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for lo in range(0, len(meter_ids), METERS_PER_QUERY):
            where = any_of("meter", meter_ids[lo : lo + METERS_PER_QUERY])
            (result,) = self.http.query(
                f'SELECT "end_ms", "energy_kwh" FROM "bill" WHERE {where} GROUP BY "meter"'
            )
            rows: dict[str, list] = defaultdict(list)
            for tags, row in series_rows(result):
                rows[decode_tag(tags["meter"])].append(
                    (row["time"] / 1000.0, row["end_ms"] / 1000.0, row["energy_kwh"])
                )
            for meter, items in rows.items():
                out[meter] = np.array(sorted(items), dtype=float)
        return out

    def close(self) -> None:
        self._stop.set()
        self._replayer.join(timeout=5)
        self._post_owed_marker()
        with self._marker_posting:
            self._closed = True
        self.http.close()
        self.spool.close()


def _energy_lines(
    meters: list[str], ts_ms: list[int], values: list[float], kind: str, zero: bool = False
) -> list[str]:
    """Energy pieces of the pairs of consecutive points of one chain (points sorted by meter,
    then time); ``zero`` writes zeros over pieces that a late reading replaces."""
    pieces = chain_pieces(
        np.array(meters, dtype=object),
        np.array(ts_ms, dtype=float) / 1000.0,
        np.array(values, dtype=float),
        kind,
    )
    # rint rounds half to even, as Python's round() did here before
    middle_ms = (
        np.rint(pieces.start_s * 1000).astype(np.int64)
        + np.rint(pieces.end_s * 1000).astype(np.int64)
    ) // 2
    # The lines written out (the hot path of a write). Values with 12 significant digits (a
    # relative 5e-13, far below any meter's resolution): repr's shortest round trip costs
    # twice as much, and a piece is a computed value, not what a meter sent.
    meter_ids = pieces.meter_ids.tolist()
    head = {m: f"energy,chain={kind},meter={tag_value(m)} kwh=" for m in set(meter_ids)}
    if zero:
        times = middle_ms.tolist()
        return [f"{head[m]}0,measured_s=0 {t}" for m, t in zip(meter_ids, times, strict=True)]
    measured = pieces.measured_s.astype(float).tolist()
    tail = {s: f",measured_s={s:.12g} " for s in set(measured)}  # mostly a few values
    return [
        f"{head[m]}{kwh:.12g}{tail[s]}{t}"
        for m, kwh, s, t in zip(
            meter_ids,
            pieces.energy_kwh.astype(float).tolist(),
            measured,
            middle_ms.tolist(),
            strict=True,
        )
    ]


def _lookback_bounds(before_ms: int) -> list[str]:
    """InfluxQL time conditions for each of ``TAIL_LOOKBACKS_MS`` before ``before_ms``."""
    return [
        "" if lookback_ms is None else f" AND time > {before_ms - lookback_ms}ms"
        for lookback_ms in TAIL_LOOKBACKS_MS
    ]


def _marker_line(n: int, ts: int, since_ms: int | None = None) -> str:
    """A point of ``writes``: ``n`` readings stored, a random ``id`` (the change token) and,
    when known, ``since_ms``: the earliest time whose energy the write may have changed."""
    since = "" if since_ms is None else f",since_ms={int(since_ms)}i"
    return f"writes id={secrets.randbits(62)}i,n={int(n)}i{since} {ts}"


def _reading_lines(rows: list[tuple]) -> list[str]:
    """``reading`` lines of rows (ts_ms, meter, energy_kwh, power_w, message), as encode_point
    would make them, written out: the fields common to a message are encoded once."""
    tails: dict[int, str] = {}
    lines = []
    for ts_ms, meter, energy_kwh, power_w, msg in rows:
        tail = tails.get(id(msg))
        if tail is None:
            tail = tails[id(msg)] = (
                f"received_ms={int(msg.received_ms)}i,source={string_field(msg.source)},"
                f"topic={string_field(msg.topic)}"
            )
        if energy_kwh is not None and power_w is not None:
            values = f"energy_kwh={energy_kwh!r},power_w={power_w!r},"
        elif energy_kwh is not None:
            values = f"energy_kwh={energy_kwh!r},"
        elif power_w is not None:
            values = f"power_w={power_w!r},"
        else:
            values = ""
        lines.append(f"reading,meter={tag_value(meter)} {values}{tail} {ts_ms}")
    return lines


def _points_lines(
    meter: str, kind: str, points: list[tuple[int, float]], zero: bool = False
) -> list[str]:
    return _energy_lines(
        [meter] * len(points), [p[0] for p in points], [p[1] for p in points], kind, zero
    )


def _float(value: float | int | None) -> float | None:
    """Always a float field: InfluxDB fixes a field's type by its first write."""
    return None if value is None else float(value)
