"""Payload decoders: ``format`` name → its decoder and payload cap (``FORMATS``).

Every decoder takes the raw payload, the MQTT topic, the tz-aware receive time and, as keyword
``tz``, the site's time zone (used only by formats that send local time without an offset, such
as Tasmota; None when unknown). It returns readings or raises DecodeError. ``decode`` refuses a
payload over its format's cap before the decoder sees it (``bounds``), and turns any other
exception a decoder raises into ``decoder_error``: nothing a payload holds escapes as an
exception.

Adding a format is one module (its decode function and ``MAX_PAYLOAD_BYTES``) and one line in
``FORMATS``.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from typing import NamedTuple, Protocol

from ingest.decoders import auto, dsmr, emon, json_format, senml, shelly, tasmota
from ingest.decoders.bounds import MAX_READINGS_PER_MESSAGE, check_size, shown
from ingest.readings import DecodeError, Reading

log = logging.getLogger(__name__)


class Decoder(Protocol):
    def __call__(
        self, payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
    ) -> list[Reading]: ...


class Format(NamedTuple):
    decode: Decoder
    max_payload_bytes: int  # default cap [bytes]; each module says why it chose its own


FORMATS: dict[str, Format] = {
    "json": Format(json_format.decode_json, json_format.MAX_PAYLOAD_BYTES),
    "senml": Format(senml.decode_senml, senml.MAX_PAYLOAD_BYTES),
    "dsmr": Format(dsmr.decode_dsmr, dsmr.MAX_PAYLOAD_BYTES),
    "tasmota": Format(tasmota.decode_tasmota, tasmota.MAX_PAYLOAD_BYTES),
    "shelly": Format(shelly.decode_shelly, shelly.MAX_PAYLOAD_BYTES),
    "emon": Format(emon.decode_emon, emon.MAX_PAYLOAD_BYTES),
    "auto": Format(auto.decode_auto, auto.MAX_PAYLOAD_BYTES),
}
DECODERS: dict[str, Decoder] = {name: f.decode for name, f in FORMATS.items()}


def decode(
    fmt: str,
    payload: bytes,
    topic: str,
    received_utc: datetime,
    tz: tzinfo | None = None,
    max_payload_bytes: int | None = None,
) -> list[Reading]:
    """Decode ``payload`` with the decoder for ``fmt``; raise DecodeError if it cannot.

    ``tz`` is the site's time zone, for payloads that carry local time without an offset.
    ``max_payload_bytes`` [bytes] replaces the format's cap (a meter's own setting).
    """
    spec = FORMATS.get(fmt)
    if spec is None:
        known = ", ".join(sorted(FORMATS))
        raise DecodeError("unknown_format", f"unknown format {shown(fmt)}; known: {known}")
    check_size(payload, max_payload_bytes or spec.max_payload_bytes, fmt)
    if fmt == "auto":
        fmt = auto.detected_format(payload, topic)
        spec = FORMATS[fmt]
        if max_payload_bytes is None:
            check_size(payload, spec.max_payload_bytes, f"{fmt} (detected)")
    try:
        readings = spec.decode(payload, topic, received_utc, tz=tz)
    except DecodeError:
        raise
    except Exception as exc:  # a decoder bug: the message is quarantined, the worker goes on
        log.exception("the %s decoder failed on a payload of %d bytes", fmt, len(payload))
        raise DecodeError(
            "decoder_error",
            f"the {fmt} decoder failed: {type(exc).__name__}: {shown(str(exc))} (a bug in Watt "
            "League: please report it with this entry)",
        ) from exc
    if len(readings) > MAX_READINGS_PER_MESSAGE:
        raise DecodeError(
            "too_many_readings",
            f"{len(readings):,} readings in one message; at most {MAX_READINGS_PER_MESSAGE:,}",
        )
    return readings
