"""Closing a competition, as ``wattleague close`` and ``POST …/close`` do it.

``prepare_closing`` computes the final results as of the end of the competition's last local
hour (whenever it is closed: a reading that arrives later for an hour of the competition is a
difference ``verify`` shows, never part of the results) with the organisers' stored site edits
applied, and draws the bundle's files; ``store_closing`` keeps the bundle in the store (a
competition is closed once) and appends the ``closed`` audit entry. The CLI writes the files
between the two, so a bundle is stored only once its directory is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from api.closing_bundle import build_bundle, end_s
from api.closing_files import MANIFEST, bundle_files
from api.scoreboard import Scoreboard
from api.site_edits import with_site_edits
from ingest.store import checks
from ingest.store.audit import AuditEntry
from ingest.store.base import Store
from ingest.store.closing import AlreadyClosed, Closing, bundle_sha256
from scoring.competition import Competition


class NotFinished(ValueError):
    """The competition has not ended yet."""


@dataclass(frozen=True)
class PreparedClosing:
    """A competition's results, ready to store: the bundle and its directory's files."""

    competition: str
    closed_ms: int
    who: str
    bundle: dict
    files: dict[str, bytes]

    @property
    def bundle_sha256(self) -> str:
        return bundle_sha256(self.bundle)

    @property
    def manifest_sha256(self) -> str:
        return checks.sha256_hex(self.files[MANIFEST])


def closed_error(closing: Closing, tz=UTC) -> AlreadyClosed:
    """The error for closing again: when, by whom and the bundle's SHA-256."""
    at = datetime.fromtimestamp(closing.closed_ms / 1000.0, UTC).astimezone(tz)
    return AlreadyClosed(
        f"competition {closing.competition!r} was closed at {at.isoformat(timespec='seconds')} "
        f"by {closing.who}; its bundle's SHA-256 is {bundle_sha256(closing.bundle)}. A "
        "competition is closed once: its results are frozen"
    )


def prepare_closing(
    competition: Competition,
    store: Store,
    now_s: float,
    who: str,
    file_name: str | None = None,
    file_text: str | None = None,
) -> PreparedClosing:
    """The final results of ``competition`` read from ``store``, closed at ``now_s`` [Unix s].

    ``NotFinished`` before the end of the competition's last local hour, ``AlreadyClosed``
    (when, by whom, the bundle's SHA-256) if it was closed before.
    """
    existing = store.organiser.closing(competition.id)
    tz = competition.competition.tz
    if existing is not None:
        raise closed_error(existing, tz)
    edits = store.organiser.site_edits(competition.id)
    competition = with_site_edits(competition, edits)
    probe = Scoreboard(competition, store, clock=lambda: now_s)
    as_of_s = end_s(probe)
    if now_s < as_of_s:
        end = datetime.fromtimestamp(as_of_s, UTC).astimezone(tz).isoformat(timespec="seconds")
        raise NotFinished(
            f"competition {competition.id!r} ends at {end} (the end of its last day, "
            f"{competition.competition.end}); close it after that"
        )
    board = Scoreboard(competition, store, clock=lambda: as_of_s)
    closed_ms = int(now_s * 1000)
    bundle = build_bundle(
        board,
        closed_ms=closed_ms,
        who=who,
        site_edits=edits,
        held=store.organiser.list_held(competition.id, status=None),
        audit=whole_audit(store, competition.id),
        file_name=file_name,
        file_text=file_text,
    )
    return PreparedClosing(competition.id, closed_ms, who, bundle, bundle_files(bundle))


def store_closing(store: Store, prepared: PreparedClosing) -> int:
    """Close the competition in the store with ``prepared``'s bundle and append the
    ``closed`` audit entry; returns its id. ``AlreadyClosed`` if someone closed it first."""
    store.organiser.close_competition(
        prepared.competition,
        prepared.closed_ms,
        prepared.who,
        prepared.bundle,
        prepared.manifest_sha256,
    )
    return store.organiser.append_audit(
        AuditEntry(
            competition=prepared.competition,
            ts_ms=prepared.closed_ms,
            who=prepared.who,
            action="closed",
            subject=prepared.competition,
            before=None,
            after={
                "bundle_sha256": prepared.bundle_sha256,
                "manifest_sha256": prepared.manifest_sha256,
                "as_of": prepared.bundle["as_of"],
            },
            reason="final results certified",
        )
    )


def whole_audit(store: Store, competition: str) -> list[AuditEntry]:
    """Every audit entry of the competition, in id order."""
    entries: list[AuditEntry] = []
    while True:
        part = store.organiser.list_audit(competition, after_id=entries[-1].id if entries else 0)
        if not part:
            return entries
        entries += part
