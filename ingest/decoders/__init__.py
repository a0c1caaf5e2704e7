"""Payload decoders: ``format`` name → function(payload, topic, received_utc, tz) → readings.

Every decoder takes the raw payload, the MQTT topic, the tz-aware receive time and, as keyword
``tz``, the site's time zone (used only by formats that send local time without an offset, such
as Tasmota; None when unknown). It returns readings or raises DecodeError.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Protocol

from ingest.decoders.auto import decode_auto
from ingest.decoders.dsmr import decode_dsmr
from ingest.decoders.emon import decode_emon
from ingest.decoders.json_format import decode_json
from ingest.decoders.senml import decode_senml
from ingest.decoders.shelly import decode_shelly
from ingest.decoders.tasmota import decode_tasmota
from ingest.readings import DecodeError, Reading


class Decoder(Protocol):
    def __call__(
        self, payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
    ) -> list[Reading]: ...


DECODERS: dict[str, Decoder] = {
    "json": decode_json,
    "senml": decode_senml,
    "dsmr": decode_dsmr,
    "tasmota": decode_tasmota,
    "shelly": decode_shelly,
    "emon": decode_emon,
    "auto": decode_auto,
}


def decode(
    fmt: str, payload: bytes, topic: str, received_utc: datetime, tz: tzinfo | None = None
) -> list[Reading]:
    """Decode ``payload`` with the decoder for ``fmt``; raise DecodeError if it cannot.

    ``tz`` is the site's time zone, for payloads that carry local time without an offset.
    """
    try:
        decoder = DECODERS[fmt]
    except KeyError:
        known = ", ".join(sorted(DECODERS))
        raise DecodeError("unknown_format", f"unknown format {fmt!r}; known: {known}") from None
    return decoder(payload, topic, received_utc, tz=tz)
