"""Rows of a CSV table → interval energy, once the columns' roles are known.

A row's interval comes from a start and an end column (``Från;Till``), from a date and a clock
time (``Datum;Tid``, the time may be a range ``00-01``), or from one time stamp plus the file's
step (the most common distance between rows: 15 minutes, an hour, a day). One time stamp marks
the start of its interval, unless it is the only column and is named as the end, or the file
writes ``24:00`` or numbers its hours 1..24 (then stamps mark ends). A ``Period`` column holds a
day, a month (``2010-01``) or a range (``2010-01-01 - 2010-01-31``, end date inclusive).
Each bad row is refused with its line number; its neighbours are kept.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.imports.csv_text import combine, parse_local, parse_number
from ingest.imports.local_time import LocalClock, NonexistentTime
from ingest.imports.rows import IntervalRow, ParsedFile

_TIME_RANGE = re.compile(r"^(?:kl\.?\s*)?(\d{1,2}(?::\d\d)?)\s*[-–]\s*(\d{1,2}(?::\d\d)?)$")


@dataclass(frozen=True)
class Roles:
    """Column indexes of a table (None where absent) and the value's scale to kWh."""

    value: int
    start: int | None = None
    end: int | None = None
    date: int | None = None
    time: int | None = None
    kwh_per_unit: float = 1.0
    period: int | None = None  # "Period": a day, a month (2010-01) or a range "A - B"


def read_intervals(
    parsed: ParsedFile, rows: list[tuple[int, list[str]]], roles: Roles, tz: ZoneInfo
) -> None:
    """Append each row's interval (or its rejection) to ``parsed``; rows after the header."""
    clock = LocalClock(tz)
    stamped: list[tuple[int, datetime, datetime | None, float]] = []
    ends_marked = roles.start is None and roles.end is not None and roles.date is None
    for line, cells in rows:
        try:
            start, end = _row_times(cells, roles)
            if start is not None and end is None and _is_24(cells, roles):
                ends_marked = True
            value = parse_number(_cell(cells, roles.value, "value")) * roles.kwh_per_unit
        except ValueError as exc:
            parsed.reject(line, str(exc))
            continue
        if value < 0:
            parsed.reject(line, f"negative energy {value:g} kWh")
            continue
        stamped.append((line, start, end, value))
    step = _common_step([s for _, s, e, _ in stamped if e is None])
    for line, start, end, value in stamped:
        try:
            if end is None:
                if step is None:
                    raise ValueError("one row alone: its interval length is unknown")
                if ends_marked:
                    start, end = start - step, start
                else:
                    end = start + step
            start_s = clock.to_utc_s(start)
            end_s = clock.end_utc_s(start, start_s, end)
        except NonexistentTime as exc:
            parsed.reject(line, str(exc))
            continue
        except ValueError as exc:
            parsed.reject(line, str(exc))
            continue
        if end_s <= start_s:
            parsed.reject(line, "the interval ends before it starts")
            continue
        parsed.intervals.append(IntervalRow(line, start_s, end_s, value))
    parsed.dst.extend(clock.notes())


def _cell(cells: list[str], index: int, what: str) -> str:
    if index >= len(cells) or not cells[index].strip():
        raise ValueError(f"no {what} (column {index + 1} is empty)")
    return cells[index]


def _row_times(cells: list[str], roles: Roles) -> tuple[datetime, datetime | None]:
    if roles.period is not None:
        return _period(_cell(cells, roles.period, "period"))
    if roles.date is not None:
        day = parse_local(_cell(cells, roles.date, "date"))
        if roles.time is None:
            if day.hour or day.minute:
                return day, None
            return day, None
        clock_text = _cell(cells, roles.time, "time")
        match = _TIME_RANGE.match(clock_text.strip())
        if match:
            start = combine(day, match.group(1))
            end = combine(day, match.group(2))
            return start, end if end > start else end + timedelta(days=1)
        return combine(day, clock_text), None
    if roles.start is not None:
        start = parse_local(_cell(cells, roles.start, "start time"))
        end = parse_local(_cell(cells, roles.end, "end time")) if roles.end is not None else None
        if end is not None and _is_date_only(cells[roles.end]) and end <= start:
            end += timedelta(days=1)  # an inclusive end date
        return start, end
    return parse_local(_cell(cells, roles.end, "time stamp")), None


def _period(text: str) -> tuple[datetime, datetime | None]:
    """A period cell: ``2010-01`` (a month), ``2010-01-01 - 2010-01-31`` (inclusive end date),
    ``2010-10-31 01:00 - 2010-10-31 02:00`` or ``… 01:00 - 02:00``, or one date or time stamp
    (its length is the file's step)."""
    s = text.strip()
    if len(s) > MAX_PERIOD_CHARS:  # before the patterns below, which are not linear in it
        raise ValueError(
            f"a period of {len(s):,} characters; a period such as "
            "'2010-10-31 01:00 - 2010-10-31 02:00' has under 50"
        )
    month = _MONTH.fullmatch(s)
    if month:
        first = datetime(int(month.group(1)), int(month.group(2)), 1)
        return first, (first + timedelta(days=32)).replace(day=1)
    parts = _RANGE_SEP.split(s)
    if len(parts) != 2:
        return parse_local(s), None
    start = parse_local(parts[0])
    if re.fullmatch(r"\d{1,2}(:\d\d){0,2}", parts[1].strip()):
        end = combine(start, parts[1])
        return start, end if end > start else end + timedelta(days=1)
    end = parse_local(parts[1])
    if _is_date_only(parts[1]):
        end += timedelta(days=1)  # an inclusive end date
    return start, end


MAX_PERIOD_CHARS = 100
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_RANGE_SEP = re.compile(r"\s+[-–—]\s+|\s*(?:--|–|—)\s*")


def _is_date_only(text: str) -> bool:
    return not re.search(r"\d[:T ]\d", text.strip())


def _is_24(cells: list[str], roles: Roles) -> bool:
    for index in (roles.time, roles.start, roles.end):
        if index is not None and index < len(cells) and re.search(r"(^|\D)24:00", cells[index]):
            return True
    # hour numbers 1..24 in a clock column ("Timme" 24): hours are numbered by their end
    t = roles.time
    return t is not None and t < len(cells) and cells[t].strip() == "24"


def _common_step(starts: list[datetime]) -> timedelta | None:
    """The most common positive wall-clock distance between consecutive stamps."""
    diffs = Counter(b - a for a, b in itertools.pairwise(starts) if b > a)
    if not diffs:
        if starts and all(s.hour == 0 and s.minute == 0 for s in starts):
            return timedelta(days=1)
        return None
    return diffs.most_common(1)[0][0]
