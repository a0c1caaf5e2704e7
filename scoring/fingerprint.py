"""Baseline fingerprints: one SHA-256 per site over the locked inputs of its baseline.

A jury can only defend a figure when it can show that the baseline behind it is the one that
was locked at the start. The fingerprint is a SHA-256 over a canonical encoding of exactly
what the site's baseline method fits on: the method and its parameters, the history window,
the site's hourly energy over that window and which hours count as measured, and, when its
method reads them, its bills and its outdoor temperatures of the history (and bill) days.

Nothing of the competition period enters it (live readings, its temperatures), nor floor
areas or targets, so it stays the same while the competition runs; any change of a locked
input (an accepted held reading, an accepted import, a bill, a temperature the method reads)
changes it. Numbers are rounded to ``STEP`` of their unit first, so the same data read from
SQLite and from InfluxDB (which may differ in the last bits of a sum) gives the same hash.

The encoding (version ``FORMAT``), all integers little-endian:

1. a header line: UTF-8 JSON with sorted keys and no spaces, then ``\\n``, of ``format``,
   ``method``, ``parameters``, ``window`` ([first, last] local ISO dates), ``bill_window``
   (the same for the bill days, or null) and ``sections`` (each section's name → its count of
   values, or null when absent);
2. ``kwh``: one int64 per hour, ``rint(kWh / STEP)``;
3. ``measured``: one byte per hour, 1 when the hour counts as measured, else 0;
4. ``bills`` (when present): per bill, sorted, three int64: first day and the day after the
   last (proleptic Gregorian ordinals, ``date.toordinal``) and ``rint(kWh / STEP)``;
5. ``daily_temp_c``, ``hourly_temp_c``, ``bill_temp_c`` (when present): one int64 per day or
   hour, ``rint(°C / STEP)``.

A value that is not a number (NaN, an unknown temperature) is encoded as ``NAN_CODE``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date

import numpy as np

FORMAT = "wattleague-baseline-fingerprint/1"
STEP = 1e-6  # every number is rounded to a multiple of this, in its unit (kWh, °C)
NAN_CODE = np.iinfo(np.int64).min  # what a NaN is encoded as

_SECTIONS = ("kwh", "measured", "bills", "daily_temp_c", "hourly_temp_c", "bill_temp_c")


def baseline_fingerprint(
    method: str,
    parameters: Mapping[str, str | int | float | None],
    first_day_local: date,
    last_day_local: date,
    kwh: np.ndarray,
    measured: np.ndarray,
    *,
    bills: np.ndarray | None = None,
    bill_days_local: tuple[date, date] | None = None,
    daily_temp_c: np.ndarray | None = None,
    hourly_temp_c: np.ndarray | None = None,
    bill_temp_c: np.ndarray | None = None,
) -> str:
    """The SHA-256 of one site's locked baseline inputs (module docstring: the encoding).

    Parameters
    ----------
    method : str
        The baseline method that scores the site.
    parameters : mapping of str to str, int, float or None
        The method's parameters as scored (e.g. the competition's method, ``weeks``, the
        holiday calendar, the time zone); JSON scalars.
    first_day_local, last_day_local : date
        The history window (local days, inclusive).
    kwh : array (H,)
        The site's energy of each hour of the window [kWh].
    measured : array of bool (H,)
        The hours that count as measured.
    bills : array (n, 3), optional
        The site's bills: first day, day after the last (local date ordinals), energy [kWh];
        in any order (they are sorted).
    bill_days_local : (date, date), optional
        First and last local day of the bill days.
    daily_temp_c, hourly_temp_c, bill_temp_c : array, optional
        Outdoor temperature of each history day, history hour and bill day [°C].

    Returns
    -------
    str
        64 lowercase hexadecimal digits.

    Raises
    ------
    ValueError
        When ``kwh`` and ``measured`` are not one value per hour each.
    """
    kwh = np.asarray(kwh, dtype=float).ravel()
    measured = np.asarray(measured, dtype=bool).ravel()
    if kwh.shape != measured.shape:
        raise ValueError(
            f"kwh has {kwh.size} hours and measured {measured.size}: give one value per hour "
            "of the history window in each"
        )
    parts: dict[str, bytes | None] = dict.fromkeys(_SECTIONS)
    counts: dict[str, int | None] = dict.fromkeys(_SECTIONS)
    parts["kwh"], counts["kwh"] = _steps(kwh), kwh.size
    parts["measured"], counts["measured"] = measured.astype("u1").tobytes(), measured.size
    if bills is not None:
        rows = np.asarray(bills, dtype=float).reshape(-1, 3)
        rows = rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
        days = rows[:, :2].astype("<i8")
        steps = np.frombuffer(_steps(rows[:, 2]), dtype="<i8")
        parts["bills"] = np.column_stack([days, steps]).astype("<i8").tobytes()
        counts["bills"] = len(rows)
    for name, values in (
        ("daily_temp_c", daily_temp_c),
        ("hourly_temp_c", hourly_temp_c),
        ("bill_temp_c", bill_temp_c),
    ):
        if values is not None:
            flat = np.asarray(values, dtype=float).ravel()
            parts[name], counts[name] = _steps(flat), flat.size
    header = {
        "format": FORMAT,
        "method": method,
        "parameters": dict(parameters),
        "window": [first_day_local.isoformat(), last_day_local.isoformat()],
        "bill_window": None
        if bill_days_local is None
        else [bill_days_local[0].isoformat(), bill_days_local[1].isoformat()],
        "sections": counts,
    }
    digest = hashlib.sha256()
    digest.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    for name in _SECTIONS:
        if parts[name] is not None:
            digest.update(parts[name])
    return digest.hexdigest()


def _steps(values: np.ndarray) -> bytes:
    """``values`` as little-endian int64 multiples of ``STEP`` (NaN: ``NAN_CODE``)."""
    known = np.isfinite(values)
    out = np.rint(np.where(known, values, 0.0) / STEP).astype("<i8")
    if not known.all():
        out[~known] = NAN_CODE
    return out.tobytes()
