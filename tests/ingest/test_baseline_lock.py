"""The baseline lock: the windows each method reads, and validation holding what falls in them
once a competition has started (``ingest.baseline_lock``, ``ingest.validation``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from ingest.baseline_lock import ALL_SITES, affected_sites, baseline_lock, merged, overlaps
from ingest.routing import Routing
from ingest.store.held import HeldItem
from ingest.validation import process_message
from scoring.baselines.previous_year import previous_year_history_days
from scoring.competition_file import parse_competition
from tests.fixtures import TZ

HEAD = """
[competition]
id = "las"
name = "Låst baslinje"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-31
baseline = {baseline}
"""
SITES = """
[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
  [[site.meter]]
  id = "alfa-main"
  [[site.meter]]
  id = "alfa-annex"
  topic = "shellypro4pm-c8f09e/events/rpc"
  format = "shelly"
  channel = "switch:0"

[[site]]
id = "beta"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 500
{beta}
  [[site.meter]]
  id = "beta-main"
  [[site.meter]]
  id = "beta-pump"
  topic = "shellypro4pm-c8f09e/events/rpc"
  format = "shelly"
  channel = "switch:1"
"""
WEATHER = """
[[weather]]
id = "smhi-soderhamn"

[[weather]]
id = "roof"
topic = "sensors/roof"
"""
PRE_PERIOD = '{ method = "pre-period", weeks = 2 }'


def _ms(day: date, hour: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=TZ).timestamp() * 1000)


def _comp(baseline: str = PRE_PERIOD, beta: str = "", weather: str = ""):
    text = HEAD.format(baseline=baseline) + SITES.format(beta=beta) + weather
    return parse_competition(text, "lock.toml")


FIRST_HOUR_MS = _ms(date(2011, 3, 1))  # local midnight: 2011-02-28 23:00 UTC
PRE_WINDOW = (_ms(date(2011, 2, 15)), FIRST_HOUR_MS)  # the two weeks before the start


def test_a_pre_period_locks_the_weeks_before_the_start_for_every_meter():
    lock = baseline_lock(_comp())
    assert lock.competition == "las"
    assert lock.first_hour_ms == FIRST_HOUR_MS == 1298934000000
    meters = ("alfa-main", "alfa-annex", "beta-main", "beta-pump")
    assert lock.readings == dict.fromkeys(meters, PRE_WINDOW)
    assert lock.bills == {} and lock.temperatures == {}  # no bills, no temperatures read
    assert lock.site_of_meter == dict(zip(meters, ("alfa", "alfa", "beta", "beta"), strict=True))
    assert not lock.locked(FIRST_HOUR_MS - 1) and lock.locked(FIRST_HOUR_MS)


def test_previous_year_locks_the_days_its_competition_days_map_to():
    lock = baseline_lock(_comp('{ method = "previous-year" }'))
    first, last = previous_year_history_days(date(2011, 3, 1), date(2011, 3, 31), "SE")
    assert lock.readings["beta-main"] == (_ms(first), _ms(last + timedelta(days=1)))
    assert first == date(2010, 3, 2)  # Tuesday to Tuesday, 364 days before


def test_stations_are_locked_over_the_windows_of_the_sites_that_read_them():
    # alfa: the competition's regression over the baseline year (default station, the first);
    # beta: billing on its own, over its bill days, with the roof station
    comp = _comp(
        '{ method = "regression" }', 'weather = "roof"\nbaseline_method = "billing"', WEATHER
    )
    lock = baseline_lock(comp)
    year = (_ms(date(2010, 3, 1)), FIRST_HOUR_MS)  # 365 days before the start
    assert lock.readings["alfa-main"] == lock.readings["beta-main"] == year
    assert lock.temperatures["smhi-soderhamn"] == (year,)
    bill_span = lock.bills["beta-main"]
    assert set(lock.bills) == {"beta-main", "beta-pump"}  # only a site scored on bills
    assert bill_span[1] == FIRST_HOUR_MS and bill_span[0] < year[0]
    assert lock.temperatures["roof"] == (bill_span,)  # billing reads its bill days' weather
    assert lock.station_sites == {"smhi-soderhamn": ("alfa",), "roof": ("beta",)}


def test_a_method_without_temperatures_locks_no_station():
    lock = baseline_lock(_comp(PRE_PERIOD, "", WEATHER))
    assert lock.temperatures == {} and lock.station_sites == {}


def test_spans_merge_and_overlap():
    assert merged([(5, 9), (0, 3), (3, 4), (8, 12)]) == ((0, 4), (5, 12))
    assert overlaps([(0, 10)], 9, 20) and not overlaps([(0, 10)], 10, 20)


# -- validation ------------------------------------------------------------------------------

RECEIVED = datetime(2011, 3, 8, 12, tzinfo=UTC)  # a week after the start
TOPIC = "wattleague/las/alfa/alfa-main"


def _rows(*local: datetime, kwh: float = 1000.0) -> list[dict]:
    return [
        {"ts": t.isoformat(), "energy_kwh": kwh + i, "power_w": 10_000} for i, t in enumerate(local)
    ]


def test_readings_for_a_locked_baseline_are_held_in_one_item_per_meter_and_message():
    routing = Routing.from_competitions([_comp()])
    in_window = [datetime(2011, 2, 20, h, 14, tzinfo=TZ) for h in (8, 9)]
    in_period = datetime(2011, 3, 7, 10, tzinfo=TZ)
    payload = orjson.dumps(_rows(*in_window, in_period))
    msg = process_message(TOPIC, payload, RECEIVED, routing)
    assert [r.ts_ms for r in msg.readings] == [int(in_period.timestamp() * 1000)]
    (item,) = msg.held
    ts = [int(t.timestamp() * 1000) for t in in_window]
    assert item == HeldItem(
        competition="las",
        site="alfa",
        meter="alfa-main",
        kind="readings",
        source="mqtt",
        received_ms=int(RECEIVED.timestamp() * 1000),
        first_ts_ms=ts[0],
        last_ts_ms=ts[1],
        payload=[[ts[0], 1000.0, 10_000.0], [ts[1], 1001.0, 10_000.0]],
        what_if={},
        topic=TOPIC,
    )
    assert msg.rejected == []


def test_nothing_is_held_before_the_first_hour_nor_outside_the_window():
    routing = Routing.from_competitions([_comp()])
    history = orjson.dumps(_rows(datetime(2011, 2, 20, 8, tzinfo=TZ)))
    before_start = datetime(2011, 2, 28, 22, 59, 59, tzinfo=UTC)  # 23:59:59 local
    msg = process_message(TOPIC, history, before_start, routing)
    assert len(msg.readings) == 1 and msg.held == []
    at_start = datetime(2011, 2, 28, 23, tzinfo=UTC)
    assert len(process_message(TOPIC, history, at_start, routing).held) == 1
    # the day before the window, and the window's end (the first competition hour): stored
    edges = orjson.dumps(
        _rows(datetime(2011, 2, 14, 23, 59, tzinfo=TZ), datetime(2011, 3, 1, 0, 0, tzinfo=TZ))
    )
    msg = process_message(TOPIC, edges, RECEIVED, routing)
    assert len(msg.readings) == 2 and msg.held == []
    # reprocessing the quarantine after the start applies the lock at that time
    msg = process_message(TOPIC, history, before_start, routing, applied_ms=_ms(date(2011, 3, 5)))
    assert msg.readings == [] and len(msg.held) == 1


def test_channels_and_http_readings_are_held_per_meter():
    routing = Routing.from_competitions([_comp()])

    def notify(ts: datetime) -> bytes:
        switches = {
            f"switch:{i}": {"id": i, "apower": 900.0, "aenergy": {"total": 1000.0 * (i + 1)}}
            for i in (0, 1)
        }
        params = {"ts": ts.timestamp(), **switches}
        return orjson.dumps(
            {"src": "shellypro4pm-c8f09e", "method": "NotifyStatus", "params": params}
        )

    topic = "shellypro4pm-c8f09e/events/rpc"
    msg = process_message(topic, notify(datetime(2011, 2, 24, 9, tzinfo=TZ)), RECEIVED, routing)
    assert msg.readings == [] and msg.rejected == []
    assert [(h.meter, h.site, h.payload[0][1:]) for h in msg.held] == [
        ("alfa-annex", "alfa", [1.0, 900.0]),
        ("beta-pump", "beta", [2.0, 900.0]),
    ]
    msg = process_message(topic, notify(datetime(2011, 3, 8, 9, tzinfo=TZ)), RECEIVED, routing)
    assert [r.meter_id for r in msg.readings] == ["alfa-annex", "beta-pump"] and msg.held == []
    body = orjson.dumps(
        [
            {"meter": "alfa-main", "ts": "2011-02-20T08:00:00+01:00", "energy_kwh": 5.0},
            {"meter": "beta-main", "ts": "2011-02-20T08:00:00+01:00", "energy_kwh": 7.0},
            {"meter": "beta-main", "ts": "2011-02-21T08:00:00+01:00", "energy_kwh": 8.0},
            {"meter": "beta-main", "ts": "2011-03-02T08:00:00+01:00", "energy_kwh": 9.0},
        ]
    )
    msg = process_message("http", body, RECEIVED, routing, source="http:anna", by_topic=False)
    assert [(r.meter_id, r.energy_kwh) for r in msg.readings] == [("beta-main", 9.0)]
    assert [(h.meter, h.site, len(h.payload), h.source) for h in msg.held] == [
        ("alfa-main", "alfa", 1, "http:anna"),
        ("beta-main", "beta", 2, "http:anna"),
    ]


def test_a_stations_temperatures_are_held_once_for_every_site_that_reads_it():
    comp = _comp('{ method = "regression" }', "", WEATHER)
    routing = Routing.from_competitions([comp])
    payload = orjson.dumps(
        [
            {"ts": "2010-12-01T12:00:00+01:00", "temp_c": -3.5},  # in the baseline year
            {"ts": "2011-03-05T12:00:00+01:00", "temp_c": 1.5},  # in the competition
        ]
    )
    msg = process_message("wattleague/las/weather/smhi-soderhamn", payload, RECEIVED, routing)
    assert [t.temp_c for t in msg.temperatures] == [1.5]
    (item,) = msg.held
    assert (item.kind, item.meter, item.site, item.payload[0][1]) == (
        "temperatures",
        "smhi-soderhamn",
        ALL_SITES,
        -3.5,
    )
    assert affected_sites(comp, item) == ["alfa", "beta"]
    # the roof station is no one's: stored whatever its times
    msg = process_message("sensors/roof", payload, RECEIVED, routing)
    assert len(msg.temperatures) == 2 and msg.held == []


@pytest.mark.parametrize("received", [datetime(2011, 2, 27, tzinfo=UTC)])
def test_temperatures_before_the_start_are_stored(received):
    routing = Routing.from_competitions([_comp('{ method = "regression" }', "", WEATHER)])
    payload = orjson.dumps({"ts": "2010-12-01T12:00:00+01:00", "temp_c": -3.5})
    msg = process_message("wattleague/las/weather/smhi-soderhamn", payload, received, routing)
    assert len(msg.temperatures) == 1 and msg.held == []
