"""Outdoor temperature files: SMHI open data CSV, or any CSV with ``ts=…,temp=…``.

SMHI's download (opendata.smhi.se, parameter 1 "Lufttemperatur, momentanvärde 1 gång/tim")
starts with blocks of station metadata, then the header
``Datum;Tid (UTC);Lufttemperatur;Kvalitet;;Tidsutsnitt:`` and one row per hour; times are UTC
and the first rows carry notes in their last columns. Quality codes G (checked) and Y
(suspect or aggregated) are both kept.
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from ingest.imports.csv_text import (
    combine,
    decode_text,
    parse_date,
    parse_local,
    parse_number,
    split_rows,
)
from ingest.imports.generic_csv import column_indexes
from ingest.imports.local_time import LocalClock, NonexistentTime
from ingest.imports.rows import ParsedFile, TemperatureRow, UnreadableFile

MIN_TEMP_C, MAX_TEMP_C = -60.0, 50.0  # beyond Swedish records: a unit or typing error


def _plausible(temp_c: float) -> None:
    if not MIN_TEMP_C <= temp_c <= MAX_TEMP_C:
        raise ValueError(
            f"{temp_c:g} °C is outside {MIN_TEMP_C:g}..{MAX_TEMP_C:g} °C (°F or K? give °C)"
        )


def is_smhi(rows: list[tuple[int, list[str]]]) -> bool:
    return _smhi_header(rows) is not None


def _smhi_header(rows: list[tuple[int, list[str]]]) -> int | None:
    for pos, (_, cells) in enumerate(rows[:80]):
        if len(cells) >= 3 and cells[0].lower() == "datum" and "utc" in cells[1].lower():
            return pos
    return None


def parse_weather(
    data: bytes, name: str, tz: ZoneInfo, mapping: dict[str, str] | None = None
) -> ParsedFile:
    """Temperatures of an SMHI file, or of a CSV with a ``ts``/``temp`` column mapping."""
    rows = split_rows(decode_text(data))
    parsed = ParsedFile(name)
    header = _smhi_header(rows) if mapping is None else None
    if header is not None:
        parsed.fmt = "smhi"
        for line, cells in rows[header + 1 :]:
            try:
                if len(cells) < 3:
                    raise ValueError("expected Datum;Tid (UTC);Lufttemperatur")
                ts = combine(parse_date(cells[0]), cells[1]).replace(tzinfo=UTC).timestamp()
                temp = parse_number(cells[2])
                _plausible(temp)
            except ValueError as exc:
                parsed.reject(line, str(exc))
                continue
            parsed.temperatures.append(TemperatureRow(line, ts, temp))
        return parsed
    if mapping is None:
        mapping = {"ts": "", "temp": ""}
        for _, cells in rows[:60]:
            low = [c.lower() for c in cells]
            ts = next(
                (
                    c
                    for c, lc in zip(cells, low, strict=True)
                    if lc in ("ts", "timestamp", "tid", "tidpunkt", "time", "datum")
                ),
                None,
            )
            temp = next((c for c, lc in zip(cells, low, strict=True) if "temp" in lc), None)
            if ts and temp:
                mapping = {"ts": ts, "temp": temp}
                break
        else:
            raise UnreadableFile(
                "not an SMHI file (no 'Datum;Tid (UTC);Lufttemperatur' header) and no "
                "timestamp/temperature header: give --columns ts=<column>,temp=<column>"
            )
    if "temp" not in mapping or "ts" not in mapping:
        raise UnreadableFile("the mapping needs ts=<column> and temp=<column>")
    pos, col = column_indexes(rows, mapping)
    parsed.fmt = "generic"
    clock = LocalClock(tz)
    for line, cells in rows[pos + 1 :]:
        try:
            ts = clock.to_utc_s(parse_local(cells[col["ts"]] if col["ts"] < len(cells) else ""))
            temp = parse_number(cells[col["temp"]] if col["temp"] < len(cells) else "")
            _plausible(temp)
        except (NonexistentTime, ValueError) as exc:
            parsed.reject(line, str(exc))
            continue
        parsed.temperatures.append(TemperatureRow(line, ts, temp))
    parsed.dst.extend(clock.notes())
    return parsed
