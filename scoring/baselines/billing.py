"""``billing``: CalTRACK 2.0's billing method for sites whose history is only their bills.

The usage per day of each billing period is regressed on the period's mean heating and cooling
degree days (``scoring.caltrack.billing``); each competition day is predicted from its own
mean temperature and shared out over its hours by the site's day-type × hour shape from its
metered hours, the history's and the competition's so far
(``scoring.caltrack.load_shape.spread_by_level``), else a typical office's.

A site may choose it for itself (``[[site]] baseline_method = "billing"``): its bills, not the
competition's history window, hold its baseline year; the metered hours of that window only
shape its days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from scoring.baselines.method import BaselineMethod, History, Needs, Period, Target
from scoring.baselines.regression import baseline_year_days
from scoring.calendar import LocalHours

if TYPE_CHECKING:
    from scoring.caltrack.billing import BillingModels, BillingPeriods
    from scoring.uncertainty import Residuals


@dataclass(frozen=True)
class BillingFit:
    """The billing models of the sites, with their periods and residuals."""

    history: History
    periods: BillingPeriods
    models: BillingModels
    period_residuals: Residuals
    mean_period_days: np.ndarray  # mean days per billing period [days]

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        from scoring.caltrack.billing import predict_billing
        from scoring.caltrack.load_shape import hour_profile, spread_by_level

        h = self.history
        daily = predict_billing(self.models, target.daily_temp_c)
        kwh = np.concatenate([h.kwh, target.kwh], axis=1)
        ok = np.concatenate([h.ok, target.ok], axis=1)
        profile = hour_profile(kwh, ok, _joined(h.calendar, target.calendar))
        base = spread_by_level(daily, profile, target.calendar)
        base_ok = np.isfinite(base) & self.models.sufficient[:, None]
        return np.where(base_ok, base, np.nan), base_ok

    def residuals(self) -> Residuals:
        return self.period_residuals

    def days_per_point(self) -> np.ndarray:
        return self.mean_period_days

    def problems(self) -> list[list[str]]:
        return [self.models.reason_names(i) for i in range(self.models.model_type.size)]


def bill_days(period: Period) -> tuple[date, date]:
    """The days a bill may cover and count: a baseline year ending at most
    ``MAX_BILL_AGE_DAYS`` before the start."""
    from scoring.caltrack.rules import MAX_BASELINE_DAYS, MAX_BILL_AGE_DAYS

    start = period.first_day
    return start - timedelta(days=MAX_BASELINE_DAYS + MAX_BILL_AGE_DAYS), start - timedelta(1)


def _fit(history: History, period: Period) -> BillingFit:
    from scoring.caltrack.billing import billing_periods, billing_residuals, fit_billing

    temps, days = history.bill_temp_c, history.bill_day_ordinal
    periods = billing_periods(history.bills, period.first_day.toordinal())
    models = fit_billing(periods, temps, days)
    residuals, per_point = billing_residuals(models, periods, temps, days)
    return BillingFit(
        history=history,
        periods=periods,
        models=models,
        period_residuals=residuals,
        mean_period_days=per_point,
    )


def _reasons() -> tuple[str, ...]:
    from scoring.caltrack.rules import BILLING_REASONS, REASON_NAMES

    return tuple(REASON_NAMES[flag] for flag in BILLING_REASONS)


def _joined(first: LocalHours, second: LocalHours) -> LocalHours:
    """Two consecutive hour grids as one."""
    return LocalHours(
        **{
            f: np.concatenate([getattr(first, f), getattr(second, f)])
            for f in ("hour_start_s", "day_ordinal", "hour", "fold", "weekday", "holiday")
        },
        country=first.country,
    )


METHOD = BaselineMethod(
    name="billing",
    summary={
        "sv": (
            "Regression av elräkningarna mot utetemperatur (CalTRACK, fakturaperioder) över "
            "året före tävlingen, fördelad på timmar efter byggnadens förbrukningsmönster."
        ),
        "en": (
            "Regression of the electricity bills on outdoor temperature (CalTRACK, billing "
            "periods) over the year before the competition, spread over the hours by the "
            "building's own consumption pattern."
        ),
    },
    history_days=baseline_year_days,
    fit=_fit,
    needs=Needs(target_temperature="daily", bills=True, target_hours=True),
    reasons=_reasons,
    bill_days=bill_days,
    fit_modules=("scoring.caltrack.billing",),
    per_site=True,
)
