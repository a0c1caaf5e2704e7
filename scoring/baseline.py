"""Baselines: the consumption each site would have had without the competition.

All functions take a sites x hours matrix of history and return a sites x hours matrix aligned
with the competition's hour grid, plus a mask of hours where the baseline is known.

- ``previous_year``: the same period a year earlier, aligned by ISO week and weekday, with
  public holidays matched to the same holiday, and missing hours filled from the site's own
  day-type profile so that gaps in the baseline year do not bias its total.
- ``pre_period``: an hour-of-week x day-type profile over the N weeks before the start, applied
  with the competition period's own mix of working days, Saturdays and Sundays/holidays.

Both use the same day-type profile (``profile_slot``): working days keep their weekday (Monday
08:00 and Friday 08:00 differ), Saturdays are one profile, and Sundays and public holidays are
another, so a holiday Wednesday is scored against a Sunday, never against a Wednesday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib
import numpy as np

from scoring.calendar import LocalHours

WEEKS_PER_YEAR_DAYS = 364  # 52 weeks: Monday maps to Monday
REPLACEMENT_OFFSETS_DAYS = (-7, 7, -14, 14)  # a holiday's stand-in: same weekday, nearest first
PROFILE_SLOTS = 168  # 5 working weekdays x 24, Saturday x 24, Sunday/holiday x 24
SATURDAY_SLOT0, SUNDAY_SLOT0 = 120, 144
MIN_WEEKDAY_SHARE = 0.5  # a working weekday's own profile needs half its hours measured
MIN_FILL_COVERAGE = 0.5  # a site's baseline is filled only when half of it was measured


@dataclass(frozen=True)
class PreviousYearBaseline:
    """The previous-year baseline with the details behind it.

    Attributes
    ----------
    baseline_kwh : array (sites, target hours)
        Baseline energy of each competition hour [kWh]; NaN where unknown.
    ok : array of bool (sites, target hours)
        Hours whose baseline is known (measured or filled).
    filled : array of bool (sites, target hours)
        Hours whose baseline year hour was not measured and that took the site's day-type
        profile instead.
    source_day_ordinal : array of int (target hours,)
        The baseline-year local day (``date.toordinal()``) each competition hour maps to.
    coverage : array (sites,)
        Share of competition hours whose matched baseline-year hour was measured [0..1].
    """

    baseline_kwh: np.ndarray
    ok: np.ndarray
    filled: np.ndarray
    source_day_ordinal: np.ndarray
    coverage: np.ndarray


def previous_year(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
    *,
    country: str | None = None,
    fill_missing: bool = True,
    min_coverage: float = MIN_FILL_COVERAGE,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline from the same period a year earlier.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy a year earlier [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history, target : LocalHours
        Calendars of the history and the competition grid. The history should cover
        ``previous_year_history_days`` of the competition.
    country : str, optional
        ISO 3166 code of the holiday calendar; default ``target.country``.
    fill_missing : bool
        Fill unmeasured baseline hours from the site's day-type profile (see Notes).
    min_coverage : float
        Share of competition hours with a measured baseline hour a site needs before its
        missing hours are filled [0..1].

    Returns
    -------
    baseline_kwh : array (sites, target hours) [kWh]
    baseline_ok : array of bool (sites, target hours)

    Notes
    -----
    See ``previous_year_detail`` for the rules.
    """
    detail = previous_year_detail(
        history_kwh,
        history_ok,
        history,
        target,
        country=country,
        fill_missing=fill_missing,
        min_coverage=min_coverage,
    )
    return detail.baseline_kwh, detail.ok


def previous_year_detail(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
    *,
    country: str | None = None,
    fill_missing: bool = True,
    min_coverage: float = MIN_FILL_COVERAGE,
) -> PreviousYearBaseline:
    """The previous-year baseline, which hours were filled and which days were used.

    Parameters are those of ``previous_year``.

    Returns
    -------
    PreviousYearBaseline

    Notes
    -----
    *Days.* Each competition day takes the baseline-year day that ``previous_year_days`` gives
    (the same ISO week and weekday a year earlier, holidays matched by name).

    *Hours.* Within the day, hours are matched on (local hour, fold). Where the baseline day
    lacks that hour (the hour skipped at the spring DST change) the next local hour stands in;
    the repeated autumn hour falls back to its first occurrence.

    *Missing hours.* A competition hour whose matched hour was not measured (or lies outside
    the history grid) takes the site's mean for the same profile slot (``profile_slot``:
    working weekday x hour, Saturday x hour, Sunday/holiday x hour, with the fallbacks of
    ``day_type_profile``) over the measured history hours, and is marked ``filled``. Within a
    slot this equals scaling the measured hours' energy by (slot hours / measured slot hours),
    so gaps in the baseline year neither lower its total nor cost the site completeness. A site
    whose coverage is below ``min_coverage`` is not filled: its unmatched hours stay unknown
    and its completeness shows it.
    """
    country = target.country if country is None else country
    n_sites, n_target = history_kwh.shape[0], target.hour.size
    source_day = previous_year_days(target.day_ordinal, country)
    if history_kwh.shape[1] == 0:
        shape = (n_sites, n_target)
        return PreviousYearBaseline(
            np.full(shape, np.nan),
            np.zeros(shape, dtype=bool),
            np.zeros(shape, dtype=bool),
            source_day,
            np.zeros(n_sites),
        )
    index = _hour_index(history, source_day, target.hour, target.fold)
    found = index >= 0
    safe = np.where(found, index, 0)
    # one gather per array, masks applied in place only where something is missing: this is
    # the hot path of a full rescoring (10,000 sites x a season)
    measured = _gather_columns(history_ok, safe)
    if not found.all():
        measured &= found
    baseline = _gather_columns(history_kwh, safe)
    counted = np.count_nonzero(measured, axis=1)
    complete = counted == n_target
    if not complete.all():
        np.putmask(baseline, ~measured, np.nan)
    coverage = counted / n_target if n_target else np.zeros(n_sites)
    filled = np.zeros_like(measured)
    need = ~complete & (coverage >= min_coverage)
    if fill_missing and need.any():
        sites = np.flatnonzero(need)  # the profile costs a pass over the history: only these
        profile = day_type_profile(history_kwh[sites], history_ok[sites], history)
        estimate = profile[:, profile_slot(target)]
        filled[sites] = ~measured[sites] & np.isfinite(estimate)
        baseline[sites] = np.where(filled[sites], estimate, baseline[sites])
    return PreviousYearBaseline(baseline, measured | filled, filled, source_day, coverage)


def _gather_columns(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``values[:, columns]``, copied run by run: the columns of a baseline are long runs of
    consecutive history hours (whole weeks), and block copies are far faster than numpy's
    gather along the second axis."""
    out = np.empty((values.shape[0], columns.size), dtype=values.dtype)
    if columns.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(columns) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [columns.size]])
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        first = int(columns[a])
        out[:, a:b] = values[:, first : first + (b - a)]
    return out


def previous_year_days(day_ordinal: np.ndarray, country: str = "SE") -> np.ndarray:
    """The baseline-year day of each competition day.

    Parameters
    ----------
    day_ordinal : array of int
        Local competition days as ``date.toordinal()``.
    country : str
        ISO 3166 code of the public-holiday calendar (the ``holidays`` package).

    Returns
    -------
    array of int, the shape of ``day_ordinal``
        Baseline-year days as ``date.toordinal()``.

    Notes
    -----
    1. *ISO week.* A day maps to the day with the same ISO weekday in the same ISO week of the
       previous ISO year (Tue 2011-03-01, 2011-W09-2 -> Tue 2010-03-02, 2010-W09-2). That is
       364 days earlier, or 371 after a 53-week ISO year. Week 53 with no week 53 a year
       earlier falls back to 364 days earlier.
    2. *Holidays to holidays.* A public holiday takes the holiday of the same name in the
       previous calendar year (Good Friday 2011-04-22 -> Good Friday 2010-04-02); if the name
       occurs twice there, the one nearest the ISO-aligned day. A holiday with no namesake a
       year earlier takes the Sunday of the ISO-aligned week.
    3. *Never a holiday for a normal day.* A day that is not a public holiday but whose
       ISO-aligned day was one takes the nearest day of the same weekday that was not: 7 days
       earlier, 7 later, 14 earlier, 14 later (Mon 2011-04-04 would get Easter Monday
       2010-04-05 and gets Mon 2010-03-29 instead).

    Sundays that are not holidays are ordinary days here; bridge days (klämdagar) and de facto
    holidays (Midsummer Eve, Christmas Eve) are ordinary working days, as in ``day_type``.
    """
    days = np.asarray(day_ordinal, dtype=np.int64)
    unique, inverse = np.unique(days, return_inverse=True)
    mapped = np.array([_source_day(int(d), country) for d in unique.tolist()], dtype=np.int64)
    return mapped[inverse].reshape(days.shape)


def previous_year_history_days(
    first_day_local: date, last_day_local: date, country: str = "SE"
) -> tuple[date, date]:
    """First and last baseline-year day ``previous_year`` reads for a competition period.

    The range holds every day ``previous_year_days`` maps the competition days to (holidays
    may reach some weeks outside the plain 364-day shift), so a history grid over it lets each
    competition day find its day.
    """
    if last_day_local < first_day_local:
        raise ValueError(
            f"the competition ends ({last_day_local}) before it starts ({first_day_local}); "
            "give the first local day first"
        )
    days = np.arange(first_day_local.toordinal(), last_day_local.toordinal() + 1)
    source = previous_year_days(days, country)
    return date.fromordinal(int(source.min())), date.fromordinal(int(source.max()))


def pre_period(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
    *,
    min_weekday_share: float = MIN_WEEKDAY_SHARE,
) -> tuple[np.ndarray, np.ndarray]:
    """Baseline from a day-type profile over the weeks before the start.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy over the weeks before the start [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history, target : LocalHours
        Calendars of the history and the competition grid.
    min_weekday_share : float
        Share of a working weekday's history hours (for one clock hour) that must be measured
        for that weekday's own profile to be used [0..1].

    Returns
    -------
    baseline_kwh : array (sites, target hours) [kWh]
    baseline_ok : array of bool (sites, target hours)

    Notes
    -----
    The profile is ``day_type_profile`` of the history; each competition hour takes the slot
    of its own day (``profile_slot``), so the baseline has the competition period's mix of
    working days, Saturdays and Sundays/holidays whatever the mix of the weeks before.
    """
    profile = day_type_profile(history_kwh, history_ok, history, min_weekday_share)
    baseline = profile[:, profile_slot(target)]
    return baseline, np.isfinite(baseline)


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
        See ``pre_period`` [0..1].

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


# -- helpers ------------------------------------------------------------------------------


def _source_day(day_ordinal: int, country: str) -> int:
    """Baseline-year day of one competition day (rules in ``previous_year_days``)."""
    day = date.fromordinal(day_ordinal)
    aligned = _iso_aligned(day)
    names = _holiday_names(country, day.year).get(day_ordinal)
    if names:
        previous = _holiday_names(country, day.year - 1)
        namesakes = [d for d, other in previous.items() if names & other]
        if namesakes:
            return min(namesakes, key=lambda d: (abs(d - aligned.toordinal()), d))
        return (aligned + timedelta(days=6 - aligned.weekday())).toordinal()
    if _is_holiday(aligned, country):
        for offset in REPLACEMENT_OFFSETS_DAYS:
            candidate = aligned + timedelta(days=offset)
            if not _is_holiday(candidate, country):
                return candidate.toordinal()
    return aligned.toordinal()


def _iso_aligned(day: date) -> date:
    year, week, weekday = day.isocalendar()
    try:
        return date.fromisocalendar(year - 1, week, weekday)
    except ValueError:  # week 53 after a 52-week year
        return day - timedelta(days=WEEKS_PER_YEAR_DAYS)


@lru_cache(maxsize=512)
def _holiday_names(country: str, year: int) -> dict[int, frozenset[str]]:
    """Public holidays of ``year`` in ``country``: day ordinal -> names."""
    calendar = holidays_lib.country_holidays(country, years=year)
    return {
        d.toordinal(): frozenset(calendar.get_list(d)) for d in list(calendar) if d.year == year
    }


def _is_holiday(day: date, country: str) -> bool:
    return day.toordinal() in _holiday_names(country, day.year)


def _hour_index(
    history: LocalHours, source_day: np.ndarray, hour: np.ndarray, fold: np.ndarray
) -> np.ndarray:
    """Index of the history hour (source day, hour, fold) with the DST fallbacks, or -1."""
    key_hist = _key(history.day_ordinal, history.hour, history.fold)
    index = _lookup(key_hist, _key(source_day, hour, fold))
    missing = index < 0
    index[missing] = _lookup(key_hist, _key(source_day, hour, 0))[missing]
    missing = index < 0
    index[missing] = _lookup(key_hist, _key(source_day, hour + 1, 0))[missing]
    return index


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


def _key(day: np.ndarray, hour: np.ndarray, fold: np.ndarray | int) -> np.ndarray:
    return (np.asarray(day, dtype=np.int64) * 25 + hour) * 2 + fold


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index of each wanted key in ``keys`` (unique), or -1."""
    if keys.size == 0:
        return np.full(wanted.shape, -1, dtype=np.int64)
    order = np.argsort(keys)
    pos = np.clip(np.searchsorted(keys, wanted, sorter=order), 0, keys.size - 1)
    hit = keys[order[pos]] == wanted
    return np.where(hit, order[pos], -1)
