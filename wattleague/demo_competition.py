"""The demo's competition: 24 SYNTHETIC town halls, written as a competition file.

The period is placed around "now" so the demo shows a competition under way: it started 20 days
ago and lasts 91 days; the baseline is the same period a year earlier.
"""

from __future__ import annotations

from datetime import date, timedelta

from scoring.competition import Competition
from scoring.competition_file import parse_competition
from wattleague.demo_sites import DEMO_SITES

DEMO_ID = "demo-kommunhus"
SENML_EVERY = 6  # every sixth town hall's meter speaks SenML, the rest the project's JSON


def demo_meter_topic(site_id: str, fmt: str) -> str | None:
    return f"senml/{site_id}" if fmt == "senml" else None


def demo_competition_toml(today_local: date, page_s: float = 10.0) -> str:
    """Competition file text for the demo, with the period around ``today_local``;
    ``page_s`` is the displays' page time in simulated seconds."""
    start = today_local - timedelta(days=20)
    end = start + timedelta(days=90)
    parts = [
        "# Watt League demo — SYNTHETIC data: invented town-hall loads, not measurements.",
        "[competition]",
        f'id = "{DEMO_ID}"',
        'name = "Energispartävling för kommunhus (demo, syntetiska data)"',
        'timezone = "Europe/Stockholm"',
        f"start = {start.isoformat()}",
        f"end = {end.isoformat()}",
        'holidays = "SE"',
        'baseline = { method = "previous-year" }',
        "price_per_kwh = 1.20",
        'currency = "SEK"',
        "co2_g_per_kwh = 45",
        "synthetic = true",
        "",
        "# Home Assistant MQTT discovery on the demo's broker: each town hall a device",
        "[home_assistant]",
        'discovery_prefix = "homeassistant"',
        "state_interval_s = 10",
        "",
    ]
    for i, site in enumerate(DEMO_SITES):
        fmt = "senml" if i % SENML_EVERY == SENML_EVERY - 1 else "json"
        parts += [
            "[[site]]",
            f'id = "{site.id}"',
            f'municipality = "{site.municipality}"',
            f'name = "{site.name}"',
            f"area_m2 = {site.area_m2:g}",
            "target_pct = 10",
            "  [[site.meter]]",
            f'  id = "{site.id}-main"',
            f'  format = "{fmt}"',
            "  max_power_w = 400000",
        ]
        topic = demo_meter_topic(site.id, fmt)
        if topic:
            parts.append(f'  topic = "{topic}"')
        parts += [
            "",
            "[[display]]",
            f'id = "{site.id}-lobby"',
            f'site = "{site.id}"',
            'kind = "text"',
            "columns = 32",
            "rows = 4",
            f"page_s = {page_s:g}",
            "",
        ]
    # one of each other kind of display for Söderhamn, to try every frame and the kiosk page
    first = DEMO_SITES[0].id
    for did, kind, extra in (
        ("kiosk", "kiosk", []),
        ("matrix", "matrix", ["width_px = 64", "height_px = 32"]),
        ("clock", "awtrix", []),
        ("strip", "wled", []),
    ):
        parts += [
            "[[display]]",
            f'id = "{first}-{did}"',
            f'site = "{first}"',
            f'kind = "{kind}"',
            *extra,
            f"page_s = {page_s:g}",
            "",
        ]
    return "\n".join(parts)


def demo_competition(today_local: date, page_s: float = 10.0) -> Competition:
    return parse_competition(demo_competition_toml(today_local, page_s), "<demo>")
