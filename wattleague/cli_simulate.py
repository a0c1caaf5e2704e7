"""`wattleague simulate`: SYNTHETIC meters for a competition file, published over MQTT.

A load generator and a way to try a deployment before the real meters are installed: every
meter of the competition publishes its register and power every ``--interval-s`` simulated
seconds, in its own format and on its own topic, and every weather station an outdoor
temperature. The loads are the demo's town-hall model scaled to each site's floor area.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import zlib
from datetime import datetime, timedelta

import click
import orjson

from wattleague.cli_common import broker_or_fail, config_files_option, load_competitions
from wattleague.settings import settings_options

INTENSITY_KWH_M2_YEAR = 30.0  # a Swedish office's electricity per heated m² and year


@click.command("simulate")
@config_files_option()
@settings_options("mqtt")
@click.option(
    "--interval-s",
    default=10.0,
    show_default=True,
    help="Seconds of simulated time between a meter's readings.",
)
@click.option("--speed", default=1.0, show_default=True, help="Simulated seconds per real second.")
@click.option(
    "--duration",
    default=0.0,
    show_default=True,
    help="Stop after this many real seconds (0 runs until Ctrl-C).",
)
@click.option(
    "--start",
    "start_text",
    default="",
    help="Simulated time to begin at, ISO-8601 with an offset (default: now, or with --speed "
    "above 1 so that the run ends now).",
)
def simulate(configs, mqtt, interval_s, speed, duration, start_text) -> None:
    """SYNTHETIC meters: every meter of the competition publishes over MQTT in its format."""
    from ingest.mqtt_url import BrokerAddress
    from scoring.calendar import local_midnight_utc_s
    from wattleague.demo_sites import DemoSite
    from wattleague.simulator import FORMATS, MeterSimulator, SimulatedMeter

    for value, flag in ((interval_s, "--interval-s"), (speed, "--speed")):
        if not value > 0 or not math.isfinite(value):
            raise click.BadParameter("must be a number > 0", param_hint=flag)
    if duration < 0:
        raise click.BadParameter("must be >= 0", param_hint="--duration")
    # faster than the clock, a run that started now would publish readings from the future,
    # which the ingest quarantines: end the run at the present instead
    start_s = time.time() - (duration * speed if speed > 1 else 0.0)
    if speed > 1 and not duration and not start_text:
        raise click.BadParameter(
            "faster than real time the readings would run into the future (the ingest "
            "quarantines them): give --duration (the run then ends now) or --start",
            param_hint="--speed",
        )
    if start_text:
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            start = None
        if start is None or start.tzinfo is None:
            raise click.BadParameter(
                f"{start_text!r} is not an ISO-8601 time with an offset, "
                "e.g. 2011-03-01T08:00+01:00",
                param_hint="--start",
            )
        start_s = start.timestamp()
    broker: BrokerAddress = broker_or_fail(mqtt)
    comps = load_competitions(configs)

    t0 = time.monotonic()

    def clock() -> float:
        return start_s + (time.monotonic() - t0) * speed

    simulators, skipped, n_meters = [], [], 0
    for comp in comps:
        info = comp.competition
        topics = comp.topics_by_meter()
        meters = []
        for site in comp.sites:
            for meter in site.meters:
                if meter.format not in FORMATS:
                    skipped.append(f"{meter.id} ({meter.format})")
                    continue
                load = DemoSite(
                    meter.id,
                    site.municipality or "",
                    site.name,
                    site.area_m2 / len(site.meters),
                    INTENSITY_KWH_M2_YEAR,
                    site.target_pct or 8.0,
                    zlib.crc32(meter.id.encode()) % 97,
                )
                meters.append(
                    SimulatedMeter(
                        meter.id, topics[meter.id], meter.format, load, meter.channel, info.tz
                    )
                )
        n_meters += len(meters)
        competition_start_s = local_midnight_utc_s(info.start, info.tz)
        simulators.append(
            MeterSimulator(
                broker,
                meters,
                info.tz,
                competition_start_s,
                local_midnight_utc_s(info.start - timedelta(days=365), info.tz),
                clock,
                tick_s=interval_s / speed,
                client_id=f"wattleague-simulator-{comp.id}"[:64],
                weather={w_id: t for w_id, t in comp.weather_topics().items()},
            )
        )
    if skipped:
        click.echo(
            f"not simulated (format not supported by the simulator): {', '.join(skipped)}",
            err=True,
        )
    if not n_meters:
        click.echo("error: no meter to simulate", err=True)
        raise SystemExit(1)
    for sim in simulators:
        try:
            sim.start()
        except OSError as exc:
            click.echo(f"error: cannot reach the broker at {mqtt}: {exc}", err=True)
            raise SystemExit(1) from None
    click.echo(
        f"simulating {n_meters} SYNTHETIC meters every {interval_s:g} s simulated "
        f"(x{speed:g}) on {mqtt}; Ctrl-C stops",
        err=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait(duration if duration > 0 else None)
    for sim in simulators:
        sim.stop()
    published = sum(sim.published for sim in simulators)
    elapsed_s = time.monotonic() - t0
    click.echo(
        orjson.dumps(
            {
                "published": published,
                "refused": sum(sim.refused for sim in simulators),
                "meters": n_meters,
                "seconds": round(elapsed_s, 1),
                "per_second": round(published / elapsed_s, 1) if elapsed_s > 0 else None,
            }
        ).decode()
    )
