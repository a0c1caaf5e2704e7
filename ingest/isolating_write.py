"""Store a batch of messages so that no message can block the others.

The worker stores a batch in one transaction. When the store refuses it for a reason that
waiting will not fix, the batch is split in halves, each stored on its own, and so on down to
single messages: a message the store still refuses is quarantined as ``store_rejected`` with
the error (and its raw payload, so it can be reprocessed once the cause is fixed), and every
other message is stored. A batch with one bad message among n costs about 2·log2(n) extra
transactions.

When the store is unavailable (``ingest.store.availability``), nothing more is attempted:
``StoreUnavailable`` carries the messages not yet stored, for the caller to retry later.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.store.availability import is_unavailable
from ingest.store.base import Message, ReadingStore, Rejected, WriteResult

MAX_ERROR_CHARS = 2000

Item = tuple[Message, bytes]  # a processed message and its raw payload


@dataclass
class Written:
    """What an isolating write stored: the stores' results summed, and the messages
    quarantined as ``store_rejected``."""

    inserted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    quarantined: int = 0
    spooled: int = 0
    isolated: int = 0
    held: int = 0  # held items (``WriteResult.held``)
    held_readings: int = 0  # rows of the held items of the messages stored: meter readings
    held_temperatures: int = 0  # and weather temperatures

    def add(self, result: WriteResult) -> None:
        self.inserted += result.inserted
        self.duplicates += result.duplicates
        self.conflicts += result.conflicts
        self.quarantined += result.quarantined
        self.spooled += result.spooled
        self.held += result.held
        self.isolated += result.store_rejected  # messages the store isolated by itself


class StoreUnavailable(Exception):
    """The store cannot take writes; ``pending`` were not stored (the rest of the batch was,
    as ``written`` says)."""

    def __init__(self, cause: BaseException, pending: list[Item], written: Written) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause, self.pending, self.written = cause, pending, written


def write_isolating(
    store: ReadingStore, items: list[Item], written: Written | None = None
) -> Written:
    """Store ``items``; isolate and quarantine the messages the store refuses (see module
    docstring). Raise ``StoreUnavailable`` when the store is unavailable."""
    written = written if written is not None else Written()
    stack = [items]  # groups still to store, the next one last
    while stack:
        group = stack.pop()
        try:
            result = store.write([msg for msg, _ in group])
            written.add(result)
            if result.held:
                _count_held(written, group)
            continue
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(exc, _pending(group, stack), written) from exc
            error = exc
        if len(group) > 1:
            half = len(group) // 2
            stack += [group[half:], group[:half]]
            continue
        msg, payload = group[0]
        try:
            written.add(store.write([store_rejected(msg, payload, error)]))
        except Exception as exc:
            if is_unavailable(exc):
                raise StoreUnavailable(exc, _pending(group, stack), written) from exc
            try:  # perhaps the payload or detail is what the store refuses: the bare minimum
                written.add(store.write([store_rejected(msg, b"", error, minimal=True)]))
            except Exception as last:
                # the store refuses even that: it is the store, not this message
                raise StoreUnavailable(last, _pending(group, stack), written) from last
        written.isolated += 1
    return written


def _count_held(written: Written, group: list[Item]) -> None:
    """Add the rows of the held items of ``group``'s messages, by kind."""
    for msg, _ in group:
        for item in msg.held:
            if item.kind == "temperatures":
                written.held_temperatures += len(item.payload)
            else:
                written.held_readings += len(item.payload)


def _pending(group: list[Item], stack: list[list[Item]]) -> list[Item]:
    return group + [item for g in reversed(stack) for item in g]


def store_rejected(
    msg: Message, payload: bytes, error: BaseException, minimal: bool = False
) -> Message:
    """The message as quarantine entries only: what ingest already rejected, and one
    ``store_rejected`` entry with the store's error and the raw payload. Its held items are
    not kept: reprocessing the entry holds them again."""
    detail = f"the store refused this message: {type(error).__name__}: {error}"
    if len(detail) > MAX_ERROR_CHARS:
        detail = detail[:MAX_ERROR_CHARS] + "…"
    entry = Rejected(
        "store_rejected",
        detail if not minimal else detail[:200],
        msg.topic,
        payload,
        msg.received_ms,
        msg.source,
    )
    rejected = [entry] if minimal else [*msg.rejected, entry]
    return Message(msg.topic, msg.received_ms, msg.source, rejected=rejected)
