"""``wattleague demo``: broker, simulated town halls, ingest, API and an LED display, together.

Everything is SYNTHETIC: a year of history is seeded straight into the store (as an import
would), and from "now" on the simulated meters publish live through the embedded broker and
the ingest worker. Time runs ``speed`` times faster than the wall clock.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

from api.auth import TokenSet, hash_token, new_token
from ingest.mqtt_url import BrokerAddress
from ingest.mqtt_worker import IngestWorker
from ingest.routing import Routing
from ingest.store import Message, ReadingStore, StoredReading, open_store
from scoring.calendar import local_midnight_utc_s
from scoring.competition import Competition
from wattleague.demo_competition import demo_competition, demo_competition_toml
from wattleague.demo_sites import DEMO_SITES, power_kw, register_kwh
from wattleague.embedded_broker import EmbeddedBroker, PortInUseError, ensure_port_free
from wattleague.simulator import MeterSimulator, SimulatedMeter

log = logging.getLogger(__name__)
HISTORY_DAYS = 364 + 8  # the previous-year baseline needs the same weeks a year earlier


@dataclass(frozen=True)
class DemoOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    mqtt_port: int = 11883
    speed: float = 60.0
    duration_s: float = 0.0
    store_url: str | None = None
    display_id: str = "soderhamn-lobby"
    workdir: Path | None = None


class SimClock:
    """Simulated Unix time: starts at the wall clock and runs ``speed`` times faster."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.start_s = time.time()
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return self.start_s + (time.monotonic() - self._t0) * self.speed


def seed_history(store: ReadingStore, comp: Competition, until_s: float) -> int:
    """Write SYNTHETIC hourly register readings from a year before the start up to ``until_s``."""
    info = comp.competition
    tz = info.tz
    first_s = local_midnight_utc_s(info.start - timedelta(days=HISTORY_DAYS), tz)
    start_s = local_midnight_utc_s(info.start, tz)
    ts = np.arange(first_s, until_s, 3600.0)
    sites = {s.id: s for s in DEMO_SITES}
    count = 0
    for site in comp.sites:
        demo = sites[site.id]
        energy = register_kwh(demo, ts, tz, start_s, first_s)
        power = power_kw(demo, ts, tz, start_s) * 1000.0
        meter_id = site.meters[0].id
        for lo in range(0, ts.size, 5000):
            readings = [
                StoredReading(meter_id, int(t * 1000), float(e), float(p))
                for t, e, p in zip(
                    ts[lo : lo + 5000], energy[lo : lo + 5000], power[lo : lo + 5000], strict=True
                )
            ]
            store.write(
                [
                    Message(
                        "synthetic-history", int(time.time() * 1000), "synthetic-history", readings
                    )
                ]
            )
            count += len(readings)
    return count


def _render(frame: str, columns: int, footer: str) -> str:
    lines = frame.rstrip("\n").split("\n")
    top = "┌" + "─" * columns + "┐"
    bottom = "└" + "─" * columns + "┘"
    return "\n".join([top, *("│" + line + "│" for line in lines), bottom, footer])


def run_demo(opts: DemoOptions) -> int:
    """Run the demo until ``duration_s`` passes (0: until Ctrl-C); return the exit status."""
    import uvicorn

    from api.app import create_app
    from api.home_assistant_discovery import HomeAssistantLink

    clock = SimClock(opts.speed)
    tz_today = (
        datetime.fromtimestamp(clock(), UTC)
        .astimezone(demo_competition(datetime.now(UTC).date()).competition.tz)
        .date()
    )
    # displays rotate on the app's (simulated) clock: 10 real seconds a page
    page_s = min(3600.0, 10.0 * opts.speed)
    comp = demo_competition(tz_today, page_s)
    workdir = opts.workdir or Path(tempfile.mkdtemp(prefix="wattleague-demo-"))
    (workdir / "demo-competition.toml").write_text(demo_competition_toml(tz_today, page_s), "utf-8")
    store = open_store(opts.store_url or f"sqlite:///{workdir / 'demo.db'}")
    display = comp.display(opts.display_id)
    if display is None:
        print(f"error: no display {opts.display_id!r}; try e.g. soderhamn-lobby", file=sys.stderr)
        return 2
    try:
        ensure_port_free(opts.host, opts.port, "--port")
        broker = EmbeddedBroker("127.0.0.1", opts.mqtt_port)
        broker.start()
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Watt League demo — SYNTHETIC data for {len(comp.sites)} town halls", file=sys.stderr)
    print(f"  competition file: {workdir / 'demo-competition.toml'}", file=sys.stderr)
    t0 = time.monotonic()
    seeded = seed_history(store, comp, clock())
    print(
        f"  seeded {seeded:,} hourly readings of history in {time.monotonic() - t0:.1f} s",
        file=sys.stderr,
    )

    address = BrokerAddress("127.0.0.1", broker.port)
    worker = IngestWorker(
        address,
        store,
        Routing.from_competitions([comp]),
        client_id="wattleague-demo-ingest",
        protocol=4,
        clock=clock,
    )
    worker.start()
    worker.connected.wait(10)
    info = comp.competition
    topics = comp.topics_by_meter()
    sites = {s.id: s for s in DEMO_SITES}
    meters = [
        SimulatedMeter(s.meters[0].id, topics[s.meters[0].id], s.meters[0].format, sites[s.id])
        for s in comp.sites
    ]
    history_origin_s = local_midnight_utc_s(info.start - timedelta(days=HISTORY_DAYS), info.tz)
    simulator = MeterSimulator(
        address,
        meters,
        info.tz,
        local_midnight_utc_s(info.start, info.tz),
        history_origin_s,
        clock,
        tick_s=min(1.0, 3000.0 / opts.speed),
    )
    simulator.start()

    tokens = TokenSet.from_env()
    demo_token = None
    if not tokens.hashes:  # a token for this run only, so the organiser page can be tried
        demo_token = new_token()
        tokens = TokenSet({"demo": hash_token(demo_token)})
    # Home Assistant discovery on the embedded broker; devices link to this server's pages
    home_assistant = HomeAssistantLink(address, f"http://{opts.host}:{opts.port}")
    app = create_app([comp], store, clock=clock, tokens=tokens, home_assistant=home_assistant)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=opts.host,
            port=opts.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )  # open SSE streams never end by themselves
    )
    server_thread = threading.Thread(target=server.run, name="api", daemon=True)
    server_thread.start()
    url = f"http://{opts.host}:{opts.port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"  leaderboard: {url}/   (MQTT broker on 127.0.0.1:{broker.port})", file=sys.stderr)
    first = comp.sites[0].id
    for label, path in (
        ("lobby TV", f"/kiosk/{first}-kiosk"),
        ("site page", f"/sites/{comp.id}/{first}"),
        ("organiser", "/organiser"),
        ("PDF summary", f"/api/competitions/{comp.id}/sites/{first}/summary.pdf"),
    ):
        print(f"  {label + ':':13s}{url}{path}", file=sys.stderr)
    if demo_token:
        print(f"  organiser token (this run only): {demo_token}", file=sys.stderr)

    code = 0
    try:
        _display_loop(url, display.id, display.columns, opts, clock, t0=time.monotonic())
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping…", file=sys.stderr)
        simulator.stop()
        time.sleep(0.2)
        worker.stop()
        # open SSE streams are cut after the grace period; that is expected here, not an error
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        server.should_exit = True
        server_thread.join(timeout=10)
        broker.stop()
        store.close()
        print(
            f"published {simulator.published:,} live readings; ingest {dict(worker.stats)}",
            file=sys.stderr,
        )
    return code


def _display_loop(
    url: str, display_id: str, columns: int, opts: DemoOptions, clock: SimClock, t0: float
) -> None:
    tty = sys.stdout.isatty()
    last_print = -1e9
    with httpx.Client(base_url=url, timeout=5) as http:
        while opts.duration_s <= 0 or time.monotonic() - t0 < opts.duration_s:
            try:
                frame = http.get(f"/api/displays/{display_id}/frame", params={"format": "txt"})
                text = frame.text if frame.status_code == 200 else f"HTTP {frame.status_code}"
            except httpx.HTTPError as exc:
                text = f"(no frame: {exc})"
            sim = datetime.fromtimestamp(clock(), UTC).astimezone().strftime("%Y-%m-%d %H:%M")
            footer = (
                f" {display_id} · simulated {sim} (x{opts.speed:g}) · {url}/ · "
                "SYNTHETIC data · Ctrl-C stops"
            )
            if tty:
                sys.stdout.write("\x1b[H\x1b[2J" + _render(text, columns, footer) + "\n")
                sys.stdout.flush()
            elif time.monotonic() - last_print >= 10:
                print(_render(text, columns, footer), flush=True)
                last_print = time.monotonic()
            time.sleep(1.0)
