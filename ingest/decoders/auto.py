"""Format detection (``format = "auto"``): pick the decoder from the payload and the topic.

In this order:

1. bytes starting with ``/`` (after white space) that contain ``!`` → ``dsmr``;
2. a JSON array of objects with SenML keys (``bn``, ``bt``, ``bu``, ``bv``, ``n``, ``u``, ``v``)
   → ``senml``;
3. a JSON object with ``ENERGY`` (or ``StatusSNS.ENERGY``) → ``tasmota``;
4. a JSON object with ``method`` and ``params``, or on a ``.../status/<component>`` topic with
   ``apower``, ``aenergy`` or an em/em1 value → ``shelly``;
5. a topic starting with ``emon/`` → ``emon``;
6. a JSON object (or array of objects) with ``ts`` and ``energy_kwh`` or ``power_w`` → ``json``.

Anything else is ``unknown_format``. Setting the format explicitly is always better: it is
faster, and a malformed payload is then reported by its own decoder rather than as unknown.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ingest.decoders.bounds import MIN_BYTES_PER_CONTAINER, SENML_BYTES_PER_CONTAINER, load_json
from ingest.readings import DecodeError, Reading

# checked before detection: the largest cap of the formats it detects (json's); the detected
# format's own cap (or the meter's max_payload_bytes) applies after
MAX_PAYLOAD_BYTES = 1024 * 1024

_SENML_KEYS = frozenset({"bn", "bt", "bu", "bv", "bver", "n", "u", "v"})
_SHELLY_STATUS_KEYS = frozenset(
    {"apower", "aenergy", "total_act_power", "total_act", "act_power", "total_act_energy"}
)


def _is_senml(doc: object) -> bool:
    return (
        isinstance(doc, list)
        and bool(doc)
        and all(isinstance(rec, dict) for rec in doc)
        and any(_SENML_KEYS & rec.keys() for rec in doc)
    )


def _is_tasmota(doc: object) -> bool:
    if not isinstance(doc, dict):
        return False
    sns = doc.get("StatusSNS")
    return "ENERGY" in doc or (isinstance(sns, dict) and "ENERGY" in sns)


def _is_shelly(doc: object, topic: str) -> bool:
    if not isinstance(doc, dict):
        return False
    if "method" in doc and "params" in doc:
        return True
    return "/status/" in f"/{topic}" and bool(_SHELLY_STATUS_KEYS & doc.keys())


def _is_json(doc: object) -> bool:
    items = doc if isinstance(doc, list) else [doc]
    return bool(items) and all(
        isinstance(item, dict) and "ts" in item and ("energy_kwh" in item or "power_w" in item)
        for item in items
    )


def detect(payload: bytes, topic: str) -> str | None:
    """The format name for ``payload`` on ``topic``, or None when it is not recognised."""
    stripped = payload.lstrip()
    if stripped.startswith(b"/") and b"!" in stripped:
        return "dsmr"
    # SenML (an array) may be denser than the formats that send objects
    density = SENML_BYTES_PER_CONTAINER if stripped[:1] == b"[" else MIN_BYTES_PER_CONTAINER
    try:
        doc = load_json(payload, density)  # too dense: refused before it is parsed
    except DecodeError:
        doc = None
    if _is_senml(doc):
        return "senml"
    if _is_tasmota(doc):
        return "tasmota"
    if _is_shelly(doc, topic):
        return "shelly"
    if topic.startswith("emon/"):
        return "emon"
    if _is_json(doc):
        return "json"
    return None


def detected_format(payload: bytes, topic: str) -> str:
    """``detect``, or the reason the payload fits no format: a JSON payload that cannot be
    parsed says why (``bad_encoding``, ``too_deep``...), anything else is ``unknown_format``."""
    fmt = detect(payload, topic)
    if fmt is not None:
        return fmt
    first = payload.lstrip()[:1]
    if first in (b"{", b"["):  # raises the parse error's own reason
        load_json(payload, SENML_BYTES_PER_CONTAINER if first == b"[" else MIN_BYTES_PER_CONTAINER)
    raise DecodeError(
        "unknown_format",
        f"auto: could not recognise the payload on topic {topic!r} as dsmr, senml, tasmota, "
        f"shelly, emon or json (starts {payload[:32]!r}); set format explicitly",
    )


def decode_auto(
    payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Detect the format (see module docstring) and decode with it, within the detected
    format's payload cap; ``unknown_format`` when no format fits."""
    from ingest.decoders import decode  # the registry imports this module

    return decode(detected_format(payload, topic), payload, topic, received_utc, tz)
