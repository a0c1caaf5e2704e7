"""Payload decoders: ``format`` name → function(payload, topic, received_utc) → readings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ingest.decoders.json_format import decode_json
from ingest.decoders.senml import decode_senml
from ingest.readings import DecodeError, Reading

Decoder = Callable[[bytes, str, datetime], list[Reading]]

DECODERS: dict[str, Decoder] = {
    "json": decode_json,
    "senml": decode_senml,
}


def decode(fmt: str, payload: bytes, topic: str, received_utc: datetime) -> list[Reading]:
    """Decode ``payload`` with the decoder for ``fmt``; raise DecodeError if it cannot."""
    try:
        decoder = DECODERS[fmt]
    except KeyError:
        known = ", ".join(sorted(DECODERS))
        raise DecodeError("unknown_format", f"unknown format {fmt!r}; known: {known}") from None
    return decoder(payload, topic, received_utc)
