"""Bodies of the held-data endpoints (``api.held``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SiteFigures(BaseModel):
    baseline_kwh: float | None = Field(description="baseline over the elapsed hours [kWh]")
    reduction_pct: float | None = Field(description="reduction [%]")


class HeldItem(BaseModel):
    """Data held because it would change a locked baseline (no payload)."""

    id: int
    competition: str
    site: str = Field(description="the site, or * for a weather station's data")
    meter: str = Field(description="the meter, or the weather station")
    kind: str = Field(description="readings, import, bills or temperatures")
    source: str
    topic: str
    received: str = Field(description="when it arrived, ISO-8601 UTC")
    first: str = Field(description="its first row's time, ISO-8601 UTC")
    last: str = Field(description="its last row's time, ISO-8601 UTC")
    rows: int = Field(description="rows of its payload")
    status: str = Field(description="pending, accepted or rejected")
    decided_by: str | None
    decided: str | None = Field(description="ISO-8601 UTC")
    reason: str | None = Field(description="why it was accepted or rejected")
    what_if: dict[str, Any] | None = Field(
        description="what accepting it would do: key, computed (ISO-8601 UTC), hours_elapsed "
        "and per site {site, now, if_accepted} with baseline_kwh [kWh] and reduction_pct [%]; "
        "or {key, error} when it could not be computed"
    )
    what_if_current: bool | None = Field(
        description="its what-if is up to date with the scores; null once decided"
    )


class HeldList(BaseModel):
    competition: str
    status: str = Field(description="pending, accepted, rejected or all")
    count: int = Field(description="items with that status")
    truncated: bool = Field(description="more items than listed")
    items: list[HeldItem]
    all_pending: list[dict[str, Any]] = Field(
        description="what accepting every pending item listed would do, per affected site: "
        "`site`, `items` (how many), `now` and `if_all_accepted` (`baseline_kwh` [kWh over the "
        "elapsed hours], `reduction_pct` [%]); an item's own what-if can understate a replay "
        'split over many messages, this is their sum; `[{"error": …}]` when it could not be '
        "computed"
    )


class HeldDetail(HeldItem):
    payload: list[dict[str, Any]] = Field(
        description="rows by column name (ts_ms, energy_kwh [kWh], power_w [W]; bills "
        "start_ms, end_ms, energy_kwh; temperatures ts_ms, temp_c [°C]); each *_ms also as "
        "ISO-8601 UTC without the suffix"
    )
    payload_offset: int = Field(description="the first row given")
    payload_truncated: bool = Field(description="rows after the last given")


class Applied(BaseModel):
    inserted: int
    duplicates: int
    conflicts: int
    quarantined: int


class HeldDecision(HeldItem):
    audit_id: int = Field(description="the audit entry of the decision")
    sites: dict[str, SiteFigures] = Field(description="site id → its figures now")
    applied: Applied | None = Field(None, description="accept only: what was written")
