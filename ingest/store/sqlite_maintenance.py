"""Backup, restore and retention of the SQLite store, on the file with its own connections.

A backup is ``VACUUM INTO`` a file beside the target: one read transaction on the live store, so
the copy is one consistent snapshot, finished in the time one copy takes however fast ingest
writes. In WAL mode the writer never waits for the reader's lock (its commits only share the
disk: ``bench/operations.py --only backup`` measured them at up to about 0.2 s during a 120 MB
backup), and the WAL grows by what ingest commits meanwhile, checkpointed after. The copy is
compact (no free pages: after a prune it is smaller than the live file), in rollback-journal
mode, synced, checked and renamed into place. SQLite's online backup API in steps, used before,
starts over whenever another connection commits between two steps: under ingest's load a large
store's backup never finished. Its one-step form finishes as fast, but copies the free pages.

A restore writes the backup's pages into the target through SQLite's online backup API and its
own locking, so stale ``-wal``/``-shm`` files cannot mix with it.

Retention drops raw rows of ``readings`` (and the ``messages`` rows they came in) older than a
cutoff. Scores read only the ``hourly`` energy table and ``meter_state`` (each meter's chain
tails), which are kept, so leaderboards and baselines do not change. Readings older than the
cutoff must no longer be accepted: a late reading is spliced between its stored raw neighbours,
and with those gone its energy would be counted twice. ``prune_readings`` therefore refuses a
cutoff younger than the ingest's ``max_age_days``.

It also drops quarantine entries received before a cutoff of their own (``quarantine_days``),
a bounded number per transaction. The counts per reason stay: they come from the quarantine's
tally, which retention leaves alone (``ingest/store/sqlite_quarantine.py``).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ingest.store.sqlite_quarantine import ensure_quarantine_schema

# tables every Watt League SQLite store has (see ingest/store/sqlite.py)
STORE_TABLES = {"messages", "readings", "meter_state", "hourly", "quarantine"}
PRUNE_STEP_MS = 86_400_000  # one day of readings per transaction: short write locks
# SQLite errors of writing the copy, where the hint is room and rights beside --out
_WRITE_ERRORS = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY")
# quarantine entries dropped per transaction: with at most 48 KiB of payload each, a step
# frees at most 32 MiB of pages (about 0.1 s measured on a test VM), so ingest's
# transactions get the write lock in between
QUARANTINE_PRUNE_STEP = 500


class MaintenanceError(Exception):
    """A maintenance step refused or failed; the message says why and what to do."""


def _connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def check_store_file(path: str | Path) -> None:
    """Raise ``MaintenanceError`` unless ``path`` is an intact Watt League SQLite store."""
    path = Path(path)
    if not path.is_file():
        raise MaintenanceError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise MaintenanceError(f"{path}: not a SQLite database ({exc})") from None
    if result != ["ok"]:
        raise MaintenanceError(f"{path}: integrity check failed: {'; '.join(result[:5])}")
    missing = STORE_TABLES - tables
    if missing:
        raise MaintenanceError(
            f"{path}: not a Watt League store (missing tables: {', '.join(sorted(missing))})"
        )


def backup(store_path: str | Path, out_path: str | Path, force: bool = False) -> int:
    """Copy the live store at ``store_path`` to ``out_path``; returns the pages written.

    One read transaction on the store (``VACUUM INTO``): ingest keeps writing meanwhile. The
    copy is written beside ``out_path``, synced, checked, then renamed into place.
    """
    store_path, out_path = Path(store_path), Path(out_path)
    if not store_path.is_file():
        raise MaintenanceError(f"{store_path}: no such store file")
    if out_path.exists() and not force:
        raise MaintenanceError(f"{out_path} exists; choose another --out or add --force")
    tmp = out_path.with_name(f".{out_path.name}.partial")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)  # VACUUM INTO refuses a file that is not empty
    except OSError as exc:
        raise MaintenanceError(f"cannot write the backup beside {out_path}: {exc}") from None
    src = _connect(store_path)
    try:
        src.execute("VACUUM INTO ?", (str(tmp),))
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        hint = ""
        if getattr(exc, "sqlite_errorname", "").startswith(_WRITE_ERRORS):
            hint = f"; {out_path.parent} needs room for about the store's size, and write access"
        raise MaintenanceError(f"backup of {store_path} into {tmp} failed: {exc}{hint}") from None
    finally:
        src.close()
    try:
        _fsync(tmp)  # SQLite 3.40 syncs it, but its documentation promises no sync
        check_store_file(tmp)
        pages = _page_count(tmp)
        os.replace(tmp, out_path)
        _fsync(out_path.parent)  # the rename itself
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise MaintenanceError(f"cannot write the backup {out_path}: {exc}") from None
    except MaintenanceError:
        tmp.unlink(missing_ok=True)
        raise
    return pages


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _page_count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()


def restore(backup_path: str | Path, store_path: str | Path, force: bool = False) -> None:
    """Replace the store at ``store_path`` with the backup at ``backup_path``.

    The backup is checked first; an existing store is only overwritten with ``force``. Stop
    ``ingest`` and ``serve`` first: they would otherwise keep state (meter chain tails, cached
    scores) from before the restore.
    """
    backup_path, store_path = Path(backup_path), Path(store_path)
    check_store_file(backup_path)
    if store_path.exists() and not force:
        raise MaintenanceError(
            f"{store_path} exists; restoring would overwrite it: stop ingest and serve, "
            "then add --force"
        )
    store_path.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    dst = _connect(store_path)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    check_store_file(store_path)


@dataclass(frozen=True)
class PruneResult:
    readings: int
    messages: int
    quarantine: int


def prune_readings(
    store_path: str | Path,
    cutoff_ms: int | None,
    now_ms: int,
    max_age_days: float,
    quarantine_cutoff_ms: int | None = None,
) -> PruneResult:
    """Delete raw readings with ts < ``cutoff_ms`` (hourly energy stays; None: keep them).

    ``max_age_days`` is the ingest's limit: readings up to that age are still accepted, so the
    cutoff must be at least that old. ``quarantine_cutoff_ms`` also drops quarantine entries
    received before it.
    """
    oldest_accepted_ms = now_ms - int(max_age_days * 86_400_000)
    if cutoff_ms is not None and cutoff_ms > oldest_accepted_ms:
        raise MaintenanceError(
            f"cannot drop readings younger than the ingest's --max-age-days ({max_age_days:g} "
            "days): a late reading is placed between its stored neighbours and would be "
            "counted twice without them. Keep at least that many days, or lower --max-age-days "
            "on every ingest worker (and here) first"
        )
    store_path = Path(store_path)
    check_store_file(store_path)
    conn = _connect(store_path)
    readings = messages = quarantined = 0
    try:
        first = conn.execute("SELECT min(ts_ms) FROM readings").fetchone()[0]
        lo = first if first is not None and cutoff_ms is not None else cutoff_ms
        # the key starts with ts_ms: each step is a range delete
        while cutoff_ms is not None and lo < cutoff_ms:
            hi = min(lo + PRUNE_STEP_MS, cutoff_ms)
            with _transaction(conn):
                readings += conn.execute(
                    "DELETE FROM readings WHERE ts_ms >= ? AND ts_ms < ?", (lo, hi)
                ).rowcount
            lo = hi
        # messages: traceability of the rows that are gone; a message received a day after
        # the cutoff may still hold kept readings (up to max_future_s ahead), so keep a margin
        if cutoff_ms is not None:
            with _transaction(conn):
                messages = conn.execute(
                    "DELETE FROM messages WHERE received_ms < ?", (cutoff_ms - 86_400_000,)
                ).rowcount
        if quarantine_cutoff_ms is not None:
            quarantined = _prune_quarantine(conn, quarantine_cutoff_ms)
    finally:
        conn.close()
    return PruneResult(readings, messages, quarantined)


def _prune_quarantine(conn: sqlite3.Connection, cutoff_ms: int) -> int:
    """Drop quarantine entries received before ``cutoff_ms`` [Unix ms], a step at a time;
    returns how many. Their reasons' counts stay (the tally is not touched)."""
    ensure_quarantine_schema(conn)  # an older file's tally counts its entries before any go
    dropped = 0
    while True:
        with _transaction(conn):
            n = conn.execute(
                "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine "
                "WHERE received_ms < ? LIMIT ?)",
                (cutoff_ms, QUARANTINE_PRUNE_STEP),
            ).rowcount
        dropped += n
        if n < QUARANTINE_PRUNE_STEP:
            return dropped


class _transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
