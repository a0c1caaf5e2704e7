"""SYNTHETIC town halls for ``wattleague demo``: fixed site table and a deterministic load model.

All numbers here are invented. They are chosen so that the simulated outcomes resemble the
Swedish town-hall competition of 2011 (most sites save 5–10 %, Söderhamn about 22 %, Piteå
about 19 %; 2–14 kWh/m² over a 91-day period), but no value is a measurement of a real building.

Power is piecewise constant per UTC hour and depends only on (site, hour index), so any two
calls agree on the value of a given hour whatever other times they are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np

SYNTHETIC = True  #: every value produced by this module is synthetic demo data
HOUR_S = 3600.0
RAMP_DAYS = 7.0  #: days over which a site's reduction ramps up from zero after the start
NOMINAL_PERIOD_DAYS = 91.0  #: competition length the hold level is tuned for (see power_kw)
NOISE = 0.05  #: relative hour-to-hour noise amplitude (uniform, ±)
OFFICE_HOURS = 10.5  #: occupied hours per working day (midpoint sampling of the ramps)
WORKDAY_FRACTION = 250.0 / 365.25  #: share of days that are Swedish working days
SEASON_MEAN, SEASON_AMP = 1.025, 0.125  #: seasonal factor 1.15 early January, 0.90 in July
AFTER_HOURS_SHARE = 0.25  #: saving on occupied load relative to the saving on base load
_SEASON_PEAK_DAY = int(np.datetime64("2000-01-10", "D").astype(np.int64))


@dataclass(frozen=True, slots=True)
class DemoSite:
    """One SYNTHETIC town hall.

    Attributes: ``id`` (topic-safe slug), ``municipality``, ``name`` (building),
    ``area_m2`` [m²], ``intensity_kwh_m2_year`` [kWh/(m²·yr)], ``reduction_pct`` [%] saved
    over a competition period, ``seed`` (noise and base-load share).
    """

    id: str
    municipality: str
    name: str
    area_m2: float
    intensity_kwh_m2_year: float
    reduction_pct: float
    seed: int


_TABLE = [  # id, municipality, building, area m², kWh/(m²·yr), reduction %
    ("soderhamn", "Söderhamns kommun", "Söderhamns kommunhus", 6200, 31.0, 22.5),
    ("pitea", "Piteå kommun", "Piteå kommunhus", 7400, 36.0, 18.8),
    ("avesta", "Avesta kommun", "Avesta kommunhus", 4100, 27.0, 6.4),
    ("borlange", "Borlänge kommun", "Borlänge stadshus", 9800, 33.0, 8.1),
    ("hudiksvall", "Hudiksvalls kommun", "Hudiksvalls kommunhus", 5600, 29.0, 7.2),
    ("mora", "Mora kommun", "Mora kommunhus", 3300, 24.0, 5.6),
    ("smedjebacken", "Smedjebackens kommun", "Smedjebackens kommunhus", 1500, 12.0, 9.4),
    ("timra", "Timrå kommun", "Timrå kommunhus", 2900, 22.0, 2.6),
    ("alvdalen", "Älvdalens kommun", "Älvdalens kommunhus", 1800, 45.0, 7.7),
    ("haninge", "Haninge kommun", "Haninge kommunhus", 11200, 38.0, 6.9),
    ("huddinge", "Huddinge kommun", "Huddinge kommunhus", 12000, 34.0, 5.2),
    ("nykoping", "Nyköpings kommun", "Nyköpings stadshus", 8300, 26.0, 8.8),
    ("sala", "Sala kommun", "Sala stadshus", 2400, 20.0, 9.9),
    ("sigtuna", "Sigtuna kommun", "Sigtuna kommunhus", 6900, 40.0, 6.1),
    ("strangnas", "Strängnäs kommun", "Strängnäs kommunhus", 5100, 28.0, 3.7),
    ("trosa", "Trosa kommun", "Trosa kommunhus", 1700, 15.0, 7.5),
    ("varmdo", "Värmdö kommun", "Värmdö kommunhus", 4700, 32.0, 12.1),
    ("osteraker", "Österåkers kommun", "Österåkers kommunhus", 5900, 30.0, 5.9),
    ("gotland", "Region Gotland", "Gotlands regionhus", 10400, 25.0, 8.4),
    ("karlskrona", "Karlskrona kommun", "Karlskrona stadshus", 8900, 35.0, 7.0),
    ("olofstrom", "Olofströms kommun", "Olofströms kommunhus", 2100, 18.0, 9.1),
    ("lindesberg", "Lindesbergs kommun", "Lindesbergs kommunhus", 3700, 37.0, 5.4),
    ("alingsas", "Alingsås kommun", "Alingsås stadshus", 4400, 23.0, 6.6),
    ("lerum", "Lerums kommun", "Lerums kommunhus", 3900, 42.0, 8.6),
]

DEMO_SITES: list[DemoSite] = [
    DemoSite(i, m, n, float(a), float(q), float(r), seed)
    for seed, (i, m, n, a, q, r) in enumerate(_TABLE, start=1)
]


def _base_share(site: DemoSite) -> float:
    """Night/weekend load as a share of the weekday daytime peak (0.35–0.45)."""
    return 0.35 + 0.01 * (site.seed * 7 % 11)


@lru_cache(maxsize=64)
def _days_off(year: int) -> frozenset[int]:
    """Public and de-facto Swedish holidays of ``year`` as days since 1970-01-01."""
    cal = holidays.country_holidays("SE", years=year, categories=("public", "de_facto"))
    return frozenset(int(np.datetime64(d, "D").astype(np.int64)) for d in cal)


def _noise(seed: int, hours: np.ndarray) -> np.ndarray:
    """Uniform noise in [-1, 1) from a splitmix64 hash of (seed, hour index)."""
    salt = np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    x = hours.astype(np.int64).view(np.uint64) + salt
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**52 - 1.0


def _offsets(hours: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    at = (datetime.fromtimestamp(h * HOUR_S, tz) for h in hours.tolist())
    return np.fromiter((d.utcoffset().total_seconds() for d in at), np.float64, len(hours))


def _utc_offset_s(hours: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """UTC offset [s] of ``tz`` at the start of each UTC hour (DST-aware, via zoneinfo).

    Looked up once per UTC day; hour by hour only on days whose offset changes.
    """
    days, inv = np.unique(hours // 24, return_inverse=True)
    at_start, at_end = _offsets(days * 24, tz), _offsets(days * 24 + 24, tz)
    off = at_start[inv]
    change = (at_start != at_end)[inv]
    off[change] = _offsets(hours[change], tz)
    return off


def _hourly_kw(site: DemoSite, hours: np.ndarray, tz: ZoneInfo, start_s: float | None):
    """Average power [kW] of the UTC hours ``hours`` (integer hour indices since the epoch)."""
    uniq, inv = np.unique(hours, return_inverse=True)
    local_s = uniq * HOUR_S + _utc_offset_s(uniq, tz)
    day = np.floor_divide(local_s, 86400.0).astype(np.int64)
    hod = (local_s - day * 86400.0) / HOUR_S + 0.5  # local hour of day at the hour's midpoint
    years = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    off = set().union(*(_days_off(int(y)) for y in np.unique(years)))
    workday = ((day + 3) % 7 < 5) & ~np.isin(day, np.fromiter(off, np.int64, len(off)))
    occ = np.clip(np.minimum((hod - 6.0) / 2.0, (19.0 - hod) / 3.0), 0.0, 1.0) * workday
    b = _base_share(site)
    season = SEASON_MEAN + SEASON_AMP * np.cos(2 * np.pi * (day - _SEASON_PEAK_DAY) / 365.2425)
    mean_shape = (b + (1 - b) * OFFICE_HOURS / 24 * WORKDAY_FRACTION) * SEASON_MEAN
    scale = site.intensity_kwh_m2_year * site.area_m2 / 8760.0 / mean_shape
    base, office = np.full(uniq.shape, b), (1 - b) * occ
    if start_s is not None:
        # Hold level: the whole nominal period (ramp included) saves reduction_pct on average.
        period = NOMINAL_PERIOD_DAYS / (NOMINAL_PERIOD_DAYS - RAMP_DAYS / 2)
        r = site.reduction_pct / 100 * period
        mean_occ = OFFICE_HOURS / 24 * WORKDAY_FRACTION
        r_base = r * (b + (1 - b) * mean_occ) / (b + AFTER_HOURS_SHARE * (1 - b) * mean_occ)
        ramp = np.clip((uniq * HOUR_S - start_s) / (RAMP_DAYS * 86400.0), 0.0, 1.0)
        ramp = np.where(uniq * HOUR_S >= start_s, ramp, 0.0)
        base = base * (1 - r_base * ramp)
        office = office * (1 - AFTER_HOURS_SHARE * r_base * ramp)
    kw = scale * (base + office) * season * (1 + NOISE * _noise(site.seed, uniq))
    return kw[inv]


def power_kw(
    site: DemoSite, ts_s: np.ndarray, tz: ZoneInfo, competition_start_s: float | None
) -> np.ndarray:
    """SYNTHETIC average power of ``site`` at Unix times ``ts_s``.

    Parameters
    ----------
    site : DemoSite
    ts_s : numpy.ndarray
        Unix times [s, UTC]. Power is constant within each UTC hour (taken at the hour start).
    tz : zoneinfo.ZoneInfo
        Local zone of the building: office hours, weekdays and holidays follow its clock.
    competition_start_s : float or None
        Competition start [s, UTC]; from then the saving ramps linearly to its hold level over
        ``RAMP_DAYS`` and stays there. The hold level is ``reduction_pct`` scaled by
        91 / (91 - 3.5) so that a 91-day competition as a whole saves ``reduction_pct``. The
        saving falls mostly on base load (nights, weekends: the "energy traps").

    Returns
    -------
    numpy.ndarray
        Average power [kW], same shape as ``ts_s``. Without a competition the yearly mean is
        about ``intensity_kwh_m2_year * area_m2 / 8760`` kW.
    """
    ts = np.asarray(ts_s, dtype=np.float64)
    hours = np.floor(ts / HOUR_S).astype(np.int64)
    return _hourly_kw(site, hours.ravel(), tz, competition_start_s).reshape(ts.shape)


def register_offset_kwh(site: DemoSite) -> float:
    """Register reading [kWh] at the origin, so demo meters do not start from zero."""
    return 10_000.0 + 1_000.0 * site.seed


def register_kwh(
    site: DemoSite,
    ts_s: np.ndarray,
    tz: ZoneInfo,
    competition_start_s: float | None,
    origin_s: float,
) -> np.ndarray:
    """SYNTHETIC cumulative energy register of ``site`` at Unix times ``ts_s``.

    Parameters
    ----------
    site, tz, competition_start_s
        As for :func:`power_kw`.
    ts_s : numpy.ndarray
        Unix times [s, UTC], any order; times before ``origin_s`` read below the offset.
    origin_s : float
        Time [s, UTC] at which the register reads ``register_offset_kwh(site)``.

    Returns
    -------
    numpy.ndarray
        Register [kWh]: offset plus the exact integral of the hourly piecewise-constant
        :func:`power_kw` from ``origin_s``; non-decreasing in time and additive.
    """
    ts = np.asarray(ts_s, dtype=np.float64)
    t = np.append(ts.ravel(), float(origin_s))
    h = np.floor(t / HOUR_S).astype(np.int64)
    lo = int(h.min())
    kw = _hourly_kw(site, np.arange(lo, int(h.max()) + 1), tz, competition_start_s)
    before = np.concatenate(([0.0], np.cumsum(kw)))  # kWh from lo*3600 to each hour start
    k = h - lo
    energy = before[k] + kw[k] * (t - h * HOUR_S) / HOUR_S
    return (register_offset_kwh(site) + energy[:-1] - energy[-1]).reshape(ts.shape)
