"""Interval energy → energy per hour of a fixed grid of hour starts.

The grid holds the UTC starts of consecutive local hours (``calendar.hour_grid``); every zone
whose offsets are whole hours has local hour boundaries on UTC hour boundaries, so a local day
across a DST change simply has 23 or 25 entries.
"""

from __future__ import annotations

import numpy as np


def spread_to_hours(
    start_s: np.ndarray,
    end_s: np.ndarray,
    energy_kwh: np.ndarray,
    measured: np.ndarray,
    hour_start_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread each interval's energy evenly over the hours it spans.

    Parameters
    ----------
    start_s, end_s : array
        Interval bounds [Unix s], non-overlapping and in time order.
    energy_kwh : array
        Energy of each interval [kWh].
    measured : array of bool
        Whether the interval counts as measured time for completeness.
    hour_start_s : array
        Starts of consecutive hours [Unix s]; the last hour ends 3600 s after its start.

    Returns
    -------
    energy_kwh : array
        Energy per hour [kWh].
    measured_s : array
        Measured seconds per hour [s], 0..3600.

    Notes
    -----
    With E(t) the cumulative energy, piecewise linear within each interval and flat between
    intervals, the energy of hour [h, h+1) is E(h+1) - E(h). The same holds for measured time.
    """
    n = hour_start_s.size
    if n == 0:
        return np.zeros(0), np.zeros(0)
    edges = np.append(hour_start_s, hour_start_s[-1] + 3600.0).astype(float)
    if start_s.size == 0:
        return np.zeros(n), np.zeros(n)
    knots = np.column_stack([start_s, end_s]).ravel()
    cum_energy = np.concatenate([[0.0], np.cumsum(energy_kwh)])
    energy_at = np.column_stack([cum_energy[:-1], cum_energy[1:]]).ravel()
    seconds = np.where(measured, end_s - start_s, 0.0)
    cum_seconds = np.concatenate([[0.0], np.cumsum(seconds)])
    seconds_at = np.column_stack([cum_seconds[:-1], cum_seconds[1:]]).ravel()
    energy_hour = np.diff(np.interp(edges, knots, energy_at))
    measured_hour = np.diff(np.interp(edges, knots, seconds_at))
    return energy_hour, np.clip(measured_hour, 0.0, 3600.0)


def split_into_hours(
    start_s: np.ndarray, end_s: np.ndarray, energy_kwh: np.ndarray, measured: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut intervals at UTC hour boundaries, sharing energy by the time in each hour.

    Parameters
    ----------
    start_s, end_s : array
        Interval bounds [Unix s], end > start.
    energy_kwh : array
        Energy of each interval [kWh].
    measured : array of bool
        Whether the interval's time counts as measured.

    Returns
    -------
    index : array of int
        The interval each piece comes from.
    hour_s : array
        Start of the piece's hour [Unix s].
    energy_kwh : array
        The piece's share of the interval's energy [kWh].
    measured_s : array
        The piece's measured time [s] (0 for unmeasured intervals).
    """
    start = np.asarray(start_s, dtype=float)
    end = np.asarray(end_s, dtype=float)
    first = np.floor(start / 3600.0)
    last = np.ceil(end / 3600.0) - 1  # the hour holding the end, unless it ends on a boundary
    count = (last - first + 1).astype(np.int64)
    index = np.repeat(np.arange(start.size), count)
    offset = np.arange(index.size) - np.repeat(np.cumsum(count) - count, count)
    hour = (first[index] + offset) * 3600.0
    overlap = np.minimum(end[index], hour + 3600.0) - np.maximum(start[index], hour)
    share = overlap / (end - start)[index]
    return (
        index,
        hour,
        np.asarray(energy_kwh, dtype=float)[index] * share,
        np.where(np.asarray(measured)[index], overlap, 0.0),
    )
