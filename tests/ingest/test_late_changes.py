"""Late changes (``ingest.late_changes``): readings stored for a day that had ended more than
48 hours before they arrived, found on both stores."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from ingest.late_changes import LateDay, late_changes
from ingest.store.base import Message, StoredReading
from tests.fixtures import TZ

FIRST_HOUR_MS = int(datetime(2011, 3, 1, tzinfo=TZ).timestamp() * 1000)
NOW_MS = int(datetime(2011, 3, 12, 12, tzinfo=TZ).timestamp() * 1000)


def _ms(day: date, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).timestamp() * 1000)


def _write(store, meter: str, day: date, hours: range, received_ms: int, kwh: float) -> None:
    readings = [StoredReading(meter, _ms(day, h), kwh + h, 5000.0) for h in hours]
    store.write([Message(f"t/{meter}", received_ms, "mqtt", readings)])


def test_a_change_three_days_after_its_day_is_flagged_and_one_day_after_is_not(any_store):
    day, other = date(2011, 3, 2), date(2011, 3, 6)
    # on time: the day's readings as they happen
    _write(any_store, "alfa-main", day, range(0, 8), _ms(day, 8), 100.0)
    _write(any_store, "alfa-main", other, range(0, 8), _ms(other, 8), 300.0)
    # a gateway's buffer: the rest of each day, three days / one day after it ended
    three_days_after = _ms(day + timedelta(days=4), 0, 1)
    _write(any_store, "alfa-main", day, range(8, 24), three_days_after, 108.0)
    _write(any_store, "alfa-main", other, range(8, 24), _ms(other + timedelta(days=2)), 308.0)
    # another meter, on time; and one outside the question
    _write(any_store, "beta-main", day, range(0, 24), _ms(day, 23, 30), 1.0)
    _write(any_store, "gamma-main", day, range(0, 3), three_days_after, 1.0)

    found = late_changes(any_store, ["alfa-main", "beta-main"], FIRST_HOUR_MS, NOW_MS, TZ)
    assert found == {
        "alfa-main": [
            LateDay(
                meter="alfa-main",
                day_local=day,
                readings=16,
                first_ts_ms=_ms(day, 8),
                last_ts_ms=_ms(day, 23),
                first_received_ms=three_days_after,
                last_received_ms=three_days_after,
                register_kwh=pytest.approx(15.0),
            )
        ]
    }
    # a day that ended less than 48 hours before now cannot have late changes yet
    assert late_changes(any_store, ["alfa-main"], FIRST_HOUR_MS, _ms(day, 0) + 86_400_000, TZ) == {}
    # from a later day on, nothing
    assert late_changes(any_store, ["alfa-main"], _ms(date(2011, 3, 3)), NOW_MS, TZ) == {}


def test_no_meters_or_no_days_ask_nothing(any_store):
    assert late_changes(any_store, [], FIRST_HOUR_MS, NOW_MS, TZ) == {}
    assert late_changes(any_store, ["alfa-main"], NOW_MS, NOW_MS, TZ) == {}
