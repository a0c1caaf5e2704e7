"""Imports into a locked baseline: held unless accepted; and applying held data later.

An import that would write readings, bills or temperatures into the window a locked baseline
reads (``ingest.baseline_lock``) holds those rows for an organiser (kinds ``import``, ``bills``,
``temperatures``) and writes the rest. With an accepted change (``AcceptedChange``: who and
why, ``wattleague import --accept-baseline-change "reason"``) it writes them at once and
appends an ``import`` entry to the audit log: what was stored in the locked window before and
after, the rows applied, and the reason. Imports before the competition's first hour are never held.

``apply_held`` writes a held item's data through the normal write path, whatever the lock: the
API calls it when an organiser accepts the item, then decides the item and appends the audit
entry. Applying an item twice stores nothing twice (readings already stored are duplicates,
bills and temperatures of the same times replace themselves).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ingest.baseline_lock import ALL_SITES, BaselineLock, Span, held_items, in_spans, overlaps
from ingest.store.audit import AuditEntry
from ingest.store.base import Message, Store, StoredReading, StoredTemperature, WriteResult
from ingest.store.conflicts import same_value
from ingest.store.held import HeldItem

WRITE_CHUNK = 20_000  # readings or temperatures per write


@dataclass(frozen=True)
class AcceptedChange:
    """An import's rows in a locked window are applied at once, on ``who``'s word (``cli:<login
    name>``, a token's name) for ``reason``, and audited."""

    who: str
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError(
                "accepting a change to a locked baseline needs a reason (the audit log keeps it)"
            )


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_ms(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat().replace("+00:00", "Z")


class ImportGate:
    """What one import may write into a locked baseline (module docstring).

    Each write path of an import passes the rows it is about to write through ``readings``,
    ``bills`` or ``temperatures`` and writes what they return: the rows outside every locked
    window, plus, with an accepted change, the locked ones. Locked rows without one are held
    (not in a dry run) and listed in ``held``; accepted ones are counted for the audit entry
    that ``finish`` appends once the rows are written (``begin`` counts what was stored in the
    locked window before anything of the import was written or deleted).
    """

    def __init__(
        self,
        store: Store,
        lock: BaselineLock | None,
        accepted: AcceptedChange | None,
        at_ms: int,
        dry_run: bool,
        topic: str,
    ) -> None:
        self.store, self.lock, self.accepted = store, lock, accepted
        self.at_ms, self.dry_run, self.topic = at_ms, dry_run, topic[:1000]
        self.active = lock is not None and lock.locked(at_ms)
        self.held: list[dict] = []  # the report's "held": one entry per kind and subject
        self.applied: list[dict] = []  # the report's "baseline_change": accepted rows applied
        self._audits: dict[tuple[str, str], dict] = {}

    def spans(self, kind: str, subject: str) -> tuple[Span, ...]:
        """The locked spans of ``subject`` (a meter; a station for temperatures)."""
        if not self.active:
            return ()
        lock = self.lock
        if kind == "import":
            span = lock.readings.get(subject)
            return (span,) if span else ()
        if kind == "bills":
            span = lock.bills.get(subject)
            return (span,) if span else ()
        return lock.temperatures.get(subject, ())

    def blocks(self, kind: str, subject: str, start_ms: int, end_ms: int) -> bool:
        """Changing ``subject``'s data in ``[start_ms, end_ms)`` needs an accepted change that
        was not given (e.g. deleting live readings for ``--on-overlap use-import``)."""
        return self.accepted is None and overlaps(self.spans(kind, subject), start_ms, end_ms)

    def begin(self, kind: str, subject: str, first_ms: int, last_ms: int) -> None:
        """Before an accepted change writes ``subject``'s rows from ``first_ms`` to
        ``last_ms`` [Unix ms]: count what is stored in the locked window they touch (the
        audit entry's before)."""
        spans = self.spans(kind, subject)
        if self.accepted is None or (kind, subject) in self._audits:
            return
        if overlaps(spans, first_ms, last_ms + 1):
            window = (spans[0][0], spans[-1][1])
            self._audits[(kind, subject)] = {
                "window": window,
                "before": stored_in_span(self.store, kind, subject, *window),
                "rows": 0,
                "first_ms": None,
                "last_ms": None,
            }

    def readings(self, subject: str, site: str, readings: list[StoredReading]) -> list:
        """The readings of an import to write now (kind ``import``)."""
        spans = self.spans("import", subject)
        if not spans:
            return readings
        locked = [r for r in readings if in_spans(spans, r.ts_ms)]
        if not locked:
            return readings
        if self.accepted is None:
            locked = self._changes(subject, locked)
        rows = [[r.ts_ms, r.energy_kwh, r.power_w] for r in locked]
        if not self._settle("import", subject, site, rows):
            return readings
        held = {r.ts_ms for r in locked}
        return [r for r in readings if not (r.ts_ms in held and in_spans(spans, r.ts_ms))]

    def bills(self, subject: str, site: str, bills: list[tuple[int, int, float]]) -> list:
        """The bills (start_ms, end_ms, kWh) of an import to write now (kind ``bills``)."""
        spans = self.spans("bills", subject)
        locked = [b for b in bills if overlaps(spans, b[0], b[1])]
        if not locked or not self._settle("bills", subject, site, [list(b) for b in locked]):
            return bills
        return [b for b in bills if not overlaps(spans, b[0], b[1])]

    def temperatures(self, station: str, temperatures: list[StoredTemperature]) -> list:
        """The temperatures of an import to write now (kind ``temperatures``): held once for
        every site that reads the station (``baseline_lock.ALL_SITES``)."""
        spans = self.spans("temperatures", station)
        locked = [t for t in temperatures if in_spans(spans, t.ts_ms)]
        rows = [[t.ts_ms, t.temp_c] for t in locked]
        if not locked or not self._settle("temperatures", station, ALL_SITES, rows):
            return temperatures
        return [t for t in temperatures if not in_spans(spans, t.ts_ms)]

    def _changes(self, meter: str, locked: list[StoredReading]) -> list[StoredReading]:
        """``locked`` less the readings stored already with the same values: those change
        nothing and are not held (an import of the same history again after the start)."""
        first, last = min(r.ts_ms for r in locked), max(r.ts_ms for r in locked)
        series = self.store.read_series([meter], first / 1000, last / 1000 + 0.001).get(meter)
        if series is None:
            return locked
        stored = {
            round(t * 1000): (e, p)
            for t, e, p in zip(
                series.ts_s.tolist(),
                series.energy_kwh.tolist(),
                series.power_w.tolist(),
                strict=True,
            )
        }
        return [r for r in locked if not _same(stored.get(r.ts_ms), r)]

    def _settle(self, kind: str, subject: str, site: str, rows: list[list]) -> bool:
        """Hold ``rows`` (True: the caller leaves them out) or, accepted, count them for the
        audit entry (False: the caller writes them)."""
        if not rows:
            return True
        if self.accepted is not None:
            first = min(r[0] for r in rows)
            last = max(r[1] if kind == "bills" else r[0] for r in rows)
            self.begin(kind, subject, first, last)
            audit = self._audits.get((kind, subject))
            if audit is not None:
                audit["rows"] += len(rows)
                audit["first_ms"] = min(first, audit["first_ms"] or first)
                audit["last_ms"] = max(last, audit["last_ms"] or last)
            return False
        items = held_items(
            self.lock,
            site,
            subject,
            kind,
            rows,
            source="import",
            received_ms=self.at_ms,
            topic=self.topic,
        )
        ids = [] if self.dry_run else self.store.organiser.hold(items)
        self.held.append(
            {
                "kind": kind,
                "site": site,
                "subject": subject,
                "rows": len(rows),
                "first_utc": iso_ms(min(item.first_ts_ms for item in items)),
                "last_utc": iso_ms(max(item.last_ts_ms for item in items)),
                "ids": ids,
            }
        )
        return True

    def finish(self, report: dict) -> None:
        """Audit the accepted changes (once the rows are written) and put ``held`` and
        ``baseline_change`` into the import's report."""
        for (kind, subject), audit in self._audits.items():
            if not audit["rows"]:
                continue
            window = {
                "window_from_utc": iso_ms(audit["window"][0]),
                "window_until_utc": iso_ms(audit["window"][1]),
            }
            rows = {
                "rows": audit["rows"],
                "first_utc": iso_ms(audit["first_ms"]),
                "last_utc": iso_ms(audit["last_ms"]),
            }
            entry = {"kind": kind, "subject": subject, **rows, **window}
            if not self.dry_run:
                after = stored_in_span(self.store, kind, subject, *audit["window"])
                entry["audit_id"] = self.store.organiser.append_audit(
                    AuditEntry(
                        competition=self.lock.competition,
                        ts_ms=self.at_ms,
                        who=self.accepted.who,
                        action="import",
                        subject=subject,
                        before={"kind": kind, "stored": audit["before"], **window},
                        after={"kind": kind, "stored": after, **window, **rows},
                        reason=self.accepted.reason,
                    )
                )
            self.applied.append(entry)
        report["held"] = self.held
        report["baseline_change"] = None
        if self.applied:
            report["baseline_change"] = {
                "accepted_by": self.accepted.who,
                "reason": self.accepted.reason,
                "applied": self.applied,
            }
        report["locked"] = self.active


def _same(stored: tuple | None, reading: StoredReading) -> bool:
    """``reading`` is the stored one again (``read_series`` gives NaN for a missing value)."""
    if stored is None:
        return False
    energy, power = (None if v != v else v for v in stored)
    return same_value(energy, reading.energy_kwh) and same_value(power, reading.power_w)


def stored_in_span(store: Store, kind: str, subject: str, from_ms: int, until_ms: int) -> int:
    """How many readings, bills or temperatures of ``subject`` (a meter, a station) the store
    holds with from_ms <= time < until_ms [Unix ms] (bills: their start): the audit entry's
    before and after."""
    lo, hi = from_ms / 1000, until_ms / 1000
    if kind == "bills":
        bills = store.read_bills([subject]).get(subject, np.zeros((0, 3)))
        return int(((bills[:, 0] >= lo) & (bills[:, 0] < hi)).sum())
    if kind == "temperatures":
        found = store.read_temperatures([subject], lo, hi).get(subject)
        return 0 if found is None else int(found[0].size)
    series = store.read_series([subject], lo, hi).get(subject)
    return 0 if series is None else int(series.ts_s.size)


# -- applying a held item -------------------------------------------------------------------


def apply_held(store: Store, item: HeldItem, at_ms: int | None = None) -> WriteResult:
    """Write a held item's data through the normal write path, bypassing the lock.

    Readings (kinds ``readings`` and ``import``) are stored as readings of the item's meter in
    messages of topic ``held:<id>`` and the item's source, received at ``at_ms`` [Unix ms]
    (default now): every stored reading stays traceable to its held item. Bills are written
    with ``write_bills`` (the same period replaces itself), temperatures as the station's.
    Idempotent: applying an item again stores nothing twice (``inserted`` 0, the rows counted
    as ``duplicates``). The caller decides the item (``OrganiserStore.decide``) and appends
    the audit entry.

    Returns
    -------
    WriteResult
        ``inserted``: readings, bills or temperatures new to the store (a bill or temperature
        with another value at the same period or time is replaced and counted here too);
        ``duplicates``: rows the store held already.
    """
    at_ms = now_ms() if at_ms is None else at_ms
    topic = f"held:{item.id}"
    if item.kind in ("readings", "import"):
        inserted = duplicates = conflicts = quarantined = spooled = 0
        rows = item.payload
        for lo in range(0, len(rows), WRITE_CHUNK):
            part = rows[lo : lo + WRITE_CHUNK]
            readings = [StoredReading(item.meter, ts, e, p) for ts, e, p in part]
            result = store.write([Message(topic, at_ms, item.source, readings)])
            inserted += result.inserted
            duplicates += result.duplicates
            conflicts += result.conflicts
            quarantined += result.quarantined
            spooled += result.spooled
        return WriteResult(inserted, duplicates, conflicts, quarantined, spooled)
    if item.kind == "bills":
        stored = store.read_bills([item.meter]).get(item.meter, np.zeros((0, 3)))
        known = {(round(a * 1000), round(b * 1000)): e for a, b, e in stored.tolist()}
        bills = [(int(a), int(b), float(e)) for a, b, e in item.payload]
        same = sum(1 for a, b, e in bills if abs(known.get((a, b), np.nan) - e) <= 1e-9)
        if same < len(bills):
            store.write_bills(item.meter, bills)
        return WriteResult(len(bills) - same, same, 0, 0)
    if item.kind == "temperatures":
        ts = [int(r[0]) for r in item.payload]
        have = store.read_temperatures([item.meter], min(ts) / 1000, max(ts) / 1000 + 0.001)
        known: dict[int, float] = {}
        if item.meter in have:
            stamps, temps = have[item.meter]
            ms = np.rint(stamps * 1000).astype(np.int64).tolist()
            known = dict(zip(ms, temps.tolist(), strict=True))
        new = [
            StoredTemperature(item.meter, int(t), float(c))
            for t, c in item.payload
            if not abs(known.get(int(t), np.nan) - c) <= 1e-9
        ]
        for lo in range(0, len(new), WRITE_CHUNK):
            msg = Message(topic, at_ms, item.source)
            msg.temperatures = new[lo : lo + WRITE_CHUNK]
            store.write([msg])
        return WriteResult(len(new), len(item.payload) - len(new), 0, 0)
    raise ValueError(f"held item {item.id} has an unknown kind {item.kind!r}")
