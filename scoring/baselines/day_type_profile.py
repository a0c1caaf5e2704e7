"""The day-type profile: a site's mean energy per working weekday x hour, Saturday x hour and
Sunday/holiday x hour, which ``previous-year`` fills gaps from and ``pre-period`` is made of.

Working days keep their weekday (Monday 08:00 and Friday 08:00 differ), Saturdays are one
profile, and Sundays and public holidays are another, so a holiday Wednesday is scored against
a Sunday, never against a Wednesday.
"""

from __future__ import annotations

import numpy as np

from scoring.calendar import LocalHours

PROFILE_SLOTS = 168  # 5 working weekdays x 24, Saturday x 24, Sunday/holiday x 24
SATURDAY_SLOT0, SUNDAY_SLOT0 = 120, 144
MIN_WEEKDAY_SHARE = 0.5  # a working weekday's own profile needs half its hours measured


def profile_slot(calendar: LocalHours) -> np.ndarray:
    """Day-type profile slot 0..167 of each hour.

    Working days: weekday x 24 + hour (0..119); Saturdays: 120 + hour; Sundays and public
    holidays (any weekday): 144 + hour. On ordinary days this is the hour of the week.
    """
    return np.where(calendar.holiday, SUNDAY_SLOT0 + calendar.hour, calendar.hour_of_week)


def day_type_profile(
    kwh: np.ndarray,
    ok: np.ndarray,
    calendar: LocalHours,
    min_weekday_share: float = MIN_WEEKDAY_SHARE,
) -> np.ndarray:
    """Mean energy of each profile slot per site, with fallbacks for thin slots.

    Parameters
    ----------
    kwh : array (sites, hours)
        Hourly energy [kWh].
    ok : array of bool (sites, hours)
        Hours whose energy was measured.
    calendar : LocalHours
        Calendar of the hours.
    min_weekday_share : float
        Share of a working weekday's history hours (for one clock hour) that must be measured
        for that weekday's own profile to be used [0..1].

    Returns
    -------
    array (sites, 168)
        Mean hourly energy per ``profile_slot`` [kWh]; NaN where nothing stands in.

    Notes
    -----
    A working weekday's slot (weekday w, hour h) is the mean of its measured hours when at
    least ``max(1, min_weekday_share x hours of (w, h) in the grid)`` were measured; otherwise
    the mean of all measured working-day hours at h (any weekday). A Saturday slot with no
    measured hour takes the Sunday/holiday slot of the same hour and vice versa.
    """
    n_sites = kwh.shape[0]
    slot = profile_slot(calendar)
    sums = _group_sums(np.where(ok, kwh, 0.0), slot, PROFILE_SLOTS)
    counts = _group_sums(ok.astype(float), slot, PROFILE_SLOTS)
    hours_in_grid = np.bincount(slot, minlength=PROFILE_SLOTS)
    own = _mean(sums, counts)
    work_sums = sums[:, :SATURDAY_SLOT0].reshape(n_sites, 5, 24).sum(axis=1)
    work_counts = counts[:, :SATURDAY_SLOT0].reshape(n_sites, 5, 24).sum(axis=1)
    pooled = np.tile(_mean(work_sums, work_counts), 5)
    enough = counts[:, :SATURDAY_SLOT0] >= np.maximum(
        1.0, min_weekday_share * hours_in_grid[:SATURDAY_SLOT0]
    )
    working = np.where(enough, own[:, :SATURDAY_SLOT0], pooled)
    saturday, sunday = own[:, SATURDAY_SLOT0:SUNDAY_SLOT0], own[:, SUNDAY_SLOT0:]
    return np.concatenate(
        [
            working,
            np.where(np.isfinite(saturday), saturday, sunday),
            np.where(np.isfinite(sunday), sunday, saturday),
        ],
        axis=1,
    )


def _group_sums(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum of the columns of ``values`` (sites, n) per group 0..n_groups-1 -> (sites, groups)."""
    out = np.zeros((values.shape[0], n_groups))
    if group.size:
        order = np.argsort(group, kind="stable")
        present, starts = np.unique(group[order], return_index=True)
        out[:, present] = np.add.reduceat(values[:, order], starts, axis=1)
    return out


def _mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
