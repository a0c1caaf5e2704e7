"""Writes the Grafana dashboards in ``dashboards/`` (run from anywhere:
``python deploy/grafana/make_dashboards.py``); ``tests/deploy/test_grafana.py`` fails when the
JSON files differ from what this writes, and runs every query they hold.

Two datasources, provisioned by ``provisioning/datasources/wattleague.yaml`` with fixed uids:
the InfluxDB store (InfluxQL; schema in ``docs/influxdb.md``) and Prometheus scraping
``/metrics`` of ``serve`` and of each ingest worker (``docs/operations/monitoring.md``).
The store knows meters, not sites: a site's meters come from ``wattleague_meter_info``
(serve's ``/metrics``), and a site's baseline, which the API computes and does not store, from
``wattleague_site_baseline_kwh`` and the site page.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
INFLUX = {"type": "influxdb", "uid": "wattleague-influxdb"}
PROM = {"type": "prometheus", "uid": "wattleague-prometheus"}
METERS = '"meter" =~ /^$meter$/'  # Grafana puts a multi-value variable as (a|b) here


# -- targets and variables --------------------------------------------------------------


def influx(query: str, alias: str = "", table: bool = False) -> dict:
    return {
        "datasource": INFLUX,
        "query": query,
        "rawQuery": True,
        "resultFormat": "table" if table else "time_series",
        "alias": alias,
    }


def prom(expr: str, legend: str = "", instant: bool = False, table: bool = False) -> dict:
    target = {"datasource": PROM, "expr": expr, "legendFormat": legend or "__auto"}
    if instant:
        target |= {"instant": True, "range": False}
    if table:
        target["format"] = "table"
    return target


def prom_variable(name: str, label: str, metric: str, multi: bool = False) -> dict:
    query = f"label_values({metric}, {label})"
    return {
        "name": name,
        "label": name.capitalize(),
        "type": "query",
        "datasource": PROM,
        "query": query,
        "definition": query,
        "refresh": 2,  # on time range change: new sites and meters appear
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
    }


def meter_variable() -> dict:
    query = 'SHOW TAG VALUES FROM "reading" WITH KEY = "meter"'
    return {
        "name": "meter",
        "label": "Meter",
        "type": "query",
        "datasource": INFLUX,
        "query": query,
        "definition": query,
        "refresh": 1,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "current": {"text": ["All"], "value": ["$__all"]},
    }


def chain_variable() -> dict:
    return {
        "name": "chain",
        "label": "Energy from",
        "type": "custom",
        "query": "register : reg, integrated power : pow",
        "current": {"text": "register", "value": "reg"},
        "options": [
            {"text": "register", "value": "reg", "selected": True},
            {"text": "integrated power", "value": "pow", "selected": False},
        ],
        "description": "energy pieces from the meter's register (reg) or its integrated "
        "power readings (pow): a meter that sends only power has only pow",
    }


def textbox(name: str, label: str, default: str, description: str) -> dict:
    return {
        "name": name,
        "label": label,
        "type": "textbox",
        "query": default,
        "current": {"text": default, "value": default},
        "description": description,
    }


# -- panels -----------------------------------------------------------------------------


def panel(kind: str, title: str, targets: list[dict], w: int, h: int, **extra) -> dict:
    datasource = targets[0]["datasource"] if targets else None
    for ref, target in zip("ABCDEFGHIJ", targets, strict=False):
        target["refId"] = ref
    body = {"type": kind, "title": title, "datasource": datasource, "targets": targets}
    body["gridPos"] = {"w": w, "h": h}
    unit = extra.pop("unit", None)
    thresholds = extra.pop("thresholds", None)
    defaults = extra.pop("defaults", {})
    if unit:
        defaults["unit"] = unit
    if thresholds:
        steps = [{"color": "green", "value": None}]
        steps += [{"color": c, "value": v} for v, c in thresholds]
        defaults["thresholds"] = {"mode": "absolute", "steps": steps}
        defaults.setdefault("color", {"mode": "thresholds"})
    body["fieldConfig"] = {"defaults": defaults, "overrides": extra.pop("overrides", [])}
    body |= extra
    return body


def bars(**custom) -> dict:
    return {"custom": {"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1} | custom}


def text(title: str, content: str, w: int = 24, h: int = 3) -> dict:
    return {
        "type": "text",
        "title": title,
        "gridPos": {"w": w, "h": h},
        "options": {"mode": "markdown", "content": content},
    }


def row(title: str) -> dict:
    return {"type": "row", "title": title, "collapsed": False, "gridPos": {"w": 24, "h": 1}}


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict],
    variables: list[dict],
    time_from: str = "now-7d",
    links: list[dict] | None = None,
) -> dict:
    x = y = line_h = 0
    for number, p in enumerate(panels, start=1):
        p["id"] = number
        pos = p["gridPos"]
        if x + pos["w"] > 24:
            x, y, line_h = 0, y + line_h, 0
        pos["x"], pos["y"] = x, y
        x += pos["w"]
        line_h = max(line_h, pos["h"])
    links = [
        {
            "title": "Watt League",
            "type": "dashboards",
            "tags": ["wattleague"],
            "asDropdown": True,
            "includeVars": True,
            "keepTime": True,
        },
        *(links or []),
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["wattleague"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": links,
        "panels": panels,
    }


# -- the dashboards -------------------------------------------------------------------


def overview() -> dict:
    cmp = 'competition="$competition"'
    board = [
        prom(f"max by (site) ({metric}{{{cmp}}})", instant=True, table=True)
        for metric in (
            "wattleague_site_rank",
            "wattleague_site_reduction_percent",
            "wattleague_site_saved_kwh",
            "wattleague_site_energy_kwh",
            "wattleague_site_baseline_kwh",
            "wattleague_site_power_kw",
            "wattleague_site_completeness_ratio",
        )
    ]
    names = ["Rank", "Reduction %", "Saved kWh", "Used kWh", "Baseline kWh", "kW now", "Complete"]
    rename = {f"Value #{ref}": name for ref, name in zip("ABCDEFG", names, strict=True)}
    panels = [
        row("Leaderboard (serve's figures, through Prometheus)"),
        panel(
            "table",
            "Leaderboard",
            board,
            w=14,
            h=10,
            description="The leaderboard by reduction as serve shows it: rank 0 is not ranked "
            "(too little data or no baseline). Click a site for its dashboard.",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": rename | {"site": "Site"},
                        "indexByName": {"Value #A": 0, "site": 1},
                    },
                },
                {"id": "sortBy", "options": {"sort": [{"field": "Rank"}]}},
            ],
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Site"},
                    "properties": [
                        {
                            "id": "links",
                            "value": [
                                {
                                    "title": "Site dashboard",
                                    "url": "/d/wattleague-site/watt-league-site?"
                                    "var-competition=${competition}&var-site=${__value.raw}"
                                    "&${__url_time_range}",
                                }
                            ],
                        }
                    ],
                }
            ],
        ),
        panel(
            "bargauge",
            "Reduction by site",
            [
                prom(
                    f"sort_desc(max by (site) (wattleague_site_reduction_percent{{{cmp}}}))",
                    "{{site}}",
                    True,
                )
            ],
            w=10,
            h=10,
            unit="percent",
            options={"orientation": "horizontal", "displayMode": "gradient"},
        ),
        panel(
            "timeseries",
            "Reduction over time",
            [prom(f"max by (site) (wattleague_site_reduction_percent{{{cmp}}})", "{{site}}")],
            w=12,
            h=8,
            unit="percent",
        ),
        panel(
            "timeseries",
            "Power by site",
            [prom(f"max by (site) (wattleague_site_power_kw{{{cmp}}})", "{{site}}")],
            w=12,
            h=8,
            unit="kwatt",
        ),
        row("Meters (the InfluxDB store)"),
        panel(
            "stat",
            "Power now per meter",
            [
                influx(
                    f'SELECT last("power_w") FROM "reading" WHERE {METERS} AND $timeFilter '
                    'GROUP BY "meter"',
                    "$tag_meter",
                )
            ],
            w=24,
            h=5,
            unit="watt",
            description="The last power reading of each meter in the time range.",
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "value_and_name"},
        ),
        panel(
            "timeseries",
            "Power per meter",
            [
                influx(
                    f'SELECT mean("power_w") FROM "reading" WHERE {METERS} AND $timeFilter '
                    'GROUP BY time($__interval), "meter" fill(none)',
                    "$tag_meter",
                )
            ],
            w=12,
            h=9,
            unit="watt",
        ),
        panel(
            "timeseries",
            "Energy per meter",
            [
                influx(
                    f'SELECT sum("kwh") FROM "energy" WHERE {METERS} AND "chain" = \'$chain\' '
                    'AND $timeFilter GROUP BY time($__interval), "meter" fill(none)',
                    "$tag_meter",
                )
            ],
            w=12,
            h=9,
            unit="kwatth",
            interval="1h",
            description="kWh per bar (at least an hour): the sum of the meter's energy pieces, "
            "as the scores use them.",
            defaults=bars(stacking={"mode": "normal"}),
        ),
        panel(
            "timeseries",
            "Energy per day (all selected meters)",
            [
                influx(
                    f'SELECT sum("kwh") FROM "energy" WHERE {METERS} AND "chain" = \'$chain\' '
                    "AND $timeFilter GROUP BY time(1d) fill(none) tz('$timezone')",
                    "kWh",
                )
            ],
            w=24,
            h=7,
            unit="kwatth",
            defaults=bars(),
        ),
    ]
    return dashboard(
        "wattleague-overview",
        "Watt League: competition overview",
        "The leaderboard as serve computes it, power and energy per meter from the store.",
        panels,
        [
            prom_variable("competition", "competition", "wattleague_meter_info"),
            meter_variable(),
            chain_variable(),
            timezone_variable(),
        ],
    )


def timezone_variable() -> dict:
    return textbox(
        "timezone",
        "Competition time zone",
        "Europe/Stockholm",
        "days start at midnight in this zone (the competition file's timezone)",
    )


def site() -> dict:
    sel = 'competition="$competition", site="$site"'
    site_meters = '"meter" =~ /^$meter$/ AND "chain" = \'$chain\''
    hourly = (
        f'SELECT sum("kwh") AS "kwh_h" FROM "energy" WHERE {site_meters} AND $timeFilter '
        "GROUP BY time(1h) fill(none)"
    )

    def stat(title: str, metric: str, unit: str | None = None, **extra) -> dict:
        return panel(
            "stat", title, [prom(f"max({metric}{{{sel}}})", "$site", True)], w=4, h=4,
            unit=unit, **extra,
        )  # fmt: skip

    panels = [
        stat("Rank", "wattleague_site_rank", decimals=0),
        stat("Reduction", "wattleague_site_reduction_percent", "percent"),
        stat("Saved", "wattleague_site_saved_kwh", "kwatth"),
        stat("Used so far", "wattleague_site_energy_kwh", "kwatth"),
        stat("Baseline so far", "wattleague_site_baseline_kwh", "kwatth"),
        stat("Power now", "wattleague_site_power_kw", "kwatt"),
        panel(
            "timeseries",
            "Energy so far against the baseline",
            [
                prom(f"max(wattleague_site_energy_kwh{{{sel}}})", "used"),
                prom(f"max(wattleague_site_baseline_kwh{{{sel}}})", "baseline"),
            ],
            w=12,
            h=8,
            unit="kwatth",
            description="Cumulative figures of the leaderboard as serve computed them: the "
            "baseline is temperature-normalised by the API and not stored in InfluxDB. Hour by "
            "hour, with the baseline model: the site page (link at the top).",
        ),
        panel(
            "timeseries",
            "Reduction over time",
            [prom(f"max(wattleague_site_reduction_percent{{{sel}}})", "reduction")],
            w=12,
            h=8,
            unit="percent",
        ),
        panel(
            "timeseries",
            "Hourly energy",
            [influx(hourly, "kWh")],
            w=12,
            h=8,
            unit="kwatth",
            description="The site's meters summed per hour from the store's energy pieces.",
            defaults=bars(),
        ),
        panel(
            "timeseries",
            "The same hours 52 weeks earlier",
            [influx(hourly, "kWh a year earlier")],
            w=12,
            h=8,
            unit="kwatth",
            timeShift="52w",
            description="What the site used on the same weekdays a year earlier, not "
            "normalised: the previous-year baseline before its temperature correction.",
            defaults=bars(),
        ),
        panel(
            "timeseries",
            "Base load (lowest hour of each day)",
            [
                influx(
                    f'SELECT min("kwh_h") FROM ({hourly}) WHERE $timeFilter '
                    "GROUP BY time(1d) fill(none) tz('$timezone')",
                    "base load",
                )
            ],
            w=12,
            h=8,
            unit="kwatt",
            description="The least energy the site used in one hour of each day: its average "
            "power in that hour [kW], what runs when the building is empty.",
        ),
        panel(
            "timeseries",
            "Power per meter",
            [
                influx(
                    f'SELECT mean("power_w") FROM "reading" WHERE {METERS} AND $timeFilter '
                    'GROUP BY time($__interval), "meter" fill(none)',
                    "$tag_meter",
                )
            ],
            w=12,
            h=8,
            unit="watt",
        ),
        panel(
            "timeseries",
            "Register against integrated power, per hour",
            [
                influx(
                    'SELECT sum("reg_kwh") AS "register", sum("pow_kwh") AS "integrated power" '
                    f'FROM "hourly" WHERE {METERS} AND $timeFilter GROUP BY time(1h) fill(none)',
                )
            ],
            w=24,
            h=8,
            unit="kwatth",
            description="The store's hourly rollup (measurement hourly: one point per meter "
            "and hour): both chains of the site's meters. The scores use the register where it "
            "measured at least as long as power did; a gap in one line shows where the other "
            "stood in. A store written before the rollup existed shows nothing here until "
            "`wattleague deploy influx-rollup` has filled it (docs/influxdb.md, The hourly "
            "rollup).",
        ),
    ]
    return dashboard(
        "wattleague-site",
        "Watt League: site",
        "One site: its leaderboard figures (serve), hourly energy, the same hours a year "
        "earlier and its base load (the store).",
        panels,
        [
            prom_variable("competition", "competition", "wattleague_meter_info"),
            prom_variable("site", "site", 'wattleague_meter_info{competition="$competition"}'),
            prom_variable(
                "meter", "meter", 'wattleague_meter_info{competition="$competition", site="$site"}',
                multi=True,
            ) | {"current": {"text": ["All"], "value": ["$__all"]}},
            chain_variable(),
            timezone_variable(),
            textbox(
                "wattleague_url",
                "Watt League address",
                "http://127.0.0.1:8000",
                "where people open serve's pages (the site link at the top)",
            ),
        ],
        links=[
            {
                "title": "Site page: hourly baseline and reduction",
                "type": "link",
                "url": "${wattleague_url}/sites/${competition}/${site}",
                "targetBlank": True,
            }
        ],
    )  # fmt: skip


def data_quality() -> dict:
    received_ago = (
        'SELECT (${__to} - last("received_ms")) / 1000 AS "silent_s", last("received_ms") '
        f'AS "received" FROM "reading" WHERE {METERS} AND $timeFilter GROUP BY "meter"'
    )
    panels = [
        panel(
            "stat",
            "Silent meters",
            [
                prom(
                    'max by (competition) (wattleague_meters_silent{competition=~"$competition"})',
                    "{{competition}}",
                )
            ],
            w=6,
            h=5,
            thresholds=[(1, "red")],
            description="Meters of the competition with no reading received for 15 minutes "
            "(serve).",
        ),
        panel(
            "stat",
            "Newest reading received",
            [
                prom(
                    "min by (competition) (wattleague_newest_reading_age_seconds"
                    '{competition=~"$competition"})',
                    "{{competition}}",
                )
            ],
            w=6,
            h=5,
            unit="s",
            thresholds=[(300, "orange"), (900, "red")],
            description="How long ago the newest reading of the competition arrived: every "
            "meter is silent, or ingest is stuck, when it grows.",
        ),
        panel(
            "bargauge",
            "Quarantine by reason",
            [prom("sort_desc(max by (reason) (wattleague_quarantine_messages))", "{{reason}}")],
            w=12,
            h=5,
            description="Quarantine entries in the store by reason, less those reprocessed "
            "(serve). The organiser page and GET /api/quarantine list them.",
            options={"orientation": "horizontal", "reduceOptions": {"calcs": ["lastNotNull"]}},
        ),
        panel(
            "table",
            "Time since the last reading, per meter",
            [influx(received_ago, table=True)],
            w=12,
            h=10,
            description="Meters with a reading in the time range, the longest silent first; "
            "a meter silent for longer than the range is not listed (widen the range).",
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True},
                        "renameByName": {
                            "meter": "Meter",
                            "silent_s": "Silent for",
                            "received": "Last received",
                        },
                    },
                },
                {"id": "sortBy", "options": {"sort": [{"field": "Silent for", "desc": True}]}},
            ],
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Silent for"},
                    "properties": [
                        {"id": "unit", "value": "s"},
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        {
                            "id": "thresholds",
                            "value": {
                                "mode": "absolute",
                                "steps": [
                                    {"color": "green", "value": None},
                                    {"color": "orange", "value": 300},
                                    {"color": "red", "value": 900},
                                ],
                            },
                        },
                    ],
                },
                {
                    "matcher": {"id": "byName", "options": "Last received"},
                    "properties": [{"id": "unit", "value": "dateTimeAsIso"}],
                },
            ],
        ),
        panel(
            "timeseries",
            "Quarantined per interval, by reason",
            [
                influx(
                    'SELECT count("received_ms") FROM "quarantine" WHERE $timeFilter '
                    'GROUP BY time($__interval), "reason" fill(none)',
                    "$tag_reason",
                )
            ],
            w=12,
            h=10,
            defaults=bars(stacking={"mode": "normal"}),
            description="Entries written to the store's quarantine, by the time they were "
            "received.",
        ),
        panel(
            "timeseries",
            "Measured share of each hour",
            [
                influx(
                    f'SELECT sum("measured_s") / 36 FROM "energy" WHERE {METERS} AND '
                    '"chain" = \'$chain\' AND $timeFilter GROUP BY time(1h), "meter" fill(0)',
                    "$tag_meter",
                )
            ],
            w=12,
            h=9,
            unit="percent",
            defaults={"min": 0, "max": 100},
            description="Seconds of each hour covered by the meter's readings, as a share: "
            "gaps lower the completeness the leaderboard requires.",
        ),
        panel(
            "timeseries",
            "Readings per hour",
            [
                influx(
                    f'SELECT count("received_ms") FROM "reading" WHERE {METERS} AND '
                    '$timeFilter GROUP BY time(1h), "meter" fill(0)',
                    "$tag_meter",
                )
            ],
            w=12,
            h=9,
        ),
        panel(
            "timeseries",
            "Quarantine rate at ingest, by reason",
            [
                prom(
                    "sum by (reason) (rate(wattleague_ingest_quarantined_total[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            w=24,
            h=7,
            unit="cps",
            description="Quarantine entries per second written by the ingest workers. "
            "store_rejected means InfluxDB refused the data (docs/influxdb.md).",
        ),
    ]
    return dashboard(
        "wattleague-data-quality",
        "Watt League: data quality",
        "Silent meters, gaps and the quarantine.",
        panels,
        [
            prom_variable("competition", "competition", "wattleague_meter_info", multi=True)
            | {"current": {"text": ["All"], "value": ["$__all"]}},
            meter_variable(),
            chain_variable(),
        ],
        time_from="now-24h",
    )


def operations() -> dict:
    rate = "[$__rate_interval]"
    ingest = [
        panel(
            "timeseries",
            "Ingest rate",
            [
                prom(
                    f"sum by (instance) (rate(wattleague_ingest_readings_total{rate}))",
                    "readings {{instance}}",
                ),
                prom(
                    f"sum by (instance) (rate(wattleague_ingest_messages_total{rate}))",
                    "messages {{instance}}",
                ),
                prom(
                    f"sum by (instance) (rate(wattleague_ingest_duplicates_total{rate}))",
                    "duplicates {{instance}}",
                ),
            ],
            w=12,
            h=8,
            unit="cps",
        ),
        panel(
            "timeseries",
            "Ingest lag: backlog and newest reading",
            [
                prom("wattleague_ingest_backlog_messages", "backlog {{instance}} (messages)"),
                prom("wattleague_newest_reading_age_seconds", "newest reading {{competition}} (s)"),
            ],
            w=12,
            h=8,
            description="Messages received from the broker and not yet stored, per worker; "
            "and how long ago the newest stored reading of each competition arrived.",
        ),
        panel(
            "timeseries",
            "Store write time (95th percentile)",
            [
                prom(
                    "histogram_quantile(0.95, sum by (le, instance) "
                    f"(rate(wattleague_ingest_store_write_seconds_bucket{rate})))",
                    "{{instance}}",
                ),
            ],
            w=8,
            h=8,
            unit="s",
        ),
        panel(
            "timeseries",
            "Messages per batch (mean)",
            [
                prom(
                    f"sum by (instance) (rate(wattleague_ingest_batch_messages_sum{rate})) / "
                    f"sum by (instance) (rate(wattleague_ingest_batch_messages_count{rate}))",
                    "{{instance}}",
                ),
            ],
            w=8,
            h=8,
        ),
        panel(
            "timeseries",
            "Store write errors",
            [
                prom(
                    f"sum by (instance) (rate(wattleague_ingest_store_write_errors_total{rate}))",
                    "{{instance}}",
                ),
            ],
            w=8,
            h=8,
            unit="cps",
        ),
    ]
    spool = [
        panel(
            "timeseries",
            "Spool depth",
            [
                prom("wattleague_ingest_spool_depth_batches", "waiting {{instance}}"),
                prom("wattleague_ingest_spool_set_aside_batches", "set aside {{instance}}"),
            ],
            w=8,
            h=8,
            description="Batches kept on disk while InfluxDB did not take them, replayed in "
            "order (0 with SQLite).",
        ),
        panel(
            "timeseries",
            "Oldest spooled batch",
            [prom("wattleague_ingest_spool_oldest_seconds", "{{instance}}")],
            w=8,
            h=8,
            unit="s",
        ),
        panel(
            "timeseries",
            "Spool replay failures, by code",
            [
                prom(
                    "sum by (instance, code) (rate(wattleague_ingest_spool_replay_failures_total"
                    f"{rate}))",
                    "{{code}} {{instance}}",
                ),
            ],
            w=8,
            h=8,
            unit="cps",
        ),
    ]
    state = [
        panel(
            "state-timeline",
            "Up",
            [
                prom("wattleague_store_up", "serve {{instance}}: store answers"),
                prom(
                    "wattleague_ingest_store_available", "ingest {{instance}}: store takes writes"
                ),
                prom("wattleague_ingest_broker_connected", "ingest {{instance}}: broker"),
                prom("wattleague_ingest_writer_alive", "ingest {{instance}}: writer thread"),
                prom("wattleague_ingest_spool_replay_alive", "ingest {{instance}}: spool replay"),
                prom('up{job=~"wattleague.*"}', "scraped {{job}} {{instance}}"),
            ],
            w=24,
            h=8,
            defaults={
                "mappings": [
                    {
                        "type": "value",
                        "options": {
                            "0": {"text": "down", "color": "red"},
                            "1": {"text": "up", "color": "green"},
                        },
                    }
                ],
            },
        ),
        panel(
            "timeseries",
            "Store latency (serve's probe)",
            [prom("wattleague_store_latency_seconds", "{{instance}}")],
            w=8,
            h=8,
            unit="s",
        ),
        panel(
            "timeseries",
            "SSE clients",
            [
                prom("sum by (instance) (wattleague_sse_clients)", "open {{instance}}"),
                prom(
                    f"sum by (instance) (rate(wattleague_sse_refused_total{rate})) * 60",
                    "refused per minute {{instance}}",
                ),
            ],
            w=8,
            h=8,
            description="Open leaderboard streams per serve process, and streams refused "
            "past the limits (WATTLEAGUE_STREAM_MAX_CLIENTS, …_PER_CLIENT).",
        ),
        panel(
            "timeseries",
            "Leaderboard age",
            [prom("wattleague_leaderboard_age_seconds", "{{competition}} {{instance}}")],
            w=8,
            h=8,
            unit="s",
            description="Time since the served leaderboard's as_of: it grows when refreshes "
            "fail (serve's log says why).",
        ),
        panel(
            "timeseries",
            "HTTP requests by route",
            [
                prom(
                    "sum by (route, status) "
                    "(rate(wattleague_http_requests_total[$__rate_interval]))",
                    "{{route}} {{status}}",
                )
            ],
            w=12,
            h=8,
            unit="reqps",
            description="Requests serve answered per second, by route template and status "
            "class (2xx, 4xx, 5xx), summed over the serve replicas.",
        ),
    ]
    return dashboard(
        "wattleague-operations",
        "Watt League: operations",
        "Ingest workers, the InfluxDB spool, the store and serve, from Prometheus.",
        [row("Ingest"), *ingest, row("InfluxDB spool"), *spool, row("Services"), *state],
        [],
        time_from="now-6h",
    )  # fmt: skip


DASHBOARDS = {
    "overview.json": overview,
    "site.json": site,
    "data-quality.json": data_quality,
    "operations.json": operations,
}


def render() -> dict[str, str]:
    """File name → JSON text of each dashboard."""
    return {
        name: json.dumps(make(), indent=2, ensure_ascii=False) + "\n"
        for name, make in DASHBOARDS.items()
    }


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, content in render().items():
        (OUT / name).write_text(content, encoding="utf-8")
        print(OUT / name)
