"""SQLite store (WAL): the embedded default; readings, hourly energy, the quarantine, bills.

Readings are keyed (ts_ms, meter_id) in a WITHOUT ROWID table: readings arrive in time order, and
with the time first in the key inserts append at the end of the B-tree (about 7x faster than
(meter_id, ts), see shared/reference/performance-notes.md). Writes are idempotent: the same
reading stored twice is one row.

A message's held items (``Message.held``) go into the ``held`` table (``sqlite_held``) in the
transaction of its readings.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from ingest.rollup import Cells, add_chain, new_cells
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
from ingest.store.sqlite_held import insert_held
from ingest.store.sqlite_organiser import SQLiteOrganiser
from ingest.store.sqlite_quarantine import (
    ensure_quarantine_schema,
    insert_quarantine,
    list_quarantine,
    quarantine_counts,
    release_quarantine,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    topic TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS readings (
    ts_ms INTEGER NOT NULL,
    meter_id TEXT NOT NULL,
    energy_kwh REAL,
    power_w REAL,
    message_id INTEGER,
    PRIMARY KEY (ts_ms, meter_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_state (
    meter_id TEXT PRIMARY KEY,
    last_ts_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    power_w REAL,
    energy_kwh REAL,
    reg_ts_ms INTEGER,
    reg_kwh REAL,
    pow_ts_ms INTEGER,
    pow_w REAL
);
CREATE TABLE IF NOT EXISTS hourly (
    meter_id TEXT NOT NULL,
    hour_s INTEGER NOT NULL,
    reg_kwh REAL NOT NULL,
    reg_s REAL NOT NULL,
    pow_kwh REAL NOT NULL,
    pow_s REAL NOT NULL,
    PRIMARY KEY (meter_id, hour_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS temperature (
    station TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    temp_c REAL NOT NULL,
    PRIMARY KEY (station, ts_ms)
) WITHOUT ROWID;
-- one row per transaction that changed hourly energy, temperatures or bills: the earliest
-- time it changed (NULL: not known); readers ask what changed since a seq (write_mark)
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    since_s REAL,
    id INTEGER NOT NULL DEFAULT 0
);
"""
CHANGES_KEPT = 100_000  # rows of ``changes`` kept; a mark older than those is "unknown"
NEIGHBOUR_LOOKBACK_MS = 400 * 86400 * 1000  # as far as readings are accepted (max age)
SYNCHRONOUS = ("full", "normal")  # PRAGMA synchronous values the store accepts


class SQLiteStore:
    """Store backend on one SQLite file; safe to share between threads of one process.

    This is the readings part (``base.ReadingStore``); ``organiser`` is the organiser part
    (``sqlite_organiser.SQLiteOrganiser``), on the same file and connections.

    ``synchronous`` is SQLite's ``PRAGMA synchronous`` in WAL mode: ``full`` syncs the WAL at
    every commit, so a committed (and therefore acknowledged) message survives a power cut;
    ``normal`` syncs only at checkpoints, so a power cut or OS crash can lose the last
    commits (a process crash cannot). ``full`` is the default: ingest acknowledges after the
    commit, and the broker then forgets the message. It costs one sync per transaction, and
    the worker puts up to 2,000 messages in one when it falls behind: ``python -m
    bench.ingest`` measured full/normal 0.92-0.95x for single-reading drains, no difference
    batched, and 0.25-0.7x when every message is its own commit (about 0.3-1.5 ms more each).
    """

    def __init__(self, path: str | Path, synchronous: str = "full") -> None:
        if synchronous.lower() not in SYNCHRONOUS:
            raise ValueError(
                f"SQLite synchronous must be one of {', '.join(SYNCHRONOUS)}, got {synchronous!r}"
            )
        self.synchronous = synchronous.lower()
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._writer = self._connect()
        with self._writer:
            self._writer.executescript(_SCHEMA)
        ensure_quarantine_schema(self._writer)  # the quarantine's tables, and their migration
        # annotations and site edits: their own module, on this store's connections
        self.organiser = SQLiteOrganiser(self._writer, self._write_lock, self._reader)
        self._token_lock = threading.Lock()
        self._token_conn = self._connect()
        # recent change tokens -> their ``changes`` mark
        self._token_marks: dict[int, tuple[int, int]] = {}

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        # Switching a new file to WAL while another process does the same can fail at once
        # with "database is locked" (SQLite does not wait there): try again for a while.
        deadline = time.monotonic() + 30.0
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    conn.close()
                    raise
                time.sleep(0.02)
        conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    # -- writing -------------------------------------------------------------------------

    def write(self, messages: list[Message], release_ids: list[int] = ()) -> WriteResult:
        held = _held_of(messages)  # checked before the transaction: a refused item costs none
        with self._write_lock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                if release_ids:
                    release_quarantine(cur, list(release_ids))
                result = self._write(cur, messages)
                if held:  # in the readings' transaction: both are stored, or neither
                    insert_held(cur, held)
                    result = replace(result, held=len(held))
                cur.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk): a ROLLBACK
                # then would raise and hide the error that says what happened
                if self._writer.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        return result

    def _write(self, cur: sqlite3.Cursor, messages: list[Message]) -> WriteResult:
        """Insert new readings, keep hourly energy up to date, quarantine contradictions.

        Readings after a meter's latest stored one (the usual case) are new without asking the
        database; only older ones are looked up, one by one.
        """
        # the quarantine's entries message by message (a payload is stored once per message)
        rejected: list[list[Rejected]] = [m.rejected for m in messages if m.rejected]
        temperatures = [(t.station, t.ts_ms, t.temp_c) for m in messages for t in m.temperatures]
        if temperatures:  # a station's reading for the same time again replaces it
            cur.executemany(
                "INSERT OR REPLACE INTO temperature (station, ts_ms, temp_c) VALUES (?, ?, ?)",
                temperatures,
            )
            _log_change(cur, min(t[1] for t in temperatures) / 1000.0)
        batch: dict[tuple[int, str], tuple] = {}  # (ts_ms, meter) → row, first one wins
        seconds: list[tuple[tuple, Message]] = []  # later rows with a key seen in this batch
        message_of: dict[int, Message] = {}  # message_id → message, for this batch
        for msg in messages:
            if not msg.readings:
                continue
            cur.execute(
                "INSERT INTO messages (received_ms, source, topic) VALUES (?, ?, ?)",
                (msg.received_ms, msg.source, msg.topic),
            )
            message_id = cur.lastrowid
            message_of[message_id] = msg
            for meter_id, ts_ms, energy_kwh, power_w in msg.readings:
                key = (ts_ms, meter_id)
                row = (ts_ms, meter_id, energy_kwh, power_w, message_id)
                if key in batch:
                    seconds.append((row, msg))
                else:
                    batch[key] = row
        states = self._chain_states(cur, {meter for _, meter in batch})
        last_of = {meter: state["last_ts_ms"] for meter, state in states.items()}
        new_rows: list[tuple] = []
        append_new = new_rows.append
        late_rows: list[tuple] = []
        duplicates = 0
        for (ts_ms, meter), row in batch.items():
            last = last_of.get(meter)
            if last is None or ts_ms > last:  # after the meter's latest stored: new
                append_new(row)
                continue
            stored = cur.execute(
                "SELECT energy_kwh, power_w FROM readings WHERE ts_ms = ? AND meter_id = ?",
                (ts_ms, meter),
            ).fetchone()
            if stored is None:
                late_rows.append(row)
            elif same_value(stored[0], row[2]) and same_value(stored[1], row[3]):
                duplicates += 1
            else:
                rejected.append([conflict(meter, ts_ms, stored, row[2:4], message_of[row[4]])])
        for row, _ in seconds:
            first = batch[(row[0], row[1])]
            if same_value(first[2], row[2]) and same_value(first[3], row[3]):
                duplicates += 1
            else:
                rejected.append(
                    [conflict(row[1], row[0], first[2:4], row[2:4], message_of[row[4]])]
                )
        # Late readings first, one at a time, so each finds the neighbours stored before it;
        # then the new ones, which extend each chain from its (possibly updated) tail.
        cells = new_cells()
        self._splice_late(cur, cells, late_rows, states)
        cur.executemany(
            "INSERT INTO readings (ts_ms, meter_id, energy_kwh, power_w, message_id) "
            "VALUES (?, ?, ?, ?, ?)",
            new_rows,
        )
        new_tails = self._extend_chains(cells, new_rows, states)
        inserted = new_rows + late_rows
        self._save_cells(cur, cells)
        self._save_states(cur, states, inserted, new_tails, message_of)
        quarantined = insert_quarantine(cur, rejected) if rejected else 0
        conflicts = sum(
            1 for entries in rejected for q in entries if q.reason == "conflicting_duplicate"
        )
        return WriteResult(len(inserted), duplicates, conflicts, quarantined)

    def _chain_states(self, cur: sqlite3.Cursor, meters: set[str]) -> dict[str, dict]:
        states: dict[str, dict] = {}
        names = sorted(meters)
        for lo in range(0, len(names), 500):
            chunk = names[lo : lo + 500]
            rows = cur.execute(
                "SELECT meter_id, last_ts_ms, received_ms, power_w, energy_kwh, reg_ts_ms, "
                "reg_kwh, pow_ts_ms, pow_w FROM meter_state WHERE meter_id IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for meter, last, rx, p, e, reg_ts, reg, pow_ts, pw in rows:
                states[meter] = {
                    "last_ts_ms": last,
                    "received_ms": rx,
                    "power_w": p,
                    "energy_kwh": e,
                    "reg": (reg_ts, reg) if reg_ts is not None else None,
                    "pow": (pow_ts, pw) if pow_ts is not None else None,
                }
        return states

    def _extend_chains(
        self, cells: Cells, rows: list[tuple], states: dict[str, dict]
    ) -> dict[tuple[str, str], tuple[int, float]]:
        """Pairs from each meter's chain tail through its new readings, all meters at once;
        returns the new tail of each (meter, chain)."""
        new_tails: dict[tuple[str, str], tuple[int, float]] = {}
        if not rows:
            return new_tails
        names = sorted({r[1] for r in rows})
        code_of = {name: i for i, name in enumerate(names)}
        codes = np.fromiter((code_of[r[1]] for r in rows), dtype=np.int64, count=len(rows))
        ts_ms = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        for kind, col in (("reg", 2), ("pow", 3)):
            values = np.array([r[col] for r in rows], dtype=float)  # None → NaN
            has = np.isfinite(values)
            if not has.any():
                continue
            tails = [((states.get(name) or {}).get(kind), i) for i, name in enumerate(names)]
            tails = [(tail, i) for tail, i in tails if tail is not None]
            c = np.concatenate([codes[has], np.array([i for _, i in tails], dtype=np.int64)])
            t = np.concatenate([ts_ms[has], np.array([tl[0] for tl, _ in tails], dtype=np.int64)])
            v = np.concatenate([values[has], np.array([tl[1] for tl, _ in tails], dtype=float)])
            order = np.lexsort((t, c))
            c, t, v = c[order], t[order], v[order]
            add_chain(cells, c, t / 1000.0, v, kind, names=names)
            last = np.flatnonzero(np.r_[c[1:] != c[:-1], True])
            for code, ts, value in zip(
                c[last].tolist(), t[last].tolist(), v[last].tolist(), strict=True
            ):
                new_tails[(names[code], kind)] = (ts, value)
        return new_tails

    def _splice_late(
        self, cur: sqlite3.Cursor, cells: Cells, rows: list[tuple], states: dict[str, dict]
    ) -> None:
        """Put late readings between their stored neighbours, each meter's all at once.

        For each meter and chain, the stored points from the one before its first late reading
        to the one after its last are read once; their pairs are taken out and the pairs of the
        same points with the late readings merged in are added. Reading each late reading's
        neighbours on its own cost a scan per reading (a gateway's backfill of a long gap
        scanned the gap once for every reading in it).
        """
        if not rows:
            return
        by_meter: dict[str, list[tuple]] = defaultdict(list)
        for row in sorted(rows):
            by_meter[row[1]].append(row)
        for meter, late in by_meter.items():
            for kind, col, column in (("reg", 2, "energy_kwh"), ("pow", 3, "power_w")):
                points = [(r[0], r[col]) for r in late if r[col] is not None]
                if not points:
                    continue
                lo, hi = points[0][0], points[-1][0]
                prev = cur.execute(
                    f"SELECT ts_ms, {column} FROM readings WHERE ts_ms < ? AND ts_ms >= ? "
                    f"AND meter_id = ? AND {column} IS NOT NULL ORDER BY ts_ms DESC LIMIT 1",
                    (lo, lo - NEIGHBOUR_LOOKBACK_MS, meter),
                ).fetchone()
                inner = cur.execute(
                    f"SELECT ts_ms, {column} FROM readings WHERE ts_ms > ? AND ts_ms < ? "
                    f"AND meter_id = ? AND {column} IS NOT NULL ORDER BY ts_ms",
                    (lo, hi, meter),
                ).fetchall()
                nxt = cur.execute(
                    f"SELECT ts_ms, {column} FROM readings WHERE ts_ms > ? AND ts_ms <= ? "
                    f"AND meter_id = ? AND {column} IS NOT NULL ORDER BY ts_ms LIMIT 1",
                    (hi, hi + NEIGHBOUR_LOOKBACK_MS, meter),
                ).fetchone()
                stored = [p for p in (prev, *inner, nxt) if p]
                if len(stored) > 1:  # the pairs the late readings split
                    _add_points(cells, meter, kind, stored, sign=-1.0)
                _add_points(cells, meter, kind, sorted(stored + points))
                state = states[meter]  # a late reading has a stored meter state by definition
                if state[kind] is None or state[kind][0] < hi:
                    state[kind] = points[-1]
        cur.executemany(
            "INSERT INTO readings (ts_ms, meter_id, energy_kwh, power_w, message_id) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )

    def _save_cells(self, cur: sqlite3.Cursor, cells: Cells) -> None:
        if not cells:
            return
        _log_change(cur, min(hour for _, hour in cells))
        cur.executemany(
            "INSERT INTO hourly (meter_id, hour_s, reg_kwh, reg_s, pow_kwh, pow_s) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id, hour_s) DO UPDATE SET "
            "reg_kwh = reg_kwh + excluded.reg_kwh, reg_s = reg_s + excluded.reg_s, "
            "pow_kwh = pow_kwh + excluded.pow_kwh, pow_s = pow_s + excluded.pow_s",
            [(meter, int(hour), *values) for (meter, hour), values in cells.items()],
        )

    def _save_states(
        self,
        cur: sqlite3.Cursor,
        states: dict[str, dict],
        inserted: list[tuple],
        tails: dict[tuple[str, str], tuple],
        message_of: dict[int, Message],
    ) -> None:
        """Each meter's latest reading, and the tails of its register and power chains
        (``tails`` of the new readings, from ``_extend_chains``)."""
        latest: dict[str, tuple] = {}
        for row in inserted:
            best = latest.get(row[1])
            if best is None or row[0] > best[0]:
                latest[row[1]] = row
        rows = []
        for meter, row in latest.items():
            st = states.setdefault(meter, {"last_ts_ms": None, "reg": None, "pow": None})
            if st["last_ts_ms"] is None or row[0] >= st["last_ts_ms"]:
                st.update(
                    last_ts_ms=row[0],
                    received_ms=message_of[row[4]].received_ms,
                    power_w=row[3],
                    energy_kwh=row[2],
                )
            for kind in ("reg", "pow"):
                new = tails.get((meter, kind))
                if new is not None and (st[kind] is None or st[kind][0] <= new[0]):
                    st[kind] = new
            reg, pw = st["reg"] or (None, None), st["pow"] or (None, None)
            rows.append(
                (
                    meter,
                    st["last_ts_ms"],
                    st["received_ms"],
                    st["power_w"],
                    st["energy_kwh"],
                    *reg,
                    *pw,
                )
            )
        cur.executemany(
            "INSERT OR REPLACE INTO meter_state (meter_id, last_ts_ms, received_ms, power_w, "
            "energy_kwh, reg_ts_ms, reg_kwh, pow_ts_ms, pow_w) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    # -- reading -------------------------------------------------------------------------

    def read_series(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterSeries]:
        if not meter_ids:
            return {}
        wanted = set(meter_ids)
        rows = (
            self._reader()
            .execute(
                "SELECT meter_id, ts_ms, energy_kwh, power_w FROM readings "
                "WHERE ts_ms >= ? AND ts_ms < ?",
                (int(start_s * 1000), int(end_s * 1000)),
            )
            .fetchall()
        )
        by_meter: dict[str, list[tuple]] = defaultdict(list)
        for meter_id, ts_ms, energy_kwh, power_w in rows:
            if meter_id in wanted:
                by_meter[meter_id].append((ts_ms, energy_kwh, power_w))
        out = {}
        for meter_id, items in by_meter.items():
            arr = np.array(items, dtype=float)  # None becomes NaN
            out[meter_id] = MeterSeries(arr[:, 0] / 1000.0, arr[:, 1], arr[:, 2])
        return out

    def late_readings(
        self, meter_ids: list[str], spans: list[tuple[int, int, int]]
    ) -> dict[str, list[tuple[int, float | None, float | None, int]]]:
        """``base.ReadingStore.late_readings``: the receive time is the reading's message's."""
        wanted = set(meter_ids)
        out: dict[str, list[tuple]] = defaultdict(list)
        conn = self._reader()
        for start_ms, end_ms, after_ms in spans:
            rows = conn.execute(
                "SELECT r.meter_id, r.ts_ms, r.energy_kwh, r.power_w, m.received_ms "
                "FROM readings r JOIN messages m ON m.id = r.message_id "
                "WHERE r.ts_ms >= ? AND r.ts_ms < ? AND m.received_ms > ? ORDER BY r.ts_ms",
                (int(start_ms), int(end_ms), int(after_ms)),
            ).fetchall()
            for meter_id, ts_ms, energy_kwh, power_w, received_ms in rows:
                if meter_id in wanted:
                    out[meter_id].append((ts_ms, energy_kwh, power_w, received_ms))
        return {meter: sorted(rows, key=lambda row: row[0]) for meter, rows in out.items()}

    def read_hourly(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterHours]:
        out: dict[str, MeterHours] = {}
        conn = self._reader()
        for meter in meter_ids:
            rows = conn.execute(
                "SELECT hour_s, reg_kwh, reg_s, pow_kwh, pow_s FROM hourly "
                "WHERE meter_id = ? AND hour_s >= ? AND hour_s < ? ORDER BY hour_s",
                (meter, int(start_s), int(end_s)),
            ).fetchall()
            if rows:
                a = np.array(rows, dtype=float)
                out[meter] = MeterHours(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4])
        return out

    def read_temperatures(
        self, stations: list[str], start_s: float, end_s: float
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {}
        for station in stations:
            rows = (
                self._reader()
                .execute(
                    "SELECT ts_ms, temp_c FROM temperature WHERE station = ? AND ts_ms >= ? "
                    "AND ts_ms < ? ORDER BY ts_ms",
                    (station, int(start_s * 1000), int(end_s * 1000)),
                )
                .fetchall()
            )
            if rows:
                a = np.array(rows, dtype=float)
                out[station] = (a[:, 0] / 1000.0, a[:, 1])
        return out

    def meter_states(self, now_s: float | None = None) -> dict[str, MeterState]:
        rows = (
            self._reader()
            .execute(
                "SELECT meter_id, last_ts_ms, received_ms, power_w, energy_kwh FROM meter_state"
            )
            .fetchall()
        )
        return {m: MeterState(m, ts / 1000.0, rx / 1000.0, p, e) for m, ts, rx, p, e in rows}

    def quarantine_counts(self) -> dict[str, int]:
        return quarantine_counts(self._reader())

    def list_quarantine(
        self, limit: int = 100, reason: str | None = None, ids: list[int] | None = None
    ) -> list[dict]:
        return list_quarantine(self._reader(), limit, reason, ids)

    def count_readings(self) -> int:
        return self._reader().execute("SELECT count(*) FROM readings").fetchone()[0]

    def change_token(self) -> int:
        # data_version is per connection: it changes when *another* connection commits. One
        # dedicated connection answers for every thread, so tokens are comparable across calls.
        with self._token_lock:
            # the mark first: a commit between the two is then after the token's mark too
            mark = _last_change(self._token_conn)
            token = self._token_conn.execute("PRAGMA data_version").fetchone()[0]
            self._token_marks[token] = mark
            while len(self._token_marks) > 64:
                del self._token_marks[next(iter(self._token_marks))]
            return token

    def changed_since_s(self, token: int) -> float | None:
        mark = self._token_marks.get(token)
        return None if mark is None else self.changed_since_mark(mark)

    def write_mark(self) -> tuple[int, int] | None:
        """The last row of ``changes``: (seq, its random id); (0, 0) for none yet."""
        return _last_change(self._reader())

    def changed_since_mark(self, mark: tuple[int, int]) -> float | None:
        """From the ``changes`` log (one row per transaction that changed energy, temperatures
        or bills); None when a change does not say where, or the mark's row is gone (dropped
        from the log, or a store restored from a backup)."""
        seq, row_id = mark
        conn = self._reader()
        if seq:
            found = conn.execute("SELECT id FROM changes WHERE seq = ?", (seq,)).fetchone()
            if found is None or found[0] != row_id:
                return None
        writes, saying, since_s = conn.execute(
            "SELECT count(*), count(since_s), min(since_s) FROM changes WHERE seq > ?", (seq,)
        ).fetchone()
        if not writes:
            return math.inf
        return None if saying != writes else float(since_s)

    # -- imports: bills, replacing a span of readings --------------------------------------

    _BILL_SCHEMA = (
        "CREATE TABLE IF NOT EXISTS bill (meter_id TEXT NOT NULL, start_ms INTEGER NOT NULL, "
        "end_ms INTEGER NOT NULL, energy_kwh REAL NOT NULL, PRIMARY KEY (meter_id, start_ms, "
        "end_ms)) WITHOUT ROWID"
    )

    def delete_readings(self, meter_id: str, start_ms: int, end_ms: int) -> int:
        with self._write_lock:
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cells = new_cells()
                for kind, column in (("reg", "energy_kwh"), ("pow", "power_w")):
                    inside = cur.execute(
                        f"SELECT ts_ms, {column} FROM readings WHERE meter_id = ? AND ts_ms >= ? "
                        f"AND ts_ms <= ? AND {column} IS NOT NULL ORDER BY ts_ms",
                        (meter_id, start_ms, end_ms),
                    ).fetchall()
                    if not inside:
                        continue
                    prev = cur.execute(
                        f"SELECT ts_ms, {column} FROM readings WHERE meter_id = ? AND ts_ms < ? "
                        f"AND {column} IS NOT NULL ORDER BY ts_ms DESC LIMIT 1",
                        (meter_id, start_ms),
                    ).fetchone()
                    nxt = cur.execute(
                        f"SELECT ts_ms, {column} FROM readings WHERE meter_id = ? AND ts_ms > ? "
                        f"AND {column} IS NOT NULL ORDER BY ts_ms LIMIT 1",
                        (meter_id, end_ms),
                    ).fetchone()
                    chain = [p for p in (prev, *inside, nxt) if p]
                    _add_points(cells, meter_id, kind, chain, sign=-1.0)
                    if prev and nxt:
                        _add_points(cells, meter_id, kind, [prev, nxt])
                removed = cur.execute(
                    "DELETE FROM readings WHERE meter_id = ? AND ts_ms >= ? AND ts_ms <= ?",
                    (meter_id, start_ms, end_ms),
                ).rowcount
                self._save_cells(cur, cells)
                self._restate(cur, meter_id)
                cur.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk): a ROLLBACK
                # then would raise and hide the error that says what happened
                if self._writer.in_transaction:
                    cur.execute("ROLLBACK")
                raise
        return removed

    def _restate(self, cur: sqlite3.Cursor, meter_id: str) -> None:
        """Rebuild a meter's state row from its remaining readings (after a delete)."""
        last = cur.execute(
            "SELECT r.ts_ms, r.power_w, r.energy_kwh, m.received_ms FROM readings r LEFT JOIN "
            "messages m ON m.id = r.message_id WHERE r.meter_id = ? ORDER BY r.ts_ms DESC "
            "LIMIT 1",
            (meter_id,),
        ).fetchone()
        if last is None:
            cur.execute("DELETE FROM meter_state WHERE meter_id = ?", (meter_id,))
            return
        tails = []
        for column in ("energy_kwh", "power_w"):
            tail = cur.execute(
                f"SELECT ts_ms, {column} FROM readings WHERE meter_id = ? AND {column} IS NOT "
                "NULL ORDER BY ts_ms DESC LIMIT 1",
                (meter_id,),
            ).fetchone()
            tails += list(tail or (None, None))
        cur.execute(
            "INSERT OR REPLACE INTO meter_state (meter_id, last_ts_ms, received_ms, power_w, "
            "energy_kwh, reg_ts_ms, reg_kwh, pow_ts_ms, pow_w) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (meter_id, last[0], last[3] or 0, last[1], last[2], *tails),
        )

    def write_bills(self, meter_id: str, bills: list[tuple[int, int, float]]) -> None:
        with self._write_lock:
            self._writer.execute(self._BILL_SCHEMA)
            with self._writer:
                self._writer.executemany(
                    "INSERT OR REPLACE INTO bill (meter_id, start_ms, end_ms, energy_kwh) "
                    "VALUES (?, ?, ?, ?)",
                    [(meter_id, int(a), int(b), float(e)) for a, b, e in bills],
                )
                _log_change(self._writer.cursor(), None)  # bills say no hour: read all again

    def read_bills(self, meter_ids: list[str]) -> dict[str, np.ndarray]:
        conn = self._reader()
        conn.execute(self._BILL_SCHEMA)
        out = {}
        for meter in meter_ids:
            rows = conn.execute(
                "SELECT start_ms / 1000.0, end_ms / 1000.0, energy_kwh FROM bill "
                "WHERE meter_id = ? ORDER BY start_ms, end_ms",
                (meter,),
            ).fetchall()
            if rows:
                out[meter] = np.array(rows, dtype=float)
        return out

    def close(self) -> None:
        self._writer.close()
        self._token_conn.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()


def _last_change(conn: sqlite3.Connection) -> tuple[int, int]:
    """The last row of ``changes`` as a mark: (seq, id); (0, 0) when it is empty."""
    row = conn.execute("SELECT seq, id FROM changes ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def _log_change(cur: sqlite3.Cursor, since_s: float | None) -> None:
    """Record in ``changes`` that this transaction changed data from ``since_s`` on (None:
    unknown), and drop the rows older than the last ``CHANGES_KEPT``."""
    # a random id: a mark names its row by both, so a store restored from an older backup,
    # whose rows were written again under the same numbers, is not taken for the same
    cur.execute("INSERT INTO changes (since_s, id) VALUES (?, ?)", (since_s, secrets.randbits(62)))
    cur.execute("DELETE FROM changes WHERE seq <= ?", (cur.lastrowid - CHANGES_KEPT,))


def _held_of(messages: list[Message]) -> list[HeldItem]:
    """The messages' held items, checked, each with its message's topic unless it has one."""
    return [
        checked_item(item if item.topic else replace(item, topic=msg.topic))
        for msg in messages
        for item in msg.held
    ]


def _add_points(cells: Cells, meter: str, kind: str, points: list[tuple], sign: float = 1.0):
    """Add the pairs of a few (ts_ms, value) points of one meter's chain."""
    add_chain(
        cells,
        np.array([meter] * len(points), dtype=object),
        np.array([t for t, _ in points], dtype=float) / 1e3,
        np.array([v for _, v in points], dtype=float),
        kind,
        sign,
    )
