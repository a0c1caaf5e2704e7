"""From one received message to readings to store and rejections to quarantine.

Every message ends up stored or quarantined with a reason (``reason`` codes are stable; the
README lists them). A bad reading does not take its valid neighbours down with it.

Every value that is stored is finite and plausible, so no sum built from it can become inf or
NaN: power at most the meter's ``max_power_w`` (10 MW by default, ``MAX_PLAUSIBLE_W``), a
register at most ``MAX_REGISTER_KWH``. What one message costs the quarantine is bounded too:
details are cut at ``MAX_DETAIL_CHARS``, and past ``MAX_REJECTED_PER_MESSAGE`` entries the
further rejected readings of a message are counted in one entry per reason.

Several meters may share the topic of a multi-channel device, each with its ``channel``: a
reading goes to the meter of its channel, else to the topic's meter without a channel (which
takes every channel); readings of other channels are skipped silently, unless no reading of
the message belongs to any meter (``unknown_channel``).

A valid reading (or temperature) that would change a locked baseline is held instead of stored
(``ingest.baseline_lock``): it goes into ``Message.held``, one item per meter (per weather
station) of the message, which the store keeps in the transaction of the message's readings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.baseline_lock import ALL_SITES, held_items, in_spans, station_locks
from ingest.decoders import decode
from ingest.decoders.bounds import shown
from ingest.decoders.weather import decode_temperature
from ingest.intervals import MAX_PLAUSIBLE_W
from ingest.readings import DecodeError, Reading
from ingest.routing import Route, Routing
from ingest.store.base import Message, Rejected, StoredReading, StoredTemperature

# A register with more than 12 digits of kWh is no meter's (the largest have 9) and would lose
# the Wh resolution of a float: refused like a negative one.
MAX_REGISTER_KWH = 1e12
MAX_DETAIL_CHARS = 2000  # details echo payload values
MAX_REJECTED_PER_MESSAGE = 100  # entries of their own; the rest are counted per reason


@dataclass(frozen=True)
class Limits:
    """Plausibility limits for readings."""

    max_future_s: float = 300.0
    max_age_s: float = 400 * 86400.0


def process_message(
    topic: str,
    payload: bytes,
    received_utc: datetime,
    routing: Routing,
    limits: Limits = Limits(),
    source: str = "mqtt",
    by_topic: bool = True,
    max_payload_bytes: int | None = None,
    applied_ms: int | None = None,
) -> Message:
    """Decode and validate one message into readings, held data and rejections (see module
    docstring).

    ``by_topic=False`` is for channels without topics (HTTP): the project's JSON, every reading
    naming its meter. ``max_payload_bytes`` [bytes] replaces the format's cap there (an HTTP
    body has its own limit); a meter's own cap comes from its route. ``applied_ms`` [Unix ms]
    is when the data would be applied, which decides whether a baseline is locked: by default
    the receive time; reprocessing the quarantine passes the time it reprocesses.
    """
    received_ms = int(received_utc.timestamp() * 1000)
    applied_ms = received_ms if applied_ms is None else applied_ms
    payload = bytes(payload)
    msg = Message(topic, received_ms, source, payload=payload)
    folded: Counter[str] = Counter()  # rejections past MAX_REJECTED_PER_MESSAGE, by reason
    first_folded: dict[str, str] = {}

    def reject(reason: str, detail: str) -> None:
        if len(msg.rejected) >= MAX_REJECTED_PER_MESSAGE:
            folded[reason] += 1
            first_folded.setdefault(reason, detail)
            return
        if len(detail) > MAX_DETAIL_CHARS:
            detail = f"{detail[:MAX_DETAIL_CHARS]}… (detail of {len(detail):,} chars cut)"
        msg.rejected.append(Rejected(reason, detail, topic, payload, received_ms, source))

    if by_topic and topic in routing.weather_by_topic:
        _weather(msg, topic, payload, received_utc, routing, limits, reject, applied_ms)
    else:
        _meter_readings(
            msg,
            topic,
            payload,
            received_utc,
            routing,
            limits,
            by_topic,
            max_payload_bytes,
            reject,
            applied_ms,
        )
    for reason, n in folded.items():
        detail = (
            f"{n:,} more readings of this message rejected as {reason} (each message keeps at "
            f"most {MAX_REJECTED_PER_MESSAGE} entries of its own); the first: "
            f"{first_folded[reason][:MAX_DETAIL_CHARS]}"
        )
        msg.rejected.append(Rejected(reason, detail, topic, payload, received_ms, source))
    return msg


def _meter_readings(
    msg: Message,
    topic: str,
    payload: bytes,
    received_utc: datetime,
    routing: Routing,
    limits: Limits,
    by_topic: bool,
    max_payload_bytes: int | None,
    reject,
    applied_ms: int,
) -> None:
    """The readings of a meter topic's message, stored in ``msg``, held or rejected."""
    routes = routing.by_topic.get(topic, []) if by_topic else []
    route = routes[0] if routes else None  # meters sharing a topic share its format and zone
    fmt = route.format if route else "json"
    tz = ZoneInfo(route.tz) if route and route.tz else None
    cap = route.max_payload_bytes if route else max_payload_bytes
    try:
        readings = decode(fmt, payload, topic, received_utc, tz=tz, max_payload_bytes=cap)
    except DecodeError as exc:
        reason = exc.reason if route or not by_topic else "unknown_topic"
        detail = (
            str(exc)
            if route or not by_topic
            else (
                f"topic {topic!r} is not mapped to any meter in the competition file, and the "
                f"payload does not decode as the project's JSON naming its meter: {exc}"
            )
        )
        reject(reason, detail)
        return
    claimed = 0
    window = (
        received_utc - timedelta(seconds=limits.max_age_s),
        received_utc + timedelta(seconds=limits.max_future_s),
    )
    route_of_channel: dict[str | None, tuple[Route | None, int, int]] = {}
    # one meter on the topic without a channel takes every reading: no lookup per reading
    only = routes[0] if len(routes) == 1 and routes[0].channel is None else None
    # the span of the route's locked baseline (ingest.baseline_lock): (0, 0) holds nothing
    lock_lo, lock_hi = route.lock_span(applied_ms) if only is not None else (0, 0)
    held: dict[Route, list[list]] = {}  # route → its readings held, as held rows
    earliest, latest = window
    append, new_stored = msg.readings.append, tuple.__new__  # StoredReading(...) costs 3x
    for i, reading in enumerate(readings):
        meter_id, ts, e, p, channel = reading
        if only is not None:
            claimed += 1
        elif routes:
            if channel not in route_of_channel:
                found = _route_for_channel(routes, channel)
                span = found.lock_span(applied_ms) if found is not None else (0, 0)
                route_of_channel[channel] = (found, *span)
            route, lock_lo, lock_hi = route_of_channel[channel]
            if route is None:
                continue  # another channel of the device: another meter's, or nobody's
            claimed += 1
        if (
            route is not None
            and meter_id is None  # the common case, checked inline
            and (e is None or 0 <= e <= MAX_REGISTER_KWH)
            and (p is None or 0 <= p <= route.max_power_w)
            and earliest <= ts <= latest
        ):
            ts_ms = int(ts.timestamp() * 1000)
            if ts_ms < lock_hi and ts_ms >= lock_lo:  # live readings: one comparison
                held.setdefault(route, []).append([ts_ms, e, p])
                continue
            append(new_stored(StoredReading, (route.meter_id, ts_ms, e, p)))
            continue
        problem = _check(reading, route, routing, received_utc, limits, topic, by_topic, window)
        if problem:
            where = f"reading[{i}]" if len(readings) > 1 else "reading"
            if reading.channel is not None:
                where += f" (channel {reading.channel})"
            reject(problem[0], f"{where}: {problem[1]}")
            continue
        meter = _meter_for(reading, route, routing)
        ts_ms = int(reading.ts_utc.timestamp() * 1000)
        lo, hi = meter.lock_span(applied_ms)
        if lo <= ts_ms < hi:
            held.setdefault(meter, []).append([ts_ms, reading.energy_kwh, reading.power_w])
            continue
        msg.readings.append(
            StoredReading(meter.meter_id, ts_ms, reading.energy_kwh, reading.power_w)
        )
    for meter, rows in held.items():
        msg.held += held_items(
            routing.locks[meter.competition],
            meter.site,
            meter.meter_id,
            "readings",
            rows,
            source=msg.source,
            received_ms=msg.received_ms,
            topic=topic,
        )
    if routes and readings and not claimed:
        found = ", ".join(sorted({repr(r.channel) for r in readings}))
        wanted = ", ".join(sorted({repr(r.channel) for r in routes}))
        reject(
            "unknown_channel",
            f"no reading of a channel mapped on topic {topic!r}: the payload has channel(s) "
            f"{found}, the competition file maps {wanted}",
        )
    return msg


def _route_for_channel(routes: list[Route], channel: str | None) -> Route | None:
    """The route of ``channel``: the meter with that channel, else the topic's meter without
    a channel (which takes every channel), else None."""
    exact = next((r for r in routes if r.channel is not None and r.channel == channel), None)
    return exact or next((r for r in routes if r.channel is None), None)


def _meter_for(reading: Reading, route: Route | None, routing: Routing) -> Route:
    return route if route is not None else routing.by_meter[reading.meter_id]


def _check(
    reading: Reading,
    route: Route | None,
    routing: Routing,
    received_utc: datetime,
    limits: Limits,
    topic: str,
    by_topic: bool = True,
    window: tuple[datetime, datetime] | None = None,
) -> tuple[str, str] | None:
    """The (reason, detail) that rejects ``reading``, or None when it is acceptable."""
    if route is None:
        if reading.meter_id is None and not by_topic:
            return "missing_meter", 'the reading does not name its meter: add "meter": "<id>"'
        if reading.meter_id is None:
            return "unknown_topic", (
                f"topic {topic!r} is not mapped to a meter and the reading names none; map the "
                'topic in [[site.meter]] or add "meter" to the payload'
            )
        if reading.meter_id not in routing.by_meter:
            return (
                "unknown_meter",
                f"meter {shown(reading.meter_id)} is not in the competition file",
            )
    elif reading.meter_id not in (None, route.meter_id):
        return "meter_mismatch", (
            f"the payload names meter {shown(reading.meter_id)} but topic {topic!r} belongs to "
            f"meter {route.meter_id!r}"
        )
    for name, value in (("energy_kwh", reading.energy_kwh), ("power_w", reading.power_w)):
        if value is not None and value < 0:
            return "negative_value", f"{name} = {value} is negative"
    meter = _meter_for(reading, route, routing)
    if reading.power_w is not None and reading.power_w > meter.max_power_w:
        limit = (
            f"max_power_w = {meter.max_power_w} of meter {meter.meter_id!r}"
            if meter.max_power_w != MAX_PLAUSIBLE_W
            else f"{MAX_PLAUSIBLE_W / 1e6:g} MW, the limit for a meter without max_power_w"
        )
        return "power_above_max", f"power_w = {reading.power_w} exceeds {limit}"
    if reading.energy_kwh is not None and reading.energy_kwh > MAX_REGISTER_KWH:
        return "implausible_register", (
            f"energy_kwh = {reading.energy_kwh:g} is above {MAX_REGISTER_KWH:g} kWh: no meter "
            "register holds that much"
        )
    earliest, latest = window or (
        received_utc - timedelta(seconds=limits.max_age_s),
        received_utc + timedelta(seconds=limits.max_future_s),
    )
    if reading.ts_utc > latest:
        return "future_timestamp", (
            f"ts {reading.ts_utc.isoformat()} is more than {limits.max_future_s:g} s after "
            f"the receive time {received_utc.isoformat()}"
        )
    if reading.ts_utc < earliest:
        return "too_old", (
            f"ts {reading.ts_utc.isoformat()} is more than {limits.max_age_s / 86400:g} days "
            "before the receive time"
        )
    return None


PLAUSIBLE_TEMP_C = (-60.0, 60.0)


def _weather(
    msg: Message,
    topic: str,
    payload: bytes,
    received_utc: datetime,
    routing: Routing,
    limits: Limits,
    reject,
    applied_ms: int,
) -> None:
    """Temperatures of a weather station's topic: stored, held, or quarantined with the reason.

    A temperature in the window of a competition whose baselines read the station is held, once
    per competition, for every site that reads the station (``baseline_lock.ALL_SITES``): the
    station's record is one, so an organiser accepts or rejects it for all of them at once.
    """
    station, fmt = routing.weather_by_topic[topic]
    locks = [
        (lock, spans)
        for lock, spans in station_locks(routing.locks.values(), station)
        if lock.locked(applied_ms)
    ]
    held: dict[str, list[list]] = {}  # competition → held rows
    try:
        values = decode_temperature(fmt, payload, received_utc)
    except DecodeError as exc:
        reject(exc.reason, str(exc))
        return
    earliest = received_utc - timedelta(seconds=limits.max_age_s)
    latest = received_utc + timedelta(seconds=limits.max_future_s)
    for i, (ts, temp_c) in enumerate(values):
        where = f"reading[{i}]" if len(values) > 1 else "reading"
        if not PLAUSIBLE_TEMP_C[0] <= temp_c <= PLAUSIBLE_TEMP_C[1]:
            reject(
                "implausible_temperature",
                f"{where}: {temp_c} °C is outside {PLAUSIBLE_TEMP_C[0]:g}..{PLAUSIBLE_TEMP_C[1]:g}",
            )
        elif ts > latest:
            reject("future_timestamp", f"{where}: ts {ts.isoformat()} is after the receive time")
        elif ts < earliest:
            reject("too_old", f"{where}: ts {ts.isoformat()} is too old")
        else:
            ts_ms = int(ts.timestamp() * 1000)
            locked = [lock for lock, spans in locks if in_spans(spans, ts_ms)]
            for lock in locked:
                held.setdefault(lock.competition, []).append([ts_ms, temp_c])
            if not locked:
                msg.temperatures.append(StoredTemperature(station, ts_ms, temp_c))
    for competition, rows in held.items():
        msg.held += held_items(
            routing.locks[competition],
            ALL_SITES,
            station,
            "temperatures",
            rows,
            source=msg.source,
            received_ms=msg.received_ms,
            topic=topic,
        )
