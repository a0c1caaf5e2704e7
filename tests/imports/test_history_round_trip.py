"""Imported history scores exactly like metered history (SQLite and a real InfluxDB)."""

from __future__ import annotations

from datetime import datetime

from api.scoreboard import Scoreboard
from ingest.imports.consumption import import_consumption
from ingest.imports.grid_csv import parse_grid
from ingest.store import open_store
from ingest.store.base import Message
from tests.fixtures import LOADS_KW, NOW, TZ, competition, hourly_readings, seed
from tests.imports.grid_files import hourly_export

HISTORY = (datetime(2010, 3, 2, tzinfo=TZ), datetime(2010, 3, 31, tzinfo=TZ))


def _competition_only(store) -> None:
    for meter_id, (_, comp_kw) in LOADS_KW.items():
        readings = hourly_readings(
            meter_id, datetime(2011, 3, 1, tzinfo=TZ), NOW, comp_kw, register_kwh=50_000.0
        )
        store.write([Message("seed", 0, "test", readings)])


def _board(store) -> list[tuple]:
    lb = Scoreboard(competition(), store, clock=NOW.timestamp).leaderboard()
    return [
        (e["site"], e["rank"], e["baseline_kwh"], e["reduction_pct"], e["completeness"])
        for e in lb["entries"]
    ]


def test_previous_year_board_from_an_import_equals_one_from_readings(store_url, tmp_path):
    metered = open_store(f"sqlite:///{tmp_path}/metered.db")
    seed(metered)
    imported = open_store(store_url)
    try:
        for meter_id, (base_kw, _) in LOADS_KW.items():
            data = hourly_export(*HISTORY, base_kw)  # crosses the spring change of 2010-03-28
            parsed = parse_grid(data, f"{meter_id}.csv", TZ)
            assert parsed.rejected == []
            report = import_consumption(imported, meter_id, [parsed])
            assert report["rows"] == 29 * 24 - 1  # the spring day has 23 hours
            assert report["stored"] == report["rows"] and report["gaps"] == []
            assert report["overlap"] is None
        _competition_only(imported)  # live readings after the history, as in a real season
        assert _board(imported) == _board(metered)
        assert all(e[2] is not None for e in _board(imported))
    finally:
        metered.close()
        imported.close()
