"""Both DST changes, 15-minute rows, and overlaps with earlier imports and live readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ingest.imports.consumption import import_consumption
from ingest.imports.grid_csv import parse_grid
from ingest.store.base import Message, StoredReading
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import TZ
from tests.imports.grid_files import grid_csv, local_rows


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "dst.db")
    yield s
    s.close()


def _quarter_hours(day_local: datetime) -> bytes:
    """15-minute rows over one local day, in local wall time; kWh = UTC hour + quarter/10."""
    first = day_local.astimezone(UTC)
    last = (day_local + timedelta(days=1)).astimezone(UTC)
    rows = [
        (a.replace(tzinfo=None), b.replace(tzinfo=None), t.hour + t.minute / 150)
        for a, b, t in local_rows(first, last, timedelta(minutes=15))
    ]
    return grid_csv(rows, header="Från;Till;Förbrukning (kWh)")


@pytest.mark.parametrize(
    ("day", "hours", "change"),
    [
        (datetime(2011, 3, 27, tzinfo=TZ), 23, "spring"),
        (datetime(2011, 10, 30, tzinfo=TZ), 25, "autumn"),
    ],
)
def test_quarter_hours_across_dst_become_exact_utc_hours(store, day, hours, change):
    parsed = parse_grid(_quarter_hours(day), "kvart.csv", TZ)
    assert parsed.rejected == []
    report = import_consumption(store, "m", [parsed])
    assert report["rows"] == hours * 4 and report["resolution"] == "15min"
    assert report["gaps"] == []
    if change == "autumn":
        (note,) = report["dst"]
        assert note["first_occurrence_rows"] == note["second_occurrence_rows"] == 4
    start = day.astimezone(UTC).timestamp()
    h = store.read_hourly(["m"], start, start + hours * 3600)["m"]
    assert h.hour_s.size == hours
    utc_hour = np.array([datetime.fromtimestamp(t, UTC).hour for t in h.hour_s])
    expected = 4 * utc_hour + (0 + 15 + 30 + 45) / 150
    np.testing.assert_allclose(h.reg_kwh, expected, atol=1e-9)
    assert (h.reg_s == 3600).all()


def test_a_row_stamped_in_the_skipped_spring_hour_is_refused(store):
    rows = [(datetime(2011, 3, 27, h), datetime(2011, 3, 27, h + 1), 1.0) for h in range(0, 5)]
    parsed = parse_grid(grid_csv(rows), "vår.csv", TZ)
    assert [(r.line, "does not exist" in r.reason) for r in parsed.rejected] == [(7, True)]
    report = import_consumption(store, "m", [parsed])
    assert report["stored"] == 4
    assert (
        report["gaps"]
        == [{"from_utc": "2011-03-27T01:00:00Z", "to_utc": "2011-03-27T01:00:00Z", "hours": 0.0}]
        or report["gaps"] == []
    )


def test_a_refused_row_leaves_a_gap_not_a_measured_zero(store):
    rows = [(datetime(2010, 3, 2, h), datetime(2010, 3, 2, h + 1), 5.0) for h in range(0, 4)]
    data = grid_csv(rows).decode().replace("5,000", "", 1 + 1).encode()  # second row empty
    data = grid_csv(rows).decode().split("\r\n")
    data[5] = data[5].rsplit(";", 1)[0] + ";"
    parsed = parse_grid("\r\n".join(data).encode(), "hål.csv", TZ)
    assert [r.line for r in parsed.rejected] == [6]
    report = import_consumption(store, "m", [parsed])
    assert len(report["gaps"]) == 1
    start = datetime(2010, 3, 2, tzinfo=TZ).timestamp()
    h = store.read_hourly(["m"], start, start + 4 * 3600)["m"]
    measured = dict(zip(h.hour_s.tolist(), h.reg_s.tolist(), strict=True))
    energy = dict(zip(h.hour_s.tolist(), h.reg_kwh.tolist(), strict=True))
    assert measured.get(start + 3600, 0.0) == 0.0 and energy.get(start + 3600, 0.0) == 0.0
    assert [energy[start + k * 3600] for k in (0, 2, 3)] == [5.0, 5.0, 5.0]


def _hours(first: datetime, n: int, kwh: float) -> list[tuple[datetime, datetime, float]]:
    return [(first + timedelta(hours=k), first + timedelta(hours=k + 1), kwh) for k in range(n)]


def test_overlapping_reimport_stores_nothing_twice(store):
    first = parse_grid(grid_csv(_hours(datetime(2010, 3, 2), 48, 2.0)), "a.csv", TZ)
    second = parse_grid(grid_csv(_hours(datetime(2010, 3, 3), 48, 2.0)), "b.csv", TZ)
    a = import_consumption(store, "m", [first])
    b = import_consumption(store, "m", [second])
    assert (a["stored"], b["stored"], b["duplicates"]) == (48, 24, 24)
    start = datetime(2010, 3, 2, tzinfo=TZ).timestamp()
    h = store.read_hourly(["m"], start, start + 72 * 3600)["m"]
    assert h.reg_kwh.sum() == pytest.approx(72 * 2.0) and (h.reg_s == 3600).all()
    assert store.quarantine_counts() == {}


def _live(store, first_local: datetime, n: int, kw: float) -> None:
    t = first_local.astimezone(UTC)
    readings = [
        StoredReading(
            "m", int((t + timedelta(hours=k)).timestamp() * 1000), 900.0 + k * kw, kw * 1000
        )
        for k in range(n + 1)
    ]
    store.write([Message("live", 0, "mqtt", readings)])


@pytest.mark.parametrize("choice", ["keep-live", "use-import"])
def test_overlap_with_live_readings_is_reported_and_the_operator_chooses(store, choice):
    _live(store, datetime(2010, 3, 2, 12, tzinfo=TZ), 12, 3.0)  # live 12:00-24:00, 3 kWh/h
    parsed = parse_grid(grid_csv(_hours(datetime(2010, 3, 2), 24, 5.0)), "ol.csv", TZ)
    report = import_consumption(store, "m", [parsed], on_overlap=choice)
    overlap = report["overlap"]
    assert (
        overlap["choice"] == choice and overlap["stored_readings"] == 12
    )  # the one at the end joins
    start = datetime(2010, 3, 2, tzinfo=TZ).timestamp()
    h = store.read_hourly(["m"], start, start + 24 * 3600)["m"]
    energy = dict(zip(h.hour_s.tolist(), h.reg_kwh.tolist(), strict=True))
    morning = [energy[start + k * 3600] for k in range(11)]
    afternoon = [energy[start + k * 3600] for k in range(12, 24)]
    assert morning == pytest.approx([5.0] * 11)
    if choice == "keep-live":
        assert afternoon == pytest.approx([3.0] * 12)
        assert overlap["rows_skipped"] == 13
    else:
        assert afternoon == pytest.approx([5.0] * 12)
        assert overlap["readings_deleted"] == 13  # its join reading too
    assert store.quarantine_counts() == {}


def _quarters(first: datetime, n: int, kwh: float) -> list[tuple[datetime, datetime, float]]:
    step = timedelta(minutes=15)
    return [(first + k * step, first + (k + 1) * step, kwh) for k in range(n)]


@pytest.mark.parametrize("choice", ["keep-live", "use-import"])
def test_finer_file_over_stored_hours_never_halves_them(store, choice):
    """15-minute rows over hours stored by an earlier hourly import (other rounding, so not
    duplicates): with keep-live the stored hours stay whole, with use-import the file's
    quarters replace them; either way every hour is fully measured, nothing in between."""
    hourly = parse_grid(grid_csv(_hours(datetime(2010, 3, 2), 6, 4.0)), "h.csv", TZ)
    import_consumption(store, "m", [hourly])
    quarters = parse_grid(grid_csv(_quarters(datetime(2010, 3, 2), 24, 1.001)), "q.csv", TZ)
    report = import_consumption(store, "m", [quarters], on_overlap=choice)
    assert report["overlap"] is not None
    start = datetime(2010, 3, 2, tzinfo=TZ).timestamp()
    h = store.read_hourly(["m"], start, start + 6 * 3600)["m"]
    assert (h.reg_s == 3600).all()
    expected = 4.0 if choice == "keep-live" else 4.004
    assert h.reg_kwh == pytest.approx([expected] * 6)
    if choice == "keep-live":
        assert report["overlap"]["rows_skipped"] == 24 and report["stored"] == 0


def test_hour_numbers_1_to_24_mark_hour_ends_across_the_spring_change():
    """'Datum;Timme' with hours 1..24 (hour ending, as some operators write them): hour 1 is
    00:00-01:00; on the spring day hour 3 is missing and hour 2 (01:00-02:00) is valid."""
    lines = ["Mätpunkt;735999100000777777", "Datum;Timme;Förbrukning"]
    for day in ("2010-03-27", "2010-03-28"):
        lines += [f"{day};{h};2,5" for h in range(1, 25) if (day, h) != ("2010-03-28", 3)]
    parsed = parse_grid(("\r\n".join(lines) + "\r\n").encode("cp1252"), "eon.csv", TZ)
    assert parsed.rejected == []
    starts = [r.start_s for r in parsed.intervals]
    assert starts[0] == datetime(2010, 3, 27, tzinfo=TZ).timestamp()
    assert parsed.intervals[-1].end_s == datetime(2010, 3, 29, tzinfo=TZ).timestamp()
    assert len(parsed.intervals) == 24 + 23
    assert all(r.end_s - r.start_s == 3600 for r in parsed.intervals)


def _export(lines: list[str], encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def test_period_column_of_days_months_and_ranges():
    """'Period;Förbrukning (kWh)' as portals write it: a date per day, a month, or a range."""
    days = parse_grid(
        _export(
            [
                "Anläggnings-id;735999100000999999;;",
                "Period;Förbrukning (kWh);;",
                "2010-10-30;1\u00a0234,50;;",
                "2010-10-31;1\u00a0300,00;;",
            ]
        ),
        "days.csv",
        TZ,
    )
    assert days.rejected == []
    assert [(r.start_s, r.end_s, r.energy_kwh) for r in days.intervals] == [
        (
            datetime(2010, 10, 30, tzinfo=TZ).timestamp(),
            datetime(2010, 10, 31, tzinfo=TZ).timestamp(),
            1234.5,
        ),
        (
            datetime(2010, 10, 31, tzinfo=TZ).timestamp(),
            datetime(2010, 11, 1, tzinfo=TZ).timestamp(),
            1300.0,
        ),
    ]
    months = parse_grid(
        _export(["Period;Förbrukning (kWh)", "2010-01;31 100", "2010-02;30 200"], "cp1252"),
        "months.csv",
        TZ,
    )
    assert months.rejected == []
    assert [(r.start_s, r.end_s) for r in months.intervals] == [
        (datetime(2010, 1, 1, tzinfo=TZ).timestamp(), datetime(2010, 2, 1, tzinfo=TZ).timestamp()),
        (datetime(2010, 2, 1, tzinfo=TZ).timestamp(), datetime(2010, 3, 1, tzinfo=TZ).timestamp()),
    ]
    ranges = parse_grid(
        _export(
            [
                '"Period";"Förbrukning (kWh)";"Status"',
                '"2010-01-01 - 2010-01-31";"31 100";"Uppmätt"',
                '"2010-10-31 01:00 - 2010-10-31 02:00";"40,5";"Uppmätt"',
            ]
        ),
        "ranges.csv",
        TZ,
    )
    assert ranges.rejected == []
    jan, hour = ranges.intervals
    assert (jan.start_s, jan.end_s) == (
        datetime(2010, 1, 1, tzinfo=TZ).timestamp(),
        datetime(2010, 2, 1, tzinfo=TZ).timestamp(),
    )
    assert hour.end_s - hour.start_s == 3600 and hour.energy_kwh == 40.5
