"""Simulated meters: publish SYNTHETIC register and power readings over MQTT.

Each meter publishes its cumulative register and power at the simulated time in its own
format: the project's JSON, SenML, Tasmota, a HAN/P1 (dsmr) telegram or a Shelly status.
Publishing waits for the broker's acknowledgement of each round, so paho's queue never grows
past its 65,535 message ids (performance-notes.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import paho.mqtt.client as mqtt

from ingest.decoders.dsmr import crc16_arc
from ingest.mqtt_url import BrokerAddress
from wattleague.demo_sites import DemoSite, power_kw, register_kwh

log = logging.getLogger(__name__)


FORMATS = ("json", "auto", "senml", "tasmota", "dsmr", "shelly")  # what ``payload`` can speak
_SWEDISH_STANDARD_TIME = timezone(timedelta(hours=1))  # the HAN port's clock (dsmr decoder)


@dataclass(frozen=True)
class SimulatedMeter:
    meter_id: str
    topic: str
    format: str  # one of FORMATS
    site: DemoSite
    channel: str | None = None  # the Shelly component of a multi-channel device
    tz: ZoneInfo | None = None  # Tasmota's local clock


def payload(meter: SimulatedMeter, ts_s: float, energy_kwh: float, power_w: float) -> bytes:
    """The payload ``meter`` publishes for one reading, in its format."""
    if meter.format == "tasmota":  # local time without an offset, as Tasmota sends it
        local = datetime.fromtimestamp(round(ts_s), UTC).astimezone(meter.tz or UTC)
        return orjson.dumps(
            {
                "Time": local.replace(tzinfo=None).isoformat(timespec="seconds"),
                "ENERGY": {"Total": round(energy_kwh, 3), "Power": round(power_w)},
            }
        )
    if meter.format == "dsmr":
        stamp = datetime.fromtimestamp(round(ts_s), UTC).astimezone(_SWEDISH_STANDARD_TIME)
        body = (
            "\r\n".join(
                [
                    "/ELL5\\253833635_A",
                    "",
                    f"0-0:1.0.0({stamp:%y%m%d%H%M%S}W)",
                    f"1-0:1.8.0({energy_kwh:012.3f}*kWh)",
                    f"1-0:1.7.0({power_w / 1000:08.3f}*kW)",
                ]
            ).encode()
            + b"\r\n!"
        )
        return body + f"{crc16_arc(body):04X}\r\n".encode()
    if meter.format == "shelly":  # an RPC status notification of the meter's component
        component = meter.channel or "switch:0"
        status = {"apower": round(power_w, 1), "aenergy": {"total": round(energy_kwh * 1000, 2)}}
        return orjson.dumps(
            {
                "src": "shellypro-sim",
                "method": "NotifyStatus",
                "params": {"ts": round(ts_s, 2), component: status},
            }
        )
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
        weather: dict[str, str] | None = None,
    ) -> None:
        self.meters, self.tz, self.clock, self.tick_s = meters, tz, clock, tick_s
        self.competition_start_s, self.origin_s = competition_start_s, origin_s
        self.weather = weather or {}  # station id → topic: an outdoor temperature each tick
        self.published = 0
        self.refused = 0  # publications the broker did not acknowledge
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.max_queued_messages_set(10_000)
        broker.configure(self.client)
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
            for topic in self.weather.values():
                temp = outdoor_temp_c(float(ts[0]), self.tz)
                body = orjson.dumps({"ts": round(float(ts[0]), 3), "temp_c": round(temp, 1)})
                infos.append(self.client.publish(topic, body, qos=1))
            acknowledged = 0
            for info in infos:
                try:
                    info.wait_for_publish(timeout=5)
                    acknowledged += 1
                except (RuntimeError, ValueError):
                    log.warning("simulator: broker did not acknowledge a reading")
            self.published += acknowledged
            self.refused += len(infos) - acknowledged


def outdoor_temp_c(ts_s: float, tz: ZoneInfo) -> float:
    """A SYNTHETIC Swedish outdoor temperature [°C]: -4 °C in late January, 16 °C in late
    July, 6 °C warmer at 15:00 than at 03:00 local time."""
    local = datetime.fromtimestamp(ts_s, UTC).astimezone(tz)
    day = local.timetuple().tm_yday
    hour = local.hour + local.minute / 60
    season = 6.0 - 10.0 * np.cos(2 * np.pi * (day - 25) / 365.25)
    return float(season + 3.0 * np.sin(2 * np.pi * (hour - 9) / 24))
