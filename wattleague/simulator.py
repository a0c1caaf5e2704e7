"""Simulated meters: publish SYNTHETIC register and power readings over MQTT.

Each meter publishes its cumulative register and power at the simulated time in its own
format (the project's JSON or SenML). Publishing waits for the broker's acknowledgement of
each round, so paho's queue never grows past its 65,535 message ids (performance-notes.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import paho.mqtt.client as mqtt

from ingest.mqtt_url import BrokerAddress
from wattleague.demo_sites import DemoSite, power_kw, register_kwh

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulatedMeter:
    meter_id: str
    topic: str
    format: str  # "json" or "senml"
    site: DemoSite


def payload(meter: SimulatedMeter, ts_s: float, energy_kwh: float, power_w: float) -> bytes:
    """The payload ``meter`` publishes for one reading, in its format."""
    if meter.format == "senml":
        return orjson.dumps(
            [
                {
                    "bn": f"{meter.meter_id}:",
                    "bt": round(ts_s, 3),
                    "n": "energy",
                    "u": "kWh",
                    "v": round(energy_kwh, 4),
                },
                {"n": "power", "u": "W", "v": round(power_w, 1)},
            ]
        )
    return orjson.dumps(
        {"ts": round(ts_s, 3), "energy_kwh": round(energy_kwh, 4), "power_w": round(power_w, 1)}
    )


class MeterSimulator:
    """Publishes every meter's reading once per ``tick_s`` real seconds at ``clock()`` time."""

    def __init__(
        self,
        broker: BrokerAddress,
        meters: list[SimulatedMeter],
        tz: ZoneInfo,
        competition_start_s: float,
        origin_s: float,
        clock: Callable[[], float],
        tick_s: float = 1.0,
        client_id: str = "wattleague-simulator",
    ) -> None:
        self.meters, self.tz, self.clock, self.tick_s = meters, tz, clock, tick_s
        self.competition_start_s, self.origin_s = competition_start_s, origin_s
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.max_queued_messages_set(10_000)
        self._broker = broker

    def start(self) -> None:
        self.client.connect(self._broker.host, self._broker.port, keepalive=30)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            ts = np.array([self.clock()])
            infos = []
            for m in self.meters:
                energy = float(
                    register_kwh(m.site, ts, self.tz, self.competition_start_s, self.origin_s)[0]
                )
                power = float(power_kw(m.site, ts, self.tz, self.competition_start_s)[0]) * 1000
                infos.append(
                    self.client.publish(m.topic, payload(m, float(ts[0]), energy, power), qos=1)
                )
            for info in infos:
                try:
                    info.wait_for_publish(timeout=5)
                except (RuntimeError, ValueError):
                    log.warning("simulator: broker did not acknowledge a reading")
            self.published += len(infos)
