"""The competition model: competition, sites, meters and displays, validated with pydantic.

Every other stage imports this model; it holds no I/O. ``competition_file`` parses TOML into it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scoring import baselines

Identifier = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9_-]*$",
        max_length=64,
        description="lower-case letters, digits, '-' and '_'",
    ),
]
MeterFormat = Literal["dsmr", "tasmota", "shelly", "senml", "json", "emon", "auto"]
DisplayKind = Literal["text", "matrix", "awtrix", "wled", "kiosk"]

_MQTT_WILDCARDS = re.compile(r"[#+]")


def _known_method(name: str) -> str:
    """A baseline method of the registry (``scoring.baselines.METHODS``)."""
    if name not in baselines.METHODS:
        known = ", ".join(repr(n) for n in baselines.METHODS)
        raise ValueError(f"unknown baseline method; use one of {known}")
    return name


def _site_method(name: str) -> str:
    """A baseline method a site may choose for itself (``BaselineMethod.per_site``)."""
    _known_method(name)
    if not baselines.METHODS[name].per_site:
        allowed = ", ".join(repr(n) for n, m in baselines.METHODS.items() if m.per_site)
        raise ValueError(
            f"a site can choose only {allowed} for itself ({name!r} reads the competition's "
            "history window): set it as the competition's baseline.method instead"
        )
    return name


BaselineMethodName = Annotated[
    str,
    AfterValidator(_known_method),
    Field(description="a baseline method (scoring.baselines)"),
]
SiteBaselineMethodName = Annotated[str, AfterValidator(_site_method)]


def _plain_topic(topic: str | None) -> str | None:
    if topic is not None and (not topic or _MQTT_WILDCARDS.search(topic)):
        raise ValueError("a topic must be a plain topic name without '+' or '#'")
    return topic


Topic = Annotated[str | None, AfterValidator(_plain_topic)]


class _Strict(BaseModel):
    # inf and nan are valid TOML floats; no figure of a competition may be either
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BaselineSpec(_Strict):
    """How a site's expected consumption without the competition is built."""

    method: BaselineMethodName = baselines.DEFAULT
    weeks: int = Field(8, ge=1, le=52, description="pre-period: weeks before the start")


class Meter(_Strict):
    id: Identifier
    topic: Topic = Field(None, description="MQTT topic; default wattleague/<comp>/<site>/<meter>")
    format: MeterFormat = "json"
    max_power_w: float | None = Field(
        None,
        gt=0,
        le=1e9,
        description="power readings above this are quarantined [W] (default 10 MW)",
    )
    max_payload_bytes: int | None = Field(
        None,
        ge=64,
        le=16 * 1024 * 1024,
        description="larger messages are quarantined as too_large [bytes] (default: the "
        "format's cap)",
    )
    channel: str | None = Field(
        None, min_length=1, description="channel of a multi-channel device, e.g. switch:1 or em1:0"
    )


class WeatherStation(_Strict):
    """Outdoor temperature for regression baselines, published over MQTT or imported."""

    id: Identifier
    topic: Topic = Field(None, description="MQTT topic; default wattleague/<comp>/weather/<id>")
    format: Literal["json", "senml"] = "json"
    name: str = ""


class Site(_Strict):
    id: Identifier
    municipality: str = Field(min_length=1)
    name: str = Field(min_length=1)
    area_m2: float = Field(gt=0, description="heated floor area (Atemp) [m²]")
    target_pct: float = Field(0.0, ge=0, lt=100, description="reduction target [%]")
    weather: str | None = Field(None, description="weather station id (default: the first)")
    baseline_method: SiteBaselineMethodName | None = Field(
        None,
        description="score this site with its own baseline method (one a site may choose, "
        "e.g. billing: its imported bills) whatever the competition's",
    )
    meters: list[Meter] = Field(alias="meter", min_length=1)

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


AWTRIX_SIZE_PX = (32, 8)  # Ulanzi TC001: the only AWTRIX 3 panel size
MATRIX_DEFAULT_SIZE_PX = (64, 32)  # one HUB75 panel


class Display(_Strict):
    id: Identifier
    site: str
    kind: DisplayKind = "text"
    columns: int = Field(32, ge=8, le=80, description="text: characters per line")
    rows: int = Field(4, ge=1, le=8, description="text: lines")
    lang: Literal["sv", "en"] = "sv"
    width_px: int | None = Field(
        None, ge=8, le=256, description="matrix: panel width [px] (default 64; awtrix: 32)"
    )
    height_px: int | None = Field(
        None, ge=8, le=256, description="matrix: panel height [px] (default 32; awtrix: 8)"
    )
    page_s: float = Field(
        10.0,
        ge=1,
        le=3600,
        description="rotation: how long each page is shown [s]; display clients poll this often",
    )
    stale_after_s: float | None = Field(
        None, gt=0, description="mark data stale after this meter silence [s] (default 900)"
    )
    ascii: bool = Field(
        False, description="text: transliterate to ASCII (å→a) for signs without Swedish glyphs"
    )
    brightness: int = Field(128, ge=1, le=255, description="wled: brightness (bri)")
    awtrix_prefix: str | None = Field(
        None, min_length=1, description="awtrix: the clock's MQTT prefix, e.g. awtrix_1a2b3c"
    )
    awtrix_app: Identifier = Field("wattleague", description="awtrix: custom app name")
    awtrix_icon: str | None = Field(None, min_length=1, description="awtrix: icon id or name")
    wled_url: str | None = Field(
        None, pattern=r"^https?://[^\s/]+", description="wled: http://host of the controller"
    )

    @field_validator("awtrix_prefix")
    @classmethod
    def _plain_prefix(cls, prefix: str | None) -> str | None:
        if prefix is not None and (_MQTT_WILDCARDS.search(prefix) or prefix.endswith("/")):
            raise ValueError(
                "awtrix_prefix is the clock's MQTT prefix (e.g. awtrix_1a2b3c) without '+', '#' "
                "or a trailing '/'"
            )
        return prefix

    @model_validator(mode="after")
    def _awtrix_size(self) -> Display:
        if self.kind == "awtrix" and (self.width_px, self.height_px) not in {
            (None, None),
            AWTRIX_SIZE_PX,
        }:
            raise ValueError(
                f"an awtrix display is 32x8 pixels; got width_px={self.width_px}, "
                f"height_px={self.height_px}: remove them or use kind = 'matrix'"
            )
        return self

    @model_validator(mode="after")
    def _pixel_pair(self) -> Display:
        if self.kind in ("text", "wled", "kiosk") and (self.width_px is None) != (
            self.height_px is None
        ):
            raise ValueError(
                f"a {self.kind} display has pixels only with both width_px and height_px; "
                f"got width_px={self.width_px}, height_px={self.height_px}: give both, or "
                "use kind = 'matrix' (default 64x32)"
            )
        return self

    @property
    def size_px(self) -> tuple[int, int] | None:
        """(width, height) of the pixel frame [px], or None for a display without pixels."""
        if self.kind == "awtrix":
            return AWTRIX_SIZE_PX
        if self.kind == "matrix":
            return (
                self.width_px or MATRIX_DEFAULT_SIZE_PX[0],
                self.height_px or MATRIX_DEFAULT_SIZE_PX[1],
            )
        if self.width_px and self.height_px:  # e.g. a WLED 2D matrix
            return (self.width_px, self.height_px)
        return None


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def _origin(origin: str) -> str:
    """A web origin (scheme, host, optional port; no path, no wildcard): what a page may be
    framed by, written into a Content-Security-Policy as it is, so nothing else gets in."""
    if not _ORIGIN.match(origin):
        raise ValueError(
            f"{origin!r} is not an origin; write scheme and host (and port), e.g. "
            "'https://www.soderhamn.se'"
        )
    return origin.lower()


class HomeAssistant(_Strict):
    """Home Assistant MQTT discovery: ``serve`` publishes each site's sensors (its presence
    in the file turns it on)."""

    discovery_prefix: str = Field(
        "homeassistant",
        pattern=r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$",
        max_length=100,
        description="Home Assistant's discovery prefix (its MQTT integration's setting)",
    )
    state_interval_s: float = Field(
        60.0, ge=5, le=3600, description="how often the sites' states are published [s]"
    )


class Embed(_Strict):
    """Embeddable standing pages (``/embed/{cid}/{sid}``): who may frame them."""

    frame_ancestors: list[Annotated[str, AfterValidator(_origin)]] = Field(
        default_factory=list,
        max_length=50,
        description="origins allowed to frame the embed pages (none: only this server)",
    )


class CompetitionInfo(_Strict):
    id: Identifier
    name: str = Field(min_length=1)
    timezone: str = "Europe/Stockholm"
    start: date
    end: date
    holidays: str = Field("SE", pattern=r"^[A-Z]{2}$", description="ISO 3166 country code")
    baseline: BaselineSpec = BaselineSpec()
    price_per_kwh: float = Field(0.0, ge=0, description="price in `currency` per kWh")
    currency: str = "SEK"
    co2_g_per_kwh: float = Field(0.0, ge=0, description="emission factor [g CO₂/kWh]")
    synthetic: bool = Field(False, description="the data is simulated (demo); pages say so")
    min_completeness_pct: float = Field(
        90.0,
        ge=0,
        le=100,
        description="sites below this share of measured hours are not ranked [%]",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r}; use an IANA name such as 'Europe/Stockholm'"
            ) from None
        return name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Competition(_Strict):
    """A whole competition file: the competition, its sites and its displays."""

    competition: CompetitionInfo
    sites: list[Site] = Field(alias="site", min_length=1)
    displays: list[Display] = Field(default_factory=list, alias="display")
    weather: list[WeatherStation] = Field(default_factory=list)
    home_assistant: HomeAssistant | None = None
    embed: Embed = Embed()

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> Competition:
        if info.context and info.context.get("defer_cross_references"):
            return self  # the file loader reports these with their locations itself
        problems = cross_reference_problems(self.model_dump(by_alias=True, mode="json"))
        if problems:
            raise ValueError("; ".join(message for _, message in problems))
        return self

    @property
    def id(self) -> str:
        return self.competition.id

    def site(self, site_id: str) -> Site | None:
        return next((s for s in self.sites if s.id == site_id), None)

    def display(self, display_id: str) -> Display | None:
        return next((d for d in self.displays if d.id == display_id), None)

    def topics_by_meter(self) -> dict[str, str]:
        """Meter id → MQTT topic (configured, or ``wattleague/<competition>/<site>/<meter>``)."""
        return {
            m.id: m.topic or f"wattleague/{self.competition.id}/{s.id}/{m.id}"
            for s in self.sites
            for m in s.meters
        }

    def weather_topics(self) -> dict[str, str]:
        """Weather station id → MQTT topic."""
        return {
            w.id: w.topic or f"wattleague/{self.competition.id}/weather/{w.id}"
            for w in self.weather
        }

    def station_for(self, site: Site) -> str | None:
        """The weather station whose temperatures a site's regression baseline uses."""
        if site.weather:
            return site.weather
        return self.weather[0].id if self.weather else None

    def baseline_method_of(self, site: Site) -> str:
        """The baseline method that scores ``site``: its own ``baseline_method`` or the
        competition's."""
        return site.baseline_method or self.competition.baseline.method

    def meters(self) -> dict[str, tuple[Site, Meter]]:
        """Meter id → (site, meter)."""
        return {m.id: (s, m) for s in self.sites for m in s.meters}


Location = tuple[str | int, ...]


def cross_reference_problems(data: dict) -> list[tuple[Location, str]]:
    """Problems that span tables (duplicate ids and topics, dangling display sites).

    Works on the raw file data (as TOML parses it), so that the loader can report these
    together with per-field problems; entries that are malformed are skipped here.
    """
    problems: list[tuple[Location, str]] = []
    seen: dict[tuple[str, str], Location] = {}

    def unique(kind: str, value: object, loc: Location) -> None:
        if not isinstance(value, str):
            return
        first = seen.setdefault((kind, value), loc)
        if first is not loc:
            where = ".".join(str(p) for p in first)
            problems.append((loc, f"duplicate {kind} {value!r} (first used at {where})"))

    info = data.get("competition") if isinstance(data.get("competition"), dict) else {}
    start, end = info.get("start"), info.get("end")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        problems.append((("competition", "end"), f"end {end} is before start {start}"))
    comp_id = info.get("id", "")
    sites = _list_of_dicts(data.get("site"))
    topic_formats: dict[str, tuple[object, Location]] = {}
    for i, site in enumerate(sites):
        unique("site id", site.get("id"), ("site", i, "id"))
        for j, meter in enumerate(_list_of_dicts(site.get("meter"))):
            unique("meter id", meter.get("id"), ("site", i, "meter", j, "id"))
            topic = meter.get("topic") or f"wattleague/{comp_id}/{site.get('id')}/{meter.get('id')}"
            channel = meter.get("channel")
            if channel is None:
                unique("meter topic", topic, ("site", i, "meter", j, "topic"))
            else:  # meters of one multi-channel device share its topic
                unique(
                    "meter topic and channel",
                    f"{topic} [{channel}]",
                    ("site", i, "meter", j, "channel"),
                )
            loc = ("site", i, "meter", j, "format")
            fmt, first = topic_formats.setdefault(str(topic), (meter.get("format", "json"), loc))
            if fmt != meter.get("format", "json"):
                where = ".".join(str(p) for p in first)
                problems.append(
                    (loc, f"meters on topic {topic!r} must share one format ({fmt!r} at {where})")
                )
    method = (
        (info.get("baseline") or {}).get("method")
        if isinstance(info.get("baseline"), dict)
        else None
    )
    if not _list_of_dicts(data.get("weather")):
        chosen = [(("competition", "baseline", "method"), method, False)] + [
            (("site", i, "baseline_method"), site.get("baseline_method"), True)
            for i, site in enumerate(sites)
        ]
        for loc, wanted, by_site in chosen:
            known = baselines.METHODS.get(wanted) if isinstance(wanted, str) else None
            if known is None or (by_site and not known.per_site):
                continue  # reported as an unknown (or not per-site) method
            if known.needs.temperature:
                problems.append(
                    (loc, f"{wanted!r} needs outdoor temperature: add a [[weather]] station")
                )
    site_ids = {s.get("id") for s in sites}
    stations = _list_of_dicts(data.get("weather"))
    station_ids = {w.get("id") for w in stations}
    for k, station in enumerate(stations):
        unique("weather station id", station.get("id"), ("weather", k, "id"))
        topic = station.get("topic") or f"wattleague/{comp_id}/weather/{station.get('id')}"
        if str(topic) in topic_formats:
            problems.append((("weather", k, "topic"), f"topic {topic!r} is a meter's topic"))
    for i, site in enumerate(sites):
        if site.get("weather") is not None and site["weather"] not in station_ids:
            problems.append(
                (
                    ("site", i, "weather"),
                    f"names weather station {site['weather']!r}, which no [[weather]] defines",
                )
            )
    for k, display in enumerate(_list_of_dicts(data.get("display"))):
        unique("display id", display.get("id"), ("display", k, "id"))
        if "site" in display and display["site"] not in site_ids:
            problems.append(
                (
                    ("display", k, "site"),
                    f"names site {display['site']!r}, which no [[site]] defines",
                )
            )
    return problems


def _list_of_dicts(value: object) -> list[dict]:
    return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []
