"""From consecutive readings of one meter to interval energy.

Pure functions on numpy arrays. A meter's readings form two chains: its register readings
(cumulative kWh) and its power readings (W). Each pair of consecutive readings in a chain is one
interval; every rule below looks at one pair only, which is what lets the store maintain hourly
energy incrementally when readings arrive late or out of order.

Register pairs (exact energy):

- an increase is the interval's energy; it counts as measured when the pair is at most
  ``register_max_gap_s`` apart (a longer span still carries its energy, spread evenly);
- a decrease is a rollover when the old value sat just below a power of ten and the new one just
  above zero (99,998 → 3: 2 + 3 kWh); a reset when the new value is small (Tasmota's new
  TotalStartTime, Shelly's ResetCounters, a new meter starting at zero): the energy since the
  reset is counted, the unknown part before it is not invented; otherwise a replaced meter with
  another count: the interval's energy is unknown (0, not measured);
- an increase implying more than ``MAX_PLAUSIBLE_W`` is a glitch (a retrograde spike,
  emoncms#1137): unknown, not measured.

Power pairs are integrated with the trapezoid rule, but never across a gap longer than
``power_max_gap_s``: an outage is a hole, not energy (emoncms#1795 fills it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_PLAUSIBLE_W = 10e6  # no building in a competition draws 10 MW: above this is a glitch
RESET_MAX_KWH = 1.0  # a register that restarts below this (or 1 % of its old value) was reset
ROLLOVER_MARGIN = 0.1  # old value in the top 10 % below a power of ten, new one in the bottom 10 %


@dataclass(frozen=True, slots=True)
class Intervals:
    """Spans of energy from one chain of readings, in time order.

    ``measured`` marks spans that count as measured time for completeness; longer register
    spans still carry their (exact) energy. ``from_power`` says which chain they came from.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    energy_kwh: np.ndarray
    measured: np.ndarray
    from_power: bool = False

    @classmethod
    def empty(cls, from_power: bool = False) -> Intervals:
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, dtype=bool), from_power)


def register_pair_energy(
    e0_kwh: np.ndarray, e1_kwh: np.ndarray, dt_s: np.ndarray, max_gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Energy of register pairs (see module docstring).

    Parameters
    ----------
    e0_kwh, e1_kwh : array
        Register at the start and at the end of each interval [kWh].
    dt_s : array
        Interval length [s], > 0.
    max_gap_s : float
        Longest interval counted as measured [s].

    Returns
    -------
    energy_kwh : array
        Energy of each interval [kWh] (0 where unknown).
    measured : array of bool
    """
    e0, e1, dt = (np.asarray(a, dtype=float) for a in (e0_kwh, e1_kwh, dt_s))
    rise = e1 - e0
    with np.errstate(divide="ignore", invalid="ignore"):
        decade = 10.0 ** np.ceil(np.log10(np.maximum(e0, 1.0) * (1 + 1e-12)))
    rollover = (
        (rise < 0) & (e0 >= (1 - ROLLOVER_MARGIN) * decade) & (e1 <= ROLLOVER_MARGIN * decade)
    )
    reset = (rise < 0) & ~rollover & (e1 <= np.maximum(RESET_MAX_KWH, 0.01 * e0))
    energy = np.where(
        rise >= 0, rise, np.where(rollover, decade - e0 + e1, np.where(reset, e1, 0.0))
    )
    plausible = energy * 3.6e6 <= MAX_PLAUSIBLE_W * dt
    known = ((rise >= 0) | rollover | reset) & plausible
    return np.where(known, energy, 0.0), known & (dt <= max_gap_s)


def power_pair_energy(
    p0_w: np.ndarray, p1_w: np.ndarray, dt_s: np.ndarray, max_gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid energy [kWh] of power pairs, and whether each was integrated (gap ≤ max)."""
    p0, p1, dt = (np.asarray(a, dtype=float) for a in (p0_w, p1_w, dt_s))
    ok = dt <= max_gap_s
    return np.where(ok, (p0 + p1) / 2.0 * dt / 3.6e6, 0.0), ok


def register_intervals(ts_s: np.ndarray, energy_kwh: np.ndarray, max_gap_s: float) -> Intervals:
    """Intervals of the register chain of one meter (readings with a register value).

    Parameters
    ----------
    ts_s : array
        Reading times [Unix s], increasing.
    energy_kwh : array
        Register values [kWh]; NaN where a reading has none.
    max_gap_s : float
        Longest span counted as measured [s].
    """
    ok = np.isfinite(energy_kwh)
    t, e = ts_s[ok], energy_kwh[ok]
    if t.size < 2:
        return Intervals.empty()
    dt = np.diff(t)
    keep = dt > 0
    energy, measured = register_pair_energy(e[:-1][keep], e[1:][keep], dt[keep], max_gap_s)
    return Intervals(t[:-1][keep], t[1:][keep], energy, measured)


def power_intervals(ts_s: np.ndarray, power_w: np.ndarray, max_gap_s: float) -> Intervals:
    """Intervals of the power chain of one meter, skipping gaps > max_gap_s.

    Parameters
    ----------
    ts_s : array
        Sample times [Unix s], increasing.
    power_w : array
        Power [W]; NaN where a reading has none.
    max_gap_s : float
        Longest span integrated [s]; longer spans are outages and carry no energy.
    """
    ok = np.isfinite(power_w)
    t, p = ts_s[ok], power_w[ok]
    if t.size < 2:
        return Intervals.empty(from_power=True)
    dt = np.diff(t)
    energy, integrated = power_pair_energy(p[:-1], p[1:], dt, max_gap_s)
    keep = (dt > 0) & integrated
    return Intervals(t[:-1][keep], t[1:][keep], energy[keep], np.ones(keep.sum(), dtype=bool), True)


def meter_intervals(
    ts_s: np.ndarray,
    energy_kwh: np.ndarray,
    power_w: np.ndarray,
    register_max_gap_s: float,
    power_max_gap_s: float,
) -> Intervals:
    """Register intervals when the meter reports a register, else integrated power."""
    if np.isfinite(energy_kwh).sum() >= 2:
        return register_intervals(ts_s, energy_kwh, register_max_gap_s)
    return power_intervals(ts_s, power_w, power_max_gap_s)
