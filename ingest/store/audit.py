"""The audit log's entries and their hash chain (``organiser.AuditLog``).

Every change that can move a score is one ``AuditEntry``: who (a token's name, ``cli:<user>``,
``serve``), when, what (``action``, a short code such as ``held_accepted``, ``held_rejected``,
``import``, ``site_edit``, ``annotation_added``, ``annotation_deleted``, ``config_loaded``,
``method_changed``, ``closed``), about what (``subject``: a site, a meter, the competition),
``before`` → ``after`` (JSON values) and the reason.

Both stores only append entries (SQLite refuses an UPDATE or DELETE of the table; InfluxDB never
writes a point over another, but cannot stop an administrator's DELETE). So that tampering is
detectable anyway, the entries of a competition form a hash chain: each stores
``prev_sha256``, the SHA-256 of the previous entry's canonical JSON (``entry_json``: every
field, its id and its own ``prev_sha256`` included; ``GENESIS_SHA256`` for the first).
``verify_audit_chain`` finds an entry that was changed or deleted: the entry after it no longer
follows. The last entry has none after it: a record of the log's head kept elsewhere (a results
bundle holds ``entry_sha256`` of the last entry) catches a change or deletion there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ingest.store import checks

GENESIS_SHA256 = "0" * 64  # the prev_sha256 of a competition's first entry
REASON_MAX_CHARS = 2000
WHO_MAX_CHARS = 200
SUBJECT_MAX_CHARS = 500
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change that can move a score.

    ``ts_ms`` [Unix ms] is when it happened; ``before`` and ``after`` are JSON values (each at
    most ``checks.JSON_MAX_CHARS`` of JSON). ``id`` (ascending within a competition) and
    ``prev_sha256`` are the store's: leave them None when appending.
    """

    competition: str
    ts_ms: int
    who: str
    action: str
    subject: str
    before: object
    after: object
    reason: str
    id: int | None = None
    prev_sha256: str | None = None


def checked_entry(entry: AuditEntry) -> AuditEntry:
    """``entry`` checked and normalised for appending (``ValueError`` says what is wrong)."""
    if not isinstance(entry, AuditEntry):
        raise ValueError(f"an audit entry must be an AuditEntry, got {type(entry).__name__}")
    if entry.id is not None or entry.prev_sha256 is not None:
        raise ValueError("an audit entry's id and prev_sha256 are the store's: leave them None")
    if not isinstance(entry.action, str) or not _ACTION.match(entry.action):
        raise ValueError(
            f"an audit entry's action must be a short code of lower-case letters, digits and _ "
            f"(e.g. held_accepted, site_edit), got {entry.action!r:.80}"
        )
    return replace(
        entry,
        competition=checks.text(entry.competition, "an audit entry's competition", 200),
        ts_ms=checks.unix_ms(entry.ts_ms, "an audit entry's ts_ms"),
        who=checks.text(entry.who, "an audit entry's who", WHO_MAX_CHARS),
        subject=checks.text(entry.subject, "an audit entry's subject", SUBJECT_MAX_CHARS),
        before=checks.json_value(entry.before, "an audit entry's before"),
        after=checks.json_value(entry.after, "an audit entry's after"),
        reason=checks.text(entry.reason, "an audit entry's reason", REASON_MAX_CHARS, empty=True),
    )


def chained(entry: AuditEntry, entry_id: int, previous: AuditEntry | None) -> AuditEntry:
    """A checked ``entry`` with its id, following ``previous`` (None: the first)."""
    prev = GENESIS_SHA256 if previous is None else entry_sha256(previous)
    return replace(entry, id=entry_id, prev_sha256=prev)


def entry_json(entry: AuditEntry) -> str:
    """The canonical JSON of an entry as stored: every field (``checks.canonical_json``)."""
    return checks.canonical_json(
        {
            "id": entry.id,
            "competition": entry.competition,
            "ts_ms": entry.ts_ms,
            "who": entry.who,
            "action": entry.action,
            "subject": entry.subject,
            "before": entry.before,
            "after": entry.after,
            "reason": entry.reason,
            "prev_sha256": entry.prev_sha256,
        }
    )


def entry_sha256(entry: AuditEntry) -> str:
    """The SHA-256 of an entry's canonical JSON: the next entry's ``prev_sha256``."""
    return checks.sha256_hex(entry_json(entry))


def verify_audit_chain(entries: list[AuditEntry], after_sha256: str = GENESIS_SHA256) -> list[str]:
    """The problems of a competition's entries in id order (empty: the chain holds).

    ``entries`` are ``list_audit``'s answer from the start of the log, or from an entry on
    whose SHA-256 (``entry_sha256``) is ``after_sha256``. A problem names the entry that no
    longer follows, and what may have happened: the entry before it was changed, or entries
    between them deleted.
    """
    problems: list[str] = []
    previous: AuditEntry | None = None
    for entry in entries:
        if previous is not None and entry.competition != previous.competition:
            problems.append(
                f"entry {entry.id} is of competition {entry.competition!r}, not "
                f"{previous.competition!r}: verify one competition's log at a time"
            )
        if previous is not None and (entry.id is None or entry.id <= (previous.id or 0)):
            problems.append(f"entry {entry.id} comes after entry {previous.id}: out of id order")
        expected = after_sha256 if previous is None else entry_sha256(previous)
        if entry.prev_sha256 != expected:
            if previous is None:
                where = (
                    "the start of the log: an earlier entry was deleted or changed"
                    if after_sha256 == GENESIS_SHA256
                    else "the entry it was listed after: that one was changed, or entries "
                    "between them deleted"
                )
            else:
                where = (
                    f"entry {previous.id}: entry {previous.id} was changed, or entries between "
                    "them deleted"
                )
            problems.append(
                f"entry {entry.id} does not follow {where} (its prev_sha256 is "
                f"{str(entry.prev_sha256)[:16]}…, expected {expected[:16]}…)"
            )
        previous = entry
    return problems
