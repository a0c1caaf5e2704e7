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
- ``too_complex``: more JSON objects and arrays than one per ``MIN_BYTES_PER_CONTAINER`` bytes
  (``SENML_BYTES_PER_CONTAINER`` for SenML; each costs the parser and Python's garbage
  collector far more than its bytes do);
- ``too_many_readings``: a list longer than ``MAX_READINGS_PER_MESSAGE``, a device with more than
  ``MAX_CHANNELS`` channels or components.
"""

from __future__ import annotations

import gc

import orjson

from ingest.readings import DecodeError

# Items of one list in one message (readings, SenML records, device channels). A gateway that
# buffered a day of 10 s readings sends 8,640; the JSON cap (1 MiB) holds ~50,000 of the
# shortest readings. Above this a list is refused before its items are looked at.
MAX_READINGS_PER_MESSAGE = 100_000
# Channels or components of one device: a Shelly Pro 4PM has 4 switches, a Tasmota device at
# most 8 phases; a NotifyFullStatus lists ~20 components (wifi, sys, inputs...).
MAX_CHANNELS = 256
# JSON objects and arrays cost the parser and Python's garbage collector far more than their
# bytes: at one per 7 bytes a payload costs ~30 ns/B, at one per 16 bytes ~7 ns/B (bench.
# decoders). Formats allow what their densest real payload needs: a reading of the project's
# JSON is at least 21 bytes; a SenML record {"v":1} and its comma 8.
MIN_BYTES_PER_CONTAINER = 16
SENML_BYTES_PER_CONTAINER = 7
SHOWN_CHARS = 80  # of a payload value echoed in a quarantine detail
SHOWN_KEYS = 20  # of the keys of an object listed in a detail


def check_size(payload: bytes, cap_bytes: int, fmt: str) -> None:
    """Raise ``too_large`` when ``payload`` is over ``cap_bytes`` [bytes]."""
    if len(payload) > cap_bytes:
        raise DecodeError(
            "too_large",
            f"payload is {len(payload):,} bytes; the {fmt} limit is {cap_bytes:,} bytes "
            "(set max_payload_bytes on the meter in the competition file if it really sends "
            "more)",
        )


def check_density(
    payload: bytes, bytes_per_container: int = MIN_BYTES_PER_CONTAINER, allowed: int = 0
) -> None:
    """Raise ``too_complex`` when ``payload`` may hold more than ``allowed`` JSON objects and
    arrays plus one per ``bytes_per_container`` bytes (brackets inside strings count too: an
    upper bound, counted at the speed of memchr)."""
    containers = payload.count(b"{") + payload.count(b"[")
    if containers > allowed + len(payload) // bytes_per_container + 16:
        raise DecodeError(
            "too_complex",
            f"payload holds up to {containers:,} JSON objects and arrays in {len(payload):,} "
            f"bytes; this format's payloads have at most one per {bytes_per_container} bytes",
        )


def load_json(
    payload: bytes, bytes_per_container: int = MIN_BYTES_PER_CONTAINER, allowed: int = 0
) -> object:
    """Parse JSON text, refusing with the reason why not (see module docstring)."""
    check_density(payload, bytes_per_container, allowed)
    collecting = gc.isenabled()
    gc.disable()  # a parsed tree has no cycles: collections during the parse only cost time
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
    finally:
        if collecting:
            gc.enable()


def check_count(items, where: str, limit: int = MAX_READINGS_PER_MESSAGE):
    """``items`` (a list or dict) unless longer than ``limit`` (``too_many_readings``)."""
    if len(items) > limit:
        raise DecodeError(
            "too_many_readings",
            f"{where}: {len(items):,} items in one message; at most {limit:,}",
        )
    return items


def shown_keys(keys) -> str:
    """The first ``SHOWN_KEYS`` of ``keys`` (sorted, each bounded) for a detail."""
    keys = list(keys)
    listed = ", ".join(sorted(str(k)[:SHOWN_CHARS] for k in keys[:SHOWN_KEYS])) or "none"
    return listed if len(keys) <= SHOWN_KEYS else f"{listed}, … ({len(keys):,} in all)"


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
