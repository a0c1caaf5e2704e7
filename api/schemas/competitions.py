"""Bodies of ``GET /api/competitions`` and ``GET /api/competitions/{cid}``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BaselineSpec(BaseModel):
    method: str = Field(description="the competition's baseline method, e.g. previous-year")
    weeks: int = Field(description="pre-period: weeks before the start")


class CompetitionSummary(BaseModel):
    """A competition as the list shows it."""

    id: str
    name: str
    timezone: str = Field(description="IANA time zone of its local days, e.g. Europe/Stockholm")
    start: str = Field(description="first day, local date (YYYY-MM-DD)")
    end: str = Field(description="last day, local date (YYYY-MM-DD), inclusive")
    baseline: BaselineSpec
    sites: int = Field(description="number of sites")
    price_per_kwh: float = Field(description="energy price [currency/kWh]")
    currency: str = Field(description="currency of price_per_kwh and saved_money")
    co2_g_per_kwh: float = Field(description="emission factor [g CO2/kWh]")
    synthetic: bool = Field(description="the data is synthetic (the demo), not measured")


class CompetitionList(BaseModel):
    competitions: list[CompetitionSummary]


class SiteInfo(BaseModel):
    id: str
    name: str
    municipality: str
    area_m2: float = Field(description="heated floor area, Atemp [m²]")
    target_pct: float = Field(description="the site's reduction target [%]")
    meters: list[str] = Field(description="meter ids")


class DisplayInfo(BaseModel):
    """A ``[[display]]`` of the competition file; ``wled_url`` and ``awtrix_prefix`` (where it
    lives on the network) only with an organiser token."""

    id: str
    site: str
    kind: str = Field(description="text, matrix, awtrix or wled")
    columns: int = Field(description="text: characters per line")
    rows: int = Field(description="text: lines")
    lang: str = Field(description="sv or en")
    width_px: int | None = Field(description="matrix: panel width [px]")
    height_px: int | None = Field(description="matrix: panel height [px]")
    page_s: float = Field(description="how long each page is shown [s]")
    stale_after_s: float | None = Field(description="data older than this is marked stale [s]")
    ascii: bool = Field(description="text transliterated to ASCII")
    brightness: int = Field(description="wled: brightness (1-255)")
    awtrix_app: str = Field(description="awtrix: custom app name")
    awtrix_icon: str | None = Field(description="awtrix: icon id or name")
    awtrix_prefix: str | None = Field(
        None, description="awtrix: the clock's MQTT prefix (organiser token only)"
    )
    wled_url: str | None = Field(
        None, description="wled: http://host of the controller (organiser token only)"
    )


class CompetitionDetail(CompetitionSummary):
    sites_detail: list[SiteInfo]
    displays: list[DisplayInfo]
