"""The project's JSON readings (``format = "json"``) in a file: an array of objects or JSON Lines.

Each object is ``{"ts", "energy_kwh", "power_w"}`` as the MQTT payload (``ts`` with an offset or
Unix seconds); a ``"meter"`` other than the imported one is refused. Line numbers are those of
each object's first character.
"""

from __future__ import annotations

import json
import math

from ingest.decoders.timestamps import parse_ts_utc
from ingest.imports.rows import ParsedFile, RegisterRow, UnreadableFile


def _objects(text: str):
    """(line, object or error text) of each item of a JSON array or of JSON Lines."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    if stripped.startswith("["):
        pos = text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text) or text[pos] == "]":
                return
            line = text.count("\n", 0, pos) + 1
            try:
                item, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                yield line, f"not valid JSON: {exc.msg}"
                return
            yield line, item
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            if raw.strip():
                try:
                    yield number, json.loads(raw)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON: {exc.msg}"


def parse_json(data: bytes, name: str, meter_id: str) -> ParsedFile:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFile("a JSON file must be UTF-8") from None
    if not text.strip():
        raise UnreadableFile("the file is empty")
    parsed = ParsedFile(name, fmt="json")
    for line, item in _objects(text):
        if isinstance(item, str):
            parsed.reject(line, item)
            continue
        if not isinstance(item, dict):
            parsed.reject(
                line, f"expected an object {{'ts', 'energy_kwh', 'power_w'}}, got {item!r}"
            )
            continue
        try:
            if item.get("meter") not in (None, meter_id):
                raise ValueError(f"names meter {item['meter']!r}, not {meter_id!r}")
            ts = parse_ts_utc(item.get("ts"), "ts").timestamp()
            energy, power = _value(item, "energy_kwh"), _value(item, "power_w")
            if energy is None and power is None:
                raise ValueError("needs energy_kwh or power_w")
            if (energy is not None and energy < 0) or (power is not None and power < 0):
                raise ValueError("negative energy_kwh or power_w")
        except ValueError as exc:
            parsed.reject(line, str(exc))
            continue
        parsed.registers.append(RegisterRow(line, ts, energy, power))
    if not parsed.registers and not parsed.rejected:
        raise UnreadableFile("no readings in the file")
    return parsed


def _value(item: dict, key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    return float(value)
