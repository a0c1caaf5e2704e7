"""Value checks shared by the device decoders (dsmr, tasmota, shelly, emon).

Readings from these decoders are always finite and non-negative: power is the import power, so
a negative (exporting) value becomes 0 W, and a negative energy register is rejected.
"""

from __future__ import annotations

import math

from ingest.decoders.bounds import load_json, shown
from ingest.readings import DecodeError

__all__ = ["energy_register", "finite", "import_power", "load_json", "number"]


def number(value: object, where: str) -> float | None:
    """``value`` as a finite float, None for a missing (None) value."""
    if value is None:
        return None
    if type(value) is float and math.isfinite(value):  # the common cases first
        return value
    if type(value) is int and -(2**63) <= value < 2**64:  # orjson's integers: finite floats
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("non_numeric", f"{where}: expected a number, got {shown(value)}")
    try:
        result = float(value)
    except OverflowError as exc:  # an int beyond float range
        raise DecodeError("non_finite", f"{where}: {shown(value)} is out of range") from exc
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
