"""Energy traps: the loads the 2011 town halls hunted, and the effect of annotated actions.

A town hall's avoidable energy hides where nobody is working: the night base load (servers,
ventilation, lights left on), the weekend base load, and the share of all energy used outside
office hours. ``energy_traps`` measures them on any hour grid; ``trap_changes`` measures them
for the competition and its baseline on the same hours and compares; ``action_effect`` puts a
number on one action (a night walk, new power strips) from the actual-to-baseline ratio just
before and just after it.

Hours are local clock hours from ``LocalHours``; days follow its ``day_type`` (working day,
Saturday, Sunday or public holiday). Hourly energy [kWh] over one hour is the mean power [kW].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scoring.calendar import LocalHours

NIGHT_HOURS = (0, 5)  # local clock hours [first, end): 00:00-05:00
OFFICE_HOURS = (7, 18)  # local clock hours [first, end) of a working day: 07:00-18:00
HOUR_S = 3600.0
DAY_S = 86400.0


@dataclass(frozen=True)
class EnergyTraps:
    """Energy traps of each site (arrays of one value per site).

    Attributes
    ----------
    night_base_kw : array
        Mean power in the night hours of working days [kW].
    weekend_base_kw : array
        Mean power over Saturdays, Sundays and public holidays, all day [kW].
    after_hours_share_pct : array
        Energy outside office hours on working days plus all energy on other days, as a share
        of all energy [%].
    night_hours, weekend_hours, hours : array of int
        Known hours behind each figure.
    """

    night_base_kw: np.ndarray
    weekend_base_kw: np.ndarray
    after_hours_share_pct: np.ndarray
    night_hours: np.ndarray
    weekend_hours: np.ndarray
    hours: np.ndarray


@dataclass(frozen=True)
class TrapChanges:
    """Energy traps of the competition and of its baseline on the same hours, and the change.

    Attributes
    ----------
    actual, baseline : EnergyTraps
        The traps of the actual and of the baseline energy over the matched hours.
    night_base_change_pct, weekend_base_change_pct : array
        100 (actual - baseline) / baseline of each base load [%]; negative is a saving.
    after_hours_share_change_pp : array
        Actual minus baseline after-hours share [percentage points].
    """

    actual: EnergyTraps
    baseline: EnergyTraps
    night_base_change_pct: np.ndarray
    weekend_base_change_pct: np.ndarray
    after_hours_share_change_pp: np.ndarray


@dataclass(frozen=True)
class ActionEffect:
    """Actual against baseline just before and just after an action (one value per site).

    Attributes
    ----------
    ratio_before, ratio_after : array
        Actual / baseline energy over the matched hours of each window [-].
    change_pct_points : array
        100 (ratio_after - ratio_before): the change in consumption against the baseline
        [percentage points of the baseline]; negative is a saving.
    hours_before, hours_after : array of int
        Matched hours in each window.
    window_s : array
        Length of each window [s] (both windows are equally long).
    """

    ratio_before: np.ndarray
    ratio_after: np.ndarray
    change_pct_points: np.ndarray
    hours_before: np.ndarray
    hours_after: np.ndarray
    window_s: np.ndarray


def energy_traps(
    kwh: np.ndarray,
    ok: np.ndarray,
    calendar: LocalHours,
    night_hours: tuple[int, int] = NIGHT_HOURS,
    office_hours: tuple[int, int] = OFFICE_HOURS,
) -> EnergyTraps:
    """Night base load, weekend base load and after-hours share of each site.

    Parameters
    ----------
    kwh : array (sites, hours)
        Hourly energy [kWh].
    ok : array of bool (sites, hours)
        Hours whose energy is known; the others are left out of every figure.
    calendar : LocalHours
        Calendar of the hours.
    night_hours : (int, int)
        Local clock hours [first, end) of the night (00-05).
    office_hours : (int, int)
        Local clock hours [first, end) of a working day's office hours (07-18).

    Returns
    -------
    EnergyTraps

    Notes
    -----
    With E_h the energy of known hour h (1 h long, so E_h [kWh] is its mean power [kW]):

    - night base load = mean of E_h over the night hours of working days [kW];
    - weekend base load = mean of E_h over all hours of Saturdays, Sundays and public
      holidays [kW];
    - after-hours share = 100 sum(E_h outside office hours) / sum(E_h) [%], where outside
      office hours is a working-day hour before 07:00 or from 18:00 on, or any hour of another
      day.

    Means, not low percentiles: a town hall's nights and weekends are nearly flat, a mean is
    additive (a 2 kW lower night load saves 2 kW x the night hours) and it is not skewed by
    how many hours a short window holds. Local clock hours make a DST night 4 or 6 hours long.
    NaN where a figure has no known hour.
    """
    working = calendar.day_type == 0
    night = working & (calendar.hour >= night_hours[0]) & (calendar.hour < night_hours[1])
    weekend = ~working
    office = working & (calendar.hour >= office_hours[0]) & (calendar.hour < office_hours[1])
    energy = np.where(ok, kwh, 0.0)
    # the sums over each kind of hour as one matrix product (sites x hours by hours x 3): no
    # (sites, hours) temporary per kind, which at 10,000 sites cost a second
    kinds = np.column_stack([night, weekend, ~office]).astype(float).reshape(-1, 3)
    night_n, weekend_n = np.rint(ok.astype(np.float32) @ kinds[:, :2].astype(np.float32)).T
    night_e, weekend_e, after_e = (energy @ kinds).T
    total = energy.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        night_kw = np.where(night_n > 0, night_e / night_n, np.nan)
        weekend_kw = np.where(weekend_n > 0, weekend_e / weekend_n, np.nan)
        after = np.where(total > 0, 100.0 * after_e / total, np.nan)
    return EnergyTraps(
        night_base_kw=night_kw,
        weekend_base_kw=weekend_kw,
        after_hours_share_pct=after,
        night_hours=night_n.astype(np.int64),
        weekend_hours=weekend_n.astype(np.int64),
        hours=ok.sum(axis=1),
    )


def trap_changes(
    actual_kwh: np.ndarray,
    actual_ok: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
    calendar: LocalHours,
    night_hours: tuple[int, int] = NIGHT_HOURS,
    office_hours: tuple[int, int] = OFFICE_HOURS,
) -> TrapChanges:
    """Energy traps of the competition against its baseline, on the same hours.

    Parameters
    ----------
    actual_kwh, actual_ok : array (sites, hours)
        Competition energy [kWh] and the hours that were measured (and have elapsed).
    baseline_kwh, baseline_ok : array (sites, hours)
        Baseline energy on the competition grid [kWh] and where it is known.
    calendar : LocalHours
        Calendar of the competition grid.
    night_hours, office_hours : (int, int)
        See ``energy_traps``.

    Returns
    -------
    TrapChanges

    Notes
    -----
    Both sides use only the matched hours (actual measured and baseline known), so the two
    have the same nights, weekends and holidays. The baseline on the competition grid already
    carries the competition's day types (``scoring.baselines.day_type_profile``), so its
    "Sunday" hours are Sunday-like hours. Changes: 100 (A - B) / B for the base loads [%],
    A - B for the share [percentage points].
    """
    matched = actual_ok & baseline_ok
    actual = energy_traps(actual_kwh, matched, calendar, night_hours, office_hours)
    base = energy_traps(baseline_kwh, matched, calendar, night_hours, office_hours)
    with np.errstate(invalid="ignore", divide="ignore"):
        night = np.where(
            base.night_base_kw > 0, 100.0 * (actual.night_base_kw / base.night_base_kw - 1), np.nan
        )
        weekend = np.where(
            base.weekend_base_kw > 0,
            100.0 * (actual.weekend_base_kw / base.weekend_base_kw - 1),
            np.nan,
        )
    share = actual.after_hours_share_pct - base.after_hours_share_pct
    return TrapChanges(
        actual=actual,
        baseline=base,
        night_base_change_pct=night,
        weekend_base_change_pct=weekend,
        after_hours_share_change_pp=share,
    )


def action_effect(
    actual_kwh: np.ndarray,
    actual_ok: np.ndarray,
    baseline_kwh: np.ndarray,
    baseline_ok: np.ndarray,
    calendar: LocalHours,
    action_time_s: float | np.ndarray,
    window_days: float = 7.0,
    hours: np.ndarray | None = None,
    until_s: float | None = None,
) -> ActionEffect:
    """Effect of an action: actual against baseline in equal windows before and after it.

    Parameters
    ----------
    actual_kwh, actual_ok : array (sites, hours)
        Competition energy [kWh] and the hours that were measured.
    baseline_kwh, baseline_ok : array (sites, hours)
        Baseline energy on the same grid [kWh] and where it is known.
    calendar : LocalHours
        Calendar of the grid.
    action_time_s : float or array (sites,)
        When the action took effect [Unix s], one time for all sites or one per site.
    window_days : float
        Length of each window [days].
    hours : array of bool (hours,), optional
        Only these hours count (e.g. ``calendar.hour < 5`` for a night walk).
    until_s : float, optional
        End of the data [Unix s] (now, for a running competition); default the grid's end.

    Returns
    -------
    ActionEffect

    Notes
    -----
    With t the action time and w = min(window_days x 86,400 s, t - grid start,
    ``until_s`` - t), the before window holds the hours that lie wholly in [t - w, t) and the
    after window those wholly in [t, t + w); the hour the action falls in belongs to neither.
    In each window R = sum(actual) / sum(baseline) over the matched hours, and the effect is
    100 (R_after - R_before) percentage points. Dividing by the baseline takes out what the
    baseline knows (weekdays, holidays, the season); equal windows keep the weekday mix the
    same when w is whole weeks. NaN where a window has no matched hour or no baseline energy.
    """
    n_sites = actual_kwh.shape[0]
    start = calendar.hour_start_s
    t = np.broadcast_to(np.asarray(action_time_s, dtype=float), (n_sites,))[:, None]
    grid_start = start[0] if start.size else 0.0
    grid_end = start[-1] + HOUR_S if start.size else 0.0
    end = grid_end if until_s is None else until_s
    w = np.maximum(np.minimum(np.minimum(window_days * DAY_S, t - grid_start), end - t), 0.0)
    matched = actual_ok & baseline_ok
    if hours is not None:
        matched = matched & hours
    before = matched & (start >= t - w) & (start + HOUR_S <= t) & (w > 0)
    after = matched & (start >= t) & (start + HOUR_S <= t + w) & (w > 0)
    ratio_before = _ratio(actual_kwh, baseline_kwh, before)
    ratio_after = _ratio(actual_kwh, baseline_kwh, after)
    return ActionEffect(
        ratio_before=ratio_before,
        ratio_after=ratio_after,
        change_pct_points=100.0 * (ratio_after - ratio_before),
        hours_before=before.sum(axis=1),
        hours_after=after.sum(axis=1),
        window_s=w[:, 0],
    )


def _ratio(actual: np.ndarray, baseline: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a = np.where(mask, actual, 0.0).sum(axis=1)
    b = np.where(mask, np.nan_to_num(baseline), 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mask.any(axis=1) & (b > 0), a / b, np.nan)
