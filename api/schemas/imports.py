"""Body of the uploads of past consumption and weather (``api.uploads``): the import report
of ``ingest.imports``, as ``wattleague import`` prints it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Span(BaseModel):
    first_utc: str = Field(description="ISO-8601 UTC")
    last_utc: str = Field(description="ISO-8601 UTC")


class Gap(BaseModel):
    from_utc: str = Field(description="ISO-8601 UTC")
    to_utc: str = Field(description="ISO-8601 UTC")
    hours: float = Field(description="its length [h]")


class RejectedRow(BaseModel):
    file: str
    line: int | None = Field(description="the row's line in the file")
    reason: str = Field(description="why it was refused")


class ImportReport(BaseModel):
    """What an import did, or with ``dry_run`` would do."""

    meter: str | None = Field(None, description="consumption: the meter imported into")
    station: str | None = Field(None, description="weather: the station imported into")
    dry_run: bool = Field(description="nothing was written")
    files: list[str]
    format: list[str] = Field(description="formats recognised (grid, generic, json, …)")
    rows: int = Field(description="rows read")
    new: int = Field(description="rows not stored before")
    stored: int = Field(description="rows written")
    duplicates: int = Field(description="rows already stored (the same values)")
    replaced: int | None = Field(None, description="weather: samples replaced")
    span: Span | None = Field(description="the rows' first and last time")
    resolution: str | None = Field(None, description="consumption: the rows' resolution")
    gaps: list[Gap] = Field(description="stretches without rows")
    dst: list[Any] = Field(description="daylight-saving changes met and how they were read")
    rejected: list[RejectedRow] = Field(description="rows refused, and why")
    overlap: dict[str, Any] | None = Field(
        description="live readings the rows overlap and what was done (on_overlap)"
    )
    held_rows: int = Field(description="of new: rows held for a locked baseline, not stored")
    kwh: float | None = Field(None, description="consumption: the rows' energy [kWh]")
    periods: dict[str, int] | None = Field(None, description="billing: periods new/replaced")
    held: list[dict[str, Any]] | None = Field(
        None, description="what was held for an organiser (kind, rows, span, held ids)"
    )
    baseline_change: dict[str, Any] | None = Field(
        None, description="what an accepted change of a locked baseline applied"
    )
    locked: bool | None = Field(None, description="a baseline lock applied to the rows")
