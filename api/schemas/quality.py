"""Body of ``GET /api/competitions/{cid}/quality`` (``api.data_quality``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class MeterQuality(BaseModel):
    site: str
    meter: str
    last_reading: str | None = Field(description="its last reading's time, local ISO-8601")
    received: str | None = Field(description="when that reading arrived, local ISO-8601")
    silent_s: int | None = Field(description="time since its last reading [s]; null: never")
    silent: bool = Field(description="silent over silent_after_s, or never heard of")
    power_w: float | None = Field(description="its last power [W]")


class RecentQuarantine(BaseModel):
    id: int
    received: str = Field(description="ISO-8601 UTC")
    topic: str
    reason: str
    detail: str


class QuarantineSummary(BaseModel):
    scope: str = Field(description="the quarantine is per store, not per competition")
    counts: dict[str, int] = Field(description="entries per reason")
    recent: list[RecentQuarantine] = Field(description="the 20 latest entries")


class SiteCompleteness(BaseModel):
    site: str
    name: str
    completeness: float | None = Field(description="matched hours / elapsed hours [0..1]")
    hours_matched: int = Field(description="[h]")
    eligible: bool


class LateDay(BaseModel):
    meter: str
    day: str = Field(description="the local day changed (YYYY-MM-DD)")
    readings: int = Field(description="late readings of that day")
    first_reading: str = Field(description="their span: first, local ISO-8601")
    last_reading: str = Field(description="their span: last, local ISO-8601")
    first_received: str = Field(description="when the first arrived, local ISO-8601")
    last_received: str = Field(description="when the last arrived, local ISO-8601")
    register_kwh: float | None = Field(description="the register's rise across them [kWh]")


class LateEffect(BaseModel):
    """The site's figures as scored, without the late readings, and the change."""

    reduction_pct: float | None = Field(description="[%]")
    reduction_pct_without: float | None = Field(description="[%]")
    change_pct_points: float | None = Field(description="with minus without [percentage points]")
    actual_kwh: float | None = Field(description="[kWh]")
    actual_kwh_without: float | None = Field(description="[kWh]")
    change_kwh: float | None = Field(description="with minus without [kWh]")
    hours_matched: int = Field(description="[h]")
    hours_matched_without: int = Field(description="[h]")


class LateChanges(BaseModel):
    site: str
    name: str
    readings: int = Field(description="late readings of the site")
    register_kwh: float | None = Field(description="the registers' rise across them [kWh]")
    days: list[LateDay]
    effect: LateEffect


class Quality(BaseModel):
    competition: str
    as_of: str = Field(description="local ISO-8601")
    silent_after_s: float = Field(description="a meter is silent after this long [s]")
    meters: list[MeterQuality] = Field(description="silent first, longest silence first")
    meters_silent: int
    quarantine: QuarantineSummary
    min_completeness_pct: float = Field(description="the competition's minimum [%]")
    completeness: list[SiteCompleteness] = Field(description="least complete first")
    late_after_h: float = Field(description="readings this long after their day are late [h]")
    late_changes: list[LateChanges] = Field(description="largest change of reduction first")
