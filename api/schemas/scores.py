"""Bodies of the scores: the leaderboard, the rank history, a site and its series.

Figures a site does not have yet (no baseline, no matched hour, no reading) are ``null``,
never 0. Times are local ISO-8601 with the competition's UTC offset.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Closed(BaseModel):
    """A closed competition's certified results: present only once it is closed."""

    at: str = Field(description="when it was closed, local ISO-8601")
    as_of: str | None = Field(description="the time the frozen results are as of")
    bundle_sha256: str = Field(description="SHA-256 of the stored results bundle (hex)")
    manifest_sha256: str = Field(description="SHA-256 of the bundle's MANIFEST.sha256 (hex)")


class LeaderboardEntry(BaseModel):
    """One site's figures over the elapsed part of the competition."""

    rank: int = Field(description="place in this league, 1 first; 0 when not ranked (not eligible)")
    site: str = Field(description="site id")
    municipality: str
    name: str
    reduction_pct: float | None = Field(
        description="saving against the baseline over matched hours [%]: 100 (B - A) / B"
    )
    saved_kwh: float | None = Field(description="baseline minus actual over matched hours [kWh]")
    actual_kwh: float | None = Field(description="measured energy over matched hours [kWh]")
    baseline_kwh: float | None = Field(description="baseline energy over matched hours [kWh]")
    kwh_per_m2: float | None = Field(
        description="measured energy per floor area, scaled to all elapsed hours [kWh/m²]"
    )
    kwh_per_m2_annual: float | None = Field(description="annualised energy intensity [kWh/m²/year]")
    target_pct: float = Field(description="the site's reduction target [%]")
    target_progress: float | None = Field(
        description="reduction_pct / target_pct (1 = target reached); null without a target"
    )
    saved_money: float | None = Field(description="saved_kwh x price_per_kwh [currency]")
    saved_co2_kg: float | None = Field(description="saved_kwh x emission factor [kg CO2]")
    baseline_method: str = Field(description="the baseline method that scores this site")
    baseline_problem: list[str] | None = Field(
        description="why the site has no baseline (sufficiency rules), or null"
    )
    baseline_fingerprint: str | None = Field(
        description="SHA-256 of the locked baseline's inputs (hex)"
    )
    uncertainty_kwh: float | None = Field(description="uncertainty of saved_kwh (ASHRAE 14) [kWh]")
    uncertainty_pct_points: float | None = Field(
        description="uncertainty of reduction_pct [percentage points]"
    )
    significant: bool = Field(description="the saving is larger than its uncertainty")
    completeness: float | None = Field(description="matched hours / elapsed hours [0..1]")
    hours_matched: int = Field(description="elapsed hours with both measured and baseline [h]")
    eligible: bool = Field(description="completeness reaches the competition's minimum")
    live_power_kw: float | None = Field(description="sum of the meters' last power [kW]")
    last_reading: str | None = Field(
        description="the oldest of the meters' last readings, local ISO-8601"
    )
    stale: bool = Field(description="a meter has been silent over 15 minutes, or never spoke")


class Leaderboard(BaseModel):
    competition: str
    name: str
    metric: str = Field(description="reduction or kwh_per_m2: the league ranked by")
    as_of: str = Field(description="when the figures were computed, local ISO-8601")
    hours_elapsed: int = Field(description="competition hours elapsed [h]")
    baseline_method: str = Field(description="the competition's baseline method")
    billing_sites: list[str] = Field(description="sites scored on their bills")
    entries: list[LeaderboardEntry] = Field(description="ranked sites first, then unranked")
    synthetic: bool = Field(description="the data is synthetic (the demo)")
    closed: Closed | None = Field(None, description="only once the competition is closed")


class SiteRanks(BaseModel):
    rank: list[int] = Field(description="rank at the end of each day (0: not ranked)")
    reduction_pct: list[float | None] = Field(description="reduction at the end of each day [%]")


class RankHistory(BaseModel):
    competition: str
    days: list[str] = Field(description="elapsed local days (YYYY-MM-DD)")
    sites: dict[str, SiteRanks] = Field(description="site id → its standings, one per day")


class Today(BaseModel):
    actual_kwh: float = Field(description="measured so far today [kWh]")
    baseline_kwh: float | None = Field(description="baseline of the same hours [kWh]")
    reduction_pct: float | None = Field(description="saving so far today [%]")


class TrapFigures(BaseModel):
    night_base_kw: float | None = Field(description="night base load [kW]")
    weekend_base_kw: float | None = Field(description="weekend base load [kW]")
    after_hours_share_pct: float | None = Field(description="energy used outside hours [%]")


class EnergyTraps(BaseModel):
    competition: TrapFigures = Field(description="during the competition")
    baseline: TrapFigures = Field(description="in the baseline")
    night_base_change_pct: float | None = Field(description="change of night base load [%]")
    weekend_base_change_pct: float | None = Field(description="change of weekend base load [%]")
    after_hours_share_change_pct_points: float | None = Field(
        description="change of the after-hours share [percentage points]"
    )


class ActionEffect(BaseModel):
    ratio_before: float | None = Field(description="actual / baseline the week before")
    ratio_after: float | None = Field(description="actual / baseline the week after")
    change_pct_points: float | None = Field(description="the change [percentage points]")
    hours_before: int = Field(description="hours compared before [h]")
    hours_after: int = Field(description="hours compared after [h]")


class Action(BaseModel):
    """An annotated action of the site and its measured effect."""

    id: int
    ts: str = Field(description="when it took effect, local ISO-8601")
    text: str
    author: str
    effect: ActionEffect


class DayRank(BaseModel):
    date: str = Field(description="local day (YYYY-MM-DD)")
    rank: int = Field(description="rank at its end (0: not ranked)")
    reduction_pct: float | None = Field(description="reduction at its end [%]")


class SiteDetail(BaseModel):
    competition: str
    site: str
    name: str
    municipality: str
    area_m2: float = Field(description="heated floor area, Atemp [m²]")
    target_pct: float = Field(description="reduction target [%]")
    meters: list[str]
    baseline_method: str
    baseline_problem: list[str] | None = Field(description="why it has no baseline, or null")
    baseline_fingerprint: str | None = Field(description="SHA-256 of the baseline's inputs")
    as_of: str = Field(description="local ISO-8601")
    live_power_kw: float | None = Field(description="sum of the meters' last power [kW]")
    last_reading: str | None = Field(description="local ISO-8601")
    stale: bool
    today: Today
    period: LeaderboardEntry = Field(description="its leaderboard entry (by reduction)")
    energy_traps: EnergyTraps
    actions: list[Action]
    sites_ranked: int = Field(description="sites ranked in the reduction league")
    rank_history: list[DayRank]
    closed: Closed | None = Field(None, description="only once the competition is closed")


class SeriesPoint(BaseModel):
    start: str = Field(description="the hour's or day's start, local ISO-8601")
    actual_kwh: float | None = Field(description="measured energy [kWh]; null when unknown")
    baseline_kwh: float | None = Field(description="baseline energy [kWh]; null when none")


class Series(BaseModel):
    competition: str
    site: str
    resolution: str = Field(description="hour or day")
    series: list[SeriesPoint] = Field(description="one per elapsed hour or local day")
    closed: Closed | None = Field(None, description="only once the competition is closed")
