"""OpenEnergyMonitor emonhub over MQTT (``format = "emon"``).

Two variants, as emonhub's MQTT interfacer publishes them:

- one value per topic, ``emon/<node>/<input>`` with a bare number as payload and no time (the
  receive time is used): inputs ``P1``..``P6`` (or ``power1``...) are power [W], ``E1``..``E6``
  (or ``energy1``...) energy registers [Wh]; input names are case-insensitive. Other inputs
  (``vrms``, ``T1``, ``pulse``...) give ``no_value``.
- one JSON object per node, ``emon/<node>`` ``{"P1": 120, "E1": 12345, ..., "time": <Unix s>}``
  (``time`` optional: else the receive time); other keys are ignored.

Channels are the input number: ``P1`` and ``E1`` make channel ``"1"`` in both variants, so a
meter with ``channel = "1"`` works with either. Energy is converted Wh → kWh; a negative
register (emonTx counters are signed 32-bit and can wrap) is rejected, negative power (export,
or a reversed CT) counts as 0 W of import. The base topic is emonhub's setting, so the decoder
only uses the topic's last segment.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from ingest.decoders.bounds import shown_keys
from ingest.decoders.timestamps import parse_ts_utc
from ingest.decoders.values import energy_register, finite, import_power, load_json, number
from ingest.readings import DecodeError, Reading

# One value per topic is a few bytes; a node's JSON object of inputs is under 1 KB.
MAX_PAYLOAD_BYTES = 4 * 1024
# input name (lower case) → (field, channel): P1..P99, power1..power99, E1.., energy1.. (one or
# two digits): a lookup, not a pattern per key
_INPUTS = {
    f"{kind}{digits}": ("power_w" if kind[0] == "p" else "energy_kwh", str(int(digits)))
    for kind in ("p", "power", "e", "energy")
    for digits in [*map(str, range(10)), *(f"{n:02d}" for n in range(100))]
}
# of the stripped payload; possessive repeats: "<digits>x" fails at once instead of backing off
# digit by digit (43 ns a byte)
_BARE_NUMBER = re.compile(rb"[+-]?(?:\d++(?:\.\d*+)?|\.\d++)(?:[eE][+-]?\d++)?")


def _input(name: str) -> tuple[str, str] | None:
    """(field, channel) of an input name such as ``P1`` or ``energy2``, else None."""
    return _INPUTS.get(name.lower()) if len(name) <= 8 else None


def _convert(field: str, value: float, where: str) -> float | None:
    if field == "power_w":
        return import_power(value)
    return energy_register(value / 1000.0, where)


def _bare(payload: bytes, topic: str, received: datetime) -> list[Reading]:
    name = topic.rsplit("/", 1)[-1]
    slot = _input(name)
    if slot is None:
        raise DecodeError(
            "no_value",
            f"input {name!r} (last segment of topic {topic!r}) is neither power (P1..P6, "
            "power1...) nor energy (E1..E6, energy1...)",
        )
    if not payload.strip():
        raise DecodeError("empty", f"{name}: empty payload; expected a number")
    if _BARE_NUMBER.fullmatch(payload.strip()) is None:
        raise DecodeError("non_numeric", f"{name}: expected a number, got {payload[:32]!r}")
    field, channel = slot
    value = _convert(field, finite(float(payload), name), name)
    return [
        Reading(
            None,
            received,
            value if field == "energy_kwh" else None,
            value if field == "power_w" else None,
            channel,
        )
    ]


def _json(doc: dict, received: datetime) -> list[Reading]:
    ts = parse_ts_utc(doc["time"], "time") if doc.get("time") is not None else received
    slots: dict[str, dict[str, float]] = {}
    for key, raw in doc.items():
        slot = _input(key)
        if slot is None:
            continue
        field, channel = slot
        value = raw if type(raw) is float else float(raw) if type(raw) is int else number(raw, key)
        if value is None:
            continue
        if field == "power_w":
            value = value if value > 0 else 0.0  # import power
        elif value >= 0:
            value /= 1000.0
        else:
            value = _convert(field, value, key)  # raises negative_value
        channel_slot = slots.get(channel)
        if channel_slot is None:
            channel_slot = slots[channel] = {}
        channel_slot[field] = value
    if not slots:
        found = shown_keys(doc)
        raise DecodeError("no_value", f"no power (P1..P6) or energy (E1..E6) input; keys: {found}")
    return [
        Reading(None, ts, slot.get("energy_kwh"), slot.get("power_w"), channel)
        for channel, slot in sorted(slots.items(), key=lambda item: int(item[0]))
    ]


def decode_emon(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode an emonhub MQTT message into readings (see module docstring).

    Parameters
    ----------
    payload : bytes
        A bare number (topic ``.../<node>/<input>``) or a JSON object of inputs.
    topic : str
        MQTT topic; its last segment names the input of a bare value.
    received_utc : datetime
        Arrival time, tz-aware; the reading time unless the JSON has ``time``.
    tz : tzinfo or None
        Unused: emonhub times are Unix seconds.

    Returns
    -------
    list of Reading
        One per input number (channel ``"1"``...), ``energy_kwh`` [kWh], ``power_w`` [W].

    Raises
    ------
    DecodeError
        ``empty``, ``undecodable``, ``no_value`` (other inputs), ``non_numeric``,
        ``non_finite``, ``negative_value`` (a negative energy register), ``bad_timestamp``.
    """
    received = received_utc.astimezone(UTC)
    if payload.lstrip()[:1] in (b"{", b"["):
        doc = load_json(payload)
        if not isinstance(doc, dict):
            raise DecodeError("undecodable", "payload: expected a JSON object of inputs")
        return _json(doc, received)
    return _bare(payload, topic, received)
