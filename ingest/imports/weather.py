"""Outdoor temperatures → the store, for the station a site's regression baseline reads.

Once a competition has started, temperatures in a window its baselines read of the station
(``ingest.baseline_lock``) are held for an organiser unless the change is accepted
(``baseline_change``), as one record of the station for every site that reads it.
"""

from __future__ import annotations

import numpy as np

from ingest.baseline_lock import BaselineLock
from ingest.imports.baseline_change import AcceptedChange, ImportGate, now_ms
from ingest.imports.consumption import iso
from ingest.imports.rows import ParsedFile
from ingest.store.base import Message, Store, StoredTemperature

MATCH_C = 1e-6
GAP_S = 2 * 3600.0  # hourly stations: more than two hours without a sample is a gap


def import_weather(
    store: Store,
    station: str,
    files: list[ParsedFile],
    *,
    dry_run: bool = False,
    lock: BaselineLock | None = None,
    accepted: AcceptedChange | None = None,
    at_ms: int | None = None,
) -> dict:
    """Plan and (unless ``dry_run``) store the temperatures of ``files``; the report.

    ``lock``, ``accepted`` and ``at_ms`` as for ``consumption.import_consumption``: from the
    competition's first hour, temperatures in a window its baselines read are held (the
    report's ``held``) unless ``accepted``.
    """
    at_ms = now_ms() if at_ms is None else at_ms
    gate = ImportGate(store, lock, accepted, at_ms, dry_run, f"import:weather:{station}")
    rejected = [
        {"file": f.name, "line": r.line, "reason": r.reason} for f in files for r in f.rejected
    ]
    samples: dict[int, tuple[str, int, float]] = {}
    for f in files:
        for r in f.temperatures:
            key = round(r.ts_s * 1000)
            if key in samples and abs(samples[key][2] - r.temp_c) > MATCH_C:
                first = samples[key]
                rejected.append(
                    {
                        "file": f.name,
                        "line": r.line,
                        "reason": f"{r.temp_c:g} °C at {iso(r.ts_s)} contradicts "
                        f"{first[0]}:{first[1]} ({first[2]:g} °C)",
                    }
                )
                continue
            samples.setdefault(key, (f.name, r.line, r.temp_c))
    report: dict = {
        "station": station,
        "dry_run": dry_run,
        "files": [f.name for f in files],
        "format": sorted({f.fmt for f in files}),
        "rows": len(samples),
        "new": 0,
        "stored": 0,
        "duplicates": 0,
        "replaced": 0,
        "span": None,
        "gaps": [],
        "dst": [d for f in files for d in f.dst],
        "rejected": sorted(rejected, key=lambda r: (r["file"], r["line"])),
        "overlap": None,
        "held_rows": 0,  # of "new": temperatures held for a locked baseline, not stored
    }
    if not samples:
        gate.finish(report)
        return report
    ts = np.array(sorted(samples), dtype=np.int64)
    report["span"] = {"first_utc": iso(ts[0] / 1000), "last_utc": iso(ts[-1] / 1000)}
    report["gaps"] = [
        {"from_utc": iso(a / 1000), "to_utc": iso(b / 1000), "hours": (b - a) / 3.6e6}
        for a, b in zip(ts[:-1].tolist(), ts[1:].tolist(), strict=True)
        if b - a > GAP_S * 1000
    ][:100]
    have = store.read_temperatures([station], ts[0] / 1000, ts[-1] / 1000 + 1).get(station)
    known = (
        {}
        if have is None
        else dict(
            zip(np.rint(have[0] * 1000).astype(np.int64).tolist(), have[1].tolist(), strict=True)
        )
    )
    new = []
    for key in ts.tolist():
        temp = samples[key][2]
        if key in known and abs(known[key] - temp) <= MATCH_C:
            report["duplicates"] += 1
            continue
        report["replaced"] += key in known
        new.append(StoredTemperature(station, key, temp))
    report["new"] = len(new)
    if new:
        gate.begin("temperatures", station, new[0].ts_ms, new[-1].ts_ms)
    planned = len(new)
    new = gate.temperatures(station, new)
    report["held_rows"] = planned - len(new)
    if new and not dry_run:
        for lo in range(0, len(new), 20_000):
            msg = Message(f"import:weather:{station}", at_ms, "import")
            msg.temperatures = new[lo : lo + 20_000]
            store.write([msg])
        report["stored"] = len(new)
    gate.finish(report)
    return report
