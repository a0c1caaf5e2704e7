"""What both stores do with a reading that is already stored: ignore it or quarantine it."""

from __future__ import annotations

from ingest.store.base import Message, Rejected


def same_value(a: float | None, b: float | None) -> bool:
    """Equal readings (to rounding): a redelivery, not a contradiction."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def conflict(meter: str, ts_ms: int, stored: tuple, new: tuple, msg: Message) -> Rejected:
    """The quarantine entry for a reading that contradicts the stored one (which is kept)."""
    return Rejected(
        "conflicting_duplicate",
        f"meter {meter!r} at {ts_ms} ms already has energy_kwh={stored[0]}, power_w={stored[1]}; "
        f"this message says energy_kwh={new[0]}, power_w={new[1]}",
        msg.topic,
        b"",
        msg.received_ms,
        msg.source,
    )
