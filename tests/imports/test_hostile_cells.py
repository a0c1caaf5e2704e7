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


def test_implausible_energy_in_an_upload_never_reaches_the_store(tmp_path):
    """1e308 kWh in an hour (or an infinite register) is refused on its line, as ingest
    refuses it: nothing the store sums can become inf."""
    import sqlite3

    from click.testing import CliRunner

    from tests.fixtures import COMPETITION_TOML
    from wattleague.cli import main

    config = tmp_path / "liten.toml"
    config.write_text(COMPETITION_TOML)
    grid = tmp_path / "big.csv"
    grid.write_text(
        "Period;Förbrukning (kWh)\n"
        "2010-01-01 00:00 - 2010-01-01 01:00;1e308\n"
        "2010-01-01 01:00 - 2010-01-01 02:00;20000\n"
        "2010-01-01 02:00 - 2010-01-01 03:00;1,5\n"
    )
    registers = tmp_path / "registers.json"
    registers.write_text(
        '[{"ts": "2010-02-01T00:00:00+01:00", "energy_kwh": 1e13},'
        ' {"ts": "2010-02-01T01:00:00+01:00", "energy_kwh": 10.0, "power_w": 1e9}]'
    )
    store = f"sqlite:///{tmp_path}/s.db"
    out = []
    for path in (grid, registers):
        result = CliRunner().invoke(
            main,
            [
                "import",
                "consumption",
                "--config",
                str(config),
                "--meter",
                "alfa-main",
                "--store",
                store,
                str(path),
            ],
        )
        out.append(result.output)
    assert "big.csv:2: 1e+308 kWh in 1 h is more than 10 MW" in out[0]
    assert "big.csv:3: 20000 kWh in 1 h is more than 10 MW" in out[0]
    assert "register 1e+13 kWh is outside" in out[1]
    assert "power 1e+09 W is outside" in out[1]
    with sqlite3.connect(tmp_path / "s.db") as conn:
        values = [v for r in conn.execute("SELECT energy_kwh, power_w FROM readings") for v in r]
        values += [
            v for r in conn.execute("SELECT reg_kwh, reg_s, pow_kwh, pow_s FROM hourly") for v in r
        ]
    assert values and all(v is None or abs(v) < 1e12 for v in values), values
