"""``wattleague baseline``: a baseline method for one meter, from CSV files.

The methods are ``scoring.baselines``' that need no bills (``offline_methods``).

Usage CSV ``timestamp,kwh``: interval energy, each row the energy of the interval that starts
at its timestamp and lasts until the next row's (the last row as long as the one before), at
any resolution down to hourly. Temperature CSV ``timestamp,temp_c``. Timestamps are ISO-8601
with an offset; dates on the command line are local dates in ``--timezone``, inclusive.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from scoring import baselines
from scoring.baselines import History, Period, Target
from scoring.calendar import hour_grid, local_hours
from scoring.hourly import spread_to_hours
from scoring.metrics import MEASURED_HOUR_S
from scoring.weather import daily_mean_temp_c, hourly_mean_temp_c


class CSVError(ValueError):
    """A bad input file: the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class DailyBaseline:
    day: list[date]
    observed_kwh: np.ndarray  # NaN where the day was not fully measured
    baseline_kwh: np.ndarray  # NaN where the method has no baseline


def read_series_csv(path: str | Path, value_column: str) -> tuple[np.ndarray, np.ndarray]:
    """(ts_s, value) from a ``timestamp,<value_column>`` CSV, sorted by time."""
    rows: list[tuple[float, float]] = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise CSVError(f"{path}: the file is empty; expected a header timestamp,{value_column}")
        names = [h.strip().lower() for h in header]
        if "timestamp" not in names or value_column not in names:
            raise CSVError(
                f"{path}:1: expected the columns timestamp,{value_column}, got {','.join(header)}"
            )
        ti, vi = names.index("timestamp"), names.index(value_column)
        for line, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                ts = datetime.fromisoformat(row[ti].strip().replace("Z", "+00:00"))
            except (ValueError, IndexError):
                raise CSVError(
                    f"{path}:{line}: {row[ti] if ti < len(row) else ''!r} is not an "
                    "ISO-8601 timestamp"
                ) from None
            if ts.tzinfo is None:
                raise CSVError(
                    f"{path}:{line}: timestamp {row[ti]!r} has no UTC offset, e.g. "
                    "2011-03-01T00:00:00+01:00"
                )
            try:
                value = float(row[vi].strip().replace(",", "."))
            except (ValueError, IndexError):
                raise CSVError(
                    f"{path}:{line}: {value_column} "
                    f"{row[vi] if vi < len(row) else ''!r} is not a number"
                ) from None
            if not np.isfinite(value):
                raise CSVError(f"{path}:{line}: {value_column} {value!r} is not finite")
            rows.append((ts.astimezone(UTC).timestamp(), value))
    if not rows:
        raise CSVError(f"{path}: no data rows")
    a = np.array(sorted(rows))
    return a[:, 0], a[:, 1]


def offline_methods() -> list[str]:
    """The baseline methods that run from a usage file (and a temperature file): all but those
    that need bills."""
    return [name for name, m in baselines.METHODS.items() if not m.needs.bills]


def offline_baseline(
    usage: tuple[np.ndarray, np.ndarray],
    baseline_days: tuple[date, date],
    report_days: tuple[date, date],
    tz: ZoneInfo,
    method: str = baselines.DEFAULT,
    country: str = "SE",
    weeks: int = 8,
    temperature: tuple[np.ndarray, np.ndarray] | None = None,
) -> DailyBaseline:
    """Observed and baseline kWh per reporting day for one meter (see module docstring)."""
    chosen = baselines.by_name(method)
    if chosen.needs.bills:
        raise CSVError(f"--method {method} needs bills, which a usage file does not hold")
    needs = chosen.needs
    if needs.temperature and temperature is None:
        raise CSVError(f"--method {method} needs --temperature CSV (timestamp,temp_c)")
    ts_s, kwh = usage
    if ts_s.size < 2:
        raise CSVError("the usage file needs at least two rows to know the interval length")
    dt = np.diff(ts_s)
    ends = ts_s + np.append(dt, dt[-1])
    report = local_hours(hour_grid(*report_days, tz), tz, country)
    history = local_hours(hour_grid(*baseline_days, tz), tz, country)
    measured = np.ones(ts_s.size, dtype=bool)

    def hourly(grid):
        energy, seconds = spread_to_hours(ts_s, ends, kwh, measured, grid.hour_start_s)
        return energy[None, :], (seconds >= MEASURED_HOUR_S)[None, :]

    def temps(resolution, grid):
        mean = daily_mean_temp_c if resolution == "daily" else hourly_mean_temp_c
        return mean(*temperature, grid)

    hist_kwh, hist_ok = hourly(history)
    rep_kwh, rep_ok = hourly(report)
    wanted = needs.history_temperature
    fit = chosen.fit(
        History(
            hist_kwh,
            hist_ok,
            history,
            daily_temp_c=temps("daily", history) if "daily" in wanted else None,
            hourly_temp_c=temps("hourly", history) if "hourly" in wanted else None,
        ),
        Period(report_days[0], report_days[1], country, weeks),
    )
    resolution = needs.target_temperature
    base, base_ok = fit.predict(
        Target(
            report,
            daily_temp_c=temps("daily", report) if resolution == "daily" else None,
            hourly_temp_c=temps("hourly", report) if resolution == "hourly" else None,
            kwh=rep_kwh,
            ok=rep_ok,
        )
    )
    days, first = np.unique(report.day_ordinal, return_index=True)
    observed = np.add.reduceat(np.where(rep_ok[0], rep_kwh[0], np.nan), first)
    expected = np.add.reduceat(np.where(base_ok[0], base[0], np.nan), first)
    return DailyBaseline([date.fromordinal(int(d)) for d in days], observed, expected)
