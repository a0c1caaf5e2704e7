"""Local calendar of an hour grid: local dates, hours, weekdays and holidays across DST.

Storage and arithmetic are UTC; days, weekdays, holidays and "night" are local to the
competition's time zone. A local day across the spring DST change has 23 hours and the autumn
one 25; both come out of the UTC grid naturally.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holidays_lib
import numpy as np


def local_midnight_utc_s(day_local: date, tz: ZoneInfo) -> float:
    """Unix time [s] of local midnight at the start of ``day_local`` in ``tz``."""
    return datetime.combine(day_local, time(0), tzinfo=tz).timestamp()


def hour_grid(first_day_local: date, last_day_local: date, tz: ZoneInfo) -> np.ndarray:
    """UTC starts [Unix s] of every local hour from ``first_day_local`` 00:00 to the end of
    ``last_day_local`` (both inclusive)."""
    start = local_midnight_utc_s(first_day_local, tz)
    end = local_midnight_utc_s(last_day_local + timedelta(days=1), tz)
    return np.arange(start, end, 3600.0)


@dataclass(frozen=True)
class LocalHours:
    """Local attributes of each hour of a grid (arrays of the grid's length)."""

    hour_start_s: np.ndarray
    day_ordinal: np.ndarray  # local date as date.toordinal()
    hour: np.ndarray  # local clock hour 0..23
    fold: np.ndarray  # 1 for the repeated hour when clocks go back
    weekday: np.ndarray  # 0 = Monday
    holiday: np.ndarray  # public holiday in the competition's country
    country: str = "SE"  # ISO 3166 code of the holiday calendar behind ``holiday``

    @property
    def hour_of_week(self) -> np.ndarray:
        return self.weekday * 24 + self.hour

    @property
    def day_type(self) -> np.ndarray:
        """0 = working day, 1 = Saturday, 2 = Sunday or public holiday."""
        return np.where(self.holiday | (self.weekday == 6), 2, np.where(self.weekday == 5, 1, 0))


def local_hours(hour_start_s: np.ndarray, tz: ZoneInfo, country: str = "SE") -> LocalHours:
    """Local date, hour, weekday and holiday flag of each grid hour."""
    n = hour_start_s.size
    day = np.empty(n, dtype=np.int64)
    hour = np.empty(n, dtype=np.int64)
    fold = np.empty(n, dtype=np.int64)
    for i, ts in enumerate(hour_start_s.tolist()):
        local = datetime.fromtimestamp(ts, UTC).astimezone(tz)
        day[i], hour[i], fold[i] = local.toordinal(), local.hour, local.fold
    weekday = (day - 1) % 7  # date(1, 1, 1).toordinal() == 1 was a Monday
    years = sorted({date.fromordinal(int(d)).year for d in np.unique(day)}) if n else []
    calendar = holidays_lib.country_holidays(country, years=years) if years else {}
    holiday_days = np.array([d.toordinal() for d in calendar], dtype=np.int64)
    return LocalHours(
        hour_start_s=hour_start_s,
        day_ordinal=day,
        hour=hour,
        fold=fold,
        weekday=weekday,
        holiday=np.isin(day, holiday_days),
        country=country,
    )
