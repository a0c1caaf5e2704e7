"""deploy/grafana: the dashboards are what ``make_dashboards.py`` writes, parse, use only the
provisioned datasources, and every query they hold works: InfluxQL (with the template
variables, ``$timeFilter`` and ``$__interval`` put in as Grafana does) against a real InfluxDB
filled through the project's own store, PromQL through promtool and against the metric names
of a real ``/metrics`` (``test_prometheus_rules``). Grafana itself is not run here."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ingest.store import open_store
from ingest.store.base import Message, Rejected, StoredReading
from tests.deploy.test_prometheus_rules import (  # noqa: F401 (the fixture)
    SYNTHETIC,
    exposed_names,
    exposition,
    metric_names,
    promtool,
)
from tests.fixtures import NOW, TZ, competition, seed
from tests.influx import database_name

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
START = datetime(2011, 3, 1, tzinfo=TZ)  # the fixture competition's first day
RECEIVED_MS = int((NOW - timedelta(minutes=20)).timestamp() * 1000)
# values of the variables Grafana would offer for the fixture competition
PICKED = {
    "competition": "liten",
    "site": "alfa",
    "chain": "reg",
    "timezone": "Europe/Stockholm",
    "wattleague_url": "http://127.0.0.1:8000",
}
_SHIFT = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(dashboard: dict) -> list[dict]:
    out = []
    for p in dashboard["panels"]:
        out.append(p)
        out += p.get("panels", [])  # a collapsed row holds its panels
    return out


def provisioned() -> dict[str, str]:
    """uid → type of the provisioned datasources."""
    path = GRAFANA / "provisioning" / "datasources" / "wattleague.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {ds["uid"]: ds["type"] for ds in data["datasources"]}


def queries(kind: str) -> list[tuple[str, dict, dict, str]]:
    """(dashboard file, panel or variable, target, query) of every query of ``kind``
    (``influxdb`` or ``prometheus``) in the dashboards, variables included."""
    out = []
    for path in DASHBOARDS:
        dash = load(path)
        for p in panels(dash):
            for target in p.get("targets", []):
                if target["datasource"]["type"] == kind:
                    out.append((path.name, p, target, target.get("query") or target["expr"]))
        for var in dash["templating"]["list"]:
            if var.get("datasource", {}).get("type") == kind:
                query = var["query"]
                out.append(
                    (path.name, var, {}, query if isinstance(query, str) else query["query"])
                )
    return out


# -- what Grafana does to a query before it sends it ----------------------------------------


def escape_regex(value: str) -> str:
    """Grafana's ``escapeRegex`` (packages/grafana-data), which the InfluxDB datasource applies
    to each value of a multi-value variable."""
    return re.sub(r"[\\^$*+?.()|\[\]{}/]", lambda m: "\\" + m.group(0), value)


def interpolate(
    query: str, variables: dict[str, str | list[str]], from_ms: int, to_ms: int, interval: str
) -> str:
    """A query as Grafana's InfluxDB datasource sends it: ``$timeFilter``, ``$__interval``,
    ``${__from}``/``${__to}`` and the dashboard's variables (multi-value ones as
    ``(a|b)`` of regex-escaped values, single ones as they are)."""
    q = query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    q = q.replace("$__interval", interval).replace("$interval", interval)
    q = q.replace("${__from}", str(from_ms)).replace("${__to}", str(to_ms))
    for name in sorted(variables, key=len, reverse=True):
        value = variables[name]
        if isinstance(value, list):
            escaped = [escape_regex(v) for v in value]
            value = escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        q = q.replace("${" + name + "}", value).replace("$" + name, value)
    assert "$" not in q.replace("$/", ""), f"a variable Grafana would not know: {q}"
    return q


def test_interpolate_matches_grafana():
    q = 'SELECT x FROM "r" WHERE "meter" =~ /^$meter$/ AND $timeFilter GROUP BY time($__interval)'
    assert interpolate(q, {"meter": ["a.1", "b/2"]}, 1000, 2000, "1h") == (
        'SELECT x FROM "r" WHERE "meter" =~ /^(a\\.1|b\\/2)$/ AND time >= 1000ms and '
        "time <= 2000ms GROUP BY time(1h)"
    )
    assert interpolate("'$chain' $chainx", {"chain": "reg", "chainx": "y"}, 0, 1, "1h") == "'reg' y"


# -- the files ------------------------------------------------------------------------------


def test_the_dashboards_are_what_make_dashboards_writes():
    spec = importlib.util.spec_from_file_location("make_dashboards", GRAFANA / "make_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.render()
    assert sorted(written) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text(encoding="utf-8") == written[path.name], (
            f"{path.name} differs: run python deploy/grafana/make_dashboards.py"
        )


def test_dashboards_parse_with_unique_ids_and_provisioned_datasources():
    sources = provisioned()
    assert set(sources.values()) == {"influxdb", "prometheus"}
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids) == 4
    for path in DASHBOARDS:
        dash = load(path)
        ids = [p["id"] for p in panels(dash)]
        assert len(set(ids)) == len(ids), f"{path.name}: panel ids repeat"
        refs = [p["datasource"] for p in panels(dash) if p.get("datasource")]
        refs += [t["datasource"] for p in panels(dash) for t in p.get("targets", [])]
        refs += [v["datasource"] for v in dash["templating"]["list"] if "datasource" in v]
        for ref in refs:
            assert sources.get(ref["uid"]) == ref["type"], f"{path.name}: {ref} not provisioned"
        for p in panels(dash):
            pos = p["gridPos"]
            assert pos["x"] + pos["w"] <= 24, f"{path.name}: {p['title']} is off the grid"
            refs_in_panel = [t["refId"] for t in p.get("targets", [])]
            assert len(set(refs_in_panel)) == len(refs_in_panel)


def test_provisioning_takes_secrets_from_the_environment_and_finds_the_dashboards():
    text = (GRAFANA / "provisioning" / "datasources" / "wattleague.yaml").read_text()
    data = yaml.safe_load(text)
    influx = next(ds for ds in data["datasources"] if ds["type"] == "influxdb")
    assert influx["jsonData"]["version"] == "InfluxQL"
    assert influx["jsonData"]["dbName"] == "${WATTLEAGUE_INFLUX_DATABASE}"
    assert influx["secureJsonData"]["httpHeaderValue1"] == "Token ${WATTLEAGUE_INFLUX_TOKEN}"
    provider_file = GRAFANA / "provisioning" / "dashboards" / "wattleague.yaml"
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    assert provider["type"] == "file"
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    assert f"../grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "../grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    env = grafana["environment"]
    values = re.sub(r"(?m)^\s*#.*$", "", text)  # Grafana reads variables in values only
    for name in re.findall(r"\$\{(\w+)\}", values):  # every variable the provisioning reads
        assert name in env, f"compose does not give Grafana {name}"
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert env["WATTLEAGUE_INFLUX_TOKEN"].startswith("${GRAFANA_INFLUX_TOKEN:?")


def test_compose_refers_to_files_that_exist_and_pins_its_images():
    compose = yaml.safe_load(COMPOSE.read_text())
    made_by_the_operator = {"./certs", "./mosquitto"}  # README steps 2 and 3
    for name, service in compose["services"].items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image!r}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and source not in made_by_the_operator:
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} does not exist"


# -- the queries against real services ------------------------------------------------------


@pytest.fixture(scope="module")
def filled(influxd):
    """A real InfluxDB database written by ``InfluxStore``: the fixture competition's
    baseline and first week (register and power), a meter that sends only power and
    quarantined messages; → (database, {variable: values})."""
    db = database_name("test_grafana_dashboards")
    store = open_store(influxd.url(db, "grafana"))
    try:
        seed(store)
        t0 = int(START.timestamp() * 1000)
        power_only = [
            StoredReading("delta-main", t0 + i * 600_000, None, 2000.0) for i in range(300)
        ]
        store.write([Message("p", RECEIVED_MS, "test", power_only)])
        rejected = [
            Rejected(reason, "test", "x/y", b"{}", RECEIVED_MS + i, "mqtt")
            for i, reason in enumerate(["unknown_topic", "unknown_topic", "undecodable"])
        ]
        store.write([Message("x/y", RECEIVED_MS, rejected=rejected)])
    finally:
        store.close()
    yield db
    influxd.drop_database(db)


def run_influxql(influxd, db: str, query: str) -> list[dict]:
    (result,) = influxd.query(db, query)
    assert "error" not in result, f"{result['error']}\n{query}"
    return result.get("series", [])


@pytest.mark.parametrize("meters", ["all", "one"])
def test_every_influxql_query_runs_and_finds_the_data(influxd, filled, meters):
    tag_values = run_influxql(influxd, filled, 'SHOW TAG VALUES FROM "reading" WITH KEY = "meter"')
    all_meters = [value for _, value in tag_values[0]["values"]]
    assert sorted(all_meters) == ["alfa-main", "beta-main", "delta-main", "gamma-main"]
    site_meters = [m for m, (s, _) in competition().meters().items() if s.id == PICKED["site"]]
    checked = 0
    for name, where, target, query in queries("influxdb"):
        if not target:  # a variable's own query
            assert run_influxql(influxd, filled, interpolate(query, PICKED, 0, 1, "1h"))
            continue
        # the site dashboard's meters come from its site (Prometheus), the others' from the store
        picked = site_meters if name == "site.json" else all_meters
        variables = PICKED | {"meter": picked if meters == "all" else picked[:1]}
        shift_s = 0
        if where.get("timeShift"):
            number, unit = re.fullmatch(r"(\d+)([wdhm])", where["timeShift"]).groups()
            shift_s = int(number) * _SHIFT[unit]
        from_ms = int((START.timestamp() - shift_s) * 1000)
        to_ms = int((NOW.timestamp() - shift_s) * 1000)
        sent = interpolate(query, variables, from_ms, to_ms, where.get("interval", "1h"))
        series = run_influxql(influxd, filled, sent)
        assert series, f"{name} {where['title']!r}: no series from\n{sent}"
        checked += 1
    assert checked >= 10


def test_the_site_panels_show_the_site(influxd, filled):
    """Figures, not only shapes: alfa used 8 kW in the competition and 10 kW a year before."""
    (dash,) = [load(p) for p in DASHBOARDS if p.name == "site.json"]
    by_title = {p["title"]: p for p in panels(dash)}
    variables = PICKED | {"meter": ["alfa-main"]}
    day_ms = int(datetime(2011, 3, 3, tzinfo=TZ).timestamp() * 1000)

    def values(title: str, from_ms: int, to_ms: int) -> list[float]:
        query = by_title[title]["targets"][0]["query"]
        (series,) = run_influxql(
            influxd, filled, interpolate(query, variables, from_ms, to_ms, "1h")
        )
        return [row[1] for row in series["values"]]

    assert set(values("Hourly energy", day_ms, day_ms + 86_400_000 - 1)) == {8.0}
    year = 52 * 7 * 86_400_000
    assert set(
        values("The same hours 52 weeks earlier", day_ms - year, day_ms - year + 3_599_999)
    ) == {10.0}
    assert values("Base load (lowest hour of each day)", day_ms, day_ms + 86_400_000 - 1) == [8.0]
    query = by_title["Register against integrated power, per hour"]["targets"][0]["query"]
    sent = interpolate(query, variables, day_ms, day_ms + 3_599_999, "1h")
    (rollup,) = run_influxql(influxd, filled, sent)  # the store's hourly rollup
    assert rollup["columns"] == ["time", "register", "integrated power"]
    assert rollup["values"][0][1] == 8.0  # hourly power readings are too sparse to integrate


def test_every_promql_query_is_valid_and_reads_exposed_metrics(exposition, tmp_path):  # noqa: F811
    exposed = exposed_names(exposition["serve"]) | exposed_names(exposition["ingest"])
    rules = []
    for number, (name, where, _target, expr) in enumerate(queries("prometheus")):
        variable = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", expr)
        if variable:  # Grafana's own function: (series selector, label)
            expr = variable.group(1)
        unknown = metric_names(expr) - exposed - SYNTHETIC
        assert not unknown, f"{name} {where.get('title') or where.get('name')}: {unknown}"
        promql = expr.replace("$__rate_interval", "5m")
        for var, value in PICKED.items():
            promql = promql.replace("$" + var, value)
        rules.append({"record": f"dashboard:query_{number}", "expr": promql})
    assert len(rules) >= 30
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
