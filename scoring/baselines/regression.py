"""``regression``: the CalTRACK daily model (as eemeter 4.1.1 fits it) as an hourly baseline.

The model (``scoring.caltrack.daily``, method "caltrack") is fitted on the daily energy of the
baseline year against daily mean outdoor temperature; each competition day is predicted from
its own temperature and spread over its hours by the site's load shape
(``scoring.caltrack.load_shape``). ``regression-daytype`` is the same with the day-type grid.

The CalTRACK modules are imported when a fit runs, not with this module: the daily fit loads
numba, and declaring the method (the registry, ``check-config``) must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from scoring.baselines.method import BaselineMethod, History, Needs, Period, Target
from scoring.calendar import LocalHours

if TYPE_CHECKING:
    from scoring.caltrack.daily import DailyModels
    from scoring.uncertainty import Residuals

BASELINE_YEAR_DAYS = 365  # the history: the 365 days before the start (CalTRACK's baseline)


def baseline_year_days(period: Period) -> tuple[date, date]:
    """The 365 days before the competition's first day: CalTRACK's baseline year."""
    start = period.first_day
    return start - timedelta(days=BASELINE_YEAR_DAYS), start - timedelta(1)


def daily_reasons() -> tuple[str, ...]:
    """The rules of CalTRACK's daily data sufficiency, by name."""
    from scoring.caltrack.rules import DAILY_REASONS, REASON_NAMES

    return tuple(REASON_NAMES[flag] for flag in DAILY_REASONS)


@dataclass(frozen=True)
class HistoryFit:
    """Daily models fitted on a history, with what predicting and residuals need."""

    models: DailyModels | None  # None for an empty history
    daily_kwh: np.ndarray  # (sites, history days): the energy the models were fitted on
    temp_c: np.ndarray  # the history's daily mean temperatures, as passed in
    day_type: np.ndarray  # (history days,)
    hour_shares: np.ndarray | None  # (sites, 3, 24): each day type's load shape

    def residuals(self) -> Residuals:
        """In-sample daily residuals (``daily_residuals``) for savings uncertainty."""
        return self._residuals

    @cached_property
    def _residuals(self) -> Residuals:
        from scoring.caltrack.daily import daily_residuals

        return daily_residuals(self.models, self.daily_kwh, self.temp_c, None, self.day_type)

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        return predict_hours(self, target.calendar, target.daily_temp_c)

    def days_per_point(self) -> float:
        return 1.0

    def problems(self) -> list[list[str]]:
        if self.models is None:
            return [[] for _ in range(self.daily_kwh.shape[0])]
        return [self.models.reason_names(i) for i in range(self.models.model_type.size)]


def regression(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    target: LocalHours,
    history_temp_c: np.ndarray,
    target_temp_c: np.ndarray,
    method: str = "caltrack",
    require_sufficient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Hourly baseline from a daily temperature regression fitted on the history.

    Parameters
    ----------
    history_kwh : array (sites, history hours)
        Hourly energy of the baseline period [kWh].
    history_ok : array of bool (sites, history hours)
        Hours whose energy was measured.
    history, target : LocalHours
        Calendars of the baseline period and the competition grid.
    history_temp_c : array (sites, history days) or (history days,)
        Daily mean temperature of each local day of ``history`` in date order [°C].
    target_temp_c : array (sites, target days) or (target days,)
        Daily mean temperature of each local day of ``target`` in date order [°C].
    method : {"caltrack", "daytype"}
        The daily model (``scoring.caltrack.daily.fit_daily``).
    require_sufficient : bool
        If True, sites failing a data-sufficiency rule get no baseline.

    Returns
    -------
    baseline_kwh : array (sites, target hours) [kWh]
    baseline_ok : array of bool (sites, target hours)

    Notes
    -----
    A history day counts when over half of its hours were measured; its energy is the measured
    sum divided by that fraction (eemeter's hourly-to-daily rule). Each predicted day is spread
    over its hours by the site's own load shape (``scoring.caltrack.load_shape.hour_shares``):
    the share ``s`` of each local hour in the energy of the fully measured 24-hour history days
    of the same day type k,

    .. math:: E_{d,h} = E_d \\, s_{k(d),h}, \\quad \\sum_{h=0}^{23} s_{k,h} = 1

    Without a full day of the type the shape of all day types is used, and without any full
    day a flat shape.
    """
    if np.any(np.diff(target.day_ordinal) < 0):
        raise ValueError("history and target hours must be in time order (use hour_grid)")
    fit = fit_history(history_kwh, history_ok, history, history_temp_c, method)
    return predict_hours(fit, target, target_temp_c, require_sufficient)


def fit_history(
    history_kwh: np.ndarray,
    history_ok: np.ndarray,
    history: LocalHours,
    history_temp_c: np.ndarray,
    method: str = "caltrack",
) -> HistoryFit:
    """The first half of ``regression``: daily energy of the history (its Notes), the fitted
    models and each site's day-type load shape. Depends on the history only, so a caller that
    predicts again and again (a scoreboard on every new hour) fits once."""
    from scoring.caltrack.daily import fit_daily
    from scoring.caltrack.load_shape import hour_shares
    from scoring.caltrack.rules import MIN_DAY_COVERAGE

    if np.any(np.diff(history.day_ordinal) < 0):
        raise ValueError("history and target hours must be in time order (use hour_grid)")
    history_kwh = np.asarray(history_kwh, dtype=float)
    if history_kwh.shape[1] == 0:
        n_sites = history_kwh.shape[0]
        return HistoryFit(
            models=None,
            daily_kwh=np.zeros((n_sites, 0)),
            temp_c=np.zeros(0),
            day_type=np.zeros(0, int),
            hour_shares=None,
        )
    history_ok = np.asarray(history_ok, dtype=bool)
    hist_days, hist_start = np.unique(history.day_ordinal, return_index=True)
    measured = np.where(history_ok, history_kwh, 0.0)
    day_sum = _per_day_sum(measured, hist_start)
    day_hours = _per_day_sum(history_ok.view(np.int8), hist_start)
    hours_in_day = np.diff(np.r_[hist_start, history.day_ordinal.size])
    coverage = day_hours / hours_in_day
    with np.errstate(invalid="ignore", divide="ignore"):
        daily_kwh = np.where(coverage > MIN_DAY_COVERAGE, day_sum / coverage, np.nan)
    hist_day_type = history.day_type[hist_start]
    models = fit_daily(daily_kwh, history_temp_c, hist_days, None, hist_day_type, method)
    shares = hour_shares(history_kwh, history_ok, history)
    return HistoryFit(
        models=models,
        daily_kwh=daily_kwh,
        temp_c=history_temp_c,
        day_type=hist_day_type,
        hour_shares=shares,
    )


def predict_hours(
    fit: HistoryFit,
    target: LocalHours,
    target_temp_c: np.ndarray,
    require_sufficient: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The second half of ``regression``: each target day predicted from its temperature and
    spread over its hours by the site's load shape."""
    if fit.models is None:
        shape = (fit.daily_kwh.shape[0], target.hour.size)
        return np.full(shape, np.nan), np.zeros(shape, dtype=bool)
    from scoring.caltrack.daily import predict_daily
    from scoring.caltrack.load_shape import spread_by_shares

    _, tgt_start = np.unique(target.day_ordinal, return_index=True)
    daily_pred = predict_daily(fit.models, target_temp_c, target.day_type[tgt_start])
    baseline = spread_by_shares(daily_pred, fit.hour_shares, target)
    ok = np.isfinite(baseline)
    if require_sufficient:
        ok &= fit.models.sufficient[:, None]
    return np.where(ok, baseline, np.nan), ok


def fit_regression(history: History, model: str) -> HistoryFit:
    """A daily model ``model`` ("caltrack" or "daytype") fitted on a method's ``History``."""
    return fit_history(history.kwh, history.ok, history.calendar, history.daily_temp_c, model)


def _per_day_sum(hourly: np.ndarray, day_start: np.ndarray) -> np.ndarray:
    """Sum of each local day's hours (hours in time order, days starting at day_start)."""
    return np.add.reduceat(hourly, day_start, axis=1).astype(float)


METHOD = BaselineMethod(
    name="regression",
    summary={
        "sv": "Regression mot utetemperatur (CalTRACK, dagsvärden) över året före tävlingen.",
        "en": (
            "Regression on outdoor temperature (CalTRACK, daily) over the year before the "
            "competition."
        ),
    },
    history_days=baseline_year_days,
    fit=lambda history, period: fit_regression(history, "caltrack"),
    needs=Needs(history_temperature=("daily",), target_temperature="daily"),
    reasons=daily_reasons,
    fit_modules=("scoring.caltrack.daily",),
    compiled=True,
)
