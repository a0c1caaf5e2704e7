"""InfluxDB store: readings, hourly energy pieces, the quarantine and bills as line protocol.

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

When InfluxDB cannot take a batch (unreachable, 5xx, 429, credentials; ``influx_http`` says
which answer means what) or the write fails for any other reason but refused data, the batch
goes to a durable local spool (``spool``) and is replayed in order by a background thread.
The replay outlives every error: it logs (the same error once a minute), backs off (up to
``REPLAY_BACKOFF_MAX_S``, longer when the server asks with ``Retry-After``) and tries again. A
batch that keeps failing for a reason other than unavailability is split after
``REPLAY_ISOLATE_AFTER`` tries, so only the messages that fail on their own stay behind.

Data InfluxDB refuses (a 400/422 saying so) is not retried: the batch is split
(``ingest.isolating_write``, the worker's own isolation) until the refused messages are found,
and those go to the quarantine as ``store_rejected`` with their raw payload (``Message.payload``,
kept in the spool too), reprocessable; the rest is stored. This happens for a direct write and
for a replayed batch alike, so no refused message blocks the spool.

One spool file belongs to one process (``spool.SpoolInUse``). Its default path is
``./wattleague-spool-<database>[-<spool_name>].db``: ``wattleague ingest`` names it after the
MQTT client id and ``serve`` after its port, so workers never share one by default; a process
that names its spool takes over the batches of the unnamed default file, if no one holds it.

The chain tails (each meter's last register and power reading) are read from InfluxDB for
every batch, so one worker may take over from another; two workers writing the same meter at
the same moment may still race (use one ingest worker per meter set with InfluxDB).
"""

from __future__ import annotations

import base64
import itertools
import logging
import math
import re
import secrets
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path

import numpy as np
import orjson

from ingest.isolating_write import StoreUnavailable, Written, write_isolating
from ingest.rollup import add_chain, chain_pieces, new_cells
from ingest.store.availability import is_unavailable
from ingest.store.base import (
    Message,
    MeterHours,
    MeterSeries,
    MeterState,
    Rejected,
    WriteResult,
)
from ingest.store.conflicts import conflict, same_value
from ingest.store.held import HeldItem, checked_item
from ingest.store.influx_held import held_lines, new_held_id, to_write, undo_statements
from ingest.store.influx_hourly import (
    OpenHours,
    backfill,
    hourly_lines,
    piece_records,
    read_rollup,
    remember_tails,
    resum_lines,
    rollup_cells,
    rollup_complete,
)
from ingest.store.influx_http import (
    InfluxDataRefused,
    InfluxHTTP,
    InfluxRejected,
    InfluxTarget,
    InfluxUnavailable,
    series_rows,
)
from ingest.store.influx_organiser import InfluxOrganiser
from ingest.store.influxql import any_of, ident, literal
from ingest.store.line_protocol import (
    decode_tag,
    decode_text,
    encode_point,
    string_field,
    tag_value,
)
from ingest.store.quarantine_rows import payload_truncated, quarantine_rows
from ingest.store.spool import Spool, SpoolUnreadable

log = logging.getLogger(__name__)

METERS_PER_QUERY = 100
ROLLUP_POINTS_PER_QUERY = 50_000  # meter-hours a read of the hourly rollup asks for, at most
RECENT_SPAN_H = 6  # a read of at most this many hours asks for every meter's at once [h]
DENSE_PIECES_PER_HOUR = 4  # above: read_hourly has InfluxDB sum the pieces per hour
# where a meter's last reading is looked for, in turn, before its first new one (None: all)
TAIL_LOOKBACKS_MS = (600_000, 86_400_000, None)
LINES_PER_POST = 5000  # at most: a reading point and about two energy pieces each
# a small batch goes in GROUPS requests (each has a fixed cost on the server), posted together
GROUPS = 2
GROUP_MIN_READINGS = 200
NO_CHANGE_MS = 2**62  # a write's since_ms when it stored no reading
MARKER_DELAY_S = 0.05  # an owed change marker waits this long for the next batch
REPLAY_BACKOFF_MAX_S = 60.0  # a failing replay is retried at most this far apart [s]
REPLAY_ISOLATE_AFTER = 3  # failures of one spooled batch (not unavailability), then split it
ROLLUP_RECHECK_S = 60.0  # an incomplete hourly rollup is looked at again this often [s]
LOG_EVERY_S = 60.0  # the same replay error is logged at most this often [s]


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
    cells: dict  # (meter, kind, hour_s) -> its hourly (kwh, measured_s) after the write
    tails_after: dict  # (meter, kind) -> the chain's tail [ms] after the write, if it has pieces


class InfluxStore:
    """Store backend on InfluxDB 1.x (v1 API) or 2.x/3.x (v2 write, v1-compatible query).

    This is the readings part (``base.ReadingStore``); ``organiser`` is the organiser part
    (``influx_organiser.InfluxOrganiser``), in the same database through the same client.
    """

    def __init__(
        self, url: str, replay_interval_s: float = 2.0, spool_name: str | None = None
    ) -> None:
        self.target = InfluxTarget.from_url(url)
        # the spool first: a second process with the same spool is refused before anything
        self.spool = Spool(
            self.target.spool_path or default_spool_path(self.target.database, spool_name)
        )
        if spool_name and not self.target.spool_path:
            legacy = default_spool_path(self.target.database, None)
            moved = self.spool.adopt(legacy)
            if moved:
                log.warning(
                    "took over %d spooled batches from %s (the default spool before each "
                    "process had its own); replaying them",
                    moved,
                    legacy,
                )
        self.http = InfluxHTTP(self.target)
        self._spooled = self.spool.depth()
        self._set_aside = self.spool.set_aside_count()
        # the replay's state, for /healthz and /metrics (``spool_state``)
        self.replay_error: str | None = None  # code of the last failure; None once it replays
        self.replay_failures: Counter[str] = Counter()  # failed replay attempts by code
        self._logged_s: dict[str, float] = {}  # when each kind of replay error was last logged
        self._stubborn = (0, 0)  # (spooled batch id, its failures other than unavailability)
        self._lock = threading.Lock()
        # quarantine ids are receive time (ns) + a sequence: a random start keeps two processes
        # (ingest, serve reprocessing) from writing over each other's entries
        self._seq = itertools.count(secrets.randbelow(1_000_000))
        self._database_ready = False
        # annotations and site edits: their own module, on this store's client
        self.organiser = InfluxOrganiser(self.http, self._ensure_database)
        self._last_token = 0
        self._token_ns: dict[int, int] = {}  # recent change tokens -> their marker's time [ns]
        # the last meter states and the write mark they were read at (``meter_states``)
        self._states: tuple[tuple[int, int], dict[str, MeterState]] | None = None
        self._states_lock = threading.Lock()
        self._marker_lock = threading.Lock()
        # readings stored since the last change marker, and the earliest time they changed
        self._marker_owed: tuple[int, int] | None = None
        self._marker_timer: threading.Timer | None = None
        self._marker_posting = threading.Lock()
        self._closed = False
        self._open_hours = OpenHours()  # each chain's stored sum in its tail's hour
        self._rollup_checked: bool | float = -math.inf  # True, or when last found incomplete
        self._stop = threading.Event()
        self._replayer = threading.Thread(
            target=self._replay_loop, args=(replay_interval_s,), name="influx-spool", daemon=True
        )
        self._replayer.start()

    # -- writing -----------------------------------------------------------------------------

    def write(self, messages: list[Message], release_ids: list[int] = ()) -> WriteResult:
        _number_held(messages)  # before anything: a spooled item keeps its id when replayed
        with self._lock:
            done = Written()
            if not self._spooled:
                try:
                    return self._store(messages, release_ids)
                except _Interrupted as exc:
                    if release_ids:
                        raise exc.cause from None  # reprocessing needs the server: say so
                    done, messages = exc.written, exc.pending
                    self._spooling(exc.cause)
                except Exception as exc:
                    if release_ids:
                        raise
                    self._spooling(exc)
            self.spool.append(messages)
            self._spooled += 1
            return WriteResult(
                done.inserted,
                done.duplicates,
                done.conflicts,
                done.quarantined,
                spooled=sum(len(m.readings) for m in messages),
                store_rejected=done.isolated,
                held=done.held + sum(len(m.held) for m in messages),
            )

    def spool_depth(self) -> int:
        return self._spooled

    def spool_state(self) -> dict:
        """The spool for ``/healthz`` and ``/metrics``: batches waiting, how long the oldest
        has waited [s], whether the replay thread runs, the code of its last failure (None
        once it replays again: ``unreachable``, ``http_<status>``, ``influxql_error``,
        ``error``), failed attempts by code, and batches set aside as unreadable."""
        try:
            oldest_age_s = self.spool.oldest_age_s() if self._spooled else 0.0
        except sqlite3.Error:  # closed
            oldest_age_s = 0.0
        return {
            "depth_batches": self._spooled,
            "oldest_age_s": round(oldest_age_s, 3),
            "replay_alive": self._replayer.is_alive(),
            "replay_error": self.replay_error,
            "replay_failures": dict(self.replay_failures),
            "set_aside_batches": self._set_aside,
        }

    def _spooling(self, exc: BaseException) -> None:
        if is_unavailable(exc):
            self._log_limited(
                f"spool:{_error_code(exc)}", "%s; spooling to %s", exc, self.spool.path
            )
        else:  # not the server's absence: perhaps a bug; the replay retries, then isolates
            self._log_limited(
                f"spool:{type(exc).__name__}",
                "writing to InfluxDB failed (%s: %s); spooling to %s",
                type(exc).__name__,
                exc,
                self.spool.path,
                exc_info=exc,
            )

    def _replay_loop(self, interval_s: float) -> None:
        """Replay the spool until closed, whatever happens: back off on every failure."""
        failures, delay_s = 0, interval_s
        while not self._stop.wait(delay_s):
            try:
                self._replay()
            except Exception as exc:  # the thread must outlive every error
                failures += 1
                delay_s = min(interval_s * 2**failures, REPLAY_BACKOFF_MAX_S)
                retry_after_s = getattr(exc, "retry_after_s", None)
                if retry_after_s:
                    delay_s = max(delay_s, retry_after_s)
                self._replay_failed(exc, delay_s)
                continue
            if self.replay_error is not None:
                log.warning("the spool replays again (%d batches left)", self._spooled)
                self.replay_error = None
            failures, delay_s = 0, interval_s

    def _replay(self) -> None:
        """Replay spooled batches, oldest first, until none is left or one fails (raised)."""
        while self._spooled and not self._stop.is_set():
            with self._lock:
                try:
                    oldest = self.spool.oldest()
                except SpoolUnreadable as exc:
                    self.spool.set_aside(exc.batch_id, repr(exc.__cause__))
                    self._spooled -= 1
                    self._set_aside += 1
                    log.error(
                        "%s; moved to table spool_set_aside of %s so the rest replays",
                        exc,
                        self.spool.path,
                    )
                    continue
                if oldest is None:
                    self._spooled = 0
                    break
                batch_id, messages = oldest
                stubborn_id, failures = self._stubborn
                if stubborn_id != batch_id:
                    failures = 0
                try:
                    self._store(messages, isolate_any=failures >= REPLAY_ISOLATE_AFTER)
                except _Interrupted as exc:
                    self.spool.replace(batch_id, exc.pending)  # the rest was stored
                    raise exc.cause from None
                except Exception as exc:
                    if not is_unavailable(exc):
                        self._stubborn = (batch_id, failures + 1)
                    raise
                self.spool.remove(batch_id)
                self._spooled -= 1
                self._stubborn = (0, 0)
                log.info("replayed spooled batch %d; %d left", batch_id, self._spooled)

    def _replay_failed(self, exc: Exception, delay_s: float) -> None:
        code = _error_code(exc)
        self.replay_error = code
        self.replay_failures[code] += 1
        self._log_limited(
            f"replay:{code}:{type(exc).__name__}",
            "replaying the spool failed (%s: %s); %d batches wait in %s; retrying in %.1f s",
            type(exc).__name__,
            exc,
            self._spooled,
            self.spool.path,
            delay_s,
            exc_info=exc if not is_unavailable(exc) else None,
        )

    def _log_limited(self, key: str, message: str, *args, exc_info=None) -> None:
        """Log a warning, unless one of the same ``key`` was logged within ``LOG_EVERY_S``."""
        now = time.monotonic()
        if now - self._logged_s.get(key, -math.inf) < LOG_EVERY_S:
            return
        self._logged_s[key] = now
        log.warning(message, *args, exc_info=exc_info)

    def _store(
        self, messages: list[Message], release_ids: list[int] = (), isolate_any: bool = False
    ) -> WriteResult:
        """Write ``messages`` now. When the server refuses data (or, with ``isolate_any``,
        the write fails for any reason but unavailability) the batch is split until the
        messages refused on their own are found; those are quarantined as ``store_rejected``
        with their payload. Raise what stops the write, or ``_Interrupted`` when the server
        goes away while a batch is split (part of it is stored)."""
        try:
            return self._write_now(messages, release_ids)
        except InfluxDataRefused as exc:
            cause: Exception = exc
        except Exception as exc:
            if not isolate_any or is_unavailable(exc):
                raise
            cause = exc
        direct = _Direct(self, frozenset(release_ids))
        items = [(m, _raw_payload(m)) for m in messages]
        half = len(items) // 2
        groups = [items[:half], items[half:]] if half else [items]  # the whole failed already
        written = Written()
        for i, group in enumerate(groups):
            try:
                write_isolating(direct, group, written)
            except StoreUnavailable as exc:
                pending = [m for m, _ in exc.pending] + [m for g in groups[i + 1 :] for m, _ in g]
                raise _Interrupted(exc.cause, pending, written) from exc
        if written.isolated:
            log.error(
                "InfluxDB refused %d of %d messages (%s: %s); quarantined as store_rejected",
                written.isolated,
                len(messages),
                type(cause).__name__,
                str(cause)[:300],
            )
        if release_ids:
            self._release(release_ids, written.inserted + written.quarantined)
        return WriteResult(
            written.inserted,
            written.duplicates,
            written.conflicts,
            written.quarantined,
            store_rejected=written.isolated,
            held=written.held,
        )

    def _release(self, release_ids: list[int], n: int) -> None:
        """Delete the quarantine entries reprocessing released, and mark the change."""
        for qid in release_ids:
            self.http.query(
                f"DELETE FROM {ident('quarantine')} WHERE time >= {qid} AND time <= {qid}"
            )
        self._take_marker()  # the marker below covers it
        self.http.write([_marker_line(n, time.time_ns())], precision="ns")

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        if self.target.version == 1:
            self.http.query(f"CREATE DATABASE {ident(self.target.database)}")
        self._database_ready = True
        # a database without pieces is marked as having its rollup complete before the first
        # write; one written before the rollup existed is told of here (and read from pieces)
        try:
            self._rollup_ready()
        except InfluxRejected as exc:  # a server without SHOW SERIES: reads will say so
            log.warning("could not check the hourly rollup's state: %s", exc)

    def _write_now(
        self,
        messages: list[Message],
        release_ids: list[int] = (),
        avoid: frozenset[int] = frozenset(),
    ) -> WriteResult:
        """Write one batch; raise ``InfluxDataRefused`` (after taking back what the refused
        write added), ``InfluxUnavailable`` or any other error, for the caller to handle."""
        self._ensure_database()
        plan: _Plan | None = None
        held = [item for msg in messages for item in msg.held]
        held_new: list[HeldItem] = []  # the held items this write posts
        try:
            plan = self._plan(messages)
            if held:  # those not stored yet (influx_held.to_write)
                held_new = to_write(self.http, held)[1]
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
                # the hourly totals first: they are sums of the pieces as they will be after
                # this batch, so a replay of a partly written batch writes them again alike
                first = owed + hourly_lines(plan.cells) + (late or next(groups, []))
                if held_new:  # held items in the first request, which is then in ns
                    yield [f"{line}000000" for line in first] + held_lines(held_new), "ns"
                else:
                    yield first
                yield from groups

            try:
                self.http.write_stream(chunks())
            except Exception:
                if owed:
                    self._owe_marker(0, 0)  # still owed; since when no longer known: all
                self._open_hours.forget({key[0] for key in plan.cells})
                raise
            remember_tails(self._open_hours, plan.cells, plan.tails_after)
            self.http.write(
                [
                    encode_point(
                        "temperature", {"station": t.station}, {"temp_c": float(t.temp_c)}, t.ts_ms
                    )
                    for m in messages
                    for t in m.temperatures
                ]
            )
        except InfluxDataRefused:
            # InfluxDB 1.x writes the points it accepts and refuses the rest ("partial write"):
            # take back what this batch added, so that what is refused leaves no energy behind
            # and the retry of the others counts them as new
            if plan is not None:
                self._undo(plan, held_new)
            raise
        except InfluxUnavailable as exc:
            if exc.status == 404:  # the database is gone: create it again on the next try
                self._database_ready = False
            raise
        result, rejected = plan.result, plan.rejected
        if held:
            result = replace(result, held=len(held))
        if rejected or release_ids:
            self._write_quarantine(rejected, avoid=frozenset(release_ids) | avoid)
            for qid in release_ids:
                self.http.query(
                    f"DELETE FROM {ident('quarantine')} WHERE time >= {qid} AND time <= {qid}"
                )
            self._take_marker()  # the marker below covers it
            n = result.inserted + result.quarantined
            try:
                self.http.write([_marker_line(n, time.time_ns(), plan.since_ms)], precision="ns")
            except (InfluxUnavailable, InfluxRejected):
                # the batch is written: its marker goes with the next write instead of the
                # batch being written (and quarantined) again
                self._owe_marker(n, plan.since_ms)
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

    def _undo(self, plan: _Plan, held: list[HeldItem]) -> None:
        """Delete the points a refused batch may have written: the held items it posted, its
        new readings and the energy pieces after each meter's tail. Late readings overwrote
        existing pieces (zeros and replacements) that a delete cannot restore: their energy
        is left as it is.

        Readings are deleted in runs of this batch's own times only: a reading another worker
        stored in between (a shared subscription) stays."""
        meters = [] if plan.late_rows else list(plan.new.items())
        try:
            statements = undo_statements(held)
            for lo in range(0, len(meters), 50):
                group = meters[lo : lo + 50]
                results = self.http.query(
                    ";".join(
                        f'SELECT "received_ms" FROM "reading" WHERE "meter" = {literal(meter)} '
                        f"AND time >= {rows[0][0]}ms AND time <= {rows[-1][0]}ms"
                        for meter, rows in group
                    )
                )
                for (meter, rows), result in zip(group, results, strict=True):
                    where = f'"meter" = {literal(meter)}'
                    tail_ms = (plan.tails.get(meter) or {}).get("last")
                    # every piece of this batch ends after the tail (or the first new
                    # reading): its middle lies after it; pieces written before end at the
                    # tail, so lie before it
                    after_ms = tail_ms if tail_ms is not None else rows[0][0]
                    statements.append(
                        f'DELETE FROM "energy" WHERE {where} AND time > {after_ms}ms '
                        f"AND time <= {rows[-1][0]}ms"
                    )
                    stored = [int(row["time"]) for _, row in series_rows(result)]
                    for first_ms, last_ms in _runs(stored, {row[0] for row in rows}):
                        statements.append(
                            f'DELETE FROM "reading" WHERE {where} AND time >= {first_ms}ms '
                            f"AND time <= {last_ms}ms"
                        )
            for lo in range(0, len(statements), 50):
                self.http.query(";".join(statements[lo : lo + 50]))
            self._resum_cells(plan.cells)
        except InfluxUnavailable:
            raise  # the batch is kept and written again, refusal and all
        except Exception as exc:  # e.g. a server without InfluxQL DELETE (2.x): go on
            self._log_limited(
                f"undo:{type(exc).__name__}",
                "could not take back what a refused write added (%s: %s): the energy of its "
                "refused readings may remain",
                type(exc).__name__,
                exc,
            )

    def _resum_cells(self, cells: dict) -> None:
        """Write the hourly totals of ``cells`` again from the pieces stored now (after a
        refused batch was taken back, or readings deleted): zeros first, for hours left
        without pieces."""
        self._open_hours.forget({meter for meter, _, _ in cells})
        spans: dict[str, list[float]] = {}
        for meter, _, hour_s in cells:
            span = spans.setdefault(meter, [hour_s, hour_s])
            span[0], span[1] = min(span[0], hour_s), max(span[1], hour_s)
        lines = hourly_lines({cell: (0.0, 0.0) for cell in cells})
        for meter, (first_s, last_s) in spans.items():
            lines += resum_lines(self.http, [meter], first_s, last_s + 3600)
        self.http.write(lines)

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
        tails_before = {
            (meter, kind): tail[kind][0]
            for meter, tail in tails.items()
            for kind in ("reg", "pow")
            if tail.get(kind)
        }

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
        records: list[tuple] = []  # every piece written, in order, for the hourly rollup
        for row in sorted(late_rows, key=lambda r: (r[1], r[0])):
            lines, from_ms = self._splice_late(row, tails, overlay, records)
            late_energy_lines += lines
            since_ms = min(since_ms, from_ms)
        for meter, rows in new.items():  # pieces from each chain's tail on
            tail = tails.get(meter) or {}
            since_ms = min(
                since_ms, rows[0][0], *(tail[k][0] for k in ("reg", "pow") if tail.get(k))
            )
        for msg in messages:  # a temperature changes what a weather-dependent baseline reads
            for t in msg.temperatures:
                since_ms = min(since_ms, t.ts_ms)
        late_meters = {row[1] for row in late_rows}
        try:
            extended: dict = {}  # (meter, kind) -> {hour_s: [kwh, s]} of meters without late rows
            tails_after = self._extension_records(new, tails, records, late_meters, extended)
            cells = rollup_cells(
                self.http, self._open_hours, records, tails_before, late_meters, extended
            )
        except ValueError as exc:  # no non-finite piece has a place in the rollup
            raise InfluxDataRefused(str(exc)) from exc
        touched = {r[:2] for r in records} | set(extended)
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
            cells,
            {key: t for key, t in tails_after.items() if key in touched},
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

    def _splice_late(
        self, row: tuple, tails: dict, overlay: dict, records: list[tuple]
    ) -> tuple[list[str], int]:
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
                lines += _points_lines(meter, kind, [prev, nxt], zero=True, records=records)
            lines += _points_lines(
                meter, kind, [p for p in (prev, here, nxt) if p], records=records
            )
            overlay[(meter, kind)].append(here)
            tail = tails.setdefault(meter, {"reg": None, "pow": None, "last": None})
            if tail[kind] is None or tail[kind][0] < ts_ms:
                tail[kind] = here
        return lines, from_ms

    def _extension_records(
        self,
        new: dict[str, list[tuple]],
        tails: dict,
        records: list[tuple],
        late_meters: set[str],
        extended: dict,
    ) -> dict[tuple[str, str], int]:
        """The pieces from each chain's tail through the new readings (as ``_extend_meters``
        writes them): of meters with late rows added to ``records`` piece by piece, of the
        others summed per hour into ``extended`` ((meter, kind) -> {hour_s: [kwh, s]}: the
        common case, vectorised). Return each chain's tail after them [ms]."""
        tails_after: dict[tuple[str, str], int] = {}
        for kind, col in (("reg", 2), ("pow", 3)):
            chain_meters, chain_ms, chain_values = [], [], []
            for meter in sorted(new):
                tail = (tails.get(meter) or {}).get(kind)
                if tail is not None:
                    chain_meters.append(meter)
                    chain_ms.append(tail[0])
                    chain_values.append(tail[1])
                    tails_after[(meter, kind)] = tail[0]
                for row in new[meter]:
                    if row[col] is not None:
                        chain_meters.append(meter)
                        chain_ms.append(row[0])
                        chain_values.append(row[col])
                        tails_after[(meter, kind)] = row[0]
            if len(chain_meters) < 2:
                continue
            ids = np.array(chain_meters, dtype=object)
            late = np.isin(ids, list(late_meters)) if late_meters else np.zeros(ids.size, bool)
            if late.any():
                pick = np.flatnonzero(late).tolist()
                _energy_lines(
                    [chain_meters[i] for i in pick],
                    [chain_ms[i] for i in pick],
                    [chain_values[i] for i in pick],
                    kind,
                    records=records,
                )
            if not late.all():
                keep = ~late
                sums = new_cells()
                add_chain(
                    sums,
                    ids[keep],
                    np.array(chain_ms, dtype=float)[keep] / 1000.0,
                    np.array(chain_values, dtype=float)[keep],
                    kind,
                )
                col = 0 if kind == "reg" else 2
                for (meter, hour_s), v in sums.items():
                    extended.setdefault((meter, kind), {})[hour_s] = [v[col], v[col + 1]]
        for meter, tail in tails.items():  # late readings after a chain's tail moved it
            for kind in ("reg", "pow"):
                if tail.get(kind) and tail[kind][0] > tails_after.get((meter, kind), -1):
                    tails_after[(meter, kind)] = tail[kind][0]
        return tails_after

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
        """``base.ReadingStore.read_hourly``: from the ``hourly`` rollup (one point per
        meter-hour), ``METERS_PER_QUERY`` meters a query, two queries at a time; from the
        energy pieces while the rollup of a store written before it is not backfilled."""
        if not self._rollup_ready():
            return self._read_hourly_pieces(meter_ids, start_s, end_s)
        # a query of at most ROLLUP_POINTS_PER_QUERY points: a year of 100 meters would take
        # InfluxDB 1.x longer to answer than the client waits
        span_h = max(1.0, (min(end_s, 4e9) - max(start_s, 0.0)) / 3600.0)
        per = max(1, min(METERS_PER_QUERY, int(ROLLUP_POINTS_PER_QUERY // span_h)))
        if span_h <= RECENT_SPAN_H and len(meter_ids) > per:
            # the few hours a write changed, of many meters: one query of every meter's hours
            # there (InfluxDB finds them by time alone), the others left out here
            wanted = set(meter_ids)
            rows = read_rollup(self.http, None, start_s, end_s)
            return {
                meter: MeterHours(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])
                for meter, a in rows
                if meter in wanted
            }
        groups = [
            self.http.in_background(
                read_rollup, self.http, meter_ids[lo : lo + per], start_s, end_s
            )
            for lo in range(0, len(meter_ids), per)
        ]
        out = {}
        for group in groups:
            for meter, a in group.result():
                out[meter] = MeterHours(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])
        return out

    def backfill_rollup(self, progress=lambda text: None) -> tuple[int, int]:
        """Fill ``hourly`` from the pieces (a store written before the rollup) and mark it
        complete (``influx_hourly.backfill``); (meters, points written)."""
        self._ensure_database()
        done = backfill(self.http, self._read_hourly_pieces, progress)
        self._rollup_checked = True
        return done

    def _rollup_ready(self) -> bool:
        """Whether ``hourly`` is complete (``influx_hourly.rollup_complete``); asked again at
        most every ``ROLLUP_RECHECK_S`` while not, so a backfill elsewhere is noticed."""
        if self._rollup_checked is True:
            return True
        if time.monotonic() - self._rollup_checked < ROLLUP_RECHECK_S:
            return False
        self._ensure_database()
        if rollup_complete(self.http):
            self._rollup_checked = True
            return True
        self._rollup_checked = time.monotonic()
        log.warning(
            "InfluxDB database %s has energy pieces but no complete hourly rollup (written "
            "before it existed): hourly energy is summed from the pieces, slowly, until "
            "`wattleague deploy influx-rollup` fills it (docs/influxdb.md)",
            self.target.database,
        )
        return False

    def _read_hourly_pieces(
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

    def late_readings(
        self, meter_ids: list[str], spans: list[tuple[int, int, int]]
    ) -> dict[str, list[tuple[int, float | None, float | None, int]]]:
        """``base.ReadingStore.late_readings``: each span one statement (InfluxQL compares a
        field with a constant, not with the time), up to 50 statements a request."""
        out: dict[str, list[tuple]] = defaultdict(list)
        for lo in range(0, len(meter_ids), METERS_PER_QUERY):
            where = any_of("meter", meter_ids[lo : lo + METERS_PER_QUERY])
            for first in range(0, len(spans), 50):
                statements = [
                    f'SELECT "energy_kwh", "power_w", "received_ms" FROM "reading" WHERE {where} '
                    f'AND time >= {int(a)}ms AND time < {int(b)}ms AND "received_ms" > {int(r)} '
                    'GROUP BY "meter"'
                    for a, b, r in spans[first : first + 50]
                ]
                for result in self.http.query(";".join(statements)):
                    for tags, row in series_rows(result):
                        out[decode_tag(tags["meter"])].append(
                            (
                                int(row["time"]),
                                row.get("energy_kwh"),
                                row.get("power_w"),
                                int(row["received_ms"]),
                            )
                        )
        return {meter: sorted(rows, key=lambda row: row[0]) for meter, rows in out.items()}

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

    def meter_states(self, now_s: float | None = None) -> dict[str, MeterState]:
        """Each meter's last reading. The first call looks for every meter's back from
        ``now_s`` (default: the clock; ``_last_rows``: a live meter's is found without reading
        its history); later calls read only what was written since (the ``writes`` log says
        from when), so a snapshot of 10,000 meters after one write costs one small query."""
        with self._states_lock:
            mark = self.write_mark()
            kept = self._states
            since_s = None if kept is None or mark is None else self.changed_since_mark(kept[0])
            if kept is not None and since_s is not None:
                states = dict(kept[1])
                if since_s != math.inf:
                    self._newer_states(states, int(since_s * 1000))
            else:
                states = self._all_states(now_s)
            if mark is not None:
                self._states = (mark, states)
            return dict(states)

    def _all_states(self, now_s: float | None) -> dict[str, MeterState]:
        """Every meter's last reading, looked for back from ``now_s`` (default: the clock)."""
        # the time condition: InfluxDB 3 may answer SHOW TAG VALUES for recent data only
        # without one (1.x reads its index either way)
        (known,) = self.http.query(
            'SHOW TAG VALUES FROM "reading" WITH KEY = "meter" WHERE time >= 0'
        )
        meters = [decode_tag(row["value"]) for _, row in series_rows(known)]
        now_ms = time.time_ns() // 1_000_000 if now_s is None else int(now_s * 1000)
        states = {}
        for lo in range(0, len(meters), METERS_PER_QUERY):
            for meter, row in self._last_rows(meters[lo : lo + METERS_PER_QUERY], now_ms).items():
                states[meter] = _meter_state(meter, row)
        return states

    def _newer_states(self, states: dict[str, MeterState], since_ms: int) -> None:
        """Update ``states`` with each meter's last reading from ``since_ms`` on, where it is
        later than the one kept (a late reading before a meter's last is not its last)."""
        (result,) = self.http.query(
            'SELECT "energy_kwh", "power_w", "received_ms" FROM "reading" WHERE '
            f'time >= {since_ms}ms GROUP BY "meter" ORDER BY time DESC LIMIT 1'
        )
        for tags, row in series_rows(result):
            meter = decode_tag(tags["meter"])
            for field in ("energy_kwh", "power_w"):
                if row.get(field) is not None:
                    row[field] = float(row[field])
            state = _meter_state(meter, row)
            if meter not in states or state.last_ts_s >= states[meter].last_ts_s:
                states[meter] = state

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

    def count_readings(self) -> int:
        (result,) = self.http.query('SELECT count("received_ms") FROM "reading"')
        return sum(int(row["count"]) for _, row in series_rows(result))

    def change_token(self) -> int:
        # every successful write adds a point to "writes": its last time changes with any write,
        # of any process, late readings included, and reading it touches one small series
        mark = self.write_mark()
        if mark is None:
            return self._last_token  # keep serving the last scores while it is away
        if mark != (0, 0):
            # a random id per marker: two markers in the same millisecond still differ
            self._last_token = hash(mark) + self._spooled
            self._token_ns[self._last_token] = mark[0]
            while len(self._token_ns) > 64:
                del self._token_ns[next(iter(self._token_ns))]
        return self._last_token

    def changed_since_s(self, token: int) -> float | None:
        """The earliest time [Unix s] whose hourly energy any write after ``token`` (from
        ``change_token``) may have changed: from the ``since_ms`` of the ``writes`` points
        since; inf if none changed energy; None if unknown (read everything again)."""
        after_ns = self._token_ns.get(token)
        return None if after_ns is None else self._changed_after_ns(after_ns)

    def write_mark(self) -> tuple[int, int] | None:
        """The last ``writes`` point: (its time [Unix ns], its random id); every later write,
        of any process, has a later one ((0, 0): none yet); None while InfluxDB does not
        answer."""
        self._post_owed_marker()  # this process's last write is seen here
        try:
            (result,) = self.http.query('SELECT last("id") FROM "writes"', epoch="ns")
        except (InfluxUnavailable, InfluxRejected):
            return None
        for _, row in series_rows(result):
            return (int(row["time"]), int(row["last"]))
        return (0, 0)

    def changed_since_mark(self, mark: tuple[int, int]) -> float | None:
        """The earliest time [Unix s] whose hourly energy, bills or temperatures any write after
        ``mark`` (from ``write_mark``, of this process or an earlier one) may have changed: inf
        if none; None if unknown (a deletion or a bill import does not say, or the mark's point
        is gone: a database restored from a backup, or its ``writes`` pruned)."""
        after_ns, point_id = mark
        if after_ns:
            try:
                (result,) = self.http.query(
                    f'SELECT "id" FROM "writes" WHERE time = {int(after_ns)}', epoch="ns"
                )
            except (InfluxUnavailable, InfluxRejected):
                return None
            if not any(row.get("id") == point_id for _, row in series_rows(result)):
                return None
        return self._changed_after_ns(after_ns)

    def _changed_after_ns(self, after_ns: int) -> float | None:
        """``changed_since_mark`` from the ``writes`` points after ``after_ns`` [Unix ns]."""
        self._post_owed_marker()  # this process's last write is seen here
        try:
            (result,) = self.http.query(
                'SELECT count("id") AS "writes", count("since_ms") AS "saying", '
                f'min("since_ms") AS "since_ms" FROM "writes" WHERE time > {int(after_ns)}'
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
            records: list[tuple] = []
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
                lines += _points_lines(meter_id, kind, chain, zero=True, records=records)
                if prev and nxt:
                    lines += _points_lines(meter_id, kind, [prev, nxt], records=records)
            (result,) = self.http.query(
                f'SELECT count("received_ms") FROM "reading" WHERE "meter" = {meter} AND '
                f"time >= {int(start_ms)}ms AND time <= {int(end_ms)}ms"
            )
            removed = sum(int(row["count"]) for _, row in series_rows(result))
            self.http.write(lines)
            self._resum_cells({(r[0], r[1], r[2]): None for r in records})
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
    meters: list[str],
    ts_ms: list[int],
    values: list[float],
    kind: str,
    zero: bool = False,
    records: list[tuple] | None = None,
) -> list[str]:
    """Energy pieces of the pairs of consecutive points of one chain (points sorted by meter,
    then time); ``zero`` writes zeros over pieces that a late reading replaces. ``records``
    gets each piece as ``influx_hourly.piece_records`` describes it (for the rollup)."""
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
    if records is not None:
        if zero:
            pieces = replace(
                pieces,
                energy_kwh=np.zeros(pieces.hour_s.size),
                measured_s=np.zeros(pieces.hour_s.size),
            )
        records += piece_records(pieces, kind, middle_ms)
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


def _number_held(messages: list[Message]) -> None:
    """Check each message's held items and give each an id (and its message's topic) unless it
    has one: the items spooled keep theirs, so a replay writes the same points again."""
    for msg in messages:
        if msg.held:
            msg.held = [
                checked_item(
                    replace(
                        item,
                        id=new_held_id(item.received_ms) if item.id is None else item.id,
                        topic=item.topic or msg.topic,
                    ),
                    own_id=True,
                )
                for item in msg.held
            ]


def _meter_state(meter: str, row: dict) -> MeterState:
    """A meter's state from its last reading's row (``_last_rows``)."""
    return MeterState(
        meter,
        row["time"] / 1000.0,
        (row.get("received_ms") or row["time"]) / 1000.0,
        row.get("power_w"),
        row.get("energy_kwh"),
    )


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
    meter: str,
    kind: str,
    points: list[tuple[int, float]],
    zero: bool = False,
    records: list[tuple] | None = None,
) -> list[str]:
    return _energy_lines(
        [meter] * len(points), [p[0] for p in points], [p[1] for p in points], kind, zero, records
    )


def _float(value: float | int | None) -> float | None:
    """Always a float field: InfluxDB fixes a field's type by its first write."""
    return None if value is None else float(value)


class _Interrupted(Exception):
    """The server went away while a refused batch was split: ``written`` was stored (or
    quarantined), ``pending`` was not."""

    def __init__(self, cause: BaseException, pending: list[Message], written: Written) -> None:
        super().__init__(str(cause))
        self.cause, self.pending, self.written = cause, pending, written


class _Direct:
    """The store as ``write_isolating`` sees it while it splits a refused batch: each write
    goes straight to InfluxDB (never to the spool), and raises what fails it."""

    def __init__(self, store: InfluxStore, avoid: frozenset[int]) -> None:
        self.store, self.avoid = store, avoid

    def write(self, messages: list[Message], release_ids: list[int] = ()) -> WriteResult:
        return self.store._write_now(messages, avoid=self.avoid)


def default_spool_path(database: str, spool_name: str | None) -> Path:
    """``./wattleague-spool-<database>[-<spool_name>].db`` (the name made safe for a file)."""
    suffix = f"-{re.sub(r'[^A-Za-z0-9_.-]+', '_', spool_name)[:100]}" if spool_name else ""
    return Path.cwd() / f"wattleague-spool-{database}{suffix}.db"


def _runs(stored_ms: list[int], ours: set[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of ``ours`` that no other of ``stored_ms`` splits. All of
    ours count, seen or not: a partial write's points may not be visible yet to a read."""
    runs: list[tuple[int, int]] = []
    first = last = None
    for t in sorted(ours.union(stored_ms)):
        if t in ours:
            first = t if first is None else first
            last = t
        elif first is not None:
            runs.append((first, last))
            first = None
    if first is not None:
        runs.append((first, last))
    return runs


def _raw_payload(msg: Message) -> bytes:
    """What a refused message is quarantined with: the bytes it arrived with, or, for one that
    had none (an import), its readings as the project's JSON naming their meters (which
    reprocessing decodes like a received message)."""
    if msg.payload or not msg.readings:
        return msg.payload
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return orjson.dumps(
        [
            {
                "meter": r.meter_id,
                "ts": (epoch + timedelta(milliseconds=r.ts_ms)).isoformat(timespec="milliseconds"),
                **({} if r.energy_kwh is None else {"energy_kwh": r.energy_kwh}),
                **({} if r.power_w is None else {"power_w": r.power_w}),
            }
            for r in msg.readings
        ]
    )


def _error_code(exc: BaseException) -> str:
    """A short code for a failed write or replay (a label: few distinct values)."""
    if isinstance(exc, InfluxUnavailable):
        return "unreachable" if exc.status is None else f"http_{exc.status}"
    if isinstance(exc, InfluxDataRefused):
        return "data_refused"
    if isinstance(exc, InfluxRejected):
        return "influxql_error"
    return "error"
