"""Value checks shared by the device decoders (dsmr, tasmota, shelly, emon).

Readings from these decoders are always finite and non-negative: power is the import power, so
a negative (exporting) value becomes 0 W, and a negative energy register is rejected.
"""

from __future__ import annotations

import math

import orjson

from ingest.readings import DecodeError


def load_json(payload: bytes) -> object:
    """Parse JSON; numbers too large for a float are ``non_finite``, other faults
    ``undecodable``."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if "infinity" in str(exc):  # orjson refuses numbers such as 1e400 instead of giving inf
            raise DecodeError("non_finite", f"payload: number out of range: {exc}") from exc
        raise DecodeError("undecodable", f"payload is not valid JSON: {exc}") from exc


def number(value: object, where: str) -> float | None:
    """``value`` as a finite float, None for a missing (None) value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("non_numeric", f"{where}: expected a number, got {value!r}")
    try:
        result = float(value)
    except OverflowError as exc:  # an int beyond float range
        raise DecodeError("non_finite", f"{where}: {value!r} is out of range") from exc
    return finite(result, where)


def finite(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise DecodeError("non_finite", f"{where}: {value!r} is not a finite number")
    return value


def energy_register(kwh: float | None, where: str) -> float | None:
    """A cumulative import register [kWh]; negative values (a wrapped or broken counter) are
    rejected."""
    if kwh is not None and kwh < 0:
        raise DecodeError("negative_value", f"{where}: energy register {kwh!r} is negative")
    return kwh


def import_power(watts: float | None) -> float | None:
    """Import active power [W]: a negative (exporting) value counts as 0 W of import."""
    return None if watts is None else max(0.0, watts)
