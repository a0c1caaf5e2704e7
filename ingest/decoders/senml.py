"""RFC 8428 SenML JSON (``format = "senml"``): an array of records with base fields.

Base fields (``bn``, ``bt``, ``bu``, ``bv``) hold for their own record and every later one until
redefined (RFC 8428 §4.1); ``bs`` is ignored and ``bver`` above 10 is rejected. Only numeric
records (``v``) whose unit (``u``, else ``bu``) is energy (``Wh``, ``kWh``, ``J``) or power (``W``,
``kW``) become readings; other units (``V``, ``A``, ``Cel``, ...) and ``vs``/``vb``/``vd``
records are skipped. Records of one meter at one resolved time merge into one reading; the meter
is ``bn`` without a trailing ``:`` or ``/`` separator, or None (the topic decides) without ``bn``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, tzinfo

from ingest.decoders.bounds import (
    SENML_BYTES_PER_CONTAINER,
    SHOWN_CHARS,
    check_count,
    load_json,
    shown,
    shown_keys,
)
from ingest.decoders.timestamps import parse_ts_utc
from ingest.readings import DecodeError, Reading

# A pack from a gateway batches many meters and times; at ~40 B a record, 256 KiB is ~6,500.
MAX_PAYLOAD_BYTES = 256 * 1024
_RELATIVE_BELOW = 2**28  # resolved times below this are seconds relative to "now" [s]
_MAX_VERSION = 10
# unit → (Reading field, multiplier, divisor) converting the value to kWh or W
_UNITS = {
    "Wh": ("energy_kwh", 1.0, 1000.0),
    "kWh": ("energy_kwh", 1.0, 1.0),
    "J": ("energy_kwh", 1.0, 3.6e6),
    "W": ("power_w", 1.0, 1.0),
    "kW": ("power_w", 1000.0, 1.0),
}


def _finite(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise DecodeError("non_finite", f"{where}: {shown(value)} is not a finite number")
    return value


def _number(rec: dict, key: str, where: str, reason: str) -> float | None:
    if key not in rec:
        return None
    value = rec[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(reason, f"{where}.{key}: expected a number, got {shown(value)}")
    return _finite(float(value), f"{where}.{key}")


def _string(rec: dict, key: str, where: str) -> str | None:
    value = rec.get(key)
    if value is not None and not isinstance(value, str):
        raise DecodeError("undecodable", f"{where}.{key}: expected a string, got {shown(value)}")
    return value


def _load(payload: bytes) -> list:
    doc = load_json(payload, SENML_BYTES_PER_CONTAINER)
    if not isinstance(doc, list):
        raise DecodeError(
            "undecodable", f"payload: expected an array of records, got {type(doc).__name__}"
        )
    if not doc:
        raise DecodeError("empty", "payload is an empty SenML array: no records")
    return check_count(doc, "payload")


def _check_record(rec: object, where: str) -> dict:
    if not isinstance(rec, dict):
        raise DecodeError("undecodable", f"{where}: expected an object, got {type(rec).__name__}")
    if "bver" in rec:
        bver = rec["bver"]
        if isinstance(bver, bool) or not isinstance(bver, int) or bver < 1:
            raise DecodeError(
                "undecodable", f"{where}.bver: expected an integer >= 1, got {shown(bver)}"
            )
        if bver > _MAX_VERSION:
            raise DecodeError(
                "unsupported_version",
                f"{where}.bver: SenML version {bver} is not supported (max {_MAX_VERSION})",
            )
    for key in rec:
        if key.endswith("_"):  # RFC 8428: unknown "must understand" fields reject the pack
            raise DecodeError(
                "unsupported", f"{where}.{key[:SHOWN_CHARS]}: must-understand field not supported"
            )
    return rec


def _resolve_time(seconds: float, where: str, received_utc: datetime) -> datetime:
    if seconds >= _RELATIVE_BELOW:
        return parse_ts_utc(seconds, where)
    try:
        return received_utc.astimezone(UTC) + timedelta(seconds=seconds)
    except (OverflowError, ValueError) as exc:
        raise DecodeError(
            "bad_timestamp", f"{where}: relative time {seconds!r} s is out of range"
        ) from exc


def decode_senml(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode a SenML JSON pack into readings (see module docstring).

    Parameters
    ----------
    payload : bytes
        SenML JSON: an array of records. Times are Unix seconds [s], or seconds relative to
        ``received_utc`` [s] when the resolved time ``bt + t`` is below 2**28.
    topic : str
        MQTT topic; unused here (the topic decides the meter when there is no ``bn``).
    received_utc : datetime
        Arrival time, tz-aware; "now" for relative and missing times.
    tz : tzinfo or None
        The site's time zone; unused (SenML times are Unix seconds).

    Returns
    -------
    list of Reading
        One per (meter, time), in order of first appearance: ``energy_kwh`` [kWh] from
        Wh/kWh/J records, ``power_w`` [W] from W/kW records.

    Raises
    ------
    DecodeError
        ``undecodable``, ``empty``, ``non_numeric``, ``non_finite``, ``bad_timestamp``,
        ``unsupported_version``, ``unsupported``, ``ambiguous`` (two energy or two power values
        for one meter and time) or ``no_value``; the message names the record, e.g. ``record[2].v``.
    """
    bn: str | None = None
    meter: str | None = None  # bn without its trailing separator, made once per bn: a long
    # bn sliced again for every record would make a pack quadratic in its size
    bt, bu, bv = 0.0, None, 0.0
    merged: dict[tuple[str | None, datetime], dict[str, tuple[float, int]]] = {}
    units_seen: set[str] = set()
    for i, raw in enumerate(_load(payload)):
        where = f"record[{i}]"
        rec = _check_record(raw, where)
        if "bn" in rec:
            bn = _string(rec, "bn", where)
            meter = (bn[:-1] if bn and bn[-1] in ":/" else bn) or None
        bt = _number(rec, "bt", where, "bad_timestamp") if "bt" in rec else bt
        bu = _string(rec, "bu", where) if "bu" in rec else bu
        bv = _number(rec, "bv", where, "non_numeric") if "bv" in rec else bv
        name = _string(rec, "n", where) or ""  # bn + n, made only for an error
        unit = _string(rec, "u", where) or bu
        value = _number(rec, "v", where, "non_numeric")
        t = _number(rec, "t", where, "bad_timestamp") or 0.0
        if value is None:  # vs/vb/vd or sum-only record: nothing numeric to read
            continue
        value = _finite(bv + value, f"{where}.v")
        units_seen.add(unit or "(none)")
        if unit not in _UNITS:
            continue
        field, mul, div = _UNITS[unit]
        ts = _resolve_time(bt + t, f"{where}.t", received_utc)
        slot = merged.setdefault((meter, ts), {})
        if field in slot:
            raise DecodeError(
                "ambiguous",
                f"{where}: {shown((bn or '') + name)} gives a second {field} for meter "
                f"{shown(meter)} at {ts.isoformat()}; record[{slot[field][1]}] already gave one",
            )
        slot[field] = (_finite(value * mul / div, f"{where}.v"), i)
    if not merged:
        seen = shown_keys(units_seen)
        raise DecodeError(
            "no_value",
            f"payload: no record with an energy (Wh, kWh, J) or power (W, kW) unit; units: {seen}",
        )
    return [
        Reading(meter, ts, *(slot[f][0] if f in slot else None for f in ("energy_kwh", "power_w")))
        for (meter, ts), slot in merged.items()
    ]
