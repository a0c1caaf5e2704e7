"""The store's organiser part: what organisers record through the API, beside the readings.

A store has two parts. ``base.ReadingStore`` holds what meters measure (readings, hourly
energy, temperatures, the quarantine, bills): ingest writes it on its hot path and scoring reads
it. ``OrganiserStore`` holds what organisers decide: the actions a site took (annotations) and
their edits of a site's fields. Every store gives both: ``store.organiser`` is its
``OrganiserStore`` (``base.Store``).

Each kind of organiser data is one protocol here, listed in ``OrganiserStore``'s bases, and one
section of each backend's organiser module (``sqlite_organiser``, ``influx_organiser``), which
also makes its table. Adding a kind touches nothing on the readings side.
"""

from __future__ import annotations

from typing import Protocol


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


class OrganiserStore(Annotations, SiteEdits, Protocol):
    """Every kind of organiser data (one base per kind)."""
