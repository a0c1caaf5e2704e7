"""Data quality of one competition for organisers: silent meters, quarantine, completeness,
and late changes with their effect on the score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from api.scoreboard import STALE_AFTER_S, Scoreboard, Snapshot
from ingest.hourly_energy import site_hours
from ingest.late_changes import LATE_AFTER_MS, LateDay, late_changes
from ingest.rollup import Cells, add_chain, new_cells
from ingest.store.base import MeterHours, ReadingStore, Store
from scoring.calendar import local_midnight_utc_s
from scoring.metrics import site_metrics

RECENT_QUARANTINE = 20
LEAD_IN_S = 86_400.0  # readings read before the period, so that its first pairs are whole [s]


def quality_view(board: Scoreboard, store: Store, now_s: float) -> dict:
    """Every meter's last reading and silence, quarantine counts by reason with the latest
    entries, and each site's completeness against the competition's minimum.

    ``now_s`` [Unix s]; a meter is silent when its last reading is older than
    ``STALE_AFTER_S`` (or when it never sent one).
    """
    comp = board.competition
    states = store.meter_states()
    meters = []
    for site in comp.sites:
        for meter in site.meters:
            st = states.get(meter.id)
            silent_s = None if st is None else max(0.0, now_s - st.last_ts_s)
            meters.append(
                {
                    "site": site.id,
                    "meter": meter.id,
                    "last_reading": None if st is None else board.local_iso(st.last_ts_s),
                    "received": None if st is None else board.local_iso(st.received_s),
                    "silent_s": None if silent_s is None else round(silent_s),
                    "silent": silent_s is None or silent_s > STALE_AFTER_S,
                    "power_w": None if st is None else st.power_w,
                }
            )
    # silent first, longest silence (never heard of: infinite) first
    meters.sort(
        key=lambda m: (
            not m["silent"],
            -(float("inf") if m["silent_s"] is None else m["silent_s"]),
            m["meter"],
        )
    )
    entries = board.leaderboard()["entries"]
    completeness = sorted(
        (
            {
                "site": e["site"],
                "name": e["name"],
                "completeness": e["completeness"],
                "hours_matched": e["hours_matched"],
                "eligible": e["eligible"],
            }
            for e in entries
        ),
        key=lambda e: (e["completeness"] if e["completeness"] is not None else -1, e["site"]),
    )
    info = comp.competition
    return {
        "competition": comp.id,
        "as_of": board.local_iso(now_s),
        "silent_after_s": STALE_AFTER_S,
        "meters": meters,
        "meters_silent": sum(m["silent"] for m in meters),
        "quarantine": {
            # the quarantine holds messages before they are known to belong to a competition
            "scope": "all competitions of this store",
            "counts": store.quarantine_counts(),
            "recent": [
                {
                    "id": r["id"],
                    "received": datetime.fromtimestamp(r["received_ms"] / 1e3, UTC).isoformat(),
                    "topic": r["topic"],
                    "reason": r["reason"],
                    "detail": r["detail"],
                }
                for r in store.list_quarantine(limit=RECENT_QUARANTINE)
            ],
        },
        "min_completeness_pct": info.min_completeness_pct,
        "completeness": completeness,
        "late_after_h": LATE_AFTER_MS / 3_600_000,
        "late_changes": late_changes_view(board, store, now_s),
    }


def late_changes_view(board: Scoreboard, store: Store, now_s: float) -> list[dict]:
    """Per site, the competition days changed more than 48 h after they ended
    (``ingest.late_changes``) and the effect of those late readings on the site's score.

    The effect compares the site's figures as scored (with the late readings) against the
    same figures recomputed without them: the site's hours are read again with the late
    readings' pairs taken out of its meters' chains (``_without_late``), against the same
    baseline. Sites with the largest change of reduction come first.

    ``now_s`` [Unix s]: only days that ended 48 h before it can have late changes.
    """
    grid = board.grid.hour_start_s
    if grid.size == 0:
        return []
    snap = board.snapshot()
    first_ms, now_ms = round(grid[0] * 1000), round(now_s * 1000)
    last_day = board.competition.competition.end
    meters = [m for site in board.meters_by_site for m in site]
    found = late_changes(store, meters, first_ms, now_ms, board.tz)
    out = []
    for i, site in enumerate(board.competition.sites):
        days = [
            d
            for m in board.meters_by_site[i]
            for d in found.get(m, [])
            if d.day_local <= last_day  # a day after the end is no part of the score
        ]
        if not days:
            continue
        days.sort(key=lambda d: (d.day_local, d.meter))
        out.append(
            {
                "site": site.id,
                "name": site.name,
                "readings": sum(d.readings for d in days),
                "register_kwh": _sum_known([d.register_kwh for d in days]),
                "days": [_day_view(board, d) for d in days],
                "effect": _effect(board, store, snap, i, days),
            }
        )
    out.sort(key=lambda e: (-abs(e["effect"]["change_pct_points"] or 0.0), e["site"]))
    return out


def _day_view(board: Scoreboard, d: LateDay) -> dict:
    return {
        "meter": d.meter,
        "day": d.day_local.isoformat(),
        "readings": d.readings,
        "first_reading": board.local_iso(d.first_ts_ms / 1000),
        "last_reading": board.local_iso(d.last_ts_ms / 1000),
        "first_received": board.local_iso(d.first_received_ms / 1000),
        "last_received": board.local_iso(d.last_received_ms / 1000),
        "register_kwh": None if d.register_kwh is None else round(d.register_kwh, 3),
    }


def _effect(board: Scoreboard, store: Store, snap: Snapshot, i: int, days: list[LateDay]) -> dict:
    """Site ``i``'s reduction [%], measured kWh and matched hours as scored and without the
    late readings of ``days``, and the change they made (with minus without)."""
    m = snap.metrics
    meters = board.meters_by_site[i]
    without = site_hours(
        _without_late(store, meters, days, board.tz, board.grid.hour_start_s[0], snap.as_of_s),
        [meters],
        board.grid.hour_start_s,
        until_s=snap.as_of_s,
    )
    info = board.competition.competition
    w = site_metrics(
        without.energy_kwh,
        without.measured_s,
        snap.baseline_kwh[i : i + 1],
        snap.baseline_ok[i : i + 1],
        snap.elapsed,
        board.area_m2[i : i + 1],
        board.target_pct[i : i + 1],
        info.min_completeness_pct / 100.0,
    )
    with_pct, without_pct = _round(m.reduction_pct[i], 2), _round(w.reduction_pct[0], 2)
    with_kwh, without_kwh = _round(m.actual_kwh[i], 1), _round(w.actual_kwh[0], 1)
    return {
        "reduction_pct": with_pct,
        "reduction_pct_without": without_pct,
        "change_pct_points": None
        if with_pct is None or without_pct is None
        else round(with_pct - without_pct, 2),
        "actual_kwh": with_kwh,
        "actual_kwh_without": without_kwh,
        "change_kwh": None
        if with_kwh is None or without_kwh is None
        else round(with_kwh - without_kwh, 1),
        "hours_matched": int(m.hours_matched[i]),
        "hours_matched_without": int(w.hours_matched[0]),
    }


class _WithoutLate:
    """The hourly energy of some meters as it would be without some of their readings: the
    store's hours plus the difference those readings made to their chains (``delta``)."""

    def __init__(self, store: ReadingStore, delta: Cells) -> None:
        self.store, self.delta = store, delta

    def read_hourly(
        self, meter_ids: list[str], start_s: float, end_s: float
    ) -> dict[str, MeterHours]:
        hours = self.store.read_hourly(meter_ids, start_s, end_s)
        out = {}
        for mid in meter_ids:
            cells: dict[float, list[float]] = {}
            h = hours.get(mid)
            if h is not None:
                for row in zip(
                    h.hour_s.tolist(),
                    h.reg_kwh.tolist(),
                    h.reg_s.tolist(),
                    h.pow_kwh.tolist(),
                    h.pow_s.tolist(),
                    strict=True,
                ):
                    cells[row[0]] = list(row[1:])
            for (meter, hour_s), change in self.delta.items():
                if meter == mid and start_s <= hour_s < end_s:
                    cell = cells.setdefault(hour_s, [0.0, 0.0, 0.0, 0.0])
                    for k in range(4):
                        cell[k] += change[k]
            if cells:
                keys = sorted(cells)
                v = np.array([cells[k] for k in keys], dtype=float).reshape(-1, 4)
                out[mid] = MeterHours(
                    np.array(keys),
                    v[:, 0],
                    np.maximum(v[:, 1], 0.0),
                    v[:, 2],
                    np.maximum(v[:, 3], 0.0),
                )
        return out


def _without_late(
    store: Store,
    meters: list[str],
    days: list[LateDay],
    tz: ZoneInfo,
    first_s: float,
    until_s: float,
) -> _WithoutLate:
    """``meters``' hours without the readings of ``days`` that arrived late.

    The late readings are the store's answer to the same question ``late_changes`` asked
    (each day's readings received more than ``LATE_AFTER_MS`` after it ended); each meter's
    chains are rebuilt from its stored readings with and without them, and the difference of
    their hourly energy is what the late readings changed. The readings are read from a day
    before ``first_s`` (the period's first hour) to ``until_s`` [Unix s].
    """
    spans = []
    for d in {(d.day_local, d.first_ts_ms, d.last_ts_ms) for d in days}:
        day_end_ms = round(local_midnight_utc_s(d[0] + timedelta(days=1), tz) * 1000)
        spans.append((d[1], d[2] + 1, day_end_ms + LATE_AFTER_MS))
    late = store.late_readings(list(meters), sorted(spans))
    series = store.read_series(list(meters), first_s - LEAD_IN_S, until_s + 1.0)
    delta = new_cells()
    for mid, s in series.items():
        late_ms = {row[0] for row in late.get(mid, [])}
        ts_ms = np.rint(s.ts_s * 1000).astype(np.int64)
        keep = ~np.isin(ts_ms, np.array(sorted(late_ms), dtype=np.int64))
        for kind, values in (("reg", s.energy_kwh), ("pow", s.power_w)):
            known = np.isfinite(values)
            for sign, rows in ((-1.0, known), (1.0, known & keep)):
                ids = np.full(int(rows.sum()), mid, dtype=object)
                add_chain(delta, ids, s.ts_s[rows], values[rows], kind, sign=sign)
    return _WithoutLate(store, delta)


def _sum_known(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known), 3) if known else None


def _round(value: float, digits: int) -> float | None:
    return round(float(value), digits) if np.isfinite(value) else None
