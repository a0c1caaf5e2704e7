"""Text of exported CSV files: encodings, separators, Swedish numbers and date formats."""

from __future__ import annotations

import csv
import re
from datetime import datetime

from ingest.imports.rows import UnreadableFile

_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%Y%m%d")
_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H.%M", "%H")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark), else Windows-1252 (Excel's Swedish CSV)."""
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def split_rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank line, separator sniffed: ``;``, tab or ``,``."""
    lines = text.splitlines()
    sample = [ln for ln in lines[:200] if ln.strip()]
    if not sample:
        raise UnreadableFile("the file is empty")
    counts = {sep: sum(ln.count(sep) for ln in sample) for sep in (";", "\t", ",")}
    sep = ";" if counts[";"] else ("\t" if counts["\t"] else ",")
    out = []
    reader = csv.reader(lines, delimiter=sep)
    try:
        for number, cells in enumerate(reader, start=1):
            cells = [c.strip().strip("\ufeff") for c in cells]
            if any(cells):
                out.append((number, cells))
    except csv.Error as exc:  # e.g. a cell over the csv module's 128 KiB field limit
        raise UnreadableFile(f"line {reader.line_num}: {exc}") from None
    return out


def parse_number(text: str) -> float:
    """A number written the Swedish way or the English way: ``1 234,5``, ``1.234,5``, ``1234.5``.

    Raises ValueError saying what was found.
    """
    s = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    s = s.replace("\u2212", "-")
    if not s:
        raise ValueError("no value")
    if "," in s and "." in s:  # the later one is the decimal separator
        s = (
            s.replace(".", "").replace(",", ".")
            if s.rfind(",") > s.rfind(".")
            else s.replace(",", "")
        )
    elif s.count(",") == 1:
        s = s.replace(",", ".")
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text.strip()!r} is not a finite number")
    return value


def parse_local(text: str) -> datetime:
    """A date, or date and time, as written in exports; naive unless it carries an offset.

    ``2011-03-27 02:00``, ``2011-03-27T02:00:00``, ``27.03.2011 02:00``, ``2011-03-27``,
    ``2011-03-27T02:00:00+01:00``, ``…Z``. A time ``24:00`` is midnight of the next day.
    """
    s = text.strip()
    if not s:
        raise ValueError("no time stamp")
    iso = s.replace(" ", "T", 1) if re.match(r"^\d{4}-\d\d-\d\d \d", s) else s
    if iso.endswith("Z"):
        iso = iso[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    date_part, _, time_part = s.partition(" ")
    day = parse_date(date_part)
    return day if not time_part else combine(day, time_part)


def parse_date(text: str) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(f"{text.strip()!r} is not a date (expected e.g. 2011-03-01)")


def combine(day: datetime, time_text: str) -> datetime:
    """A date and a clock time (``02:00``, ``02``, ``02:00:00``; ``24:00`` is next midnight)."""
    t = time_text.strip()
    if re.fullmatch(r"24(:00){0,2}", t):
        return day.replace(hour=0, minute=0) + _ONE_DAY
    for fmt in _TIME_FORMATS:
        try:
            clock = datetime.strptime(t, fmt)
            return day.replace(hour=clock.hour, minute=clock.minute, second=clock.second)
        except ValueError:
            continue
    raise ValueError(f"{t!r} is not a clock time (expected e.g. 02:00)")


_ONE_DAY = datetime(2000, 1, 2) - datetime(2000, 1, 1)
