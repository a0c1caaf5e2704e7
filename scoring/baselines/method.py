"""What a baseline method is: the interface every module of ``scoring.baselines`` implements.

A method is a ``BaselineMethod``: it declares its name, the history window it reads
(``history_days``), what else it needs (``Needs``: outdoor temperature, bills), the rules that
can leave a site without a baseline (``reasons``), and what its report says about it
(``summary``). Its ``fit`` takes the history the caller fetched for it (``History``) and
returns a ``Fit``, which predicts the hourly baseline of a competition grid (``Target``),
names the rules each site failed and gives the residuals its savings uncertainty comes from.

The caller does the I/O: it reads ``history_days`` and ``needs``, fetches exactly that, and
calls ``fit`` once per history and ``predict`` whenever the competition's hours change. A fit
holds no reference to a store or a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

import numpy as np

from scoring.calendar import LocalHours
from scoring.uncertainty import Residuals

Resolution = Literal["daily", "hourly"]


@dataclass(frozen=True)
class Period:
    """The competition period a baseline is built for, and the method's parameters.

    Attributes
    ----------
    first_day, last_day : date
        The competition's first and last local day (inclusive).
    country : str
        ISO 3166 code of the public-holiday calendar.
    weeks : int
        ``pre-period``: the weeks before the start that it averages.
    """

    first_day: date
    last_day: date
    country: str = "SE"
    weeks: int = 8


@dataclass(frozen=True)
class Needs:
    """What a method reads besides the metered hours of its history window.

    Attributes
    ----------
    history_temperature : tuple of {"daily", "hourly"}
        Outdoor temperature over the history window: daily means per local day, hourly
        means per hour, or both.
    target_temperature : {"daily", "hourly"} or None
        Outdoor temperature over the competition period, to predict from.
    bills : bool
        The sites' bills, and daily temperatures over ``BaselineMethod.bill_days``.
    target_hours : bool
        The competition's hours measured so far (``Target.kwh``, ``Target.ok``).
    """

    history_temperature: tuple[Resolution, ...] = ()
    target_temperature: Resolution | None = None
    bills: bool = False
    target_hours: bool = False

    @property
    def temperature(self) -> bool:
        """The method needs a weather station."""
        return bool(self.history_temperature or self.target_temperature or self.bills)


@dataclass(frozen=True)
class History:
    """What a fit reads, as the caller fetched it for one method (sites in the caller's order).

    Attributes
    ----------
    kwh : array (S, H)
        Hourly energy over the history window [kWh].
    ok : array of bool (S, H)
        Hours whose energy was measured.
    calendar : LocalHours
        The window's hours (``BaselineMethod.history_days``), in time order.
    daily_temp_c : array (S, days of ``calendar``) or (days,), optional
        Daily mean outdoor temperature of each local day, in date order [°C]
        (``Needs.history_temperature`` has "daily"); one row serves every site.
    hourly_temp_c : array (S, H) or (H,), optional
        Hourly mean outdoor temperature [°C] (``Needs.history_temperature`` has "hourly").
    bills : list of S arrays (n, 3), optional
        Each site's bills: first day, day after the last day (local date ordinals) and
        energy [kWh] (``Needs.bills``).
    bill_day_ordinal : array of int (B,), optional
        The local days of ``BaselineMethod.bill_days``, in date order.
    bill_temp_c : array (S, B), optional
        Daily mean outdoor temperature of those days [°C].
    """

    kwh: np.ndarray
    ok: np.ndarray
    calendar: LocalHours
    daily_temp_c: np.ndarray | None = None
    hourly_temp_c: np.ndarray | None = None
    bills: list[np.ndarray] | None = None
    bill_day_ordinal: np.ndarray | None = None
    bill_temp_c: np.ndarray | None = None


@dataclass(frozen=True)
class Target:
    """The competition hours a fit predicts (sites in the order of its ``History``).

    Attributes
    ----------
    calendar : LocalHours
        The competition's hours, in time order.
    daily_temp_c : array (S, days of ``calendar``) or (days,), optional
        Daily mean outdoor temperature [°C] (``Needs.target_temperature`` "daily").
    hourly_temp_c : array (S, H) or (H,), optional
        Hourly mean outdoor temperature [°C] (``Needs.target_temperature`` "hourly").
    kwh, ok : array (S, H), optional
        The competition's hours measured so far: energy [kWh] and whether it was measured
        (``Needs.target_hours``; billing shapes its days by them).
    """

    calendar: LocalHours
    daily_temp_c: np.ndarray | None = None
    hourly_temp_c: np.ndarray | None = None
    kwh: np.ndarray | None = None
    ok: np.ndarray | None = None


class Fit(Protocol):
    """A method fitted on the history of S sites."""

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        """Baseline energy of each competition hour [kWh] (S, H), NaN where unknown, and the
        mask of hours whose baseline is known; a site that fails a sufficiency rule has
        none."""
        ...

    def residuals(self) -> Residuals:
        """The baseline model's residuals on its history, for ``scoring.uncertainty``."""
        ...

    def days_per_point(self) -> np.ndarray | float:
        """Days per residual point (1 for daily residuals; a billing period's mean days), so
        that the competition's matched days count as m = days / this points."""
        ...

    def problems(self) -> list[list[str]]:
        """Per site, the names of the sufficiency rules it failed (``BaselineMethod.reasons``);
        empty for a site with a baseline."""
        ...


def _no_reasons() -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class BaselineMethod:
    """A baseline method: what it needs and reads, and how it fits. Each module of
    ``scoring.baselines`` declares one as ``METHOD``.

    Attributes
    ----------
    name : str
        The name competition files, the CLI and the API use.
    summary : dict of str to str
        One sentence per report language ("sv", "en") on how the baseline is built; may hold
        ``{weeks}``.
    history_days : callable (Period) -> (date, date)
        First and last local day of the metered history (and of its temperatures) that the
        method reads for a competition period.
    fit : callable (History, Period) -> Fit
        Fits the method on the history of every site.
    needs : Needs
        What it reads besides the metered history.
    reasons : callable () -> tuple of str
        Names of the sufficiency rules that can leave a site without a baseline (``Fit.problems``
        names the ones a site failed). A callable, so that declaring them loads nothing.
    bill_days : callable (Period) -> (date, date), optional
        First and last local day of the bills and their daily temperatures (``Needs.bills``).
    fit_modules : tuple of str
        Modules its fit imports when it runs; loaded up front when a competition is served
        (``api.baseline_fits``), so that a process that cannot run them stops at start.
    compiled : bool
        Its fit runs code numba compiles at run time (executable memory, a cache folder).
    per_site : bool
        A site may choose it for itself (``[[site]] baseline_method``) whatever the
        competition's method. It then reads the competition's history window, so it must not
        depend on its own.
    """

    name: str
    summary: dict[str, str]
    history_days: Callable[[Period], tuple[date, date]]
    fit: Callable[[History, Period], Fit]
    needs: Needs = Needs()
    reasons: Callable[[], tuple[str, ...]] = _no_reasons
    bill_days: Callable[[Period], tuple[date, date]] | None = None
    fit_modules: tuple[str, ...] = ()
    compiled: bool = False
    per_site: bool = False

    def __repr__(self) -> str:
        return f"<baseline method {self.name!r}>"


@dataclass(frozen=True)
class PredictedFit:
    """A fit reduced to its prediction of one competition calendar, with its residuals.

    For a method whose prediction reads nothing of the competition but its calendar (no
    ``Needs.target_temperature``, no ``Needs.target_hours``; previous-year, pre-period), this is
    all a scoreboard needs of it: it replaces a fit that holds the history (a year of hours of
    every site), and it is what a server keeps between restarts (``api.fit_cache``).

    Attributes
    ----------
    hour_start_s : array (H,)
        Start of each hour of the calendar it predicts [Unix s].
    kwh : array (S, H)
        Baseline energy of each hour [kWh]; NaN where unknown. Read-only.
    ok : array of bool (S, H)
        Hours whose baseline is known. Read-only.
    kept_residuals : Residuals
        The fit's residuals on its history.
    kept_days_per_point : array (S,) or float
        The fit's days per residual point.
    kept_problems : list of list of str
        Per site, the sufficiency rules it failed.
    """

    hour_start_s: np.ndarray
    kwh: np.ndarray
    ok: np.ndarray
    kept_residuals: Residuals
    kept_days_per_point: np.ndarray | float
    kept_problems: list[list[str]]

    def predict(self, target: Target) -> tuple[np.ndarray, np.ndarray]:
        if not np.array_equal(target.calendar.hour_start_s, self.hour_start_s):
            raise ValueError(
                "this kept baseline predicts another competition calendar "
                f"({self.hour_start_s.size} hours) than the one asked for "
                f"({target.calendar.hour_start_s.size} hours): fit the method again"
            )
        return self.kwh, self.ok

    def residuals(self) -> Residuals:
        return self.kept_residuals

    def days_per_point(self) -> np.ndarray | float:
        return self.kept_days_per_point

    def problems(self) -> list[list[str]]:
        return self.kept_problems


def predicted(fit: Fit, target: Target) -> PredictedFit:
    """``fit`` reduced to its prediction of ``target`` (``PredictedFit``): only for a method
    whose prediction reads nothing of ``target`` but its calendar."""
    kwh, ok = fit.predict(target)
    kwh, ok = np.array(kwh, dtype=float), np.array(ok, dtype=bool)
    kwh.flags.writeable = ok.flags.writeable = False
    return PredictedFit(
        hour_start_s=np.array(target.calendar.hour_start_s, dtype=float),
        kwh=kwh,
        ok=ok,
        kept_residuals=fit.residuals(),
        kept_days_per_point=fit.days_per_point(),
        kept_problems=fit.problems(),
    )
