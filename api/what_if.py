"""What a held item would do if accepted: its sites' baseline and reduction with and without it.

Data held from a locked baseline (``ingest.store.held``) is listed with a what-if figure, so an
organiser decides knowing its effect. The figure is the real scoring, not an estimate: the
affected sites (``ingest.baseline_lock.affected_sites``) are scored by a ``Scoreboard`` over the
store as it is, and over ``HeldOverlay``, a read-only view of the store with the item's data
added, exactly as ``apply_held`` would write it:

- readings (kinds ``readings`` and ``import``): the meter's hourly energy around the held rows
  is recomputed from its stored raw readings plus the held ones with the store's own rollup
  (``ingest.rollup.cells_from_readings``); a held reading at the time of a stored one is left
  out (the store keeps the stored one: a duplicate, or a conflict it quarantines);
- bills: ``read_bills`` plus the held bills (the same period replaces the stored one);
- temperatures: ``read_temperatures`` plus the held ones (the same time replaces the stored one).

Only the affected sites are scored (a site's baseline and reduction depend on its own data
alone), so the cost is that of a small competition whatever the size of the real one.
``what_if_key`` says when a stored what-if is out of date; the API recomputes it then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from api.scoreboard import Scoreboard
from ingest.baseline_lock import affected_sites
from ingest.rollup import cells_from_readings
from ingest.store.base import MeterHours, MeterSeries, Store
from ingest.store.checks import canonical_json, sha256_hex
from ingest.store.held import HeldItem
from scoring.competition import Competition

WHAT_IF_VERSION = 1  # bump when the figures are computed differently: stored ones are redone
# how far around held readings the stored neighbours are looked for [s]: the pairs a held
# reading splits are between its stored neighbours, found within the first pad that has them
NEIGHBOUR_PADS_S = (2 * 86400.0, 62 * 86400.0)
_READING_KINDS = ("readings", "import")


def held_hour_delta(
    stored: MeterSeries | None, rows: list[list]
) -> dict[float, tuple[float, float, float, float]]:
    """The change of a meter's hourly energy cells if held readings ``rows`` were stored.

    Parameters
    ----------
    stored : MeterSeries or None
        The meter's stored readings around the held ones [Unix s, kWh, W; NaN: no value]. The
        delta is exact when, for each chain (register, power), a stored reading lies before the
        first and after the last held reading of that chain, or none lies beyond them at all.
    rows : list of [ts_ms, energy_kwh, power_w]
        The held readings [Unix ms, kWh, W]; None for a value a reading lacks.

    Returns
    -------
    dict of float to tuple
        UTC hour start [Unix s] → change of (reg_kwh, reg_s, pow_kwh, pow_s) [kWh, s].

    Notes
    -----
    Hourly cells are additive over a chain's consecutive pairs (``ingest.rollup``), so the
    change is cells(stored ∪ held) − cells(stored) over the same readings.
    """
    base: list[tuple[str, float, float | None, float | None]] = []
    known_ms: set[int] = set()
    if stored is not None:
        for t, e, p in zip(
            stored.ts_s.tolist(), stored.energy_kwh.tolist(), stored.power_w.tolist(), strict=True
        ):
            base.append(("m", t, None if math.isnan(e) else e, None if math.isnan(p) else p))
            known_ms.add(round(t * 1000))
    added: dict[int, tuple] = {}
    for ts_ms, energy_kwh, power_w in rows:
        if int(ts_ms) not in known_ms and int(ts_ms) not in added:
            added[int(ts_ms)] = ("m", int(ts_ms) / 1000.0, energy_kwh, power_w)
    if not added:
        return {}
    before = cells_from_readings(base)
    after = cells_from_readings(base + list(added.values()))
    delta = {}
    for key in set(before) | set(after):
        a = after.get(key, (0.0, 0.0, 0.0, 0.0))
        b = before.get(key, (0.0, 0.0, 0.0, 0.0))
        change = tuple(x - y for x, y in zip(a, b, strict=True))
        if any(abs(c) > 1e-12 for c in change):
            delta[key[1]] = change
    return delta


def _neighbours_found(stored: MeterSeries | None, rows: list[list]) -> bool:
    """Each chain of the held ``rows`` has a stored reading of that chain before its first
    and after its last held reading (``held_hour_delta`` is exact then)."""
    if stored is None:
        return False
    for column, values in ((1, stored.energy_kwh), (2, stored.power_w)):
        times = [r[0] / 1000.0 for r in rows if r[column] is not None]
        if not times:
            continue
        have = stored.ts_s[np.isfinite(values)]
        if not (have < min(times)).any() or not (have > max(times)).any():
            return False
    return True


class HeldOverlay:
    """The store as it would read with one held item applied (module docstring); read-only.

    The reads scoring makes (``read_hourly``, ``read_bills``, ``read_temperatures``) include the
    item's data; everything else is the store's. Writing through it is refused.
    """

    def __init__(self, store: Store, item: HeldItem) -> None:
        self._store = store
        self._item = item
        self._delta: dict[float, tuple[float, float, float, float]] | None = None

    def __getattr__(self, name: str):
        return getattr(self._store, name)

    def write(self, *args, **kwargs):
        raise TypeError("a what-if overlay is read-only")

    write_bills = delete_readings = write

    def write_mark(self) -> tuple[int, int] | None:
        return None  # the overlay's data is not the store's: a reader reads it all

    def changed_since_s(self, token: int) -> float | None:
        return None  # read everything: an overlay is scored once

    def _hour_delta(self) -> dict[float, tuple[float, float, float, float]]:
        if self._delta is None:
            item = self._item
            first_s, last_s = item.first_ts_ms / 1000.0, item.last_ts_ms / 1000.0
            stored = None
            for pad_s in NEIGHBOUR_PADS_S:
                found = self._store.read_series([item.meter], first_s - pad_s, last_s + pad_s)
                stored = found.get(item.meter)
                if _neighbours_found(stored, item.payload):
                    break
            self._delta = held_hour_delta(stored, item.payload)
        return self._delta

    def read_hourly(self, meter_ids: list[str], start_s: float, end_s: float) -> dict:
        hours = self._store.read_hourly(meter_ids, start_s, end_s)
        item = self._item
        if item.kind not in _READING_KINDS or item.meter not in meter_ids:
            return hours
        delta = {h: d for h, d in self._hour_delta().items() if start_s <= h < end_s}
        if not delta:
            return hours
        cells: dict[float, list[float]] = {}
        have = hours.get(item.meter)
        if have is not None:
            for j, h in enumerate(have.hour_s.tolist()):
                cells[h] = [
                    float(have.reg_kwh[j]),
                    float(have.reg_s[j]),
                    float(have.pow_kwh[j]),
                    float(have.pow_s[j]),
                ]
        for h, d in delta.items():
            cell = cells.setdefault(h, [0.0, 0.0, 0.0, 0.0])
            for k in range(4):
                cell[k] += d[k]
        order = sorted(cells)
        table = np.array([cells[h] for h in order], dtype=float).reshape(-1, 4)
        hours = dict(hours)
        hours[item.meter] = MeterHours(
            hour_s=np.array(order, dtype=float),
            reg_kwh=table[:, 0],
            reg_s=table[:, 1],
            pow_kwh=table[:, 2],
            pow_s=table[:, 3],
        )
        return hours

    def read_bills(self, meter_ids: list[str]) -> dict[str, np.ndarray]:
        bills = self._store.read_bills(meter_ids)
        item = self._item
        if item.kind != "bills" or item.meter not in meter_ids:
            return bills
        periods = {
            (round(a * 1000), round(b * 1000)): e
            for a, b, e in bills.get(item.meter, np.zeros((0, 3))).tolist()
        }
        for start_ms, end_ms, energy_kwh in item.payload:
            periods[(int(start_ms), int(end_ms))] = float(energy_kwh)
        rows = [(a / 1000.0, b / 1000.0, e) for (a, b), e in sorted(periods.items())]
        bills = dict(bills)
        bills[item.meter] = np.array(rows, dtype=float).reshape(-1, 3)
        return bills

    def read_temperatures(
        self, stations: list[str], start_s: float, end_s: float
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        temps = self._store.read_temperatures(stations, start_s, end_s)
        item = self._item
        if item.kind != "temperatures" or item.meter not in stations:
            return temps
        samples: dict[int, float] = {}
        if item.meter in temps:
            ts_s, temp_c = temps[item.meter]
            samples = dict(
                zip(np.rint(ts_s * 1000).astype(np.int64).tolist(), temp_c.tolist(), strict=True)
            )
        for ts_ms, temp_c in item.payload:
            if start_s <= ts_ms / 1000.0 < end_s:
                samples[int(ts_ms)] = float(temp_c)
        if not samples:
            return temps
        order = sorted(samples)
        temps = dict(temps)
        temps[item.meter] = (
            np.array(order, dtype=float) / 1000.0,
            np.array([samples[t] for t in order], dtype=float),
        )
        return temps


def sites_in(comp: Competition, item: HeldItem) -> list[str]:
    """The sites of ``comp`` whose baselines ``item`` would change (``affected_sites``, less
    sites the competition no longer has)."""
    return [s for s in affected_sites(comp, item) if comp.site(s) is not None]


def site_figures(board: Scoreboard, sites: list[str]) -> dict[str, dict]:
    """Site id → its baseline over the elapsed hours [kWh] and reduction [%] as ``board``
    scores them now (rounded as the leaderboard rounds them; None where there is none)."""
    m = board.snapshot().metrics
    out = {}
    for sid in sites:
        i = board.site_index(sid)
        out[sid] = {
            "baseline_kwh": _num(m.baseline_kwh[i], 1),
            "reduction_pct": _num(m.reduction_pct[i], 2),
        }
    return out


def what_if_key(board: Scoreboard, sites: list[str]) -> str:
    """What a what-if of ``sites`` depends on, as a SHA-256 hex: the scored inputs of those
    sites in ``board``'s current snapshot (their baseline and measured energy over the
    elapsed hours, hours matched, baseline fingerprints where the scoreboard has them) and the
    number of elapsed hours. A what-if stored with another key is out of date.

    Not the store's change token: storing a what-if is itself a write that changes it.
    """
    snap = board.snapshot()
    m = snap.metrics
    prints = getattr(snap, "fingerprints", ()) or ()
    rows = []
    for sid in sites:
        i = board.site_index(sid)
        rows.append(
            [
                sid,
                repr(float(m.baseline_kwh[i])),
                repr(float(m.actual_kwh[i])),
                repr(float(m.hours_matched[i])),
                prints[i] if i < len(prints) else "",
            ]
        )
    info = board.competition.competition
    return sha256_hex(
        canonical_json(
            [
                WHAT_IF_VERSION,
                info.baseline.method,
                info.baseline.weeks,
                int(m.hours_elapsed),
                rows,
            ]
        )
    )


def compute_what_if(
    comp: Competition, store: Store, item: HeldItem, clock: Callable[[], float], key: str
) -> dict:
    """The what-if of ``item`` (module docstring) as stored with it.

    Returns
    -------
    dict
        ``key`` (``what_if_key``), ``computed`` (ISO time, UTC), ``hours_elapsed`` and
        ``sites``: one ``{"site", "now": {"baseline_kwh", "reduction_pct"}, "if_accepted":
        {…}}`` per affected site [kWh, %].
    """
    sites = sites_in(comp, item)
    out = {
        "key": key,
        "computed": datetime.fromtimestamp(clock(), UTC).isoformat(),
        "hours_elapsed": 0,
        "sites": [],
    }
    if not sites:
        return out
    part = only_sites(comp, sites)
    now_board = Scoreboard(part, store, clock)
    now = site_figures(now_board, sites)
    accepted = site_figures(Scoreboard(part, HeldOverlay(store, item), clock), sites)
    out["hours_elapsed"] = int(now_board.snapshot().metrics.hours_elapsed)
    out["sites"] = [{"site": s, "now": now[s], "if_accepted": accepted[s]} for s in sites]
    return out


def merged_items(items: list[HeldItem]) -> list[HeldItem]:
    """``items`` as one item per (kind, meter or station): their rows together, each time
    (or bill period) once, the latest received winning. Items held from one stream (a
    gateway's replay split over many messages) add up only when applied together: a reading's
    energy depends on its neighbours, which may be in the next message."""
    groups: dict[tuple[str, str, str], list[HeldItem]] = {}
    for item in sorted(items, key=lambda i: (i.received_ms, i.id or 0)):
        kind = "readings" if item.kind in _READING_KINDS else item.kind
        groups.setdefault((kind, item.meter, item.site), []).append(item)
    out = []
    for (kind, _meter, _site), group in groups.items():
        rows: dict[tuple, list] = {}
        for item in group:
            for row in item.payload:
                rows[tuple(row[:2]) if kind == "bills" else (row[0],)] = row
        payload = [rows[k] for k in sorted(rows)]
        first = group[0]
        out.append(
            replace(
                first,
                kind=kind,
                payload=payload,
                first_ts_ms=min(i.first_ts_ms for i in group),
                last_ts_ms=max(i.last_ts_ms for i in group),
            )
        )
    return out


def compute_pending_what_if(
    comp: Competition, store: Store, items: list[HeldItem], clock: Callable[[], float]
) -> list[dict]:
    """What accepting every one of ``items`` (a competition's pending held data) would do:
    one ``{"site", "items", "now", "if_all_accepted"}`` per affected site [kWh, %]. Each
    item's own what-if can understate a split replay (``merged_items``); this is the sum."""
    by_site: dict[str, int] = {}
    for item in items:
        for sid in sites_in(comp, item):
            by_site[sid] = by_site.get(sid, 0) + 1
    sites = list(by_site)
    if not sites:
        return []
    part = only_sites(comp, sites)
    overlay: Store = store
    for merged in merged_items(items):
        overlay = HeldOverlay(overlay, merged)
    now = site_figures(Scoreboard(part, store, clock), sites)
    accepted = site_figures(Scoreboard(part, overlay, clock), sites)
    return [
        {"site": s, "items": by_site[s], "now": now[s], "if_all_accepted": accepted[s]}
        for s in sites
    ]


def only_sites(comp: Competition, sites: list[str]) -> Competition:
    """``comp`` with only ``sites`` (and no displays): what the what-if scores."""
    wanted = set(sites)
    return comp.model_copy(
        update={"sites": [s for s in comp.sites if s.id in wanted], "displays": []}
    )


def _num(value: float, digits: int) -> float | None:
    return round(float(value), digits) if np.isfinite(value) else None
