"""Outdoor temperatures → the store, for the station a site's regression baseline reads."""

from __future__ import annotations

import time

import numpy as np

from ingest.imports.consumption import iso
from ingest.imports.rows import ParsedFile
from ingest.store.base import Message, ReadingStore, StoredTemperature

MATCH_C = 1e-6
GAP_S = 2 * 3600.0  # hourly stations: more than two hours without a sample is a gap


def import_weather(
    store: ReadingStore, station: str, files: list[ParsedFile], *, dry_run: bool = False
) -> dict:
    """Plan and (unless ``dry_run``) store the temperatures of ``files``; the report."""
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
    }
    if not samples:
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
    if new and not dry_run:
        for lo in range(0, len(new), 20_000):
            msg = Message(f"import:weather:{station}", int(time.time() * 1000), "import")
            msg.temperatures = new[lo : lo + 20_000]
            store.write([msg])
        report["stored"] = len(new)
    return report
