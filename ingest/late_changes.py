"""Late changes: readings stored for a day that had ended more than 48 hours before.

Late readings inside the competition period are stored as usual (gateways buffer, and send what
they kept once they are back), unlike readings for a locked baseline (``ingest.baseline_lock``).
A day's figures may still be published and read by then, so a change to a day that ended more
than ``LATE_AFTER_MS`` before the reading arrived is flagged in data quality with its effect
on the score. This module finds them: per meter and local day, how many readings came late,
when, and the energy their registers cover.

The store answers which readings arrived after a time (``ReadingStore.late_readings``: SQLite
knows each reading's message and its receive time, InfluxDB keeps ``received_ms`` with each
reading); the local days and the 48 hours are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.store.base import ReadingStore
from scoring.calendar import local_midnight_utc_s

LATE_AFTER_MS = 48 * 3600 * 1000  # a change this long after its day ended is flagged [ms]


@dataclass(frozen=True, slots=True)
class LateDay:
    """The readings of one meter stored late for one local day.

    Attributes
    ----------
    meter : str
        The meter.
    day_local : date
        The local day their times fall on.
    readings : int
        How many readings of that day arrived more than ``LATE_AFTER_MS`` after it ended.
    first_ts_ms, last_ts_ms : int
        The span of their times [Unix ms]: the hours whose energy they changed lie around it.
    first_received_ms, last_received_ms : int
        When the first and the last of them arrived [Unix ms].
    register_kwh : float or None
        The rise of the register across them [kWh], the energy they measure between
        themselves; None when fewer than two of them carry a register.
    """

    meter: str
    day_local: date
    readings: int
    first_ts_ms: int
    last_ts_ms: int
    first_received_ms: int
    last_received_ms: int
    register_kwh: float | None


def late_changes(
    store: ReadingStore,
    meter_ids: list[str],
    since_ms: int,
    now_ms: int,
    tz: ZoneInfo,
    late_after_ms: int = LATE_AFTER_MS,
) -> dict[str, list[LateDay]]:
    """Per meter, the local days from ``since_ms`` to ``now_ms`` [Unix ms] changed late.

    Parameters
    ----------
    store : ReadingStore
        Where the readings are.
    meter_ids : list of str
        The meters to look at (a competition's).
    since_ms, now_ms : int
        The times of readings to look at [Unix ms), e.g. the competition's first hour and now.
        Only days that ended ``late_after_ms`` before ``now_ms`` can have late readings.
    tz : ZoneInfo
        The competition's time zone: what a day is.
    late_after_ms : int
        How long after its day ended a reading counts as a late change [ms] (48 h).

    Returns
    -------
    dict of str to list of LateDay
        Meter → its late days in date order; meters without any are absent.

    Notes
    -----
    A reading is late when ``received_ms > day_end_ms + late_after_ms``, where ``day_end_ms``
    is local midnight after the day of its time. One query span per local day.
    """
    spans = []
    day = datetime.fromtimestamp(since_ms / 1000, UTC).astimezone(tz).date()
    while True:
        start_ms = max(since_ms, _midnight_ms(day, tz))
        end_ms = _midnight_ms(day + timedelta(days=1), tz)
        if start_ms >= now_ms or end_ms + late_after_ms >= now_ms:
            break
        spans.append((start_ms, min(end_ms, now_ms), end_ms + late_after_ms))
        day += timedelta(days=1)
    if not spans or not meter_ids:
        return {}
    found = store.late_readings(list(meter_ids), spans)
    out: dict[str, list[LateDay]] = {}
    for meter, rows in found.items():
        by_day: dict[date, list[tuple]] = {}
        for row in rows:
            local = datetime.fromtimestamp(row[0] / 1000, UTC).astimezone(tz).date()
            by_day.setdefault(local, []).append(row)
        out[meter] = [_late_day(meter, d, by_day[d]) for d in sorted(by_day)]
    return out


def _late_day(meter: str, day_local: date, rows: list[tuple]) -> LateDay:
    registers = [e for _, e, _, _ in rows if e is not None and e == e]
    received = [r for _, _, _, r in rows]
    return LateDay(
        meter=meter,
        day_local=day_local,
        readings=len(rows),
        first_ts_ms=rows[0][0],
        last_ts_ms=rows[-1][0],
        first_received_ms=min(received),
        last_received_ms=max(received),
        register_kwh=registers[-1] - registers[0] if len(registers) > 1 else None,
    )


def _midnight_ms(day_local: date, tz: ZoneInfo) -> int:
    return round(local_midnight_utc_s(day_local, tz) * 1000)
