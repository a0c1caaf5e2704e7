"""What every decoder bounds, whatever a meter or gateway sends.

A payload reaches a decoder only when it is at most its format's cap (``MAX_PAYLOAD_BYTES`` in
each decoder module; a meter may set ``max_payload_bytes`` in the competition file), so the
work per message is bounded before any parsing. Inside the cap every decoder is linear in the
payload: JSON is parsed once by orjson (iterative, depth-limited), there is no regular
expression with nested or adjacent unbounded quantifiers over payload text, and a value is
echoed into a quarantine detail only through ``shown``, which bounds it.

Reasons given here (the README lists every reason):

- ``too_large``: the payload is over its cap;
- ``bad_encoding``: not UTF-8, a byte order mark, or a NUL byte in JSON text;
- ``too_deep``: JSON nested deeper than orjson's limit (1,024 levels);
- ``non_finite``: a number beyond the float range (1e400);
- ``too_many_readings``: a list longer than ``MAX_READINGS_PER_MESSAGE``.
"""

from __future__ import annotations

import orjson

from ingest.readings import DecodeError

# Items of one list in one message (readings, SenML records, device channels). A gateway that
# buffered a day of 10 s readings sends 8,640; the JSON cap (1 MiB) holds ~50,000 of the
# shortest readings. Above this a list is refused before its items are looked at.
MAX_READINGS_PER_MESSAGE = 100_000
SHOWN_CHARS = 80  # of a payload value echoed in a quarantine detail


def check_size(payload: bytes, cap_bytes: int, fmt: str) -> None:
    """Raise ``too_large`` when ``payload`` is over ``cap_bytes`` [bytes]."""
    if len(payload) > cap_bytes:
        raise DecodeError(
            "too_large",
            f"payload is {len(payload):,} bytes; the {fmt} limit is {cap_bytes:,} bytes "
            "(set max_payload_bytes on the meter in the competition file if it really sends "
            "more)",
        )


def load_json(payload: bytes) -> object:
    """Parse JSON text, refusing with the reason why not (see module docstring)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        nul = payload.find(b"\x00")
        if nul >= 0:
            raise DecodeError(
                "bad_encoding", f"payload holds a NUL byte at offset {nul}; JSON text cannot"
            ) from exc
        if "UTF-8" in text or "surrogate" in text:
            raise DecodeError("bad_encoding", f"payload is not valid UTF-8 JSON: {text}") from exc
        if "depth limit" in text or "recursion" in text.lower():
            raise DecodeError("too_deep", f"payload nests too deep: {text}") from exc
        if "infinity" in text:  # orjson refuses numbers such as 1e400 instead of giving inf
            raise DecodeError("non_finite", f"payload: number out of range: {text}") from exc
        raise DecodeError("undecodable", f"payload is not valid JSON: {text}") from exc


def check_count(items: list, where: str) -> list:
    """``items`` unless longer than ``MAX_READINGS_PER_MESSAGE`` (``too_many_readings``)."""
    if len(items) > MAX_READINGS_PER_MESSAGE:
        raise DecodeError(
            "too_many_readings",
            f"{where}: {len(items):,} items in one message; at most "
            f"{MAX_READINGS_PER_MESSAGE:,} (split the batch)",
        )
    return items


def shown(value: object) -> str:
    """A bounded, non-recursive rendering of a payload value for an error detail.

    ``repr`` of a long string is as long as the string, and of a deeply nested list raises
    RecursionError: neither may reach a quarantine detail.
    """
    if isinstance(value, str | bytes):
        if len(value) <= SHOWN_CHARS:
            return repr(value)
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"{value[:SHOWN_CHARS]!r}… ({len(value):,} {unit})"
    if isinstance(value, list):
        return f"a list of {len(value):,} items"
    if isinstance(value, dict):
        return f"an object of {len(value):,} keys"
    return repr(value)[:SHOWN_CHARS]
