"""The canonical reading that every payload decoder produces.

Field names follow the project's glossary: timestamps are tz-aware UTC (``ts_utc``), energy is a
cumulative register in kWh (``energy_kwh``) and power is instantaneous in W (``power_w``).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Reading(NamedTuple):
    """One meter reading as decoded from a payload (a named tuple: cheap to make by the
    hundred thousand per second).

    Parameters
    ----------
    meter_id : str or None
        Meter named by the payload itself, or None when the topic decides.
    ts_utc : datetime
        Time of the reading, tz-aware UTC.
    energy_kwh : float or None
        Cumulative import register [kWh].
    power_w : float or None
        Instantaneous active power [W].
    channel : str or None
        Channel of a multi-channel device that publishes several meters on one topic (Shelly
        ``switch:1``, ``em1:0``, ``em:0``; Tasmota and emonhub ``1``, ``2``...), or None for a
        single-channel device. A meter with ``channel`` set takes only its channel's readings.
    """

    meter_id: str | None
    ts_utc: datetime
    energy_kwh: float | None = None
    power_w: float | None = None
    channel: str | None = None


class DecodeError(ValueError):
    """A payload that cannot be decoded; ``reason`` is a short code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
