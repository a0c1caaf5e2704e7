"""Which meter and payload format a topic belongs to, from the competition file."""

from __future__ import annotations

from dataclasses import dataclass, field

from paho.mqtt.client import topic_matches_sub

from ingest.baseline_lock import NEVER_MS, BaselineLock, baseline_lock
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
    # the baseline lock (ingest.baseline_lock): a reading received at or after lock_from_ms
    # whose time is in [lock_start_ms, lock_end_ms) would change the site's locked baseline
    competition: str = ""
    site: str = ""
    lock_from_ms: int = NEVER_MS
    lock_start_ms: int = 0
    lock_end_ms: int = 0

    def lock_span(self, at_ms: int) -> tuple[int, int]:
        """The span [Unix ms) whose readings are held when received at ``at_ms``; (0, 0),
        which holds none, before the competition's first hour."""
        if at_ms >= self.lock_from_ms:
            return self.lock_start_ms, self.lock_end_ms
        return 0, 0


@dataclass(frozen=True)
class Routing:
    """Topic → routes (one per channel), plus every meter by id (for payloads that name their
    meter), weather topics, and each competition's baseline lock (by competition id)."""

    by_topic: dict[str, list[Route]]
    by_meter: dict[str, Route]
    weather_by_topic: dict[str, tuple[str, str]] = field(default_factory=dict)  # (station, fmt)
    locks: dict[str, BaselineLock] = field(default_factory=dict)

    @classmethod
    def from_competitions(cls, competitions: list[Competition]) -> Routing:
        by_topic: dict[str, list[Route]] = {}
        by_meter: dict[str, Route] = {}
        weather: dict[str, tuple[str, str]] = {}
        locks: dict[str, BaselineLock] = {}
        for comp in competitions:
            lock = locks[comp.id] = baseline_lock(comp)
            topics_of = comp.weather_topics()
            for station in comp.weather:
                weather[topics_of[station.id]] = (station.id, station.format)
            topics = comp.topics_by_meter()
            for site, meter in comp.meters().values():
                lock_start, lock_end = lock.readings.get(meter.id, (0, 0))
                route = Route(
                    meter.id,
                    meter.format,
                    meter.max_power_w if meter.max_power_w is not None else MAX_PLAUSIBLE_W,
                    meter.channel,
                    comp.competition.timezone,
                    meter.max_payload_bytes,
                    competition=comp.id,
                    site=site.id,
                    lock_from_ms=lock.first_hour_ms,
                    lock_start_ms=lock_start,
                    lock_end_ms=lock_end,
                )
                routes = by_topic.setdefault(topics[meter.id], [])
                routes[:] = [r for r in routes if r.channel != route.channel]  # last one wins
                routes.append(route)
                by_meter[meter.id] = route
        return cls(by_topic, by_meter, weather, locks)

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
