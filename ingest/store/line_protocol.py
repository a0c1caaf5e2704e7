"""InfluxDB line protocol, escaped so that no value can break a line or inject one.

Line protocol cannot carry a newline in a tag or field value at all, and a trailing backslash in
a tag value breaks parsing, so text values are first percent-encoded: ``%`` and every control
character (below U+0020, and U+007F) become ``%XX``; ``decode_text`` reverses it. Then the
protocol's own escapes apply: commas, equals signs and spaces in tag keys and values
(and commas and spaces in measurement names) get a backslash, and string field values are
double-quoted with ``"`` and ``\\`` escaped. Non-ASCII text (å, ä, ö) passes through as UTF-8.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

_CONTROL = re.compile("[%\x00-\x1f\x7f\ud800-\udfff]")
_PERCENT = re.compile(r"%(?:u([0-9A-F]{4})|([0-9A-F]{2}))")


def encode_text(text: str) -> str:
    """Percent-encode ``%`` and control characters (reversible, see module docstring); a lone
    surrogate, which UTF-8 cannot carry, becomes ``%uXXXX``."""
    return _CONTROL.sub(
        lambda m: f"%{ord(m.group()):02X}" if ord(m.group()) < 0x100 else f"%u{ord(m.group()):04X}",
        text,
    )


def decode_text(text: str) -> str:
    return _PERCENT.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _escape_key(text: str) -> str:
    text = encode_text(text).replace("\\", "%5C")  # a backslash can end a value: encode it
    return text.replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_measurement(text: str) -> str:
    return encode_text(text).replace(",", r"\,").replace(" ", r"\ ")


def _field_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"line protocol cannot carry {value!r}")
        return repr(value)
    text = encode_text(str(value)).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def encode_point(measurement: str, tags: dict[str, str], fields: dict[str, object], ts: int) -> str:
    """One line: ``measurement,tag=v field=v ts`` (tags sorted, None fields left out).

    ``ts`` is an integer in the precision the write request names.
    """
    head = _escape_measurement(measurement)
    for key in sorted(tags):
        value = tags[key]
        if value is None or value == "":
            continue  # an empty tag value is not allowed: leave the tag out
        head += f",{_escape_key(key)}={_escape_key(str(value))}"
    body = ",".join(
        f"{_escape_key(k)}={_field_value(v)}" for k, v in fields.items() if v is not None
    )
    if not body:
        raise ValueError("a point needs at least one field")
    return f"{head} {body} {int(ts)}"


def decode_tag(value: str) -> str:
    """A tag value as InfluxDB returns it (its escapes undone) → the original text."""
    return decode_text(value)


@lru_cache(maxsize=65536)
def tag_value(text: str) -> str:
    """An escaped tag value (cached: meter ids repeat on every line)."""
    return _escape_key(text)


@lru_cache(maxsize=4096)
def string_field(text: str) -> str:
    """A quoted, escaped string field value (cached: topics and sources repeat)."""
    return _field_value(text)
