"""Outdoor temperature payloads for weather stations (``[[weather]]`` in the competition file).

- ``json``: one object or a list of ``{"ts": ISO-8601 with offset | Unix s, "temp_c": °C}``;
- ``senml``: RFC 8428 records with unit ``Cel`` (or ``K``), base fields resolved as for meters.
"""

from __future__ import annotations

import math
from datetime import datetime

from ingest.decoders.bounds import check_count, check_size, load_json, shown
from ingest.decoders.timestamps import parse_ts_utc
from ingest.readings import DecodeError

RELATIVE_TIME_LIMIT_S = 2**28  # SenML: smaller times are relative to now
# a station sends one temperature a message; a gateway a day of them (~1,500 at 40 B each)
MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TEMPERATURES = 2_000  # of one message: a day of minute values is 1,440


def decode_temperature(
    fmt: str, payload: bytes, received_utc: datetime
) -> list[tuple[datetime, float]]:
    """(ts_utc, temp_c) pairs of one weather payload; raise DecodeError saying why not."""
    check_size(payload, MAX_PAYLOAD_BYTES, f"weather {fmt}")
    doc = load_json(payload)
    items = check_count(doc, "payload", MAX_TEMPERATURES) if isinstance(doc, list) else [doc]
    if not items or not all(isinstance(i, dict) for i in items):
        raise DecodeError("undecodable", "expected an object or a non-empty list of objects")
    out = _senml(items, received_utc) if fmt == "senml" else _json(items)
    if not out:
        raise DecodeError(
            "no_value",
            "no temperature in the payload (json: 'temp_c'; senml: a record with unit 'Cel')",
        )
    return out


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("non_numeric", f"{where}: expected a number, got {shown(value)}")
    if not math.isfinite(float(value)):
        raise DecodeError("non_finite", f"{where}: {shown(value)} is not finite")
    return float(value)


def _json(items: list[dict]) -> list[tuple[datetime, float]]:
    out = []
    for i, item in enumerate(items):
        where = f"reading[{i}]"
        if "ts" not in item:
            raise DecodeError("missing_timestamp", f"{where}: missing 'ts'")
        if "temp_c" not in item:
            raise DecodeError("no_value", f"{where}: missing 'temp_c'")
        out.append(
            (parse_ts_utc(item["ts"], f"{where}.ts"), _number(item["temp_c"], f"{where}.temp_c"))
        )
    return out


def _senml(items: list[dict], received_utc: datetime) -> list[tuple[datetime, float]]:
    out = []
    base_time, base_unit, base_value = 0.0, None, 0.0
    for i, rec in enumerate(items):
        where = f"record[{i}]"
        if "bt" in rec:
            base_time = _number(rec["bt"], f"{where}.bt")
        if "bu" in rec:
            base_unit = rec["bu"]
        if "bv" in rec:
            base_value = _number(rec["bv"], f"{where}.bv")
        if "v" not in rec:
            continue
        unit = rec.get("u", base_unit)
        if unit not in ("Cel", "K"):
            continue
        value = base_value + _number(rec["v"], f"{where}.v")
        t = base_time + (_number(rec["t"], f"{where}.t") if "t" in rec else 0.0)
        if abs(t) < RELATIVE_TIME_LIMIT_S:
            t += received_utc.timestamp()
        out.append((parse_ts_utc(t, f"{where}.t"), value - 273.15 if unit == "K" else value))
    return out
