"""Any CSV table with a column mapping: ``ts=Time,kwh=Energy`` or ``start=…,end=…,kwh=…``.

Keys: ``ts`` (or ``start``) and optionally ``end`` for the interval, ``date`` and ``time`` for
split stamps, ``kwh`` (or ``wh``) for energy, ``temp`` for outdoor temperature [°C]. Values
are header names (any case) or 1-based column numbers. Time stamps carry an offset or are local
time in the competition's zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ingest.imports.csv_text import decode_text, split_rows
from ingest.imports.interval_table import Roles, read_intervals
from ingest.imports.rows import ParsedFile, UnreadableFile

KEYS = ("ts", "start", "end", "date", "time", "kwh", "wh", "temp")


def parse_columns_option(text: str) -> dict[str, str]:
    """``ts=Tid,kwh=Förbrukning`` → {"ts": "Tid", "kwh": "Förbrukning"}; ValueError if bad."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip():
            raise ValueError(f"{part!r} is not key=column (e.g. ts=Tid,kwh=Förbrukning)")
        if key not in KEYS:
            raise ValueError(f"unknown key {key!r} in {part!r}; keys: {', '.join(KEYS)}")
        mapping[key] = value.strip()
    if not mapping:
        raise ValueError("empty mapping; e.g. ts=Tid,kwh=Förbrukning")
    return mapping


def column_indexes(
    rows: list[tuple[int, list[str]]], mapping: dict[str, str]
) -> tuple[int, dict[str, int]]:
    """Position of the header line (the first naming every mapped column) and each key's
    column index; numeric columns need no header (position -1 then)."""
    if all(v.isdigit() for v in mapping.values()):
        return -1, {k: int(v) - 1 for k, v in mapping.items()}
    for pos, (_, cells) in enumerate(rows[:60]):
        names = [c.strip().lower() for c in cells]
        found = {}
        for key, value in mapping.items():
            if value.isdigit():
                found[key] = int(value) - 1
            elif value.lower() in names:
                found[key] = names.index(value.lower())
        if len(found) == len(mapping):
            return pos, found
    missing = ", ".join(f"{k}={v!r}" for k, v in mapping.items() if not v.isdigit())
    raise UnreadableFile(f"no header line names the mapped columns ({missing})")


def parse_generic(data: bytes, name: str, tz: ZoneInfo, mapping: dict[str, str]) -> ParsedFile:
    """Interval energy from a CSV table with a column mapping (see module docstring)."""
    rows = split_rows(decode_text(data))
    pos, col = column_indexes(rows, mapping)
    value = col.get("kwh", col.get("wh"))
    if value is None:
        raise UnreadableFile("the mapping names no energy column: add kwh=<column>")
    if not ({"ts", "start", "end", "date"} & col.keys()):
        raise UnreadableFile("the mapping names no time column: add ts=<column>")
    roles = Roles(
        value,
        start=col.get("ts", col.get("start")),
        end=col.get("end"),
        date=col.get("date"),
        time=col.get("time"),
        kwh_per_unit=0.001 if "wh" in col and "kwh" not in col else 1.0,
    )
    parsed = ParsedFile(name, fmt="generic")
    read_intervals(parsed, rows[pos + 1 :], roles, tz)
    return parsed
