"""Which parser reads a file: ``--format auto|grid|generic|json`` and ``--billing``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from ingest.imports.billing import parse_bills
from ingest.imports.generic_csv import parse_columns_option, parse_generic
from ingest.imports.grid_csv import parse_grid
from ingest.imports.json_file import parse_json
from ingest.imports.rows import ParsedFile, UnreadableFile
from ingest.imports.smhi import parse_weather

FORMATS = ("auto", "grid", "generic", "json")


def read_consumption_file(
    data: bytes,
    name: str,
    tz: ZoneInfo,
    meter_id: str,
    fmt: str = "auto",
    columns: str | None = None,
    billing: bool = False,
) -> ParsedFile:
    """Parse one consumption or bills file; UnreadableFile (a ValueError) says why not."""
    if fmt not in FORMATS:
        raise UnreadableFile(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    mapping = _mapping(columns)
    if fmt == "auto":
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        fmt = "json" if head in (b"[", b"{") else ("generic" if mapping else "grid")
    if billing:
        if fmt == "json":
            raise UnreadableFile("bills are read from CSV (start, end, kWh), not JSON")
        return parse_bills(data, name, tz, mapping)
    if fmt == "json":
        return parse_json(data, name, meter_id)
    if fmt == "generic":
        if not mapping:
            raise UnreadableFile("--format generic needs --columns, e.g. ts=Tid,kwh=Förbrukning")
        return parse_generic(data, name, tz, mapping)
    return parse_grid(data, name, tz)


def read_weather_file(
    data: bytes, name: str, tz: ZoneInfo, columns: str | None = None
) -> ParsedFile:
    return parse_weather(data, name, tz, _mapping(columns))


def _mapping(columns: str | None) -> dict[str, str] | None:
    if not columns:
        return None
    try:
        return parse_columns_option(columns)
    except ValueError as exc:
        raise UnreadableFile(f"--columns: {exc}") from None
