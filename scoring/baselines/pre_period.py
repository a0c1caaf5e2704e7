"""``pre-period``: a day-type profile over the weeks before the start, applied with the
competition period's own mix of working days, Saturdays and Sundays/holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np

from scoring.baselines.day_type_profile import MIN_WEEKDAY_SHARE, day_type_profile, profile_slot
from scoring.baselines.method import BaselineMethod, History, Period, Target
from scoring.calendar import LocalHours
from scoring.uncertainty import Residuals, pre_period_residuals


@dataclass(frozen=True)
class PrePeriodFit:
    """Nothing to fit ahead: the profile is made when predicting (``pre_period``)."""

    history: History

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        h = self.history
        return pre_period(h.kwh, h.ok, h.calendar, target.calendar)

    def residuals(self) -> Residuals:
        return self._residuals

    @cached_property
    def _residuals(self) -> Residuals:
        h = self.history
        return pre_period_residuals(h.kwh, h.ok, h.calendar)

    def days_per_point(self) -> float:
        return 1.0

    def problems(self) -> list[list[str]]:
        return [[] for _ in range(self.history.kwh.shape[0])]


def _history_days(period: Period) -> tuple[date, date]:
    start = period.first_day
    return start - timedelta(weeks=period.weeks), start - timedelta(1)


METHOD = BaselineMethod(
    name="pre-period",
    summary={
        "sv": (
            "Veckorna före tävlingen ({weeks} veckor): medelförbrukningen för varje veckodag och "
            "timme (helgdagar som söndagar)."
        ),
        "en": (
            "The weeks before the competition ({weeks} weeks): the mean consumption of each "
            "weekday and hour (holidays as Sundays)."
        ),
    },
    history_days=_history_days,
    fit=lambda history, period: PrePeriodFit(history=history),
)


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
