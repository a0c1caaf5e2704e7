"""Bills: consumption per billing period (period start, period end, kWh), one bill a line.

Headers as in grid exports (``Från;Till;kWh``, ``Period från;Period till;Förbrukning``) or a
``start=…,end=…,kwh=…`` mapping. Dates are local dates of the competition's zone. An end date
is inclusive (``2010-01-01;2010-01-31`` is all of January) unless the file's bills meet on
shared dates (``2010-01-01;2010-02-01``, then ``2010-02-01;…``): then ends are exclusive.
Periods of a few days up to a year are accepted; each bill is spread over its days by the
billing baseline (``scoring.baselines.billing``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.imports.csv_text import decode_text, parse_local, parse_number, split_rows
from ingest.imports.generic_csv import column_indexes
from ingest.imports.grid_csv import find_header
from ingest.imports.rows import IntervalRow, ParsedFile, UnreadableFile

MAX_BILL_DAYS = 366


def parse_bills(
    data: bytes, name: str, tz: ZoneInfo, mapping: dict[str, str] | None = None
) -> ParsedFile:
    rows = split_rows(decode_text(data))
    if mapping:
        pos, col = column_indexes(rows, mapping)
        start_i, end_i = col.get("start", col.get("ts")), col.get("end")
        value_i, scale = col.get("kwh", col.get("wh")), 0.001 if "wh" in col else 1.0
    else:
        pos, roles = find_header(rows)
        start_i, end_i, value_i, scale = roles.start, roles.end, roles.value, roles.kwh_per_unit
    if start_i is None or end_i is None or value_i is None:
        raise UnreadableFile(
            "a bill needs a period start, a period end and kWh: e.g. 'Från;Till;kWh' "
            "(or give --columns start=…,end=…,kwh=…)"
        )
    parsed = ParsedFile(name, fmt="billing")
    bills: list[tuple[int, datetime, datetime, bool, float]] = []
    for line, cells in rows[pos + 1 :]:
        try:
            cell = [cells[i] if i < len(cells) else "" for i in (start_i, end_i, value_i)]
            start, end = parse_local(cell[0]), parse_local(cell[1])
            date_only = ":" not in cell[1]
            kwh = parse_number(cell[2]) * scale
            if kwh < 0:
                raise ValueError(f"negative energy {kwh:g} kWh")
        except ValueError as exc:
            parsed.reject(line, str(exc))
            continue
        bills.append((line, start, end, date_only, kwh))
    starts = {b[1] for b in bills}
    exclusive = any(b[2] in starts for b in bills)
    for line, start, end, date_only, kwh in bills:
        if date_only and not exclusive:
            end = end + timedelta(days=1)
        days = (end - start).total_seconds() / 86400.0
        if days <= 0:
            parsed.reject(line, f"the period ends ({end:%Y-%m-%d}) before it starts")
            continue
        if days > MAX_BILL_DAYS:
            parsed.reject(line, f"a period of {days:.0f} days; bills cover at most a year")
            continue
        start_s = _utc_s(start, tz)
        parsed.intervals.append(IntervalRow(line, start_s, _utc_s(end, tz), kwh))
    return parsed


def _utc_s(local: datetime, tz: ZoneInfo) -> float:
    if local.tzinfo is not None:
        return local.timestamp()
    return local.replace(tzinfo=tz).timestamp()
