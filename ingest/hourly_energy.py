"""Store → hourly energy per site on a local hour grid (the read path scoring needs)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ingest.rollup import combine_chains
from ingest.store.base import ReadingStore

# meters a store read covers: what one read holds in memory (10,000 sites would otherwise hold
# every meter's year of hours at once, twice the sites x hours arrays), two reads at a time
METERS_PER_READ = 200
# meter-hours a read covers at most: 200 meters of a three-month competition. A short span (the
# hours a write changed) takes more meters a read, down to one read of every meter
METER_HOURS_PER_READ = METERS_PER_READ * 24 * 92


@dataclass(frozen=True)
class SiteHours:
    """sites x hours arrays of energy [kWh] and measured seconds [s]."""

    energy_kwh: np.ndarray
    measured_s: np.ndarray


def site_hours(
    store: ReadingStore,
    meters_by_site: list[list[str]],
    hour_start_s: np.ndarray,
    until_s: float | None = None,
) -> SiteHours:
    """Hourly energy per site (the sum of its meters) on the grid ``hour_start_s``.

    The store keeps energy per UTC hour; a local hour grid of a zone with whole-hour offsets
    lies on UTC hours. An hour counts as measured for a site only as far as all of its meters
    measured it. Hours starting after ``until_s`` [Unix s] are left empty (the demo's
    simulated clock runs ahead of data the store may already hold). The store is read
    ``METER_HOURS_PER_READ`` meter-hours at a time (``METERS_PER_READ`` meters of a long span,
    all of them for the few hours a write changed), the next read while one is placed, so
    memory beyond the result stays bounded whatever the number of sites.
    """
    n_sites, n_hours = len(meters_by_site), hour_start_s.size
    energy = np.zeros((n_sites, n_hours))
    measured = np.zeros((n_sites, n_hours))
    if n_hours == 0:
        return SiteHours(energy, measured)
    end_s = hour_start_s[-1] + 3600.0
    if until_s is not None:
        end_s = min(end_s, until_s)
    span_h = max(1, int(np.ceil((end_s - hour_start_s[0]) / 3600.0)))
    chunks = _site_chunks(meters_by_site, max(METERS_PER_READ, METER_HOURS_PER_READ // span_h))
    with ThreadPoolExecutor(1, thread_name_prefix="hourly-read") as reader:
        # the next chunk is read while this one is placed on the grid
        pending = reader.submit(store.read_hourly, chunks[0][1], hour_start_s[0], end_s)
        for k, (sites, _) in enumerate(chunks):
            hours = pending.result()
            if k + 1 < len(chunks):
                pending = reader.submit(store.read_hourly, chunks[k + 1][1], hour_start_s[0], end_s)
            _place(hours, meters_by_site, sites, hour_start_s, energy, measured)
    return SiteHours(energy, measured)


def _site_chunks(
    meters_by_site: list[list[str]], per_read: int = METERS_PER_READ
) -> list[tuple[range, list[str]]]:
    """Sites in runs of about ``per_read`` meters: (their indices, their meters)."""
    chunks, first, meters = [], 0, []
    for i, site_meters in enumerate(meters_by_site):
        meters += site_meters
        if len(meters) >= per_read:
            chunks.append((range(first, i + 1), meters))
            first, meters = i + 1, []
    if meters or not chunks:
        chunks.append((range(first, len(meters_by_site)), meters))
    return chunks


def _place(
    hours: dict,
    meters_by_site: list[list[str]],
    sites: range,
    hour_start_s: np.ndarray,
    energy: np.ndarray,
    measured: np.ndarray,
) -> None:
    """Add the meters' hours of ``sites`` to their rows of ``energy`` and ``measured``."""
    n_hours = hour_start_s.size
    for i in sites:
        meters = meters_by_site[i]
        site_measured = np.full(n_hours, 3600.0)
        for meter_id in meters:
            h = hours.get(meter_id)
            if h is None:
                site_measured[:] = 0.0
                continue
            e, m = combine_chains(h.reg_kwh, h.reg_s, h.pow_kwh, h.pow_s)
            pos = np.searchsorted(hour_start_s, h.hour_s)
            on_grid = (pos < n_hours) & (hour_start_s[np.minimum(pos, n_hours - 1)] == h.hour_s)
            meter_measured = np.zeros(n_hours)
            np.add.at(energy[i], pos[on_grid], e[on_grid])
            np.add.at(meter_measured, pos[on_grid], m[on_grid])
            site_measured = np.minimum(site_measured, meter_measured)
        measured[i] = site_measured
