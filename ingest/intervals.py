"""From raw readings of one meter to interval energy: (start_s, end_s, energy_kwh) spans.

Pure functions on time-ordered numpy arrays. Registers are preferred: the difference of two
consecutive cumulative values is exact. A decrease of the register is a reset or a meter
replacement: the energy of that interval is unknown, so the interval is dropped rather than
invented. Power-only meters are integrated with the trapezoid rule, but never across a gap
longer than ``max_gap_s``: an outage is a hole, not energy (emoncms#1795 fills it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Intervals:
    """Non-overlapping spans of measured energy, in time order.

    ``measured`` marks spans short enough (<= max_gap_s) to count as measured hours for
    completeness; longer register spans still carry their (exact) energy.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    energy_kwh: np.ndarray
    measured: np.ndarray
    from_power: bool = False  # integrated power: energy exists only for the measured spans

    @classmethod
    def empty(cls, from_power: bool = False) -> Intervals:
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, dtype=bool), from_power)


def register_intervals(ts_s: np.ndarray, energy_kwh: np.ndarray, max_gap_s: float) -> Intervals:
    """Interval energy from a cumulative register.

    Parameters
    ----------
    ts_s : array
        Reading times [Unix s], increasing.
    energy_kwh : array
        Register values [kWh]; NaN where a reading has no register value.
    max_gap_s : float
        Longest span counted as measured [s].

    Returns
    -------
    Intervals
        One span per consecutive pair of register readings whose register did not decrease.
    """
    ok = np.isfinite(energy_kwh)
    t, e = ts_s[ok], energy_kwh[ok]
    if t.size < 2:
        return Intervals.empty()
    de = np.diff(e)
    dt = np.diff(t)
    keep = (de >= 0) & (dt > 0)  # a decrease is a reset or a new meter: energy unknown
    start, end = t[:-1][keep], t[1:][keep]
    return Intervals(start, end, de[keep], (dt[keep] <= max_gap_s))


def power_intervals(ts_s: np.ndarray, power_w: np.ndarray, max_gap_s: float) -> Intervals:
    """Interval energy from power samples (trapezoid rule), skipping gaps > max_gap_s.

    Parameters
    ----------
    ts_s : array
        Sample times [Unix s], increasing.
    power_w : array
        Power [W]; NaN where a reading has no power value.
    max_gap_s : float
        Longest span integrated [s]; longer spans are outages and carry no energy.
    """
    ok = np.isfinite(power_w)
    t, p = ts_s[ok], power_w[ok]
    if t.size < 2:
        return Intervals.empty(from_power=True)
    dt = np.diff(t)
    keep = (dt > 0) & (dt <= max_gap_s)
    energy_kwh = (p[:-1] + p[1:]) / 2.0 * dt / 3.6e6
    return Intervals(
        t[:-1][keep], t[1:][keep], energy_kwh[keep], np.ones(keep.sum(), dtype=bool), True
    )


def meter_intervals(
    ts_s: np.ndarray,
    energy_kwh: np.ndarray,
    power_w: np.ndarray,
    register_max_gap_s: float,
    power_max_gap_s: float,
) -> Intervals:
    """Register intervals when the meter reports a register, else integrated power.

    The two gap limits differ: a register span of any length carries its exact energy (the
    limit only decides what counts as measured), while power is only trustworthy over a few
    sample periods.
    """
    if np.isfinite(energy_kwh).sum() >= 2:
        return register_intervals(ts_s, energy_kwh, register_max_gap_s)
    return power_intervals(ts_s, power_w, power_max_gap_s)
