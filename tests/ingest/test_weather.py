"""Weather stations: outdoor temperatures over MQTT for regression baselines."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.routing import Routing
from ingest.store.sqlite import SQLiteStore
from ingest.validation import process_message
from scoring.competition_file import ConfigError, parse_competition

BASE = """
[competition]
id = "c"
name = "C"
start = 2011-03-01
end = 2011-05-31

[[weather]]
id = "smhi-soderhamn"
name = "Söderhamn A"

[[weather]]
id = "roof"
topic = "sensors/roof/senml"
format = "senml"

[[site]]
id = "s"
municipality = "S kommun"
name = "S kommunhus"
area_m2 = 100
weather = "roof"
  [[site.meter]]
  id = "s-main"
"""
NOW = datetime(2011, 3, 2, 12, tzinfo=UTC)


@pytest.fixture
def comp():
    return parse_competition(BASE)


def test_stations_and_their_topics(comp):
    assert comp.weather_topics() == {
        "smhi-soderhamn": "wattleague/c/weather/smhi-soderhamn",
        "roof": "sensors/roof/senml",
    }
    assert comp.station_for(comp.sites[0]) == "roof"
    assert Routing.from_competitions([comp]).subscriptions() == [
        "wattleague/#",
        "sensors/roof/senml",
    ]


def test_a_site_must_name_a_defined_station():
    with pytest.raises(ConfigError, match="weather station 'nowhere'"):
        parse_competition(BASE.replace('weather = "roof"', 'weather = "nowhere"'))


def test_temperatures_are_stored_and_read_back(comp, tmp_path):
    routing = Routing.from_competitions([comp])
    json_msg = process_message(
        "wattleague/c/weather/smhi-soderhamn",
        orjson.dumps(
            [
                {"ts": "2011-03-02T12:00:00+01:00", "temp_c": -3.5},
                {"ts": "2011-03-02T13:00:00+01:00", "temp_c": 99},
            ]
        ),
        NOW,
        routing,
    )
    senml_msg = process_message(
        "sensors/roof/senml",
        orjson.dumps([{"bn": "roof:", "bt": 1299060000, "n": "t", "u": "K", "v": 270.15}]),
        NOW,
        routing,
    )
    assert [q.reason for q in json_msg.rejected] == ["implausible_temperature"]
    store = SQLiteStore(tmp_path / "w.db")
    store.write([json_msg, senml_msg])
    temps = store.read_temperatures(["smhi-soderhamn", "roof"], 0, 2e9)
    # 12:00+01:00 is 11:00 UTC; 270.15 K is -3.0 °C
    assert temps["smhi-soderhamn"][0].tolist() == [datetime(2011, 3, 2, 11, tzinfo=UTC).timestamp()]
    assert temps["smhi-soderhamn"][1].tolist() == [-3.5]
    assert temps["roof"][1].tolist() == pytest.approx([-3.0])
    assert store.count_readings() == 0
    store.close()


def test_weather_payload_without_temperature_is_quarantined(comp):
    msg = process_message(
        "wattleague/c/weather/smhi-soderhamn",
        orjson.dumps({"ts": 1299067200, "humidity": 80}),
        NOW,
        Routing.from_competitions([comp]),
    )
    assert msg.rejected[0].reason == "no_value" and not msg.temperatures
