"""Imports into a locked baseline (``ingest.imports.baseline_change``): held without an accepted
change, applied with one and audited; bills of a site scored on bills; temperatures of a
regression's station; never held before the start; and ``apply_held``, idempotent."""

from __future__ import annotations

import getpass
from datetime import date, datetime, timedelta

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

from ingest.baseline_lock import ALL_SITES, affected_sites, baseline_lock
from ingest.imports.baseline_change import AcceptedChange, apply_held
from ingest.imports.billing import parse_bills
from ingest.imports.consumption import import_consumption
from ingest.imports.formats import read_consumption_file, read_weather_file
from ingest.imports.weather import import_weather
from ingest.routing import Routing
from ingest.store import open_store
from ingest.store.base import Message, StoredReading
from ingest.validation import process_message
from scoring.competition_file import parse_competition
from tests.fixtures import TZ
from tests.imports.grid_files import hourly_export, smhi_csv
from wattleague.cli import main

TOML = """
[competition]
id = "lock"
name = "Locked baselines"
timezone = "Europe/Stockholm"
start = {start}
end = {end}
baseline = {baseline}

[[weather]]
id = "smhi-soderhamn"

[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "alfa-main"

[[site]]
id = "beta"
municipality = "Bollnäs kommun"
name = "Bollnäs kommunhus"
area_m2 = 800
baseline_method = "billing"
  [[site.meter]]
  id = "beta-main"
"""
PRE_PERIOD = '{ method = "pre-period", weeks = 2 }'
START = date(2011, 3, 1)
AT_MS = int(datetime(2011, 3, 8, 12, tzinfo=TZ).timestamp() * 1000)  # a week after the start
BEFORE_MS = int(datetime(2011, 2, 28, 23, 59, tzinfo=TZ).timestamp() * 1000)
ACCEPTED = AcceptedChange(who="anna", reason="the grid operator's corrected file")


def _comp(start: date = START, baseline: str = PRE_PERIOD):
    text = TOML.format(start=start, end=start + timedelta(days=30), baseline=baseline)
    return parse_competition(text, "lock.toml")


def _local(d: date, hour: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=TZ)


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def _hours(meter: str, first: datetime, last: datetime, kw: float = 10.0):
    return [read_consumption_file(hourly_export(first, last, kw), "export.csv", TZ, meter)]


def _count(store, meter: str, first: datetime, last: datetime) -> int:
    series = store.read_series([meter], first.timestamp(), last.timestamp())
    return series[meter].ts_s.size if meter in series else 0


# -- consumption ---------------------------------------------------------------------------


def test_consumption_in_a_locked_window_is_held_and_the_period_stored(store):
    lock = baseline_lock(_comp())
    # from a week before the start (in the two-week window) to two days after it
    first, last = _local(date(2011, 2, 22)), _local(date(2011, 3, 3))
    report = import_consumption(
        store, "alfa-main", _hours("alfa-main", first, last), lock=lock, at_ms=AT_MS
    )
    start = _local(START)
    assert _count(store, "alfa-main", first, start) == 0  # nothing in the window
    assert _count(store, "alfa-main", start, last + timedelta(hours=1)) == 49  # 2 days' bounds
    (held,) = report["held"]
    assert (held["kind"], held["site"], held["subject"], held["rows"]) == (
        "import",
        "alfa",
        "alfa-main",
        7 * 24,
    )
    assert (
        held["first_utc"] == "2011-02-21T23:00:00Z" and held["last_utc"] == "2011-02-28T22:00:00Z"
    )
    (item,) = store.organiser.list_held("lock")
    assert item.id == held["ids"][0] and item.kind == "import" and item.source == "import"
    assert item.received_ms == AT_MS and item.topic == "import:export.csv"
    assert report["new"] == 9 * 24 and report["held_rows"] == 7 * 24
    assert report["stored"] == 2 * 24 and report["baseline_change"] is None
    # the same file again: the period is stored, the held data not held twice
    again = import_consumption(
        store, "alfa-main", _hours("alfa-main", first, last), lock=lock, at_ms=AT_MS
    )
    assert again["stored"] == 0 and again["duplicates"] == 2 * 24
    assert [h.id for h in store.organiser.list_held("lock")] == [item.id]

    # accepting the held item later: its readings go in, once however often it is applied
    applied = apply_held(store, item)
    assert applied.inserted == 7 * 24 and applied.duplicates == 0
    assert apply_held(store, item).inserted == 0
    assert _count(store, "alfa-main", first, start) == 7 * 24
    hours = store.read_hourly(["alfa-main"], first.timestamp(), start.timestamp())["alfa-main"]
    assert hours.reg_kwh.sum() == pytest.approx(7 * 24 * 10.0)


def test_an_accepted_change_is_applied_at_once_and_audited(store):
    lock = baseline_lock(_comp())
    stored_first = _local(date(2011, 2, 20))
    import_consumption(  # history imported before the start: never held
        store,
        "alfa-main",
        _hours("alfa-main", stored_first, _local(date(2011, 2, 21))),
        lock=lock,
        at_ms=BEFORE_MS,
    )
    assert store.organiser.list_held("lock") == [] and store.count_readings() == 25
    first, last = _local(date(2011, 2, 21)), _local(date(2011, 2, 23))
    report = import_consumption(
        store,
        "alfa-main",
        _hours("alfa-main", first, last),
        lock=lock,
        accepted=ACCEPTED,
        at_ms=AT_MS,
    )
    assert report["held"] == [] and report["stored"] == 48
    assert store.organiser.list_held("lock", status=None) == []
    (applied,) = report["baseline_change"]["applied"]
    (entry,) = store.organiser.list_audit("lock")
    assert applied["audit_id"] == entry.id
    assert (entry.who, entry.action, entry.subject, entry.reason, entry.ts_ms) == (
        "anna",
        "import",
        "alfa-main",
        "the grid operator's corrected file",
        AT_MS,
    )
    window = {  # the two weeks before the start
        "window_from_utc": "2011-02-14T23:00:00Z",
        "window_until_utc": "2011-02-28T23:00:00Z",
    }
    assert entry.before == {"kind": "import", "stored": 25, **window}  # the earlier import's
    rows = {"rows": 48, "first_utc": "2011-02-21T00:00:00Z", "last_utc": "2011-02-22T23:00:00Z"}
    assert entry.after == {"kind": "import", "stored": 25 + 48, **window, **rows}


def test_use_import_deletes_no_live_reading_of_a_locked_window_without_acceptance(store):
    lock = baseline_lock(_comp())
    live = [
        StoredReading(
            "alfa-main",
            int(_local(date(2011, 2, 22), h).timestamp() * 1000) + 60_000,
            100.0 + h,
            None,
        )
        for h in range(3)
    ]
    store.write([Message("live", BEFORE_MS, "mqtt", live)])
    files = _hours("alfa-main", _local(date(2011, 2, 22)), _local(date(2011, 2, 23)))
    report = import_consumption(
        store, "alfa-main", files, on_overlap="use-import", lock=lock, at_ms=AT_MS
    )
    assert report["overlap"]["rows_skipped_locked"] > 0
    assert "readings_deleted" in report["overlap"] and report["overlap"]["readings_deleted"] == 0
    series = store.read_series(["alfa-main"], 0, 2e9)["alfa-main"]
    assert {round(t * 1000) for t in series.ts_s.tolist()} >= {r.ts_ms for r in live}


def test_json_registers_in_a_locked_window_are_held_unless_stored_already(store, tmp_path):
    lock = baseline_lock(_comp())
    ts = [int(_local(date(2011, 2, 25), h).timestamp()) for h in range(4)]
    stored = StoredReading("alfa-main", ts[0] * 1000, 500.0, None)
    store.write([Message("history", BEFORE_MS, "mqtt", [stored])])
    rows = [{"meter": "alfa-main", "ts": t, "energy_kwh": 500.0 + i} for i, t in enumerate(ts)]
    parsed = read_consumption_file(orjson.dumps(rows), "r.json", TZ, "alfa-main", "json")
    report = import_consumption(store, "alfa-main", [parsed], lock=lock, at_ms=AT_MS)
    (held,) = report["held"]
    assert held["rows"] == 3  # the first is the stored reading again: it changes nothing
    assert report["duplicates"] == 1 and report["held_rows"] == 3 and report["stored"] == 0


# -- bills ---------------------------------------------------------------------------------


BILLS = "Från;Till;kWh\n" + "".join(
    f"2010-{m:02d}-01;2010-{m:02d}-28;{20000 + m}\n" for m in (10, 11, 12)
)


def test_bills_of_a_site_scored_on_bills_are_held_and_of_others_applied(store):
    lock = baseline_lock(_comp())
    bills = [parse_bills(BILLS.encode(), "bills.csv", TZ)]
    report = import_consumption(store, "beta-main", bills, billing=True, lock=lock, at_ms=AT_MS)
    (held,) = report["held"]
    assert (held["kind"], held["site"], held["rows"]) == ("bills", "beta", 3)
    assert store.read_bills(["beta-main"]) == {}
    (item,) = store.organiser.list_held("lock")
    assert [row[2] for row in item.payload] == [20010.0, 20011.0, 20012.0]
    # alfa is scored by the pre-period: its bills are read by no baseline
    other = import_consumption(store, "alfa-main", bills, billing=True, lock=lock, at_ms=AT_MS)
    assert other["held"] == [] and other["stored"] == 3
    # accepted: written once however often applied (the same period replaces itself)
    assert apply_held(store, item).inserted == 3
    assert (apply_held(store, item).inserted, apply_held(store, item).duplicates) == (0, 3)
    assert store.read_bills(["beta-main"])["beta-main"][:, 2].tolist() == [
        20010.0,
        20011.0,
        20012.0,
    ]


def test_bills_with_an_accepted_change_are_written_and_audited(store):
    lock = baseline_lock(_comp())
    bills = [parse_bills(BILLS.encode(), "bills.csv", TZ)]
    report = import_consumption(
        store, "beta-main", bills, billing=True, lock=lock, accepted=ACCEPTED, at_ms=AT_MS
    )
    assert report["held"] == [] and report["stored"] == 3
    (entry,) = store.organiser.list_audit("lock")
    assert entry.before["kind"] == "bills" and (entry.before["stored"], entry.after["stored"]) == (
        0,
        3,
    )


# -- weather --------------------------------------------------------------------------------


def _temp_c(t: datetime) -> float:
    return -5.0 + (t.hour % 6)


def test_temperatures_of_a_regressions_station_are_held_once_for_its_sites(store):
    comp = _comp(baseline='{ method = "regression" }')
    lock = baseline_lock(comp)
    first = datetime(2010, 12, 1, 0, tzinfo=TZ)
    files = [read_weather_file(smhi_csv(first, 48, _temp_c), "smhi.csv", TZ)]
    report = import_weather(store, "smhi-soderhamn", files, lock=lock, at_ms=AT_MS)
    (held,) = report["held"]
    assert (held["kind"], held["site"], held["subject"], held["rows"]) == (
        "temperatures",
        ALL_SITES,
        "smhi-soderhamn",
        48,
    )
    assert report["stored"] == 0 and report["held_rows"] == 48
    assert store.read_temperatures(["smhi-soderhamn"], 0, 2e9) == {}
    (item,) = store.organiser.list_held("lock")
    assert item.site == ALL_SITES and item.meter == "smhi-soderhamn"
    assert apply_held(store, item).inserted == 48
    assert (apply_held(store, item).inserted, apply_held(store, item).duplicates) == (0, 48)
    ts, _ = store.read_temperatures(["smhi-soderhamn"], 0, 2e9)["smhi-soderhamn"]
    assert ts.size == 48
    # with an accepted change: replaced values are written at once and audited
    warmer = [read_weather_file(smhi_csv(first, 48, lambda t: _temp_c(t) + 1), "smhi.csv", TZ)]
    report = import_weather(
        store, "smhi-soderhamn", warmer, lock=lock, accepted=ACCEPTED, at_ms=AT_MS
    )
    assert report["stored"] == 48 and report["held"] == []
    (entry,) = store.organiser.list_audit("lock")
    assert (entry.subject, entry.before["stored"], entry.after["stored"]) == (
        "smhi-soderhamn",
        48,
        48,
    )
    # which sites it would change: alfa's regression, and beta's bills, regressed on them
    assert affected_sites(comp, item) == ["alfa", "beta"]
    # with a pre-period, only the billing site reads the station: its bill days are held
    pre = _comp()
    assert affected_sites(pre, item) == ["beta"]
    summer = [read_weather_file(smhi_csv(datetime(2010, 7, 1, tzinfo=TZ), 24, _temp_c), "s", TZ)]
    assert import_weather(store, "smhi-soderhamn", summer, lock=baseline_lock(pre), at_ms=AT_MS)[
        "held"
    ]


# -- applying what ingest held ----------------------------------------------------------------


def test_readings_held_by_ingest_are_applied_once(store):
    routing = Routing.from_competitions([_comp()])
    rows = [
        {"ts": _local(date(2011, 2, 24), h).isoformat(), "energy_kwh": 700.0 + 10 * h}
        for h in range(5)
    ]
    received = datetime.fromtimestamp(AT_MS / 1000, TZ)
    msg = process_message("wattleague/lock/alfa/alfa-main", orjson.dumps(rows), received, routing)
    assert store.write([msg]).held == 1
    (item,) = store.organiser.list_held("lock")
    first = apply_held(store, item)
    assert (first.inserted, first.duplicates) == (5, 0)
    second = apply_held(store, item)
    assert (second.inserted, second.duplicates) == (0, 5)
    assert store.count_readings() == 5
    hours = store.read_hourly(["alfa-main"], 0, 2e9)["alfa-main"]
    assert hours.reg_kwh.sum() == pytest.approx(40.0)


# -- the command line ------------------------------------------------------------------------


def test_the_cli_holds_and_says_how_to_accept_then_applies_with_the_flag(tmp_path):
    today = datetime.now(TZ).date()
    start = today - timedelta(days=7)  # the competition started a week ago
    config = tmp_path / "lock.toml"
    config.write_text(TOML.format(start=start, end=start + timedelta(days=30), baseline=PRE_PERIOD))
    path = tmp_path / "export.csv"
    path.write_bytes(
        hourly_export(_local(start - timedelta(days=3)), _local(start - timedelta(days=1)), 10.0)
    )
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = [
        "import",
        "consumption",
        "--config",
        str(config),
        "--meter",
        "alfa-main",
        "--store",
        url,
    ]
    held = CliRunner().invoke(main, [*args, str(path)])
    assert held.exit_code == 0, held.output
    assert "stored 0 new, held 48, 0 duplicates" in held.output
    assert "held: 49 readings of alfa-main from" in held.output
    assert "--accept-baseline-change" in held.output and "organiser page" in held.output
    empty = CliRunner().invoke(main, [*args, "--accept-baseline-change", " ", str(path)])
    assert empty.exit_code == 2 and "reason the audit log keeps" in empty.output
    accepted = CliRunner().invoke(
        main, [*args, "--accept-baseline-change", "meter swapped in January", str(path)]
    )
    assert accepted.exit_code == 0, accepted.output
    assert "stored 48 new" in accepted.output
    assert "applied to the locked baseline window: 49 readings of alfa-main" in accepted.output
    store = open_store(url)
    try:
        (entry,) = store.organiser.list_audit("lock")
        assert entry.who == f"cli:{getpass.getuser()}" and entry.action == "import"
        assert entry.reason == "meter swapped in January"
        assert (entry.before["stored"], entry.after["stored"]) == (0, 49)
        assert len(store.organiser.list_held("lock")) == 1  # the first run's, still pending
    finally:
        store.close()


def test_the_cli_weather_import_holds_a_regressions_temperatures(tmp_path):
    start = datetime.now(TZ).date() - timedelta(days=7)
    config = tmp_path / "lock.toml"
    config.write_text(
        TOML.format(
            start=start, end=start + timedelta(days=30), baseline='{ method = "regression" }'
        )
    )
    path = tmp_path / "smhi.csv"
    first = datetime(start.year, start.month, start.day, tzinfo=TZ) - timedelta(days=20)
    path.write_bytes(smhi_csv(first, 24, _temp_c))
    url = f"sqlite:///{tmp_path / 'wx.db'}"
    args = ["import", "weather", "--config", str(config), "--store", url, str(path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "held: 24 temperatures of smhi-soderhamn" in result.output
    dry = CliRunner().invoke(main, [*args[:-1], "--dry-run", str(path)])
    assert "would hold: 24 temperatures" in dry.output


def test_nothing_is_held_before_the_competition_starts(store):
    lock = baseline_lock(_comp())
    files = _hours("alfa-main", _local(date(2011, 2, 20)), _local(date(2011, 2, 27)))
    report = import_consumption(store, "alfa-main", files, lock=lock, at_ms=BEFORE_MS)
    assert report["held"] == [] and report["stored"] == 7 * 24 and report["locked"] is False
    assert np.isfinite(store.read_series(["alfa-main"], 0, 2e9)["alfa-main"].energy_kwh).all()
