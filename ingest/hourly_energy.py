"""Store → hourly energy per site on a local hour grid (the read path scoring needs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.intervals import meter_intervals
from ingest.store.base import Store
from scoring.hourly import spread_to_hours

REGISTER_MAX_GAP_S = 3900.0  # hourly registers (seeded history, imports) still count as measured
POWER_MAX_GAP_S = 900.0  # power is integrated over at most 15 minutes between samples


@dataclass(frozen=True)
class SiteHours:
    """sites x hours arrays of energy [kWh] and measured seconds [s]."""

    energy_kwh: np.ndarray
    measured_s: np.ndarray


def site_hours(
    store: Store,
    meters_by_site: list[list[str]],
    hour_start_s: np.ndarray,
    until_s: float | None = None,
    max_gap_s: float = REGISTER_MAX_GAP_S,
    power_max_gap_s: float = POWER_MAX_GAP_S,
) -> SiteHours:
    """Hourly energy per site (the sum of its meters) on the grid ``hour_start_s``.

    An hour counts as measured for a site only as far as all of its meters measured it. For
    power meters, an hour measured in part gets its energy scaled to the whole hour: otherwise
    an outage inside a counted hour would show up as a saving against a full-hour baseline.
    Readings after ``until_s`` [Unix s] are ignored (the demo's simulated clock).
    """
    n_sites, n_hours = len(meters_by_site), hour_start_s.size
    energy = np.zeros((n_sites, n_hours))
    measured = np.zeros((n_sites, n_hours))
    if n_hours == 0:
        return SiteHours(energy, measured)
    end_s = hour_start_s[-1] + 3600.0
    if until_s is not None:
        end_s = min(end_s, until_s)
    all_meters = [m for meters in meters_by_site for m in meters]
    series = store.read_series(all_meters, hour_start_s[0] - max_gap_s, end_s + max_gap_s)
    for i, meters in enumerate(meters_by_site):
        site_measured = np.full(n_hours, 3600.0)
        for meter_id in meters:
            s = series.get(meter_id)
            if s is None:
                site_measured[:] = 0.0
                continue
            keep = s.ts_s <= until_s if until_s is not None else slice(None)
            iv = meter_intervals(
                s.ts_s[keep], s.energy_kwh[keep], s.power_w[keep], max_gap_s, power_max_gap_s
            )
            e, m = spread_to_hours(iv.start_s, iv.end_s, iv.energy_kwh, iv.measured, hour_start_s)
            if iv.from_power:
                with np.errstate(invalid="ignore", divide="ignore"):
                    e = np.where(m > 0, e * 3600.0 / m, e)
            energy[i] += e
            site_measured = np.minimum(site_measured, m)
        measured[i] = site_measured
    return SiteHours(energy, measured)
