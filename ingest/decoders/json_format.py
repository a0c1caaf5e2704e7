"""The project's own payload (``format = "json"``).

One object or a list of objects ``{"ts", "energy_kwh", "power_w", "meter"}``: ``ts`` is ISO-8601
with an offset or Unix seconds, ``energy_kwh`` a cumulative register [kWh], ``power_w`` power [W];
at least one of the two values; ``meter`` names the meter when the topic does not.

A payload is at most ``MAX_PAYLOAD_BYTES`` and a list at most ``MAX_READINGS_PER_MESSAGE``
readings (``bounds``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

from ingest.decoders.bounds import check_count, load_json, shown
from ingest.decoders.timestamps import parse_ts_utc
from ingest.readings import DecodeError, Reading

# A gateway that buffered through an outage sends its readings as one list: at ~45 B a reading,
# 1 MiB is a day of 4 s readings. HTTP bulk uploads have their own limit (api.organiser).
MAX_PAYLOAD_BYTES = 1024 * 1024


def _number(value: object, where: str, key: str) -> float | None:
    """A value as float; orjson never yields NaN or infinity, so floats pass straight."""
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        result = float(value)
        if math.isfinite(result):
            return result
        raise DecodeError("non_finite", f"{where}.{key}: {shown(value)} is not a finite number")
    raise DecodeError("non_numeric", f"{where}.{key}: expected a number, got {shown(value)}")


def decode_json(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode the project's JSON payload into readings (see module docstring); ``tz`` is unused:
    timestamps must carry their offset."""
    doc = load_json(payload)
    is_list = isinstance(doc, list)
    items = check_count(doc, "payload") if is_list else [doc]
    if not items:
        raise DecodeError("empty", "payload is an empty list: no readings")
    readings = []
    append, new_reading = readings.append, tuple.__new__  # Reading(...) costs 3x a tuple's
    from_unix = datetime.fromtimestamp
    for i, item in enumerate(items):
        if type(item) is not dict:
            raise DecodeError(
                "undecodable",
                f"{_where(is_list, i)}: expected an object, got {type(item).__name__}",
            )
        get = item.get
        ts, energy_kwh, power_w, meter = get("ts"), get("energy_kwh"), get("power_w"), get("meter")
        # orjson's integers are 64-bit, always finite as floats (bool is not int here)
        if type(energy_kwh) is int:
            energy_kwh = float(energy_kwh)
        if type(power_w) is int:
            power_w = float(power_w)
        if (
            ts is None
            or (type(energy_kwh) is not float and energy_kwh is not None)
            or (type(power_w) is not float and power_w is not None)
            or (energy_kwh is None and power_w is None)
            or (meter is not None and type(meter) is not str)
        ):
            energy_kwh, power_w = _checked(item, _where(is_list, i))  # raises, or ints → floats
        if type(ts) is int or type(ts) is float:
            try:
                ts_utc = from_unix(ts, UTC)
            except (OverflowError, OSError, ValueError):
                ts_utc = parse_ts_utc(ts, f"{_where(is_list, i)}.ts")  # says why
        else:
            ts_utc = parse_ts_utc(ts, f"{_where(is_list, i)}.ts")
        append(new_reading(Reading, (meter, ts_utc, energy_kwh, power_w, None)))
    return readings


def _where(is_list: bool, i: int) -> str:
    return f"reading[{i}]" if is_list else "reading"


def _checked(item: dict, where: str) -> tuple[float | None, float | None]:
    """The slow path: every check with its message."""
    if "ts" not in item or item["ts"] is None:
        raise DecodeError("missing_timestamp", f"{where}: missing 'ts' (ISO-8601 or Unix seconds)")
    energy_kwh = _number(item.get("energy_kwh"), where, "energy_kwh")
    power_w = _number(item.get("power_w"), where, "power_w")
    if energy_kwh is None and power_w is None:
        raise DecodeError("no_value", f"{where}: needs 'energy_kwh' and/or 'power_w'")
    meter = item.get("meter")
    if meter is not None and not isinstance(meter, str):
        raise DecodeError("undecodable", f"{where}.meter: expected a string, got {shown(meter)}")
    return energy_kwh, power_w
