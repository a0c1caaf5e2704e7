"""Shelly Gen2/Gen3 devices over MQTT (``format = "shelly"``).

Two kinds of message:

- ``<prefix>/events/rpc``: RPC notifications ``{"src", "dst", "method": "NotifyStatus" |
  "NotifyFullStatus", "params": {"ts": <Unix s>, "<component>": {...}, ...}}``. ``NotifyStatus``
  carries only the keys that changed, so a reading holds whatever energy and/or power is
  present. Other methods (``NotifyEvent``) and notifications without a metering component
  (``sys``, ``wifi``...) give ``no_value``.
- ``<prefix>/status/<component>`` ("generic status update over MQTT"): the component's status
  object is the whole payload; the component is the topic's last segment (``switch:0``) and
  the time is the receive time.

Components and channels (every reading's ``channel`` names its component):

- any component with ``apower`` [W] and/or ``aenergy.total`` [Wh] (``switch:N``, ``pm1:N``,
  ``cover:N``, ``light:N``): channel ``switch:N``...;
- ``em:N.total_act_power`` [W] with ``emdata:N.total_act`` [Wh] (Pro 3EM): channel ``em:N``;
- ``em1:N.act_power`` [W] with ``em1data:N.total_act_energy`` [Wh] (Pro EM, EM Gen3): channel
  ``em1:N``.

Energy is converted Wh → kWh. Power is import power: the negative power of an exporting em/em1
channel (or of a reversed switch) counts as 0 W; returned energy (``total_act_ret``,
``ret_aenergy``) is ignored. ``src`` names the Shelly device, not a competition meter, so
``meter_id`` is None: the topic (and ``channel``) decide.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from ingest.decoders.bounds import MAX_CHANNELS, check_count, shown, shown_keys
from ingest.decoders.timestamps import parse_ts_utc
from ingest.decoders.values import energy_register, import_power, load_json, number
from ingest.readings import DecodeError, Reading

# NotifyFullStatus of a Pro 4PM or Pro 3EM (every component, wifi, cloud, sys) is 3-8 KB.
MAX_PAYLOAD_BYTES = 32 * 1024
# Metering components of one device: a Pro 4PM has 4 switches, a Pro 3EM monophase em1:0-2 and
# em1data:0-2; a gateway of several devices publishes each on its own topic.
MAX_METERING_COMPONENTS = 8
NOTIFY_METHODS = ("NotifyStatus", "NotifyFullStatus")
# component type → (channel type, power key, energy key); energy in Wh
_EM_TYPES = {
    "em": ("em", "total_act_power", None),
    "emdata": ("em", None, "total_act"),
    "em1": ("em1", "act_power", None),
    "em1data": ("em1", None, "total_act_energy"),
}


def _number(status: dict, key: str, where: str, name: str) -> float | None:
    """``status[key]`` as a float; the detail's place is only spelled out for an error."""
    value = status.get(key)
    if value is None or type(value) is float:  # orjson's floats are finite
        return value
    if type(value) is int:
        return float(value)
    return number(value, f"{where}{name}.{key}")  # raises, saying where


def _component_values(key: str, status: dict, where: str) -> tuple[str, float | None, float | None]:
    """(channel, energy [kWh], power [W]) of one component's status object."""
    kind, sep, index = key.partition(":")
    em = _EM_TYPES.get(kind)
    if em is not None:
        channel_kind, power_key, energy_key = em
        power = _number(status, power_key, where, key) if power_key else None
        energy_wh = _number(status, energy_key, where, key) if energy_key else None
    else:
        channel_kind = kind
        power = _number(status, "apower", where, key)
        aenergy = status.get("aenergy")
        energy_wh = None
        if aenergy is not None:
            if type(aenergy) is not dict:
                raise DecodeError(
                    "non_numeric",
                    f"{where}{key}.aenergy: expected an object with 'total', got {shown(aenergy)}",
                )
            energy_wh = _number(aenergy, "total", where, f"{key}.aenergy")
    if energy_wh is not None and energy_wh < 0:
        name = f"{where}{key}.{energy_key}" if em else f"{where}{key}.aenergy.total"
        energy_register(energy_wh / 1000.0, name)  # raises negative_value
    energy_kwh = None if energy_wh is None else energy_wh / 1000.0
    return channel_kind + sep + index, energy_kwh, import_power(power)


def _readings(components: dict, ts: datetime, where: str) -> list[Reading]:
    check_count(components, f"{where or 'status'} (components)", MAX_CHANNELS)
    merged: dict[str, dict[str, float]] = {}
    metering = 0
    for key, status in components.items():
        if type(status) is not dict:
            continue  # "ts" and scalar entries
        if not ("apower" in status or "aenergy" in status) and (
            key[:2] != "em" or key.partition(":")[0] not in _EM_TYPES
        ):
            continue  # wifi, sys, input:0...: nothing to read
        metering += 1
        if metering > MAX_METERING_COMPONENTS:
            raise DecodeError(
                "too_many_readings",
                f"{where or 'status'}: more than {MAX_METERING_COMPONENTS} metering components "
                "(switch, pm1, em, em1...) in one message",
            )
        channel, energy_kwh, power_w = _component_values(key, status, where)
        slot = merged.get(channel)
        if slot is None:
            slot = merged[channel] = {}
        if energy_kwh is not None:
            slot["energy_kwh"] = energy_kwh
        if power_w is not None:
            slot["power_w"] = power_w
    return [
        Reading(None, ts, slot.get("energy_kwh"), slot.get("power_w"), channel)
        for channel, slot in merged.items()
        if slot
    ]


def _status_component(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) >= 2 and parts[-2] == "status" and parts[-1]:
        return parts[-1]
    return None


def decode_shelly(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode a Shelly Gen2/Gen3 MQTT message into readings (see module docstring).

    Parameters
    ----------
    payload : bytes
        An RPC notification (``events/rpc``) or a component status object (``status/<comp>``).
    topic : str
        MQTT topic; names the component of a ``<prefix>/status/<component>`` message.
    received_utc : datetime
        Arrival time, tz-aware; the reading time when ``params.ts`` is absent and for status
        messages.
    tz : tzinfo or None
        Unused: Shelly times are Unix seconds.

    Returns
    -------
    list of Reading
        One per metering channel present, in order of appearance; ``energy_kwh`` [kWh],
        ``power_w`` [W] (never negative), ``channel`` such as ``switch:0`` or ``em:0``.

    Raises
    ------
    DecodeError
        ``undecodable``, ``no_value`` (other methods, no metering component), ``non_numeric``,
        ``non_finite``, ``negative_value`` (a negative energy counter), ``bad_timestamp``.
    """
    doc = load_json(payload)
    if not isinstance(doc, dict):
        raise DecodeError(
            "undecodable", f"payload: expected a JSON object, got {type(doc).__name__}"
        )
    received = received_utc.astimezone(UTC)
    if "method" in doc:
        method = doc["method"]
        if method not in NOTIFY_METHODS:
            raise DecodeError(
                "no_value",
                f"method {shown(method)} carries no readings; only "
                f"{' and '.join(NOTIFY_METHODS)} do",
            )
        params = doc.get("params")
        if not isinstance(params, dict):
            raise DecodeError(
                "undecodable", f"{shown(method)}: 'params' must be an object, got {shown(params)}"
            )
        ts = parse_ts_utc(params["ts"], "params.ts") if params.get("ts") is not None else received
        readings = _readings(params, ts, "params.")
        if not readings:
            found = shown_keys(params)
            raise DecodeError(
                "no_value",
                f"{method} has no energy or power (apower, aenergy.total, em/emdata, "
                f"em1/em1data); params: {found}",
            )
        return readings
    component = _status_component(topic)
    if component is None:
        raise DecodeError(
            "undecodable",
            f"not a Shelly RPC notification (no 'method') and topic {topic!r} is not "
            "<prefix>/status/<component>",
        )
    readings = _readings({component: doc}, received, "")
    if not readings:
        raise DecodeError(
            "no_value",
            f"status of {component!r} has no energy or power (apower, aenergy.total, "
            "total_act_power, total_act, act_power, total_act_energy)",
        )
    return readings
