"""Past consumption → the store, planned first so that a dry run and a real run agree.

Interval energy becomes cumulative register readings at the interval bounds: 15-minute rows
give four readings an hour, hourly rows one, and the store turns consecutive readings into
hourly energy exactly as it does for live meters (``ingest.rollup``), so baselines use imported
history like metered history. The register is synthetic; its level is chosen so that the pair
joining it to a neighbour adds no energy:

- a run of contiguous rows continues from a stored reading at either of its ends (an earlier
  import of the same data; a re-import then finds every reading stored: nothing twice);
- otherwise it starts with a jump that no building can draw (above ``MAX_PLAUSIBLE_W``) from
  the reading before it, and ends 1 kWh above the reading after it where it can: both pairs
  count as unknown energy, not measured, like a gap;
- a gap inside a file (missing or refused rows) is such a jump too: it stays a gap.

Rows longer than an hour (daily rows) are kept as consumption periods, like bills: hourly
baselines do not invent their hours; the ``billing`` baseline fits on them.

Stored readings inside the span that are not this import's readings (live data) are an
overlap: ``keep-live`` (default) skips the rows they touch, ``use-import`` deletes them.

Once a competition has started, rows in the window its baseline reads are held for an organiser
unless the caller accepts the change (``baseline_change``): planned readings in a site's history
window (kind ``import``), bills or daily rows of a site scored on bills over its bill days
(``bills``). ``use-import`` deletes no live readings there without an accepted change: those
rows are skipped as with ``keep-live``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ingest.baseline_lock import BaselineLock
from ingest.imports.baseline_change import AcceptedChange, ImportGate, now_ms
from ingest.imports.rows import ParsedFile, Rejection
from ingest.intervals import MAX_PLAUSIBLE_W
from ingest.rollup import REGISTER_MAX_GAP_S
from ingest.store.base import Message, Store, StoredReading
from ingest.validation import MAX_REGISTER_KWH

MIN_REGISTER_KWH = 10.0  # synthetic registers stay well above the meters' reset rule
HOUR_S = 3600.0
NEIGHBOUR_WINDOW_S = 14 * 86400.0  # how far around the span stored neighbours are looked for
MATCH_KWH = 1e-6
WRITE_CHUNK = 20_000
OVERLAP_CHOICES = ("keep-live", "use-import")


@dataclass(frozen=True)
class Row:
    file: str
    line: int
    start_s: float
    end_s: float
    energy_kwh: float


def iso(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, UTC).isoformat().replace("+00:00", "Z")


def jump_kwh(gap_s: float) -> float:
    """A register rise over ``gap_s`` that ``register_pair_energy`` reads as a glitch."""
    return 3.0 * MAX_PLAUSIBLE_W * gap_s / 3.6e6 + 1.0


def import_consumption(
    store: Store,
    meter_id: str,
    files: list[ParsedFile],
    *,
    billing: bool = False,
    dry_run: bool = False,
    on_overlap: str = "keep-live",
    progress: Callable[[int], None] | None = None,
    lock: BaselineLock | None = None,
    accepted: AcceptedChange | None = None,
    at_ms: int | None = None,
) -> dict:
    """Plan and (unless ``dry_run``) store the rows of ``files`` for one meter; the report.

    ``store`` is the whole store (``base.Store``): held rows go to its organiser part. ``lock``
    is the baseline lock of the meter's competition (``baseline_lock.baseline_lock``; None:
    nothing is locked); from its first hour, rows in a locked window are held, or with
    ``accepted`` written at once and audited. ``at_ms`` [Unix ms] is when the import runs
    (default now). The report's ``held`` lists what was held (kind, rows, span, held ids), its
    ``baseline_change`` what an accepted change applied (with the audit entry's id).
    """
    if on_overlap not in OVERLAP_CHOICES:
        raise ValueError(f"on_overlap must be one of {OVERLAP_CHOICES}, got {on_overlap!r}")
    at_ms = now_ms() if at_ms is None else at_ms
    rejected = [_rejection(f.name, r) for f in files for r in f.rejected]
    report: dict = {
        "meter": meter_id,
        "dry_run": dry_run,
        "files": [f.name for f in files],
        "format": sorted({f.fmt for f in files}),
        "rows": 0,
        "new": 0,
        "stored": 0,
        "duplicates": 0,
        "span": None,
        "resolution": None,
        "gaps": [],
        "dst": [d for f in files for d in f.dst],
        "rejected": rejected,
        "overlap": None,
        "held_rows": 0,  # of "new": rows held for a locked baseline, not stored
    }
    topic = "import:" + ",".join(report["files"])[:200]
    gate = ImportGate(store, lock, accepted, at_ms, dry_run, topic)
    site = lock.site_of_meter.get(meter_id, "") if lock is not None else ""
    registers = [
        (f.name, r) for f in files for r in f.registers if _plausible_register(f.name, r, rejected)
    ]
    if registers:
        _import_registers(store, meter_id, registers, report, dry_run, gate, site, at_ms)
    rows = _clean_rows(files, rejected)
    report["rows"] += len(rows)
    if rows:
        report["span"] = {"first_utc": iso(rows[0].start_s), "last_utc": iso(rows[-1].end_s)}
        report["resolution"] = _resolution(rows)
        report["gaps"] = _gaps(rows)
        report["kwh"] = round(sum(r.energy_kwh for r in rows), 3)
    periods = rows if billing else [r for r in rows if r.end_s - r.start_s > HOUR_S]
    intervals = [] if billing else [r for r in rows if r.end_s - r.start_s <= HOUR_S]
    if periods:
        _import_periods(store, meter_id, periods, report, dry_run, gate, site)
    if intervals:
        _import_intervals(
            store, meter_id, intervals, report, dry_run, on_overlap, progress, gate, site, at_ms
        )
    gate.finish(report)
    rejected.sort(key=lambda r: (r["file"], r["line"]))
    return report


def _plausible_register(name: str, row, rejected: list[dict]) -> bool:
    """Registers and power as ingest accepts them (``ingest.validation``); else rejected."""
    problems = []
    if row.energy_kwh is not None and not 0 <= row.energy_kwh <= MAX_REGISTER_KWH:
        problems.append(f"register {row.energy_kwh:g} kWh is outside 0..{MAX_REGISTER_KWH:g}")
    if row.power_w is not None and not 0 <= row.power_w <= MAX_PLAUSIBLE_W:
        problems.append(f"power {row.power_w:g} W is outside 0..{MAX_PLAUSIBLE_W:g}")
    for problem in problems:
        rejected.append({"file": name, "line": row.line, "reason": problem})
    return not problems


def _rejection(name: str, r: Rejection) -> dict:
    return {"file": name, "line": r.line, "reason": r.reason}


def _clean_rows(files: list[ParsedFile], rejected: list[dict]) -> list[Row]:
    """Rows in time order; a row repeated (same interval, same energy) counts once, one that
    contradicts or overlaps an earlier row is refused naming that row."""
    rows = sorted(
        (Row(f.name, r.line, r.start_s, r.end_s, r.energy_kwh) for f in files for r in f.intervals),
        key=lambda r: (r.start_s, r.end_s),
    )
    out: list[Row] = []
    for row in rows:
        if not row.energy_kwh * 3.6e6 <= MAX_PLAUSIBLE_W * (row.end_s - row.start_s):
            rejected.append(
                {
                    "file": row.file,
                    "line": row.line,
                    "reason": f"{row.energy_kwh:g} kWh in {(row.end_s - row.start_s) / 3600:g} h "
                    f"is more than {MAX_PLAUSIBLE_W / 1e6:g} MW on average: no building draws "
                    "that (a unit mix-up, Wh for kWh?)",
                }
            )
            continue
        last = out[-1] if out else None
        if last is not None and row.start_s < last.end_s:
            if (row.start_s, row.end_s) == (last.start_s, last.end_s) and abs(
                row.energy_kwh - last.energy_kwh
            ) <= MATCH_KWH:
                continue  # the same row twice (overlapping export files)
            rejected.append(
                {
                    "file": row.file,
                    "line": row.line,
                    "reason": f"overlaps {last.file}:{last.line} ({iso(last.start_s)} to "
                    f"{iso(last.end_s)}, {last.energy_kwh:g} kWh)",
                }
            )
            continue
        out.append(row)
    return out


def _resolution(rows: list[Row]) -> str:
    lengths = {round(r.end_s - r.start_s) for r in rows}
    found = sorted({_length_name(s) for s in lengths})
    return found[0] if len(found) == 1 else "mixed: " + ", ".join(found)


def _length_name(length_s: int) -> str:
    """A row's length in words: 15min, hour, day, month, two months (DST days and months of
    28-31 days included), else in seconds or days."""
    names = {900: "15min", 1800: "30min", 3600: "hour", 82800: "day", 86400: "day", 90000: "day"}
    if length_s in names:
        return names[length_s]
    days = length_s / 86400.0
    if 27.9 <= days <= 31.1:
        return "month"
    if 58.9 <= days <= 62.1:
        return "two months"
    return f"{days:.0f} days" if days >= 1 else f"{length_s}s"


def _gaps(rows: list[Row], limit: int = 100) -> list[dict]:
    gaps = [
        {
            "from_utc": iso(a.end_s),
            "to_utc": iso(b.start_s),
            "hours": (b.start_s - a.end_s) / HOUR_S,
        }
        for a, b in itertools.pairwise(rows)
        if b.start_s > a.end_s
    ]
    return gaps[:limit]


# -- interval rows → register readings --------------------------------------------------------


def _runs(rows: list[Row]) -> list[list[Row]]:
    runs: list[list[Row]] = []
    for row in rows:
        if runs and runs[-1][-1].end_s == row.start_s:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def _plan_points(runs: list[list[Row]], stored: dict[int, float]) -> list[list[tuple[int, float]]]:
    """Register readings (ts_ms, kWh) of each run, anchored as the module docstring says."""
    stored_ts = np.array(sorted(stored), dtype=np.int64)
    planned: list[list[tuple[int, float]]] = []
    prev_point: tuple[int, float] | None = None
    for run in runs:
        ts = [_ms(run[0].start_s)] + [_ms(r.end_s) for r in run]
        c = np.concatenate([[0.0], np.cumsum([r.energy_kwh for r in run])])
        first, last = ts[0], ts[-1]
        if last in stored:
            base = stored[last] - c[-1]
        elif first in stored:
            base = stored[first]
        else:
            before = stored_ts[stored_ts < first]
            candidates = [(int(before[-1]), stored[int(before[-1])])] if before.size else []
            if prev_point is not None:
                candidates.append(prev_point)
            prev = max(candidates) if candidates else None
            low = prev[1] + jump_kwh((first - prev[0]) / 1000.0) if prev else MIN_REGISTER_KWH
            after = stored_ts[stored_ts > last]
            base = low
            if after.size:
                to_next = stored[int(after[0])] + 1.0 - c[-1]
                base = max(low, to_next)
        points = [(t, float(base + v)) for t, v in zip(ts, c.tolist(), strict=True)]
        planned.append(points)
        prev_point = points[-1]
    return planned


def _ms(ts_s: float) -> int:
    return round(ts_s * 1000)


def _stored_pairs(stored_ts: list[int], foreign: set[int]) -> np.ndarray:
    """(a, b) [ms] of consecutive stored readings, one of them foreign, close enough that the
    store counts their energy as measured: a row inside such a pair would split it."""
    out = [
        (a, b)
        for a, b in itertools.pairwise(stored_ts)
        if (a in foreign or b in foreign) and b - a <= REGISTER_MAX_GAP_S * 1000
    ]
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _inside_pair(pairs: np.ndarray, start_ms: int, end_ms: int) -> bool:
    return bool(((pairs[:, 0] < end_ms) & (pairs[:, 1] > start_ms)).any())


def _import_intervals(
    store: Store,
    meter_id: str,
    rows: list[Row],
    report: dict,
    dry_run: bool,
    on_overlap: str,
    progress: Callable[[int], None] | None,
    gate: ImportGate,
    site: str,
    at_ms: int,
) -> None:
    lo, hi = rows[0].start_s, rows[-1].end_s
    gate.begin("import", meter_id, _ms(lo), _ms(hi))  # an accepted change: what was stored
    series = store.read_series([meter_id], lo - NEIGHBOUR_WINDOW_S, hi + NEIGHBOUR_WINDOW_S + 1)
    stored: dict[int, float] = {}
    if meter_id in series:
        s = series[meter_id]
        for t, e in zip(s.ts_s.tolist(), s.energy_kwh.tolist(), strict=True):
            if e == e:  # registers only: power readings do not anchor
                stored[_ms(t)] = e
        all_ts = [_ms(t) for t in s.ts_s.tolist()]
    else:
        all_ts = []
    runs = _runs(rows)
    planned = _plan_points(runs, stored)
    mine = {t: v for points in planned for t, v in points}
    foreign = sorted(
        t
        for t in all_ts
        if _ms(lo) <= t <= _ms(hi)
        and not (t in mine and t in stored and abs(stored[t] - mine[t]) <= MATCH_KWH)
    )
    kept = rows
    deleted = 0
    if foreign:
        f = np.array(foreign, dtype=np.int64)
        pairs = _stored_pairs(sorted(set(all_ts)), set(foreign))
        touched = [
            bool(((f >= _ms(r.start_s)) & (f <= _ms(r.end_s))).any())
            or _inside_pair(pairs, _ms(r.start_s), _ms(r.end_s))
            for r in rows
        ]
        overlap = {
            "stored_readings": len(foreign),
            "first_utc": iso(foreign[0] / 1000.0),
            "last_utc": iso(foreign[-1] / 1000.0),
            "rows_touching": sum(touched),
            "choice": on_overlap,
        }
        if on_overlap == "keep-live":
            kept = [r for r, t in zip(rows, touched, strict=True) if not t]
            overlap["rows_skipped"] = sum(touched)
        else:
            ranges = [
                (_ms(run[0].start_s), _ms(run[-1].end_s))
                for run in runs
                if ((f >= _ms(run[0].start_s)) & (f <= _ms(run[-1].end_s))).any()
            ]
            # live readings in a locked window stay without an accepted change: keep-live there
            blocked = [(a, b) for a, b in ranges if gate.blocks("import", meter_id, a, b + 1)]
            if blocked:
                ranges = [r for r in ranges if r not in blocked]
                kept = [
                    r
                    for r, t in zip(rows, touched, strict=True)
                    if not (t and any(a <= _ms(r.start_s) < b for a, b in blocked))
                ]
                overlap["rows_skipped_locked"] = len(rows) - len(kept)
            for a, b in ranges:
                n = int(((f >= a) & (f <= b)).sum())
                deleted += n if dry_run else store.delete_readings(meter_id, a, b)
                for t in [t for t in stored if a <= t <= b]:
                    del stored[t]
            overlap["readings_deleted" if not dry_run else "readings_to_delete"] = deleted
        report["overlap"] = overlap
        runs = _runs(kept)
        planned = _plan_points(runs, stored)
    readings: list[StoredReading] = []
    duplicates = new = 0
    bounds: list[tuple[int, int]] = []  # (start_ms, end_ms) of each new row
    for run, points in zip(runs, planned, strict=True):
        have = [t in stored and abs(stored[t] - v) <= MATCH_KWH for t, v in points]
        for i in range(len(run)):
            if have[i] and have[i + 1]:
                duplicates += 1
            else:
                new += 1
                bounds.append((points[i][0], points[i + 1][0]))
        readings += [
            StoredReading(meter_id, t, v, None)
            for (t, v), h in zip(points, have, strict=True)
            if not h
        ]
    report["duplicates"] += duplicates
    report["new"] += new
    written = gate.readings(meter_id, site, readings)
    if len(written) < len(readings):  # rows with a held reading at either end wait with it
        kept_ts = {r.ts_ms for r in written}
        held_ts = {r.ts_ms for r in readings} - kept_ts
        held_rows = sum(1 for a, b in bounds if a in held_ts or b in held_ts)
        report["held_rows"] += held_rows
        new -= held_rows
    if dry_run or not written:
        return
    topic = "import:" + ",".join(report["files"])[:200]
    for start in range(0, len(written), WRITE_CHUNK):
        chunk = written[start : start + WRITE_CHUNK]
        store.write([Message(topic, at_ms, "import", chunk)])
        if progress is not None:
            progress(len(chunk))
    report["stored"] += new


# -- periods (bills, daily rows) ----------------------------------------------------------------


def _import_periods(
    store: Store,
    meter_id: str,
    rows: list[Row],
    report: dict,
    dry_run: bool,
    gate: ImportGate,
    site: str,
) -> None:
    existing = store.read_bills([meter_id]).get(meter_id, np.zeros((0, 3)))
    known = {(_ms(a), _ms(b)): e for a, b, e in existing.tolist()}
    new, replaced, duplicates = [], 0, 0
    for r in rows:
        key = (_ms(r.start_s), _ms(r.end_s))
        if key in known and abs(known[key] - r.energy_kwh) <= MATCH_KWH:
            duplicates += 1
            continue
        clash = next(
            ((a, b) for a, b in known if (a, b) != key and a < key[1] and b > key[0]), None
        )
        if clash is not None:  # two periods over the same days would count them twice
            report["rejected"].append(
                {
                    "file": r.file,
                    "line": r.line,
                    "reason": f"overlaps a stored period {iso(clash[0] / 1000)} to "
                    f"{iso(clash[1] / 1000)} ({known[clash]:g} kWh) with other dates; the "
                    "stored one is kept (a period with the same dates replaces it)",
                }
            )
            continue
        replaced += key in known
        new.append((key[0], key[1], r.energy_kwh))
    report["periods"] = {"new": len(new), "replaced": replaced, "duplicates": duplicates}
    report["duplicates"] += duplicates
    report["new"] += len(new)
    if new:
        gate.begin("bills", meter_id, min(b[0] for b in new), max(b[1] for b in new))
    planned = len(new)
    new = gate.bills(meter_id, site, new)
    report["held_rows"] += planned - len(new)
    if new and not dry_run:
        store.write_bills(meter_id, new)
        report["stored"] += len(new)


# -- register readings (the project's JSON) ------------------------------------------------------


def _import_registers(
    store: Store,
    meter_id: str,
    rows: list,
    report: dict,
    dry_run: bool,
    gate: ImportGate,
    site: str,
    at_ms: int,
) -> None:
    rows = sorted(rows, key=lambda fr: fr[1].ts_s)
    report["rows"] += len(rows)
    report["span"] = {"first_utc": iso(rows[0][1].ts_s), "last_utc": iso(rows[-1][1].ts_s)}
    readings = [StoredReading(meter_id, _ms(r.ts_s), r.energy_kwh, r.power_w) for _, r in rows]
    gate.begin("import", meter_id, readings[0].ts_ms, readings[-1].ts_ms)
    planned = len(readings)
    readings = gate.readings(meter_id, site, readings)
    report["new"] += planned - len(readings)  # held: new, not stored
    report["held_rows"] += planned - len(readings)
    if not readings:
        return
    if dry_run:
        stored = store.read_series([meter_id], rows[0][1].ts_s, rows[-1][1].ts_s + 1)
        have = set()
        if meter_id in stored:
            have = {_ms(t) for t in stored[meter_id].ts_s.tolist()}
        dup = sum(1 for r in readings if r.ts_ms in have)
        report["duplicates"] += dup
        report["new"] += len(readings) - dup
        return
    result = store.write([Message("import:json", at_ms, "import", readings)])
    report["duplicates"] += result.duplicates
    report["new"] += result.inserted
    report["stored"] += result.inserted
    if result.conflicts:
        report["rejected"].append(
            {
                "file": ",".join(report["files"]),
                "line": 0,
                "reason": f"{result.conflicts} readings contradict stored ones (same time, "
                "other value); see the quarantine",
            }
        )
