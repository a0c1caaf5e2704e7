"""Which meter and payload format a topic belongs to, from the competition file."""

from __future__ import annotations

from dataclasses import dataclass, field

from paho.mqtt.client import topic_matches_sub

from ingest.intervals import MAX_PLAUSIBLE_W
from scoring.competition import Competition


@dataclass(frozen=True, slots=True)
class Route:
    meter_id: str
    format: str
    max_power_w: float  # the meter's max_power_w, else the plausibility limit (10 MW)
    channel: str | None = None  # of a multi-channel device; None takes every channel
    tz: str | None = None  # the competition's time zone, for payloads in local time
    max_payload_bytes: int | None = None  # None: the format's cap


@dataclass(frozen=True)
class Routing:
    """Topic → routes (one per channel), plus every meter by id (for payloads that name their
    meter)."""

    by_topic: dict[str, list[Route]]
    by_meter: dict[str, Route]
    weather_by_topic: dict[str, tuple[str, str]] = field(default_factory=dict)  # (station, fmt)

    @classmethod
    def from_competitions(cls, competitions: list[Competition]) -> Routing:
        by_topic: dict[str, list[Route]] = {}
        by_meter: dict[str, Route] = {}
        weather: dict[str, tuple[str, str]] = {}
        for comp in competitions:
            topics_of = comp.weather_topics()
            for station in comp.weather:
                weather[topics_of[station.id]] = (station.id, station.format)
            topics = comp.topics_by_meter()
            for _, meter in comp.meters().values():
                route = Route(
                    meter.id,
                    meter.format,
                    meter.max_power_w if meter.max_power_w is not None else MAX_PLAUSIBLE_W,
                    meter.channel,
                    comp.competition.timezone,
                    meter.max_payload_bytes,
                )
                routes = by_topic.setdefault(topics[meter.id], [])
                routes[:] = [r for r in routes if r.channel != route.channel]  # last one wins
                routes.append(route)
                by_meter[meter.id] = route
        return cls(by_topic, by_meter, weather)

    def subscriptions(self) -> list[str]:
        """Topic filters the ingest worker subscribes to: the default tree (for payloads that
        name their meter) and every mapped topic outside it.

        The filters must not overlap: a broker delivers a message once per matching
        subscription, so overlapping filters would store and quarantine everything twice.
        """
        default = "wattleague/#"
        topics = set(self.by_topic) | set(self.weather_by_topic)
        others = sorted(t for t in topics if not topic_matches_sub(default, t))
        return [default, *others]
