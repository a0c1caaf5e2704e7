"""Held data (``organiser.HeldData``): data that would change a locked baseline, kept until an
organiser decides.

A ``HeldItem`` is one piece of such data for one site: readings of a meter (``readings``), an
import's readings (``import``), bills (``bills``) or a weather station's temperatures
(``temperatures``), with what it would do if accepted (``what_if``, the caller's figures). It
stays ``pending`` until an organiser accepts or rejects it, once, with a reason.

Ingest holds items in the same transaction as the readings of their message
(``base.Message.held``), organisers' tools through ``HeldData.hold``. The same data held again
while an item with it is pending (a gateway that sends its buffer again, a message delivered
twice) is not held twice: the pending item's id is answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ingest.store import checks

# kind → what a row of its payload holds
HELD_KINDS: dict[str, tuple[str, ...]] = {
    "readings": ("ts_ms", "energy_kwh", "power_w"),
    "import": ("ts_ms", "energy_kwh", "power_w"),
    "bills": ("start_ms", "end_ms", "energy_kwh"),
    "temperatures": ("ts_ms", "temp_c"),
}
HELD_STATUSES = ("pending", "accepted", "rejected")
DECISIONS = ("accepted", "rejected")
HELD_MAX_ROWS = 100_000  # rows of one item's payload: hold more as several items
REASON_MAX_CHARS = 2000
_NAME_MAX_CHARS = 200


class UnknownHeld(LookupError):
    """No held item has this id."""


class HeldDecided(ValueError):
    """The held item was decided already: a decision is final."""


@dataclass(frozen=True, slots=True)
class HeldItem:
    """Data of one site held because it would change its locked baseline.

    ``meter`` is the meter (a weather station for ``temperatures``); ``received_ms``,
    ``first_ts_ms`` and ``last_ts_ms`` [Unix ms] are when it arrived and the span its rows
    cover; ``payload`` its rows, each a list as ``HELD_KINDS`` says (``[ts_ms, energy_kwh,
    power_w]`` for readings and imports, ``None`` for a value a reading lacks; ``[start_ms,
    end_ms, energy_kwh]`` for bills; ``[ts_ms, temp_c]`` for temperatures), at most
    ``HELD_MAX_ROWS``; ``what_if`` a JSON object, the caller's figures of what accepting it
    would do. ``topic`` is the message's (ingest fills it in). ``id``, ``status`` and the
    decision (``decided_by``, ``decided_ms`` [Unix ms], ``reason``) are the store's.
    """

    competition: str
    site: str
    meter: str
    kind: str
    source: str
    received_ms: int
    first_ts_ms: int
    last_ts_ms: int
    payload: list
    what_if: dict
    status: str = "pending"
    id: int | None = None
    decided_by: str | None = None
    decided_ms: int | None = None
    reason: str | None = None
    topic: str = ""


def checked_item(item: HeldItem, own_id: bool = False) -> HeldItem:
    """``item`` checked and normalised for holding (``ValueError`` says what is wrong).

    ``own_id``: the item may carry an id (the InfluxDB store's own, given before it spooled
    the item); anyone else leaves ``id`` None.
    """
    if not isinstance(item, HeldItem):
        raise ValueError(f"a held item must be a HeldItem, got {type(item).__name__}")
    if item.id is not None and not own_id:
        raise ValueError("a held item's id is the store's: leave it None")
    if item.status != "pending" or item.decided_by or item.decided_ms or item.reason:
        raise ValueError("a held item is held pending, without a decision")
    if item.kind not in HELD_KINDS:
        raise ValueError(
            f"a held item's kind must be one of {', '.join(HELD_KINDS)}, got {item.kind!r:.80}"
        )
    first = checks.unix_ms(item.first_ts_ms, "a held item's first_ts_ms")
    last = checks.unix_ms(item.last_ts_ms, "a held item's last_ts_ms")
    if last < first:
        raise ValueError(f"a held item's last_ts_ms ({last}) is before its first_ts_ms ({first})")
    what_if = checks.json_value(item.what_if, "a held item's what_if")
    if not isinstance(what_if, dict):
        raise ValueError(f"a held item's what_if must be a JSON object, got {item.what_if!r:.80}")
    return replace(
        item,
        competition=checks.text(item.competition, "a held item's competition", _NAME_MAX_CHARS),
        site=checks.text(item.site, "a held item's site", _NAME_MAX_CHARS),
        meter=checks.text(item.meter, "a held item's meter", _NAME_MAX_CHARS),
        source=checks.text(item.source, "a held item's source", _NAME_MAX_CHARS),
        topic=checks.text(item.topic, "a held item's topic", 1000, empty=True),
        received_ms=checks.unix_ms(item.received_ms, "a held item's received_ms"),
        payload=_rows(item.payload, item.kind),
        what_if=what_if,
    )


def _rows(payload: object, kind: str) -> list[list]:
    """The payload as a list of rows of ``kind`` (lists of finite numbers; None only for a
    reading's value), or ``ValueError``."""
    if not isinstance(payload, list | tuple):
        raise ValueError(f"a held item's payload must be a list of rows, got {payload!r:.80}")
    if len(payload) > HELD_MAX_ROWS:
        raise ValueError(
            f"a held item's payload has {len(payload):,} rows; at most {HELD_MAX_ROWS:,} are "
            "held as one item: hold the data as several items (by day or by meter)"
        )
    columns = HELD_KINDS[kind]
    nullable = kind in ("readings", "import")
    rows = []
    for i, row in enumerate(payload):
        if not isinstance(row, list | tuple) or len(row) != len(columns):
            raise ValueError(
                f"row {i} of a held {kind} item must be [{', '.join(columns)}], got {row!r:.80}"
            )
        out = []
        for name, value in zip(columns, row, strict=True):
            if name.endswith("_ms"):
                out.append(checks.unix_ms(value, f"{name} of row {i} of a held {kind} item"))
            elif value is None and nullable:
                out.append(None)
            elif (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                out.append(float(value))
            else:
                raise ValueError(
                    f"{name} of row {i} of a held {kind} item must be a finite number"
                    f"{' or null' if nullable else ''}, got {value!r:.80}"
                )
        rows.append(out)
    return rows


def content_sha256(item: HeldItem) -> str:
    """What makes two held items the same data: the SHA-256 of its competition, site, meter,
    kind and payload (a checked item's) as canonical JSON."""
    return checks.sha256_hex(
        checks.canonical_json([item.competition, item.site, item.meter, item.kind, item.payload])
    )


def checked_decision(status: str, who: str, reason: str, ts_ms: int) -> tuple[str, str, int]:
    """A decision's ``(who, reason, ts_ms)`` checked (``ValueError`` says what is wrong)."""
    if status not in DECISIONS:
        raise ValueError(f"a held item is decided as {' or '.join(DECISIONS)}, got {status!r:.80}")
    return (
        checks.text(who, "a decision's who", _NAME_MAX_CHARS),
        checks.text(reason, "a decision's reason", REASON_MAX_CHARS),
        checks.unix_ms(ts_ms, "a decision's ts_ms"),
    )


def decided_error(item: HeldItem) -> HeldDecided:
    """The error for deciding (or changing the what-if of) an item decided already."""
    return HeldDecided(
        f"held item {item.id} was already {item.status} by {item.decided_by} at "
        f"{item.decided_ms} [Unix ms] (reason: {item.reason!r:.200}); a decision is final: "
        "only a pending item can be decided"
    )
