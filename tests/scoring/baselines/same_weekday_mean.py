"""``same-weekday-mean``: each competition hour gets the mean of the same weekday and hour over
the four weeks before the start.

CONTRIBUTING.md's worked example of adding a baseline method: this module is what would go in
``scoring/baselines/same_weekday_mean.py``, with one line in ``scoring.baselines.METHODS``.
``test_adding_a_method.py`` registers it and scores a competition with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np

from scoring.baselines.method import BaselineMethod, History, Period, Target
from scoring.uncertainty import Residuals, pre_period_residuals

WEEKS = 4  # the history: the four weeks before the start
HOURS_OF_WEEK = 168


def _history_days(period: Period) -> tuple[date, date]:
    """The four weeks before the competition's first day."""
    start = period.first_day
    return start - timedelta(weeks=WEEKS), start - timedelta(days=1)


@dataclass(frozen=True)
class SameWeekdayMeanFit:
    """The mean energy of each local hour of the week over the history."""

    history: History

    @cached_property
    def mean_kwh(self) -> np.ndarray:
        """(sites, 168) mean energy of each hour of the week (Monday 00-01 is 0) [kWh]; NaN
        for an hour of the week never measured."""
        h = self.history
        how = h.calendar.hour_of_week
        sums = np.zeros((h.kwh.shape[0], HOURS_OF_WEEK))
        counts = np.zeros_like(sums)
        np.add.at(sums.T, how, np.where(h.ok, h.kwh, 0.0).T)
        np.add.at(counts.T, how, h.ok.T.astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / counts, np.nan)

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        baseline = self.mean_kwh[:, target.calendar.hour_of_week]
        return baseline, np.isfinite(baseline)

    def residuals(self) -> Residuals:
        # summed over a day, this baseline is the mean of the same weekday: the pre-period
        # model's day-type residuals are that prediction's errors (holidays as Sundays aside)
        h = self.history
        return pre_period_residuals(h.kwh, h.ok, h.calendar)

    def days_per_point(self) -> float:
        return 1.0  # one residual per day

    def problems(self) -> list[list[str]]:
        return [[] for _ in range(self.history.kwh.shape[0])]  # no sufficiency rules


METHOD = BaselineMethod(
    name="same-weekday-mean",
    summary={
        "sv": "Medelförbrukningen samma veckodag och timme de fyra veckorna före tävlingen.",
        "en": "The mean consumption of the same weekday and hour in the four weeks before "
        "the competition.",
    },
    history_days=_history_days,
    fit=lambda history, period: SameWeekdayMeanFit(history),
)
