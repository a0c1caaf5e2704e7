"""The project's own payload (``format = "json"``).

One object or a list of objects ``{"ts", "energy_kwh", "power_w", "meter"}``: ``ts`` is ISO-8601
with an offset or Unix seconds, ``energy_kwh`` a cumulative register [kWh], ``power_w`` power [W];
at least one of the two values; ``meter`` names the meter when the topic does not.
"""

from __future__ import annotations

import math
from datetime import datetime, tzinfo

import orjson

from ingest.decoders.timestamps import parse_ts_utc
from ingest.readings import DecodeError, Reading

_VALUE_KEYS = ("energy_kwh", "power_w")


def _number(obj: dict, key: str, where: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("non_numeric", f"{where}.{key}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise DecodeError("non_finite", f"{where}.{key}: {value!r} is not a finite number")
    return value


def decode_json(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode the project's JSON payload into readings (see module docstring); ``tz`` is unused:
    timestamps must carry their offset."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("undecodable", f"payload is not valid JSON: {exc}") from exc
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise DecodeError("empty", "payload is an empty list: no readings")
    readings = []
    for i, item in enumerate(items):
        where = f"reading[{i}]" if isinstance(doc, list) else "reading"
        if not isinstance(item, dict):
            raise DecodeError(
                "undecodable", f"{where}: expected an object, got {type(item).__name__}"
            )
        if "ts" not in item:
            raise DecodeError(
                "missing_timestamp", f"{where}: missing 'ts' (ISO-8601 or Unix seconds)"
            )
        energy_kwh = _number(item, "energy_kwh", where)
        power_w = _number(item, "power_w", where)
        if energy_kwh is None and power_w is None:
            raise DecodeError("no_value", f"{where}: needs 'energy_kwh' and/or 'power_w'")
        meter = item.get("meter")
        if meter is not None and not isinstance(meter, str):
            raise DecodeError("undecodable", f"{where}.meter: expected a string, got {meter!r}")
        readings.append(
            Reading(meter, parse_ts_utc(item["ts"], f"{where}.ts"), energy_kwh, power_w)
        )
    return readings
