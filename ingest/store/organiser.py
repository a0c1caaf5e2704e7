"""The store's organiser part: what organisers record through the API, beside the readings.

A store has two parts. ``base.ReadingStore`` holds what meters measure (readings, hourly
energy, temperatures, the quarantine, bills): ingest writes it on its hot path and scoring reads
it. ``OrganiserStore`` holds what organisers decide: the actions a site took (annotations),
their edits of a site's fields, the audit log, data held from a locked baseline and the frozen
results of closed competitions. Every store gives both: ``store.organiser`` is its
``OrganiserStore`` (``base.Store``).

Each kind of organiser data is one protocol here, listed in ``OrganiserStore``'s bases, and one
section of each backend's organiser module (``sqlite_organiser``, ``influx_organiser``), which
also makes its table. Adding a kind touches nothing on the readings side. Held data is the one
kind ingest writes too (``base.Message.held``, in the transaction of its message's readings):
its storage is a module of its own per backend (``sqlite_held``, ``influx_held``) that both
parts use. The records themselves (``audit.AuditEntry``, ``held.HeldItem``,
``closing.Closing``) and their checks are in modules beside this one.
"""

from __future__ import annotations

from typing import Protocol

from ingest.store.audit import AuditEntry
from ingest.store.closing import Closing
from ingest.store.held import HeldItem


class Annotations(Protocol):
    """Actions a site took (a night walk, new power strips), shown with their measured effect."""

    def add_annotation(
        self, competition: str, site: str, ts_ms: int, text: str, author: str
    ) -> int:
        """Record an action a site took at ``ts_ms`` [Unix ms]; returns its id."""

    def list_annotations(self, competition: str, site: str | None = None) -> list[dict]:
        """Annotations in time order: id, competition, site, ts_ms, text, author."""

    def delete_annotation(self, competition: str, annotation_id: int) -> bool:
        """Remove one annotation; False when there was none with that id."""


class SiteEdits(Protocol):
    """Organisers' changes of a site's fields over the competition file's values."""

    def save_site_edit(
        self, competition: str, site: str, changes: dict, by: str, ts_utc_s: float
    ) -> None:
        """Record an organiser's change of a site's fields (name, municipality, area_m2,
        target_pct) at ``ts_utc_s`` [Unix s]; later edits of a field win over earlier ones."""

    def site_edits(self, competition: str) -> dict[str, dict]:
        """Site id → its edited fields, merged in time order (the latest value per field)."""


class AuditLog(Protocol):
    """Every change that can move a score, append-only, hash-chained per competition
    (``audit``)."""

    def append_audit(self, entry: AuditEntry) -> int:
        """Append an entry (its ``id`` and ``prev_sha256`` None: the store gives them); returns
        its id. ``ValueError`` says what is wrong with an entry it refuses."""

    def list_audit(
        self, competition: str, after_id: int = 0, limit: int = 10_000
    ) -> list[AuditEntry]:
        """A competition's entries with an id above ``after_id``, in id order, at most
        ``limit``; ``audit.verify_audit_chain`` checks them."""


class HeldData(Protocol):
    """Data that would change a locked baseline, kept until an organiser decides (``held``)."""

    def hold(self, items: list[HeldItem]) -> list[int]:
        """Hold items (pending; ``id`` None), all or none (InfluxDB: a failed hold may have
        kept some, and holding them again keeps none twice); returns their ids in order. The
        same data as a pending item is not held again: that item's id is answered.
        ``ValueError`` says what is wrong with an item it refuses (above ``HELD_MAX_ROWS``
        rows, an unknown kind, …)."""

    def list_held(
        self, competition: str, status: str | None = "pending", site: str | None = None
    ) -> list[HeldItem]:
        """A competition's held items with ``status`` (None: any), of one ``site`` or all,
        in id order (the order they arrived)."""

    def get_held(self, held_id: int) -> HeldItem | None:
        """One held item, or None."""

    def set_what_if(self, held_id: int, what_if: dict) -> HeldItem:
        """Replace a pending item's what-if figures; returns the item.
        ``held.UnknownHeld``, or ``held.HeldDecided`` for a decided item (its what-if stays
        as it was when decided)."""

    def decide(self, held_id: int, status: str, who: str, reason: str, ts_ms: int) -> HeldItem:
        """Accept or reject (``status``) a pending item, at ``ts_ms`` [Unix ms], with a
        reason; returns the decided item. ``held.UnknownHeld``, or ``held.HeldDecided`` when
        it was decided already (a decision is final)."""


class Closings(Protocol):
    """The frozen results of closed competitions (``closing``)."""

    def close_competition(
        self, competition: str, closed_ms: int, who: str, bundle: dict, manifest_sha256: str
    ) -> None:
        """Close a competition at ``closed_ms`` [Unix ms]: keep its results bundle (a JSON
        object) and the SHA-256 of its ``MANIFEST.sha256``. ``closing.AlreadyClosed`` if it
        was closed before."""

    def closing(self, competition: str) -> Closing | None:
        """The competition's closing, or None while it is open; ``closing.ClosingDamaged``
        if the stored bundle is not what was stored."""


class OrganiserStore(Annotations, SiteEdits, AuditLog, HeldData, Closings, Protocol):
    """Every kind of organiser data (one base per kind)."""
