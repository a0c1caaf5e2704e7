"""A small competition with known outcomes, seeded straight into a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.store.base import Message, StoredReading
from scoring.competition_file import parse_competition

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2011, 3, 8, 0, 0, tzinfo=TZ)  # 168 hours of the period elapsed
COMPETITION_TOML = """
[competition]
id = "liten"
name = "Liten tävling för kommunhus"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-31
baseline = { method = "previous-year" }
price_per_kwh = 1.2
co2_g_per_kwh = 45

[[site]]
id = "alfa"
municipality = "Älvdalens kommun"
name = "Älvdalens kommunhus"
area_m2 = 1000
target_pct = 10
  [[site.meter]]
  id = "alfa-main"

[[site]]
id = "beta"
municipality = "Piteå kommun"
name = "Piteå kommunhus"
area_m2 = 500
target_pct = 10
  [[site.meter]]
  id = "beta-main"

[[site]]
id = "gamma"
municipality = "Mora kommun"
name = "Mora kommunhus"
area_m2 = 2000
  [[site.meter]]
  id = "gamma-main"

[[display]]
id = "alfa-lobby"
site = "alfa"
columns = 32
rows = 4

[[display]]
id = "beta-small"
site = "beta"
columns = 16
rows = 2
lang = "en"
"""
# (baseline kW a year earlier, competition kW): 20 %, 10 % and 5 % saved
LOADS_KW = {"alfa-main": (10.0, 8.0), "beta-main": (5.0, 4.5), "gamma-main": (20.0, 19.0)}


def competition():
    return parse_competition(COMPETITION_TOML, "liten.toml")


def hourly_readings(
    meter_id: str, first: datetime, last: datetime, power_kw: float, register_kwh: float = 100.0
) -> list[StoredReading]:
    # step in UTC: aware-datetime arithmetic in a local zone is wall-clock arithmetic and would
    # make 24 "hours" of a 23-hour DST day
    out, t, last = [], first.astimezone(UTC), last.astimezone(UTC)
    while t <= last:
        out.append(
            StoredReading(meter_id, int(t.timestamp() * 1000), register_kwh, power_kw * 1000)
        )
        t += timedelta(hours=1)
        register_kwh += power_kw
    return out


def seed(store, until: datetime = NOW) -> None:
    """A year-earlier baseline week and the competition up to ``until`` for every meter."""
    for meter_id, (base_kw, comp_kw) in LOADS_KW.items():
        readings = hourly_readings(
            meter_id, datetime(2010, 3, 2, tzinfo=TZ), datetime(2010, 3, 31, tzinfo=TZ), base_kw
        )
        readings += hourly_readings(
            meter_id, datetime(2011, 3, 1, tzinfo=TZ), until, comp_kw, register_kwh=50_000.0
        )
        store.write([Message("seed", 0, "test", readings)])


def one_site_toml(
    cid: str, name: str, meters: list[str], end: str = "2011-03-14", extra: str = ""
) -> str:
    """A competition file with one town hall (site ``alfa``) and the given meters."""
    return (
        f"""
[competition]
id = "{cid}"
name = "{name}"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = {end}
baseline = {{ method = "previous-year" }}

[[site]]
id = "alfa"
municipality = "Söderhamns kommun"
name = "Söderhamns kommunhus"
area_m2 = 1000
"""
        + "".join(f'  [[site.meter]]\n  id = "{m}"\n' for m in meters)
        + extra
    )
