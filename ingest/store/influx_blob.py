"""Bytes too large for one InfluxDB string field, as a row of points.

A string field holds at most 64 KB, so a large value (a results bundle, a held item's payload)
is compressed (zlib), base64-encoded and cut into parts of ``PART_CHARS`` characters, one point
each: ``blob_parts`` makes the parts, ``blob_from_parts`` joins the parts read back in order.
Base64 needs no escaping in line protocol, so a part is exactly as long in the line as stored.
"""

from __future__ import annotations

import base64
import binascii
import zlib

PART_CHARS = 60_000  # below the 64 KB a string field holds


def blob_parts(data: bytes) -> list[str]:
    """``data`` compressed and base64-encoded, cut into parts of at most ``PART_CHARS``."""
    text = base64.b64encode(zlib.compress(data, 6)).decode("ascii")
    return [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)]


def blob_from_parts(parts: list[str]) -> bytes:
    """The bytes of ``blob_parts``' parts, in order; ``ValueError`` if they do not decode."""
    try:
        return zlib.decompress(base64.b64decode("".join(parts), validate=True))
    except (binascii.Error, zlib.error) as exc:
        raise ValueError(f"the parts do not decode: {exc}") from None
