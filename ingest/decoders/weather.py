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
    # SenML temperatures may come as the shortest records, {"v":1}: as many as a message holds
    doc = load_json(payload, allowed=MAX_TEMPERATURES if fmt == "senml" else 0)
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
    now_s = received_utc.timestamp()
    base_time, base_unit, base_value = 0.0, None, 0.0
    last_t, last_ts = None, None  # records at one time share its datetime
    for i, rec in enumerate(items):
        if "bt" in rec:
            base_time = _number(rec["bt"], f"record[{i}].bt")
        if "bu" in rec:
            base_unit = rec["bu"]
        if "bv" in rec:
            base_value = _number(rec["bv"], f"record[{i}].bv")
        if "v" not in rec:
            continue
        unit = rec.get("u", base_unit)
        if unit != "Cel" and unit != "K":
            continue
        v = rec["v"]  # orjson's floats are finite: the check only for anything else
        value = base_value + (v if type(v) is float else _number(v, f"record[{i}].v"))
        t = base_time + (_number(rec["t"], f"record[{i}].t") if "t" in rec else 0.0)
        if abs(t) < RELATIVE_TIME_LIMIT_S:
            t += now_s
        if t != last_t:
            last_t, last_ts = t, parse_ts_utc(t, f"record[{i}].t")
        out.append((last_ts, value - 273.15 if unit == "K" else value))
    return out
