"""The ``wattleague`` command: one subcommand per job."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from datetime import UTC, datetime

import click
import orjson

from wattleague.cli_common import (
    broker_or_fail,
    config_files_option,
    load_competitions,
    open_store_or_fail,
)
from wattleague.settings import settings_options, settings_table


def _help_settings(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(settings_table())
        ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--help-settings",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_help_settings,
    help="List every setting with its default and exit.",
)
@click.version_option(
    package_name="wattleague", prog_name="wattleague", message="%(prog)s %(version)s"
)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@settings_options("log_format")
def main(verbose: bool, log_format: str) -> None:
    """Watt League: energy-saving competitions between buildings."""
    from wattleague.logs import LOG_FORMATS, configure_logging

    if log_format not in LOG_FORMATS:
        raise click.BadParameter(
            f"{log_format!r}: use {' or '.join(LOG_FORMATS)}", param_hint="--log-format"
        )
    configure_logging(log_format, verbose)


@main.command("check-config")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check_config(files: tuple[str, ...]) -> None:
    """Validate competition files; print every problem with its location."""
    from pathlib import Path

    from scoring.competition_file import ConfigError, collisions, load_competition

    problems = 0
    loaded = []
    for f in files:
        try:
            comp = load_competition(f)
        except ConfigError as exc:
            problems += len(exc.problems)
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            continue
        loaded.append((f, Path(f).read_text(encoding="utf-8"), comp))
        meters = sum(len(s.meters) for s in comp.sites)
        click.echo(
            f"{f}: OK — competition {comp.id!r}, {len(comp.sites)} sites, "
            f"{meters} meters, {len(comp.displays)} displays"
        )
    # files given together are run together: they may not share meters, topics or displays
    for problem in collisions(loaded):
        problems += 1
        click.echo(f"error: {problem}", err=True)
    if problems:
        click.echo(f"{problems} problem(s) found", err=True)
        raise SystemExit(1)


@main.command()
@config_files_option()
@settings_options(
    "store",
    "mqtt",
    "public_url",
    "host",
    "port",
    "stream_interval_s",
    "health_mqtt",
    "trusted_proxies",
    "cache_dir",
)
def serve(
    configs,
    store,
    mqtt,
    public_url,
    host,
    port,
    stream_interval_s,
    health_mqtt,
    trusted_proxies,
    cache_dir,
) -> None:
    """Serve the API, the leaderboard page and display frames.

    Competitions with [home_assistant] are also published for Home Assistant (MQTT discovery)
    on the broker of --mqtt.
    """
    from pathlib import Path

    import uvicorn

    from api.app import create_app
    from api.baseline_fits import FitUnavailable
    from api.fit_cache import fit_cache_at
    from api.home_assistant_discovery import HomeAssistantLink, parse_public_url
    from api.operations import BROKER_PROBE
    from api.proxies import TrustedProxiesError, parse_trusted_proxies, server_options

    try:
        proxies = server_options(parse_trusted_proxies(trusted_proxies))
    except TrustedProxiesError as exc:
        raise click.BadParameter(str(exc), param_hint="--trusted-proxies") from None
    try:
        site_root = parse_public_url(public_url) if public_url else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--public-url") from None
    comps = load_competitions(configs)
    home_assistant = None
    if any(c.home_assistant is not None for c in comps):  # else serve never dials the broker
        home_assistant = HomeAssistantLink(broker_or_fail(mqtt), site_root)
    # each file's bytes as loaded: their SHA-256 goes into the audit log at every start
    sources = {
        c.id: (str(path), Path(path).read_bytes()) for path, c in zip(configs, comps, strict=True)
    }
    probe = None
    if health_mqtt:
        from ingest.broker_probe import BrokerProbe

        try:
            probe = BrokerProbe(broker_or_fail(health_mqtt))
        except click.BadParameter as exc:
            raise click.BadParameter(exc.message, param_hint="--health-mqtt") from None
    try:
        app = create_app(
            comps,
            open_store_or_fail(store, spool_name=f"serve-{port}"),
            stream_interval_s=stream_interval_s,
            config_sources=sources,
            home_assistant=home_assistant,
            fit_cache=fit_cache_at(cache_dir),
        )
    except FitUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    if probe is not None:
        app.state.ctx.extras[BROKER_PROBE] = probe
        probe.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", **proxies)
    finally:
        if probe is not None:
            probe.stop()


@main.command()
@config_files_option()
@settings_options(
    "store",
    "mqtt",
    "mqtt_client_id",
    "mqtt_protocol",
    "shared_group",
    "max_future_s",
    "max_age_days",
    "metrics_port",
    "metrics_host",
)
def ingest(
    configs,
    store,
    mqtt,
    mqtt_client_id,
    mqtt_protocol,
    shared_group,
    max_future_s,
    max_age_days,
    metrics_port,
    metrics_host,
) -> None:
    """Run the MQTT ingest worker until interrupted."""
    from ingest.metrics import IngestMetrics
    from ingest.mqtt_worker import IngestWorker
    from ingest.routing import Routing
    from ingest.validation import Limits
    from wattleague.logs import announce, redact_url

    if mqtt_protocol not in ("5", "3.1.1"):
        raise click.BadParameter("use 5 or 3.1.1", param_hint="--mqtt-protocol")
    if not 0 <= metrics_port <= 65535:
        raise click.BadParameter(f"{metrics_port} is not a port (0-65535)", "--metrics-port")
    comps = load_competitions(configs)
    if shared_group and store.startswith("influxdb"):
        # InfluxStore reads each meter's chain tail per batch: two workers storing one
        # meter's consecutive readings at once may both count the interval between them
        announce(
            f"warning: --shared-group {shared_group} with an InfluxDB store: workers of the "
            "group can store one meter's readings at the same moment and count an interval "
            "twice; give each worker its own meters (competition file) instead"
        )
    metrics = IngestMetrics() if metrics_port else None
    worker = IngestWorker(
        broker_or_fail(mqtt),
        open_store_or_fail(store, spool_name=mqtt_client_id),  # one spool file per worker
        Routing.from_competitions(comps),
        client_id=mqtt_client_id,
        protocol=5 if mqtt_protocol == "5" else 4,
        shared_group=shared_group or None,
        limits=Limits(max_future_s=max_future_s, max_age_s=max_age_days * 86400),
        metrics=metrics,
    )
    if metrics is not None:
        try:
            metrics.serve(metrics_port, metrics_host)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}",
                param_hint="--metrics-port",
            ) from None
        announce(f"metrics on http://{metrics_host}:{metrics_port}/metrics")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.start()
    # never the password or token: this line ends up in journald
    announce(f"ingesting from {redact_url(mqtt)} into {redact_url(store)}; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    worker.stop()
    announce(f"stopped: {dict(worker.stats)}")


@main.command()
@click.argument("name")
def token(name: str) -> None:
    """Make an organiser token NAME: prints the token (give it to the organiser, once) and the
    line to add to WATTLEAGUE_TOKEN_HASHES on the server (only the hash is kept)."""
    from api.auth import hash_token, new_token

    if ":" in name or "," in name or not name.strip():
        raise click.BadParameter("use a name without ':' or ','", param_hint="NAME")
    secret = new_token()
    click.echo(f"token for {name}: {secret}")
    click.echo(f"server entry:  {name}:{hash_token(secret)}")
    click.echo(
        "add the entry to WATTLEAGUE_TOKEN_HASHES (comma-separated) and restart `serve`", err=True
    )


@main.command()
@click.option(
    "--format", "fmt", required=True, help="dsmr, tasmota, shelly, senml, json, emon or auto."
)
@click.option("--topic", default="", help="Topic the payload arrived on (shelly, emon use it).")
@click.option(
    "--tz",
    "tz_name",
    default="Europe/Stockholm",
    show_default=True,
    help="Time zone for payloads with local times without an offset (tasmota).",
)
def decode(fmt: str, topic: str, tz_name: str) -> None:
    """Decode one payload from stdin and print its readings as JSON lines."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from ingest.decoders import decode as decode_payload
    from ingest.readings import DecodeError

    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {tz_name!r}", param_hint="--tz") from None
    payload = sys.stdin.buffer.read()
    try:
        readings = decode_payload(fmt, payload, topic, datetime.now(UTC), tz=tz)
    except DecodeError as exc:
        click.echo(f"error: cannot decode as {fmt!r} ({exc.reason}): {exc}", err=True)
        raise SystemExit(1) from None
    for r in readings:
        row = {"meter": r.meter_id, "ts": r.ts_utc.isoformat().replace("+00:00", "Z")}
        if r.channel is not None:
            row["channel"] = r.channel
        if r.energy_kwh is not None:
            row["energy_kwh"] = r.energy_kwh
        if r.power_w is not None:
            row["power_w"] = r.power_w
        click.echo(orjson.dumps(row).decode())


class _OfflineMethodChoice(click.Choice):
    """The baseline methods ``wattleague baseline`` runs (``scoring.baselines``, those without
    bills), looked up when first asked: the registry loads numpy, which other commands may not
    need."""

    def __init__(self) -> None:
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        from wattleague.offline_baseline import offline_methods

        return tuple(offline_methods())


@main.command()
@click.option(
    "--usage",
    "usage_csv",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV timestamp,kwh: interval energy, hourly or coarser.",
)
@click.option(
    "--temperature",
    "temperature_csv",
    type=click.Path(dir_okay=False),
    help="CSV timestamp,temp_c (regression methods).",
)
@click.option(
    "--baseline-start",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="First local day of the baseline period (inclusive).",
)
@click.option(
    "--baseline-end",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last local day of the baseline period (inclusive).",
)
@click.option(
    "--report-start",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="First local day of the reporting period (inclusive).",
)
@click.option(
    "--report-end",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last local day of the reporting period (inclusive).",
)
@click.option(
    "--timezone",
    "tz_name",
    default="Europe/Stockholm",
    show_default=True,
    help="IANA time zone of the dates and of local days.",
)
@click.option(
    "--holidays", "country", default="SE", show_default=True, help="Country of the public holidays."
)
@click.option(
    "--method",
    default="previous-year",
    show_default=True,
    type=_OfflineMethodChoice(),
    help="Baseline method (those of the registry that need no bills).",
)
@click.option(
    "--out",
    "out_csv",
    type=click.Path(dir_okay=False),
    help="Write the CSV here instead of standard output.",
)
def baseline(
    usage_csv,
    temperature_csv,
    baseline_start,
    baseline_end,
    report_start,
    report_end,
    tz_name,
    country,
    method,
    out_csv,
) -> None:
    """Baseline for one meter from CSV files: one row per reporting day,
    date,observed_kwh,baseline_kwh (dates local, inclusive)."""
    import csv as csv_module
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from wattleague.offline_baseline import CSVError, offline_baseline, read_series_csv

    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {tz_name!r}", param_hint="--timezone"
        ) from None
    base_days = (baseline_start.date(), baseline_end.date())
    report_days = (report_start.date(), report_end.date())
    for first, last, flag in ((*base_days, "--baseline-end"), (*report_days, "--report-end")):
        if last < first:
            raise click.BadParameter(f"{last} is before the start {first}", param_hint=flag)
    try:
        temperature = read_series_csv(temperature_csv, "temp_c") if temperature_csv else None
        result = offline_baseline(
            read_series_csv(usage_csv, "kwh"),
            base_days,
            report_days,
            tz,
            method,
            country,
            temperature=temperature,
        )
    except CSVError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    import contextlib

    target = (
        open(out_csv, "w", newline="", encoding="utf-8")  # noqa: SIM115
        if out_csv
        else contextlib.nullcontext(sys.stdout)
    )
    with target as out:
        writer = csv_module.writer(out)
        writer.writerow(["date", "observed_kwh", "baseline_kwh"])
        for day, observed, expected in zip(
            result.day, result.observed_kwh.tolist(), result.baseline_kwh.tolist(), strict=True
        ):
            writer.writerow(
                [
                    day.isoformat(),
                    "" if observed != observed else f"{observed:.3f}",
                    "" if expected != expected else f"{expected:.3f}",
                ]
            )


@main.command()
@click.option("--port", default=8000, show_default=True, help="HTTP port of the API and pages.")
@click.option(
    "--mqtt-port",
    default=11883,
    show_default=True,
    help="Port of the embedded MQTT broker (0 picks a free one).",
)
@click.option("--speed", default=60.0, show_default=True, help="Simulated seconds per real second.")
@click.option(
    "--duration",
    default=0.0,
    show_default=True,
    help="Exit after this many seconds (0 runs until Ctrl-C).",
)
@click.option(
    "--store",
    "store_url",
    default="",
    help="Store URL (default: a fresh SQLite file in a temporary folder).",
)
@click.option(
    "--display",
    "display_id",
    default="soderhamn-lobby",
    show_default=True,
    help="Display to render in the terminal.",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address the demo's web server binds to."
)
def demo(port, mqtt_port, speed, duration, store_url, display_id, host) -> None:
    """Everything on one machine: broker, 24 simulated town halls, ingest, API, LED display."""
    from wattleague.demo import DemoOptions, run_demo

    if speed <= 0:
        raise click.BadParameter("must be > 0", param_hint="--speed")
    code = run_demo(
        DemoOptions(
            host=host,
            port=port,
            mqtt_port=mqtt_port,
            speed=speed,
            duration_s=duration,
            store_url=store_url or None,
            display_id=display_id,
            workdir=None,
        )
    )
    raise SystemExit(code)


# Commands that live in their own modules (one per job), registered on the group here.
def _register_commands() -> None:
    from wattleague.cli_close import close, verify
    from wattleague.cli_deploy import deploy
    from wattleague.cli_display import display
    from wattleague.cli_example import example
    from wattleague.cli_import import import_group
    from wattleague.cli_report import report
    from wattleague.cli_simulate import simulate

    for command in (report, close, verify, import_group, deploy, display, simulate, example):
        main.add_command(command)


_register_commands()
