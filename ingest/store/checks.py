"""Checks of what the organiser part keeps for a jury: text, JSON values, times, hashes.

Both backends store these records alike, so they are checked once, here, before either writes:
a value one backend could not keep (a lone surrogate in SQLite, a string field above 64 KB in
InfluxDB, NaN in JSON) is refused with a ``ValueError`` that names the field and the limit.

JSON values are normalised (``json_value``): what is stored and hashed is what reading it back
gives (tuples become lists, keys text), written as canonical JSON (``canonical_json``: keys
sorted, no spaces, ASCII only), so the same value has the same bytes and SHA-256 in both stores.
"""

from __future__ import annotations

import hashlib
import json
import re

# an InfluxDB string field holds at most 64 KiB; canonical JSON is ASCII, and percent-encoding
# (``line_protocol.encode_text``) at most triples it: 20,000 characters stay below
JSON_MAX_CHARS = 20_000
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def canonical_json(value: object) -> str:
    """``value`` as canonical JSON: keys sorted, no spaces, ASCII (``\\uXXXX`` escapes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("ascii") if isinstance(data, str) else data).hexdigest()


def json_value(value: object, what: str, max_chars: int | None = JSON_MAX_CHARS) -> object:
    """``value`` as reading its JSON back gives it; ``ValueError`` if it is not JSON (NaN,
    infinity, other objects) or its canonical JSON is longer than ``max_chars``."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{what} must be a JSON value (text, finite numbers, true/false/null, lists, "
            f"objects with text keys): {exc}"
        ) from None
    normal = json.loads(text)
    if max_chars is not None:
        size = len(canonical_json(normal))
        if size > max_chars:
            raise ValueError(
                f"{what} is {size:,} characters of JSON; at most {max_chars:,} are kept (an "
                "InfluxDB string field holds 64 KB): keep a summary here and the detail elsewhere"
            )
    return normal


def text(value: object, what: str, max_chars: int, empty: bool = False) -> str:
    """``value`` if it is text of at most ``max_chars`` characters (and not empty unless
    ``empty``) that UTF-8 can carry; else ``ValueError``."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {type(value).__name__} {value!r:.80}")
    if not value and not empty:
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_chars:
        raise ValueError(f"{what} is {len(value):,} characters; at most {max_chars:,} are kept")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} holds a lone surrogate, which UTF-8 cannot carry") from None
    return value


def unix_ms(value: object, what: str) -> int:
    """``value`` if it is an integer time [Unix ms] InfluxDB can store (1677-2262)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer [Unix ms], got {value!r:.80}")
    if not -9_223_372_036_854 <= value <= 9_223_372_036_854:
        raise ValueError(f"{what} = {value} [Unix ms] is outside 1677-2262")
    return value


def sha256_text(value: object, what: str) -> str:
    """``value`` if it is a SHA-256 as 64 lower-case hex digits."""
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ValueError(f"{what} must be a SHA-256 as 64 lower-case hex digits, got {value!r:.80}")
    return value
