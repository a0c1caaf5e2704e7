"""Organisers' edits of a site (name, municipality, floor area, target), validated and applied.

An edit is stored (``store.organiser.save_site_edit``) and applied by rebuilding the competition
through its own validation and replacing its scoreboard, so the kWh/m² league changes at once; at
start-up the stored edits are applied over the competition file again.
"""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.errors import APIError
from scoring.competition import Competition

EDITABLE = ("name", "municipality", "area_m2", "target_pct")


class SiteEdit(BaseModel):
    """The fields to change; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="town hall name")
    municipality: str | None = Field(None, min_length=1, max_length=200)
    area_m2: float | None = Field(
        None, gt=0, le=10_000_000, description="heated floor area (Atemp) [m²]"
    )
    target_pct: float | None = Field(None, ge=0, lt=100, description="reduction target [%]")

    @field_validator("name", "municipality")
    @classmethod
    def _readable(cls, text: str | None) -> str | None:
        """Trimmed, not blank, one line of printable characters (it goes on LED signs)."""
        if text is None:
            return None
        text = text.strip()
        if not text:
            raise ValueError("must not be blank")
        bad = [ch for ch in text if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]
        if bad:
            raise ValueError(
                f"must be one line of printable text; it has control character(s) {bad!r}"
            )
        return text

    def changes(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


def with_site_edits(competition: Competition, edits: dict[str, dict]) -> Competition:
    """``competition`` with ``edits`` (site id → changed fields) applied and validated again.

    Edits of sites no longer in the file, and fields that are not editable, are skipped: the
    competition file wins over a stale edit. Raises ``ValueError`` when the result is invalid.
    """
    data = competition.model_dump(by_alias=True)
    changed = False
    for site in data["site"]:
        for key, value in edits.get(site["id"], {}).items():
            if key in EDITABLE and site.get(key) != value:
                site[key] = value
                changed = True
    if not changed:
        return competition
    try:
        return Competition.model_validate(data)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


def edited(competition: Competition, site_id: str, changes: dict) -> Competition:
    """The competition with one site's ``changes``, or a 400 saying what is wrong."""
    try:
        return with_site_edits(competition, {site_id: changes})
    except ValueError as exc:
        raise APIError(
            400, "bad_request", f"the edit of site {site_id!r} is invalid: {exc}"
        ) from None
