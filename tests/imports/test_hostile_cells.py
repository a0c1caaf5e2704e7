"""Uploaded files are as hostile as meters: a cell crafted for the patterns that read periods
and header names costs its own line, not minutes of the server's time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from ingest.imports.csv_text import UnreadableFile
from ingest.imports.grid_csv import parse_grid

TZ = ZoneInfo("Europe/Stockholm")


def test_a_period_cell_of_spaces_is_refused_on_its_own_line():
    flood = "2010-01-01" + " " * 100_000 + "x"
    data = (
        "Period;Förbrukning (kWh)\n"
        "2010-01-01 00:00 - 2010-01-01 01:00;1,5\n"
        f"{flood};2,0\n"
        "2010-01-01 01:00 - 2010-01-01 02:00;1,5\n"
    ).encode()
    parsed = parse_grid(data, "flood.csv", TZ)
    assert len(parsed.intervals) == 2
    ((line, reason),) = [(r.line, r.reason) for r in parsed.rejected]
    assert line == 3 and "100,011 characters" in reason


def test_a_cell_over_the_csv_field_limit_says_where():
    data = ("Period;Förbrukning (kWh)\n" + "x" * 200_000 + ";1\n").encode()
    with pytest.raises(UnreadableFile, match="line 2: field larger than field limit"):
        parse_grid(data, "huge.csv", TZ)


def test_a_header_cell_of_open_brackets_is_read_in_bounded_time():
    header = "(" * 100_000 + "Period;Förbrukning (kWh)"
    data = f"{header}\n2010-01-01 00:00 - 2010-01-01 01:00;1,5\n".encode()
    try:
        parsed = parse_grid(data, "brackets.csv", TZ)
    except ValueError as exc:  # no header found is an answer too, as long as it comes
        assert "header" in str(exc).lower() or "column" in str(exc).lower()
    else:
        assert len(parsed.intervals) <= 1
