"""Swedish grid operators' consumption exports (Ellevio, Vattenfall, E.ON, local nät-bolag…).

What they share: ``;`` separators, decimal commas, UTF-8 with a byte-order mark or Windows-1252,
a few lines about the metering point before the header, local time without an offset, and
headers such as ``Från;Till;kWh``, ``Datum;Tid;Förbrukning (kWh)``, ``Tidpunkt;Energi (Wh)`` or
``Datum;Förbrukning`` (daily rows). The header is the first line naming a time column and an
energy column; see ``interval_table`` for how rows become intervals.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from ingest.imports.csv_text import decode_text, split_rows
from ingest.imports.interval_table import Roles, read_intervals
from ingest.imports.rows import ParsedFile, UnreadableFile

_START = ("från", "fran", "from", "start", "starttid", "periodstart", "period från", "fr.o.m")
_END = ("till", "to", "slut", "sluttid", "end", "periodslut", "period till", "t.o.m")
_STAMP = ("tidpunkt", "tidsstämpel", "timestamp", "ts", "datum och tid", "datetime", "time stamp")
_DATE = ("datum", "date", "dag", "day")
_TIME = ("tid", "timme", "klockslag", "time", "hour", "kl", "tim")
_PERIOD = ("period", "tidsperiod", "månad", "manad", "month", "mätperiod")
_VALUE = (
    "kwh",
    "wh",
    "mwh",
    "förbrukning",
    "forbrukning",
    "energi",
    "energy",
    "consumption",
    "värde",
    "varde",
    "value",
    "mängd",
    "uttag",
    "aktiv energi",
)


MAX_HEADER_CHARS = 200


def _name(cell: str) -> str:
    # a header name is short; cut before the lazy patterns, which are quadratic in a long cell
    cell = cell[:MAX_HEADER_CHARS]
    return re.sub(r"\s+", " ", re.sub(r"\(.*?\)|\[.*?\]", "", cell)).strip().lower().rstrip(":")


def _unit_scale(cell: str) -> float:
    low = cell.lower()
    if re.search(r"\bmwh\b", low):
        return 1000.0
    if re.search(r"\bkwh\b", low):
        return 1.0
    if re.search(r"\bwh\b", low):
        return 0.001
    return 1.0


def detect_roles(cells: list[str]) -> Roles | None:
    """The roles of a header line's columns, or None when it is not a header."""
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = _name(cell)
        if not name and not cell:
            continue
        words = name.split(" ")
        for role, names in (
            ("start", _START),
            ("end", _END),
            ("stamp", _STAMP),
            ("date", _DATE),
            ("time", _TIME),
            ("period", _PERIOD),
        ):
            if name in names or (role in ("start", "end") and words[0] in names):
                found.setdefault(role, i)
                break
        else:
            low = cell.lower()
            if "value" not in found and (
                name in _VALUE or any(w in _VALUE for w in words) or re.search(r"\bk?wh\b", low)
            ):
                found["value"] = i
    if "value" not in found:
        return None
    scale = _unit_scale(cells[found["value"]])
    if "start" in found or "end" in found:
        return Roles(found["value"], found.get("start"), found.get("end"), kwh_per_unit=scale)
    if "stamp" in found:
        return Roles(found["value"], start=found["stamp"], kwh_per_unit=scale)
    if "period" in found:
        return Roles(found["value"], period=found["period"], kwh_per_unit=scale)
    if "date" in found:
        return Roles(found["value"], date=found["date"], time=found.get("time"), kwh_per_unit=scale)
    if "time" in found:  # "Tid;kWh" with full time stamps
        return Roles(found["value"], start=found["time"], kwh_per_unit=scale)
    return None


def find_header(rows: list[tuple[int, list[str]]]) -> tuple[int, Roles]:
    """Position (in ``rows``) of the header line and its roles."""
    for pos, (_, cells) in enumerate(rows[:60]):
        roles = detect_roles(cells)
        if roles is not None:
            return pos, roles
    raise UnreadableFile(
        "no header line found: expected columns such as 'Från;Till;kWh', "
        "'Datum;Tid;Förbrukning (kWh)' or 'Tidpunkt;kWh' (or give --columns ts=…,kwh=…)"
    )


def parse_grid(data: bytes, name: str, tz: ZoneInfo) -> ParsedFile:
    """Read a grid operator's export (see module docstring)."""
    rows = split_rows(decode_text(data))
    pos, roles = find_header(rows)
    parsed = ParsedFile(name, fmt="grid")
    read_intervals(parsed, rows[pos + 1 :], roles, tz)
    return parsed
