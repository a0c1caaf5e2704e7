"""``previous-year``: the same period a year earlier, aligned by ISO week and weekday.

Public holidays are matched to the same holiday, and missing hours are filled from the site's
own day-type profile (``day_type_profile``) so that gaps in the baseline year do not bias its
total. The method reads exactly the baseline-year days the competition's days map to
(``previous_year_history_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property, lru_cache

import holidays as holidays_lib
import numpy as np

from scoring.baselines.day_type_profile import day_type_profile, profile_slot
from scoring.baselines.method import BaselineMethod, History, Period, Target
from scoring.calendar import LocalHours
from scoring.uncertainty import Residuals, previous_year_residuals

WEEKS_PER_YEAR_DAYS = 364  # 52 weeks: Monday maps to Monday
REPLACEMENT_OFFSETS_DAYS = (-7, 7, -14, 14)  # a holiday's stand-in: same weekday, nearest first
MIN_FILL_COVERAGE = 0.5  # a site's baseline is filled only when half of it was measured


@dataclass(frozen=True)
class PreviousYearFit:
    """Nothing to fit: the history is the baseline (``previous_year``)."""

    history: History

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        h = self.history
        return previous_year(h.kwh, h.ok, h.calendar, target.calendar)

    def residuals(self) -> Residuals:
        return self._residuals

    @cached_property
    def _residuals(self) -> Residuals:
        h = self.history
        return previous_year_residuals(h.kwh, h.ok, h.calendar)

    def days_per_point(self) -> float:
        return 1.0

    def problems(self) -> list[list[str]]:
        return [[] for _ in range(self.history.kwh.shape[0])]


def _history_days(period: Period) -> tuple[date, date]:
    return previous_year_history_days(period.first_day, period.last_day, period.country)


METHOD = BaselineMethod(
    name="previous-year",
    summary={
        "sv": (
            "Samma veckor året före: varje timme jämförs med samma veckodag och timme 52 veckor "
            "tidigare, helgdag mot helgdag."
        ),
        "en": (
            "The same weeks a year earlier: each hour is compared with the same weekday and hour "
            "52 weeks before, holiday with holiday."
        ),
    },
    history_days=_history_days,
    fit=lambda history, period: PreviousYearFit(history=history),
)


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
            baseline_kwh=np.full(shape, np.nan),
            ok=np.zeros(shape, dtype=bool),
            filled=np.zeros(shape, dtype=bool),
            source_day_ordinal=source_day,
            coverage=np.zeros(n_sites),
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
    return PreviousYearBaseline(
        baseline_kwh=baseline,
        ok=measured | filled,
        filled=filled,
        source_day_ordinal=source_day,
        coverage=coverage,
    )


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
