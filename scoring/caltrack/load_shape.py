"""A site's day → hour load shape: how its days' energy falls on their local hours, by day type.

The CalTRACK daily and billing models predict one energy per day; the competition scores
hours. Both spread each predicted day over its hours by the site's own load shape, measured on
its fully metered 24-hour days of each day type (0 working day, 1 Saturday, 2 Sunday or
holiday): ``day_type_hours`` sums it, once for both. CalTRACK itself has no such step; the
two ways of spreading differ in what a model without day types needs:

- ``hour_shares`` / ``spread_by_shares`` (daily models): each day's energy in the shares of
  its own day type. A day type without a full day takes the shape of all day types, a site
  without any full day a flat shape.
- ``hour_profile`` / ``spread_by_level`` (billing): the billing model predicts the same energy
  for a Saturday as for a Monday of the same temperature, so the spread also moves energy from
  the weekends to working days in proportion to the site's daily level of each day type,
  keeping the period's total. Day types without a full day take ``TYPICAL_OFFICE_SHAPE``.

On the day the clocks skip an hour, that hour's share is missing from the day; the repeated
autumn hour gets its share twice, as the meter measures it twice.
"""

from __future__ import annotations

import numpy as np

from scoring.calendar import LocalHours

DAY_TYPES = 3  # LocalHours.day_type: 0 working day, 1 Saturday, 2 Sunday or holiday

# A typical office day (relative power per local hour) for a site without any metered full
# day: working days 07-18 at full power, nights and the other days at half.
_OFFICE_WORKDAY = np.where((np.arange(24) >= 7) & (np.arange(24) < 18), 1.0, 0.5)
TYPICAL_OFFICE_SHAPE = np.array([_OFFICE_WORKDAY, np.full(24, 0.5), np.full(24, 0.5)])


def day_type_hours(
    kwh: np.ndarray, ok: np.ndarray, calendar: LocalHours
) -> tuple[np.ndarray, np.ndarray]:
    """Energy of each local hour summed over the fully measured 24-hour days of each day type.

    Parameters
    ----------
    kwh : array (S, H)
        Hourly energy on ``calendar``'s hours (in time order) [kWh].
    ok : array of bool (S, H)
        Hours that were measured.
    calendar : LocalHours

    Returns
    -------
    sums_kwh : array (S, 3, 24)
        Energy of hour h summed over the full days of day type k [kWh].
    days : array of int (S, 3)
        The full days of each day type.
    """
    n_sites = kwh.shape[0]
    if calendar.hour.size == 0:
        return np.zeros((n_sites, DAY_TYPES, 24)), np.zeros((n_sites, DAY_TYPES), dtype=int)
    _, day_start = np.unique(calendar.day_ordinal, return_index=True)
    hours = np.diff(np.r_[day_start, calendar.hour.size])
    days24 = np.flatnonzero(hours == 24)
    # (sites, days, 24): the hours of each 24-hour day are consecutive, 00:00 first
    index = (day_start[days24][:, None] + np.arange(24)[None, :]).ravel()
    measured = np.where(ok, np.asarray(kwh, dtype=float), 0.0)
    by_day = np.take(measured, index, axis=1).reshape(n_sites, days24.size, 24)
    full = np.take(ok, index, axis=1).reshape(n_sites, days24.size, 24).all(axis=2)
    day_type = calendar.day_type[day_start[days24]]
    weight = full[:, :, None] * (day_type[:, None] == np.arange(DAY_TYPES))[None, :, :]
    sums = np.matmul(by_day.transpose(0, 2, 1), weight).transpose(0, 2, 1)  # (S, 3, 24)
    return sums, weight.sum(axis=1)


def hour_shares(kwh: np.ndarray, ok: np.ndarray, calendar: LocalHours) -> np.ndarray:
    """Share of each local hour in the day's energy, by day type: (S, 3, 24), each day type's
    24 shares summing to 1.

    Built from fully measured 24-hour days only (``day_type_hours``); a day type without one
    uses all day types, a site without any full day a flat shape (1/24).
    """
    sums, _ = day_type_hours(kwh, ok, calendar)
    totals = sums.sum(axis=2, keepdims=True)
    all_types = sums.sum(axis=1, keepdims=True)
    all_total = all_types.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = sums / totals
        fallback = np.where(all_total > 0, all_types / all_total, 1 / 24)
    return np.where(totals > 0, own, fallback)


def spread_by_shares(daily_kwh: np.ndarray, shares: np.ndarray, target: LocalHours) -> np.ndarray:
    """Each predicted day over its local hours by its day type's shares.

    Parameters
    ----------
    daily_kwh : array (S, D)
        Predicted energy of each local day of ``target`` in date order [kWh/day].
    shares : array (S, 3, 24)
        ``hour_shares`` of the sites.
    target : LocalHours

    Returns
    -------
    array (S, H)
        Energy of each hour of ``target`` [kWh].

    Notes
    -----
    .. math:: E_{d,h} = E_d \\, s_{k(d),h}, \\quad \\sum_{h=0}^{23} s_{k,h} = 1
    """
    _, day_start, day_index = np.unique(target.day_ordinal, return_index=True, return_inverse=True)
    day_type = target.day_type[day_start]
    share = shares[:, day_type[day_index], target.hour]
    return daily_kwh[:, day_index] * share


def hour_profile(kwh: np.ndarray, ok: np.ndarray, calendar: LocalHours) -> np.ndarray:
    """Mean energy of each local hour by day type over fully measured 24-hour days.

    Parameters
    ----------
    kwh : array (S, H)
        Hourly energy on ``calendar``'s hours (in time order) [kWh].
    ok : array of bool (S, H)
        Hours that were measured.
    calendar : LocalHours

    Returns
    -------
    array (S, 3, 24)
        Mean kWh per hour of day for day types 0 working day, 1 Saturday, 2 Sunday/holiday;
        NaN for a day type without a full day.
    """
    sums, days = day_type_hours(kwh, ok, calendar)
    count = days[:, :, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, sums / count, np.nan)


def spread_by_level(
    daily_kwh: np.ndarray, profile_kwh: np.ndarray, target: LocalHours
) -> np.ndarray:
    """Share each predicted day out over its local hours by the site's day-type × hour shape,
    moving energy between day types by their levels.

    Parameters
    ----------
    daily_kwh : array (S, D)
        Predicted energy of each local day of ``target`` in date order [kWh/day].
    profile_kwh : array (S, 3, 24)
        ``hour_profile`` of the site; day types without data (NaN) are filled from
        ``TYPICAL_OFFICE_SHAPE`` scaled to the site's own day types, and a site without any
        uses the typical office shape.
    target : LocalHours

    Returns
    -------
    array (S, H)
        Baseline energy of each hour of ``target`` [kWh].

    Notes
    -----
    With P_{k,h} the profile and L_k = Σ_h P_{k,h} its daily level, day d of type k and hour h
    gets

    .. math:: E_{d,h} = E_d \\, \\frac{L_{k(d)}}{\\bar L} \\, \\frac{P_{k(d),h}}{L_{k(d)}},
              \\qquad \\bar L = \\frac{\\sum_d E_d L_{k(d)}}{\\sum_d E_d}

    so the period's total equals the model's, shifted from weekends to working days.
    """
    profile = _filled_profile(np.asarray(profile_kwh, dtype=float))
    _, day_start, day_index = np.unique(target.day_ordinal, return_index=True, return_inverse=True)
    day_type = target.day_type[day_start]
    level = profile.sum(axis=2)  # (S, 3)
    share = profile / level[:, :, None]
    day_level = level[:, day_type]  # (S, D)
    known = np.isfinite(daily_kwh)
    e = np.where(known, daily_kwh, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_level = (e * day_level).sum(axis=1) / e.sum(axis=1)
        factor = day_level / mean_level[:, None]
    factor = np.where(np.isfinite(factor), factor, 1.0)
    hourly_share = share[:, target.day_type, target.hour]  # (S, H)
    return (daily_kwh * factor)[:, day_index] * hourly_share


def _filled_profile(profile: np.ndarray) -> np.ndarray:
    have = np.isfinite(profile).all(axis=2)  # (S, 3)
    typical = np.broadcast_to(TYPICAL_OFFICE_SHAPE, profile.shape)
    own_total = np.where(have, np.nan_to_num(profile).sum(axis=2), 0.0).sum(axis=1)
    typ_total = np.where(have, TYPICAL_OFFICE_SHAPE.sum(axis=1)[None, :], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(typ_total > 0, own_total / typ_total, 1.0)
    filled = np.where(have[:, :, None], profile, typical * scale[:, None, None])
    level = filled.sum(axis=2)
    bad = ~(level > 0).all(axis=1)  # a site that measured only zeros: typical shape
    return np.where(bad[:, None, None], typical, filled)
