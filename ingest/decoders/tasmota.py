"""Tasmota energy monitors (``format = "tasmota"``): ``tele/<topic>/SENSOR`` JSON.

``{"Time": "2022-01-11T21:57:38", "ENERGY": {"TotalStartTime": "...", "Total": 3.705,
"Yesterday": 0.1, "Today": 0.05, "Power": 5, ...}}``: ``ENERGY.Total`` is the cumulative import
register [kWh] (since ``TotalStartTime``; it restarts when that changes), ``ENERGY.Power`` the
active power [W]. The reply to ``Status 10`` (``{"StatusSNS": {...}}``) is read the same way.

Channels. Multi-channel devices send lists: ``"Power": [12, 34]`` gives channels ``"1"``,
``"2"``...; ``"Total"`` is a list too with ``SetOption129 1`` (per-channel registers), else one
number for the whole device, which then becomes a reading of its own with channel ``"total"``.
Single-channel devices give one reading with channel None.

Time. ``Time`` is the device's LOCAL time without an offset (unless ``SetOption52 1`` adds
one). A naive time is read in the site's zone ``tz``: the repeated hour when DST ends goes to
the occurrence nearest the receive time, the skipped spring hour is shifted forward. Without
``tz`` (or without ``Time``) the receive time is used. A ``Time`` with an offset, or Unix
seconds, is taken as it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from ingest.decoders.bounds import check_count, shown, shown_keys
from ingest.decoders.timestamps import local_to_utc, parse_iso, parse_ts_utc, to_utc
from ingest.decoders.values import energy_register, import_power, load_json, number
from ingest.readings import DecodeError, Reading

# A SENSOR message with several sensors, or the Status 10 reply, is 200 B-2 KB; Tasmota's own
# MQTT buffer is 1,200 B unless rebuilt with a larger MQTT_MAX_PACKET_SIZE.
MAX_PAYLOAD_BYTES = 16 * 1024
# Channels of one device: Tasmota measures at most 8 phases or channels (ENERGY_MAX_PHASES)
MAX_TASMOTA_CHANNELS = 32
WHOLE_DEVICE = "total"  # channel of a device-wide value beside per-channel lists


def _time(doc: dict, received_utc: datetime, tz: tzinfo | None) -> datetime:
    value = doc.get("Time")
    if value is None:
        return received_utc
    if not isinstance(value, str):
        return parse_ts_utc(value, "Time")  # Unix seconds; anything else is a bad timestamp
    parsed = parse_iso(value, "Time")
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return to_utc(parsed, "Time")
    if tz is None:
        return received_utc  # local time in an unknown zone: the receive time is closer
    return local_to_utc(parsed, tz, received_utc, "Time")


def _values(energy: dict, key: str, field: str) -> list[float] | float | None:
    """``ENERGY[key]``: a number, a list of numbers (one per channel) or None."""
    value = energy.get(key)
    where = f"ENERGY.{key}"
    if isinstance(value, list):
        check_count(value, f"{where} (channels)", MAX_TASMOTA_CHANNELS)
        if all(type(v) is float or type(v) is int for v in value):  # orjson: 64-bit, finite
            numbers = [float(v) for v in value]
            if field != "energy_kwh" or min(numbers, default=0.0) >= 0:
                return numbers or None
        # the slow path says which value is wrong
        numbers = [number(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if field == "energy_kwh":
            numbers = [energy_register(v, f"{where}[{i}]") for i, v in enumerate(numbers)]
        return numbers or None
    one = number(value, where)
    return energy_register(one, where) if field == "energy_kwh" else one


def decode_tasmota(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode a Tasmota SENSOR message into readings (see module docstring).

    Parameters
    ----------
    payload : bytes
        Tasmota JSON with an ``ENERGY`` object (or ``StatusSNS.ENERGY``).
    topic : str
        MQTT topic; unused (the topic decides the meter).
    received_utc : datetime
        Arrival time, tz-aware; the reading time when ``Time`` is missing or naive without
        ``tz``, and the tie-breaker in the repeated autumn hour.
    tz : tzinfo or None
        The site's time zone, in which a naive ``Time`` is read.

    Returns
    -------
    list of Reading
        One reading (channel None), or one per channel (``"1"``, ``"2"``... and ``"total"``).

    Raises
    ------
    DecodeError
        ``undecodable``, ``no_value`` (no ``ENERGY``: STATE, RESULT and non-energy SENSOR
        messages), ``non_numeric``, ``non_finite``, ``negative_value`` (a negative Total),
        ``bad_timestamp``.
    """
    doc = load_json(payload)
    if not isinstance(doc, dict):
        raise DecodeError(
            "undecodable", f"payload: expected a JSON object, got {type(doc).__name__}"
        )
    if isinstance(doc.get("StatusSNS"), dict):
        doc = doc["StatusSNS"]
    energy = doc.get("ENERGY")
    if energy is None:
        keys = shown_keys(doc)
        raise DecodeError(
            "no_value",
            f"payload has no ENERGY object (keys: {keys}); only the SENSOR messages of an "
            "energy monitor carry readings",
        )
    if not isinstance(energy, dict):
        raise DecodeError("undecodable", f"ENERGY: expected an object, got {shown(energy)}")
    total = _values(energy, "Total", "energy_kwh")
    power = _values(energy, "Power", "power_w")
    if total is None and power is None:
        raise DecodeError("no_value", "ENERGY has neither Total [kWh] nor Power [W]")
    ts = _time(doc, received_utc.astimezone(UTC), tz)
    if not isinstance(total, list) and not isinstance(power, list):
        return [Reading(None, ts, total, import_power(power))]
    lists = [v for v in (total, power) if isinstance(v, list)]
    if len(lists) == 2 and len(total) != len(power):
        raise DecodeError(
            "undecodable",
            f"ENERGY.Total has {len(total)} channels but ENERGY.Power has {len(power)}",
        )
    readings = [
        Reading(
            None,
            ts,
            total[i] if isinstance(total, list) else None,
            import_power(power[i]) if isinstance(power, list) else None,
            str(i + 1),
        )
        for i in range(len(lists[0]))
    ]
    whole_total = None if isinstance(total, list) else total
    whole_power = None if isinstance(power, list) else power
    if whole_total is not None or whole_power is not None:
        readings.append(Reading(None, ts, whole_total, import_power(whole_power), WHOLE_DEVICE))
    readings = [r for r in readings if r.energy_kwh is not None or r.power_w is not None]
    if not readings:
        raise DecodeError("no_value", "ENERGY.Total and ENERGY.Power hold no numbers")
    return readings
