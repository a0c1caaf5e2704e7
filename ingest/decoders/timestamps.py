"""Timestamp parsing shared by the payload decoders: everything becomes tz-aware UTC."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from ingest.readings import DecodeError


def parse_ts_utc(value: object, where: str) -> datetime:
    """Parse an ISO-8601 string with offset or Unix seconds into a tz-aware UTC datetime.

    Naive ISO strings are rejected rather than silently taken as UTC: a meter that sends local
    time without an offset would otherwise be off by one or two hours depending on DST.
    """
    if isinstance(value, bool):
        raise DecodeError(
            "bad_timestamp", f"{where}: expected ISO-8601 or Unix seconds, got {value!r}"
        )
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DecodeError("bad_timestamp", f"{where}: timestamp {value!r} is not finite")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise DecodeError(
                "bad_timestamp", f"{where}: Unix time {value!r} is out of range"
            ) from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise DecodeError(
                "bad_timestamp", f"{where}: {value!r} is not an ISO-8601 timestamp"
            ) from exc
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise DecodeError(
                "naive_timestamp",
                f"{where}: {value!r} has no UTC offset; send e.g. '2011-03-01T08:00:00+01:00'",
            )
        return parsed.astimezone(UTC)
    raise DecodeError("bad_timestamp", f"{where}: expected ISO-8601 or Unix seconds, got {value!r}")
