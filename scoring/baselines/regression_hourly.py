"""``regression-hourly``: CalTRACK 2.0's hourly model (time of week and temperature, as
eemeter 4.1.1 ``HourlyModel`` fits it), one model per competition month.

The models (``scoring.caltrack.hourly``) are fitted on the baseline year's hours against
hourly station temperatures and predict each competition hour from its own temperature. The
savings uncertainty comes from the day-type daily model fitted on the same year
(``regression-daytype``): the formula's unit is a day, and an hourly model's errors summed over
a day are those of a daily model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from scoring.baselines.method import BaselineMethod, History, Needs, Period, Target
from scoring.baselines.regression import baseline_year_days, fit_regression

if TYPE_CHECKING:
    from scoring.caltrack.hourly import HourlyFit
    from scoring.uncertainty import Residuals


@dataclass(frozen=True)
class TowtFit:
    """The TOWT models of the competition's months, fitted on the history."""

    history: History
    hourly: HourlyFit

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        from scoring.caltrack.hourly import predict_hourly

        return predict_hourly(self.hourly, target.calendar, target.hourly_temp_c)

    def residuals(self) -> Residuals:
        return self._residuals

    @cached_property
    def _residuals(self) -> Residuals:
        return fit_regression(self.history, "daytype").residuals()

    def days_per_point(self) -> float:
        return 1.0

    def problems(self) -> list[list[str]]:
        return [self.hourly.reason_names(i) for i in range(self.hourly.sufficient.size)]


def _fit(history: History, period: Period) -> TowtFit:
    """One model per calendar month of the competition (``fit_hourly``)."""
    from scoring.caltrack.hourly import fit_hourly

    days = range(period.first_day.toordinal(), period.last_day.toordinal() + 1)
    months = sorted({date.fromordinal(d).month for d in days})
    fitted = fit_hourly(history.kwh, history.ok, history.calendar, months, history.hourly_temp_c)
    return TowtFit(history=history, hourly=fitted)


def _reasons() -> tuple[str, ...]:
    from scoring.caltrack.rules import HOURLY_REASONS, REASON_NAMES

    return tuple(REASON_NAMES[flag] for flag in HOURLY_REASONS)


METHOD = BaselineMethod(
    name="regression-hourly",
    summary={
        "sv": (
            "Regression mot utetemperatur per timme i veckan (CalTRACK, timvärden) över året före "
            "tävlingen."
        ),
        "en": (
            "Regression on outdoor temperature by hour of the week (CalTRACK, hourly) over the "
            "year before the competition."
        ),
    },
    history_days=baseline_year_days,
    fit=_fit,
    needs=Needs(history_temperature=("hourly", "daily"), target_temperature="hourly"),
    reasons=_reasons,
    fit_modules=("scoring.caltrack.daily", "scoring.caltrack.hourly"),
    compiled=True,
)
