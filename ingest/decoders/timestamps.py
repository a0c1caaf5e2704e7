"""Timestamp parsing shared by the payload decoders: everything becomes tz-aware UTC."""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo

from ingest.decoders.bounds import shown
from ingest.readings import DecodeError


def parse_ts_utc(value: object, where: str) -> datetime:
    """Parse an ISO-8601 string with offset or Unix seconds into a tz-aware UTC datetime.

    Naive ISO strings are rejected rather than silently taken as UTC: a meter that sends local
    time without an offset would otherwise be off by one or two hours depending on DST.
    """
    if isinstance(value, bool):
        raise DecodeError(
            "bad_timestamp", f"{where}: expected ISO-8601 or Unix seconds, got {shown(value)}"
        )
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise DecodeError("bad_timestamp", f"{where}: timestamp {shown(value)} is not finite")
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise DecodeError(
                "bad_timestamp", f"{where}: Unix time {shown(value)} is out of range"
            ) from exc
    if isinstance(value, str):
        parsed = parse_iso(value, where)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise DecodeError(
                "naive_timestamp",
                f"{where}: {shown(value)} has no UTC offset; send e.g. '2011-03-01T08:00:00+01:00'",
            )
        return to_utc(parsed, where)
    raise DecodeError(
        "bad_timestamp", f"{where}: expected ISO-8601 or Unix seconds, got {shown(value)}"
    )


def parse_iso(value: str, where: str) -> datetime:
    """Parse an ISO-8601 string, naive or with an offset ('Z' accepted)."""
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise DecodeError(
            "bad_timestamp", f"{where}: {shown(value)} is not an ISO-8601 timestamp"
        ) from exc


def to_utc(aware: datetime, where: str) -> datetime:
    """``aware`` in UTC; times that fall outside datetime's range in UTC are bad timestamps."""
    try:
        return aware.astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # e.g. 0001-01-01T00:00:00+01:00
        raise DecodeError(
            "bad_timestamp", f"{where}: {aware.isoformat()} is out of range in UTC"
        ) from exc


def local_to_utc(naive: datetime, tz: tzinfo, near_utc: datetime, where: str) -> datetime:
    """The UTC time of local wall time ``naive`` in zone ``tz``.

    A wall time that occurs twice (the repeated hour when DST ends) resolves to the occurrence
    closest to ``near_utc`` (normally the receive time). A wall time that does not exist (the
    hour skipped when DST starts) is shifted forward by the gap: 02:30 on the spring day in
    Europe/Stockholm becomes 03:30 CEST (01:30 UTC).
    """
    candidates = []
    for fold in (0, 1):
        # fold=0 in a gap uses the offset from before the transition: the forward shift
        utc = to_utc(naive.replace(tzinfo=tz, fold=fold), where)
        try:
            exists = utc.astimezone(tz).replace(tzinfo=None) == naive
        except (OverflowError, ValueError):
            exists = False
        candidates.append((utc, exists))
    valid = [utc for utc, exists in candidates if exists]
    if not valid:
        return candidates[0][0]
    return min(valid, key=lambda utc: abs(utc - near_utc))
