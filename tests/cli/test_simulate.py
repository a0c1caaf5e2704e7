"""`wattleague simulate`: every meter of a competition file publishes in its own format, through
a real Mosquitto into the real ingest worker, and nothing is quarantined."""

from __future__ import annotations

import subprocess
import sys

from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.services import wait_until

COMPETITION = """
[competition]
id = "sim"
name = "Simulerad tävling"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-05-31
baseline = { method = "previous-year" }

[[weather]]
id = "sundsvall"

[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 4200
  [[site.meter]]
  id = "alfa-json"
  [[site.meter]]
  id = "alfa-senml"
  format = "senml"
  [[site.meter]]
  id = "alfa-tasmota"
  format = "tasmota"
  topic = "tele/alfa/SENSOR"

[[site]]
id = "beta"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 2000
  [[site.meter]]
  id = "beta-han"
  format = "dsmr"
  topic = "han/beta"
  [[site.meter]]
  id = "beta-shelly"
  format = "shelly"
  topic = "shellypro/events/rpc"
  [[site.meter]]
  id = "beta-emon"
  format = "emon"
  topic = "emon/beta/power"
"""

SIMULATED = ["alfa-json", "alfa-senml", "alfa-tasmota", "beta-han", "beta-shelly"]


def test_every_meter_publishes_in_its_format_and_is_ingested(mosquitto, tmp_path):
    config = tmp_path / "sim.toml"
    config.write_text(COMPETITION, encoding="utf-8")
    store = SQLiteStore(tmp_path / "sim.db")
    worker = IngestWorker(
        parse_mqtt_url(mosquitto.url),
        store,
        Routing.from_competitions([parse_competition(COMPETITION, "sim.toml")]),
        client_id="simulate-test",
    )
    worker.start()
    try:
        assert worker.connected.wait(10)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "wattleague",
                "simulate",
                "--config",
                str(config),
                "--mqtt",
                mosquitto.url,
                "--interval-s",
                "60",
                "--speed",
                "60",
                "--duration",
                "4",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "beta-emon (emon)" in result.stderr  # said, not silently dropped
        summary = result.stdout.strip().splitlines()[-1]
        assert '"meters":5' in summary and '"refused":0' in summary
        published = int(summary.split('"published":')[1].split(",")[0])
        assert published >= 6 * 2  # five meters and the weather station, at least twice
        wait_until(lambda: worker.stats["messages"] >= published, timeout_s=30)
    finally:
        worker.stop()
    try:
        assert store.quarantine_counts() == {}
        states = store.meter_states()
        assert sorted(states) == SIMULATED
        now_s = max(s.last_ts_s for s in states.values())
        series = {m: store.read_series([m], now_s - 3600, now_s + 1) for m in SIMULATED}
        for meter, by_meter in series.items():
            assert by_meter[meter].ts_s.size >= 2, meter
        temps = store.read_temperatures(["sundsvall"], now_s - 3600, now_s + 1)
        ts, values = temps["sundsvall"]
        assert ts.size >= 2 and all(-30 < v < 40 for v in values.tolist())
    finally:
        store.close()


def test_bad_options_are_clear_errors(tmp_path):
    config = tmp_path / "sim.toml"
    config.write_text(COMPETITION, encoding="utf-8")
    for args, message in (
        (["--speed", "0"], "--speed"),
        (["--speed", "60"], "into the future"),
        (["--start", "2011-03-01"], "with an offset"),
        (["--mqtt", "http://x"], "mqtt://"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "wattleague", "simulate", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr
