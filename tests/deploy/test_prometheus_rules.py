"""deploy/prometheus: the alert rules and the scrape config pass promtool (Debian's prometheus
package), the rules' unit tests pass, and every metric they name is on a real ``/metrics`` of
``wattleague serve`` and of a ``wattleague ingest`` worker (both on InfluxDB)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures import COMPETITION_TOML
from tests.services import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "wattleague-rules.yml"
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
SYNTHETIC = {"up"}  # series Prometheus makes itself for each target
SEVERITIES = {"critical", "warning", "info"}
# what issue 21 asks alerts for → the metrics that show it
COVERED = {
    "silent meters": "wattleague_meters_silent",
    "ingest lag": "wattleague_ingest_backlog_messages",
    "quarantine rate": "wattleague_ingest_quarantined_total",
    "spool depth": "wattleague_ingest_spool_depth_batches",
    "store unavailable (serve)": "wattleague_store_up",
    "store unavailable (ingest)": "wattleague_ingest_store_available",
}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_KEYWORDS |= {"and", "or", "unless", "inf", "nan"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not installed: `apt-get install -y prometheus` (Debian's package has "
            "it; scripts/test.sh installs it)",
            pytrace=False,
        )
    return path


def run_promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    done = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (label matchers, ranges, strings,
    grouping labels, functions and keywords taken out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    text = re.sub(r"\boffset\s+-?\w+", "", text)
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end() :].lstrip()
        if following.startswith("(") or match.group(0).lower() in _KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def exposed_names(text: str) -> set[str]:
    """Every series name a Prometheus exposition offers, as PromQL reads them: a counter
    ``x`` as ``x_total``, a histogram as ``x_bucket``, ``x_sum``, ``x_count`` (also when the
    family has no sample yet, e.g. a labelled counter nothing incremented)."""
    names: set[str] = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    for family in text_string_to_metric_families(text):
        names |= {s.name for s in family.samples}
        names |= {family.name + s for s in suffixes.get(family.type, [""])}
    return names


def rules() -> list[dict]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def exposition(tmp_path_factory, influxd, mosquitto) -> dict[str, str]:
    """The text of ``/metrics`` of a real ``serve`` and a real ``ingest`` worker, both on
    one InfluxDB database, with the broker's health probe on."""
    from tests.influx import database_name

    work = tmp_path_factory.mktemp("metrics")
    config = work / "liten.toml"
    config.write_text(COMPETITION_TOML, encoding="utf-8")
    db = database_name("test_prometheus_rules")
    store = influxd.url(db)
    influxd.create_database(db)
    serve_port, ingest_port = free_port(), free_port()
    serve = ["serve", "--config", str(config), "--store", store, "--port", str(serve_port)]
    ingest = ["ingest", "--config", str(config), "--store", influxd.url(db, "ingest")]
    ingest += ["--mqtt", mosquitto.url, "--mqtt-client-id", "metrics-test"]
    commands = {
        "serve": [sys.executable, "-m", "wattleague", *serve, "--health-mqtt", mosquitto.url],
        "ingest": [sys.executable, "-m", "wattleague", *ingest, "--metrics-port", str(ingest_port)],
    }
    urls = {
        "serve": f"http://127.0.0.1:{serve_port}/metrics",
        "ingest": f"http://127.0.0.1:{ingest_port}/metrics",
    }
    procs, logs = {}, {}
    try:
        for name, command in commands.items():
            logs[name] = work / f"{name}.log"
            with open(logs[name], "wb") as log:
                procs[name] = subprocess.Popen(command, stdout=log, stderr=log)
        texts = {}
        for name, url in urls.items():

            def answers(name=name, url=url) -> bool:
                assert procs[name].poll() is None, logs[name].read_text(errors="replace")
                try:
                    response = httpx.get(url, timeout=5)
                except httpx.HTTPError:
                    return False
                texts[name] = response.text
                return response.status_code == 200

            wait_until(answers, timeout_s=60)
        # serve knows the broker once its probe connected
        wait_until(lambda: "wattleague_broker_connected 1.0" in httpx.get(urls["serve"]).text)
        texts["serve"] = httpx.get(urls["serve"], timeout=10).text
        yield texts
    finally:
        for proc in procs.values():
            proc.terminate()
            proc.wait(timeout=30)
        influxd.drop_database(db)


def test_rules_pass_promtool_check():
    assert "SUCCESS" in run_promtool("check", "rules", RULES.name)


def test_prometheus_config_passes_promtool_check():
    output = run_promtool("check", "config", "prometheus.yml")
    assert "1 rule files found" in output


def test_the_rules_unit_tests_pass():
    # each alert fires after its for:, resolves, and renders its annotations as written
    assert "SUCCESS" in run_promtool("test", "rules", "wattleague-rules.test.yml")


def test_every_alert_has_for_severity_and_what_to_do():
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len({rule["alert"] for rule in alerts}) == len(alerts)
    for rule in alerts:
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["annotations"]["summary"].strip(), name
        assert len(rule["annotations"]["description"]) > 80, f"{name}: say what to do"


def test_the_alerts_cover_what_the_issue_asks_for():
    read = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    missing = {what: metric for what, metric in COVERED.items() if metric not in read}
    assert not missing


def test_metric_names_are_read_from_promql():
    expr = (
        'histogram_quantile(0.95, sum by (le, instance) (rate(a_bucket{x="y z"}[5m]))) > 5 '
        'and on (instance) b == 0 unless up{job=~"w.*"} offset 5m'
    )
    assert metric_names(expr) == {"a_bucket", "b", "up"}


def test_every_metric_the_rules_read_is_exposed(exposition):
    exposed = exposed_names(exposition["serve"]) | exposed_names(exposition["ingest"])
    for rule in rules():
        unknown = metric_names(rule["expr"]) - exposed - SYNTHETIC
        assert not unknown, f"{rule['alert']}: no such metric on /metrics: {unknown}"


def test_serve_exposes_site_figures_and_meters(exposition):
    families = {f.name: f for f in text_string_to_metric_families(exposition["serve"])}
    info = {
        tuple(sorted(s.labels.items())): s.value for s in families["wattleague_meter_info"].samples
    }
    assert info[(("competition", "liten"), ("meter", "alfa-main"), ("site", "alfa"))] == 1.0
    assert len(info) == 3
    ranks = {s.labels["site"] for s in families["wattleague_site_rank"].samples}
    assert ranks == {"alfa", "beta", "gamma"}  # every site, ranked or not (0)


def test_the_scrape_targets_are_the_compose_services():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    for job in config["scrape_configs"]:
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            host, port = target.split(":")
            command = services[host]["command"]
            flag = "--port" if command[0] == "serve" else "--metrics-port"
            assert command[command.index(flag) + 1] == port, target
            if flag == "--metrics-port":  # reachable from Prometheus's container
                assert command[command.index("--metrics-host") + 1] == "0.0.0.0"
    mounts = services["prometheus"]["volumes"]
    for name in ("prometheus.yml", RULES.name):
        assert f"../prometheus/{name}:/etc/prometheus/{name}:ro" in mounts
