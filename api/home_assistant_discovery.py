"""What Home Assistant is told about each site: discovery configs, topics and states.

Pure functions of the competition and its scoreboard snapshot (``api.home_assistant`` does the
MQTT). Every site is one Home Assistant device with one sensor per entry of ``SENSORS``:

- config: ``<prefix>/sensor/wattleague_<cid>/<sensor>_<sid>/config`` (retained JSON). The
  sensor keys are prefix-free (no key followed by ``_`` starts another), so ``<sensor>_<sid>``
  names one sensor of one site even though ids may hold ``_``.
- state: ``wattleague-ha/<cid>/<sid>/state`` (retained JSON, one object for the site's sensors;
  a figure that is not known is left out of it). Not under ``wattleague/``: the ingest worker
  reads that tree as meter data.
- availability: ``wattleague-ha/<cid>/availability``, ``online`` / ``offline`` (retained; the
  MQTT last will of the publisher says ``offline``). A sensor is available when serve is and
  its figure is in the site's state (``availability_mode: all``), so Home Assistant shows
  "unavailable" rather than a stale or invented number.

``unique_id``\\s (``wattleague.<cid>.<sid>.<sensor>``) and device identifiers
(``wattleague.<cid>.<sid>``) use ``.``, which ids cannot hold: they never collide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from api.scoreboard import STALE_AFTER_S, Snapshot
from ingest.mqtt_url import BrokerAddress
from scoring.competition import Competition, Site

STATE_ROOT = "wattleague-ha"
ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class HomeAssistantLink:
    """Where ``serve`` publishes Home Assistant discovery, and the address people reach it at
    (``public_url``, e.g. ``https://watt.example.se``; None: devices get no link)."""

    broker: BrokerAddress
    public_url: str | None = None


@dataclass(frozen=True)
class Sensor:
    """One Home Assistant sensor of every site; ``key`` names it in topics, ids and the state."""

    key: str
    name: str
    unit: str | None
    device_class: str | None
    state_class: str
    precision: int
    icon: str


SENSORS: tuple[Sensor, ...] = (
    Sensor("power_kw", "Power now", "kW", "power", "measurement", 2, "mdi:flash"),
    Sensor("saved_kwh", "Energy saved", "kWh", "energy", "total", 1, "mdi:leaf"),
    Sensor("reduction_pct", "Reduction", "%", None, "measurement", 2, "mdi:trending-down"),
    Sensor("rank_reduction", "Rank, reduction league", None, None, "measurement", 0, "mdi:podium"),
    Sensor("rank_kwh_per_m2", "Rank, kWh/m² league", None, None, "measurement", 0, "mdi:podium"),
)


def node_id(cid: str) -> str:
    return f"wattleague_{cid}"


def config_topic(prefix: str, cid: str, sid: str, sensor: Sensor) -> str:
    return f"{prefix}/sensor/{node_id(cid)}/{sensor.key}_{sid}/config"


def config_filter(prefix: str, cid: str) -> str:
    """Topic filter matching every config this competition may have published under ``prefix``."""
    return f"{prefix}/sensor/{node_id(cid)}/+/config"


def availability_topic(cid: str) -> str:
    return f"{STATE_ROOT}/{cid}/availability"


def state_topic(cid: str, sid: str) -> str:
    return f"{STATE_ROOT}/{cid}/{sid}/state"


def index_topic(cid: str) -> str:
    """Retained list of the config topics last published (to clear them after a change of
    ``discovery_prefix``)."""
    return f"{STATE_ROOT}/{cid}/published"


def parse_public_url(url: str) -> str:
    """``url`` (``http(s)://host[:port][/path]``) without a trailing ``/``; a ValueError
    saying what is accepted otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(
            f"public URL {url!r} must be http(s)://host[:port][/path] without a query, e.g. "
            "https://watt.example.se"
        )
    return url.rstrip("/")


def site_url(public_url: str | None, cid: str, sid: str) -> str | None:
    return f"{public_url.rstrip('/')}/sites/{cid}/{sid}" if public_url else None


def discovery_configs(
    comp: Competition, prefix: str, version: str, public_url: str | None = None
) -> dict[str, dict]:
    """Config topic → discovery payload, for every sensor of every site of ``comp``."""
    cid = comp.id
    origin = {"name": "Watt League", "sw_version": version}
    if public_url:
        origin["support_url"] = public_url
    out = {}
    for site in comp.sites:
        device = _device(comp, site, version, public_url)
        for sensor in SENSORS:
            out[config_topic(prefix, cid, site.id, sensor)] = _config(
                cid, site.id, sensor, device, origin
            )
    return out


def _device(comp: Competition, site: Site, version: str, public_url: str | None) -> dict:
    device = {
        "identifiers": [f"wattleague.{comp.id}.{site.id}"],
        "name": site.name,
        "manufacturer": "Watt League",
        "model": comp.competition.name,
        "sw_version": version,
    }
    url = site_url(public_url, comp.id, site.id)
    if url:
        device["configuration_url"] = url
    return device


def _config(cid: str, sid: str, sensor: Sensor, device: dict, origin: dict) -> dict:
    state = state_topic(cid, sid)
    value = f"value_json.{sensor.key}"
    config = {
        "name": sensor.name,
        "unique_id": f"wattleague.{cid}.{sid}.{sensor.key}",
        "state_topic": state,
        # a figure left out of the state (unknown) renders "None": Home Assistant's "unknown"
        "value_template": f"{{{{ {value} | default(none) }}}}",
        "availability": [
            {"topic": availability_topic(cid)},
            {
                "topic": state,
                "value_template": (f"{{{{ '{ONLINE}' if {value} is defined else '{OFFLINE}' }}}}"),
            },
        ],
        "availability_mode": "all",
        "state_class": sensor.state_class,
        "suggested_display_precision": sensor.precision,
        "icon": sensor.icon,
        "device": device,
        "origin": origin,
    }
    if sensor.unit is not None:
        config["unit_of_measurement"] = sensor.unit
    if sensor.device_class is not None:
        config["device_class"] = sensor.device_class
    return config


def site_states(comp: Competition, snap: Snapshot) -> dict[str, dict]:
    """State topic → the site's figures; a figure that is not known (no reading, no baseline,
    not ranked, a silent meter's power) is left out."""
    m = snap.metrics
    out = {}
    for i, site in enumerate(comp.sites):
        silent = (
            np.isnan(snap.last_reading_s[i])
            or snap.as_of_s - snap.last_reading_s[i] > STALE_AFTER_S
        )
        figures = {
            "power_kw": None if silent else _finite(snap.live_power_w[i] / 1000.0, 2),
            "saved_kwh": _finite(m.saved_kwh[i], 1),
            "reduction_pct": _finite(m.reduction_pct[i], 2),
            "rank_reduction": _rank(snap.rank_reduction[i]),
            "rank_kwh_per_m2": _rank(snap.rank_intensity[i]),
        }
        out[state_topic(comp.id, site.id)] = {k: v for k, v in figures.items() if v is not None}
    return out


def _finite(value: float, digits: int) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _rank(rank: int) -> int | None:
    """1-based rank, None when not ranked (0: ineligible or no score)."""
    return int(rank) if rank > 0 else None
