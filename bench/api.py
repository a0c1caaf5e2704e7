"""API benchmark: requests/s of the real server, and MQTT-to-SSE delay at many SSE clients.

Usage (from the repository root):

    python -m bench.api [--requests 20000] [--connections 32] [--rounds 3] [--sse-clients 1000]
                        [--repeats 5] [--stream-interval 0.2] [--skip-throughput] [--skip-sse]

Seeds a SQLite store with the demo's 24 SYNTHETIC town halls (a year of hourly history and
the competition so far, ``wattleague.demo.seed_history``) and serves it with the real app under
uvicorn (uvloop + httptools, one worker) in a subprocess on a free loopback port, with the
clock frozen at the start of the run (the snapshot stays valid; what is measured is serving).

(1) Throughput. For each endpoint: 1,000 warm-up requests, then ``--rounds`` rounds (the
    endpoints interleaved, the median printed) of ``--requests`` requests over
    ``--connections`` keep-alive connections from a minimal asyncio HTTP/1.1 client (uvloop, in
    this process; cheaper per request than httpx, so the server is what is measured). The
    trivial endpoint is ``/api/competitions`` (the competitions' summaries from memory, no
    I/O); ``/healthz`` is printed beside it for scale (it probes the store: a query and a file
    check). Prints requests/s and the ratio to the trivial endpoint (goal: >= 80 %) for
    ``/api/competitions/{cid}/leaderboard`` and
    ``/api/displays/{did}/frame`` as txt and json. When ``wrk`` is installed
    the same endpoints are also run through it (1 thread, same connections, 5 s each).
(2) SSE delay. Starts Mosquitto (tests.services.Mosquitto) and an IngestWorker into the same
    store (a subprocess), opens ``--sse-clients`` connections to ``/api/competitions/{cid}/
    stream`` (raw asyncio sockets), and ``--repeats`` times publishes one reading whose power
    changes the leaderboard's ``live_power_kw``; for each client the time from just before the
    publish to the arrival of the new event (its ``id`` is the hub's version). Prints
    p50/p95/max (goal: p95 < 1 s). The stream interval (the hub's poll) is part of the delay.

Everything is on 127.0.0.1, bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tests.services import Mosquitto, free_port

CID = "demo-kommunhus"
HOUR_S = 3600.0
GOAL_RATIO = 0.80
GOAL_P95_S = 1.0


# -- the server and the ingest worker (each its own process) ---------------------------------


def _raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(max(soft, want), hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _serve(db: str, toml: str, port: int, clock_s: float, interval_s: float) -> None:
    import uvicorn

    from api.app import create_app
    from api.auth import TokenSet
    from api.request_limits import RequestLimits
    from ingest.store.sqlite import SQLiteStore
    from scoring.competition_file import parse_competition

    _raise_nofile(8192)
    comp = parse_competition(toml, "bench.toml")
    store = SQLiteStore(db)
    app = create_app(
        [comp],
        store,
        clock=lambda: clock_s,
        stream_interval_s=interval_s,
        tokens=TokenSet({}),
        # the bench is one client sending thousands of requests a second: exempt from the
        # rate limits (the middleware still runs, as in production)
        request_limits=RequestLimits(exempt=("127.0.0.1",)),
    )
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        workers=1,
        log_level="warning",
        timeout_graceful_shutdown=1,  # open SSE streams never end by themselves
    )
    uvicorn.Server(config).run()


def _ingest(db: str, toml: str, mqtt_port: int, ready, stop) -> None:
    from ingest.mqtt_url import BrokerAddress
    from ingest.mqtt_worker import IngestWorker
    from ingest.routing import Routing
    from ingest.store.sqlite import SQLiteStore
    from scoring.competition_file import parse_competition

    comp = parse_competition(toml, "bench.toml")
    store = SQLiteStore(db)
    worker = IngestWorker(
        BrokerAddress("127.0.0.1", mqtt_port),
        store,
        Routing.from_competitions([comp]),
        client_id="bench-api-ingest",
    )
    worker.start()
    if worker.subscribed.wait(20):
        ready.set()
    stop.wait(600)
    worker.stop()
    store.close()


class Server:
    """The app under uvicorn in a spawned process."""

    def __init__(self, db: str, toml: str, clock_s: float, interval_s: float) -> None:
        self.port = free_port()
        self.proc = mp.get_context("spawn").Process(
            target=_serve, args=(db, toml, self.port, clock_s, interval_s), daemon=True
        )

    def __enter__(self) -> Server:
        self.proc.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.proc.is_alive():
                raise RuntimeError(f"server exited with {self.proc.exitcode}")
            try:
                status, _ = asyncio.run(_get_once(self.port, "/healthz"))
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz within 60 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()  # SIGTERM: uvicorn shuts down, SSE cut after 1 s
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# -- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------


def _request(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError(f"no content-length in {head!r}")
    return status, await reader.readexactly(length)


async def _get_once(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request(port, path))
        return await _read_response(reader)
    finally:
        writer.close()


async def _load(port: int, path: str, total: int, connections: int) -> float:
    """Send ``total`` GETs of ``path`` over ``connections`` keep-alive connections; req/s."""
    request = _request(port, path)
    remaining = total
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]

    async def one(reader, writer) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            writer.write(request)
            status, body = await _read_response(reader)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(r, w) for r, w in conns))
    elapsed = time.perf_counter() - t0
    for _, w in conns:
        w.close()
    return total / elapsed


def _wrk(port: int, path: str, connections: int, seconds: int = 5) -> float | None:
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw non-2xx answers on {path}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def throughput(port: int, display: str, total: int, connections: int, rounds: int) -> None:
    frame = f"/api/displays/{display}/frame"
    endpoints = [
        ("trivial  /api/competitions", "/api/competitions"),
        ("info     /healthz", "/healthz"),
        ("board    /api/competitions/{cid}/leaderboard", f"/api/competitions/{CID}/leaderboard"),
        ("frame    /api/displays/{did}/frame?format=txt", f"{frame}?format=txt"),
        ("frame    /api/displays/{did}/frame?format=json", f"{frame}?format=json"),
    ]
    for _, path in endpoints:  # each answers 200 before anything is timed
        status, body = asyncio.run(_get_once(port, path))
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
    print(
        f"\n(1) throughput: {total:,} requests per endpoint and round, {connections} keep-alive "
        f"connections, asyncio client (uvloop) in the bench process; median of {rounds} "
        "rounds, the endpoints interleaved"
    )

    async def measure() -> dict[str, list[float]]:
        rates: dict[str, list[float]] = {path: [] for _, path in endpoints}
        for _, path in endpoints:  # warm-up
            await _load(port, path, min(1000, total), connections)
        for _ in range(rounds):
            for _, path in endpoints:
                rates[path].append(await _load(port, path, total, connections))
        return rates

    rates = _uvloop_run(measure())
    _print_rates(endpoints, {path: statistics.median(r) for path, r in rates.items()})
    if shutil.which("wrk"):
        print(f"\n    the same with wrk (-t1 -c{connections}, 5 s per endpoint)")
        wrk_rates = {}
        for _, path in endpoints:
            _wrk(port, path, connections, 1)  # warm-up
            wrk_rates[path] = _wrk(port, path, connections) or float("nan")
        _print_rates(endpoints, wrk_rates)
    else:
        print("    (wrk not installed: asyncio client only)")


def _print_rates(endpoints, rates: dict[str, float]) -> None:
    trivial, health = rates[endpoints[0][1]], rates[endpoints[1][1]]
    for n, (label, path) in enumerate(endpoints):
        ratio = rates[path] / trivial
        verdict = "" if n < 2 else ("  ok" if ratio >= GOAL_RATIO else "  BELOW GOAL")
        print(
            f"    {label:50s} {rates[path]:9,.0f} req/s  {ratio:6.1%} of trivial"
            f"  ({rates[path] / health:6.1%} of /healthz){verdict}"
        )


def _uvloop_run(coro):
    import uvloop

    return uvloop.run(coro)


# -- SSE delay ------------------------------------------------------------------------------

_ID = re.compile(rb"\nid: (\d+)\r?\n")


class SSEClient:
    """One stream connection; records the arrival time of each event id."""

    def __init__(self) -> None:
        self.latest = -1
        self.arrived: dict[int, float] = {}
        self.task: asyncio.Task | None = None

    async def run(self, port: int, path: str, opened: asyncio.Event) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if head[9:12] != b"200":
            raise RuntimeError(f"stream answered {head!r}")
        opened.set()
        buf = b"\n"
        try:
            while True:
                chunk = await reader.read(1 << 16)
                now = time.perf_counter()
                if not chunk:
                    return
                buf += chunk
                end = 0
                for m in _ID.finditer(buf):
                    version = int(m.group(1))
                    self.arrived.setdefault(version, now)
                    self.latest = max(self.latest, version)
                    end = m.end() - 1  # keep the "\n" so that the next "\nid:" can match
                buf = buf[end:] if end else buf[-64:]
        finally:
            writer.close()


async def _sse_delays(
    port: int, clients: int, repeats: int, publish, timeout_s: float = 15.0
) -> list[list[float]]:
    path = f"/api/competitions/{CID}/stream"
    sse = [SSEClient() for _ in range(clients)]
    opened = [asyncio.Event() for _ in range(clients)]
    # open in batches: a burst of 1,000 SYNs overflows a default accept backlog of 2048 rarely,
    # but there is no need to find out
    for lo in range(0, clients, 100):
        for c, ev in zip(sse[lo : lo + 100], opened[lo : lo + 100], strict=True):
            c.task = asyncio.create_task(c.run(port, path, ev))
        await asyncio.wait_for(
            asyncio.gather(*(ev.wait() for ev in opened[lo : lo + 100])), timeout_s
        )
    try:
        await _wait(lambda: min(c.latest for c in sse) >= 0 and _one_version(sse), timeout_s)
        print(f"    {clients} SSE clients connected, each has the current leaderboard")
        rounds = []
        for r in range(repeats):
            before = sse[0].latest
            await asyncio.sleep(0.5)  # off the hub's poll phase a little differently each time
            t0 = time.perf_counter()
            await asyncio.to_thread(publish, r)
            await _wait(lambda before=before: all(c.latest > before for c in sse), timeout_s)
            delays = [c.arrived[before + 1] - t0 for c in sse]
            rounds.append(delays)
            print(
                f"    round {r + 1}: p50 {_pct(delays, 50) * 1e3:6.0f} ms   "
                f"p95 {_pct(delays, 95) * 1e3:6.0f} ms   max {max(delays) * 1e3:6.0f} ms"
            )
        return rounds
    finally:
        for c in sse:
            c.task.cancel()
        await asyncio.gather(*(c.task for c in sse), return_exceptions=True)


def _one_version(sse: list[SSEClient]) -> bool:
    return len({c.latest for c in sse}) == 1


async def _wait(predicate, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every SSE client got the event within {timeout_s} s")
        await asyncio.sleep(0.005)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def sse_delay(
    port: int, mqtt_port: int, topic: str, first_ts_s: float, clients: int, repeats: int
) -> None:
    import paho.mqtt.client as mqtt

    print(
        f"\n(2) MQTT → ingest → SSE delay at {clients} SSE clients, {repeats} readings "
        "(each changes live_power_kw of one site)"
    )
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-api-publisher")
    publisher.connect("127.0.0.1", mqtt_port)
    publisher.loop_start()

    def publish(r: int) -> None:
        payload = orjson.dumps({"ts": first_ts_s + 60.0 * r, "power_w": 50_000.0 + 7_000.0 * r})
        publisher.publish(topic, payload, qos=1)

    try:
        rounds = _uvloop_run(_sse_delays(port, clients, repeats, publish))
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    every = [d for delays in rounds for d in delays]
    p95 = _pct(every, 95)
    print(
        f"    all {len(every):,} deliveries: p50 {_pct(every, 50) * 1e3:.0f} ms   "
        f"p95 {p95 * 1e3:.0f} ms   max {max(every) * 1e3:.0f} ms   mean "
        f"{statistics.fmean(every) * 1e3:.0f} ms   "
        f"(goal p95 < {GOAL_P95_S:g} s: {'ok' if p95 < GOAL_P95_S else 'MISSED'})"
    )


# -- the run ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sse-clients", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stream-interval", type=float, default=0.2)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-sse", action="store_true")
    args = parser.parse_args()

    from ingest.store.sqlite import SQLiteStore
    from scoring.competition_file import parse_competition
    from wattleague.demo import seed_history
    from wattleague.demo_competition import demo_competition_toml

    _raise_nofile(args.sse_clients + 1024)
    clock_s = time.time()
    tz = parse_competition(demo_competition_toml(datetime.now(UTC).date()), "-").competition.tz
    toml = demo_competition_toml(datetime.fromtimestamp(clock_s, tz).date())
    comp = parse_competition(toml, "bench.toml")
    with tempfile.TemporaryDirectory(prefix="wattleague-bench-api-") as tmp:
        db = str(Path(tmp) / "store.db")
        store = SQLiteStore(db)
        t0 = time.perf_counter()
        # history up to an hour before "now": the live readings of (2) go after the last one
        seeded = seed_history(store, comp, clock_s - HOUR_S)
        store.close()
        print(
            f"seeded {seeded:,} SYNTHETIC hourly readings for {len(comp.sites)} sites in "
            f"{time.perf_counter() - t0:.1f} s; server: uvicorn, uvloop + httptools, 1 worker, "
            f"stream interval {args.stream_interval} s, clock frozen at "
            f"{datetime.fromtimestamp(clock_s, UTC).isoformat(timespec='seconds')}"
        )
        site = comp.sites[0]  # speaks the project's JSON
        display = next(d.id for d in comp.displays if d.site == site.id)
        with Server(db, toml, clock_s, args.stream_interval) as server:
            if not args.skip_throughput:
                throughput(server.port, display, args.requests, args.connections, args.rounds)
            if not args.skip_sse:
                _run_sse(args, server, toml, tmp, comp, site, clock_s)


def _run_sse(args, server: Server, toml: str, tmp: str, comp, site, clock_s: float) -> None:
    broker = Mosquitto(Path(tmp) / "mosquitto")
    broker.start()
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    db = str(Path(tmp) / "store.db")
    worker = ctx.Process(target=_ingest, args=(db, toml, broker.port, ready, stop), daemon=True)
    worker.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the ingest worker did not subscribe within 30 s")
        meter = site.meters[0].id
        # the last seeded reading is at most 2 h and at least 1 h before the frozen clock
        first_ts = clock_s - HOUR_S + 60.0
        sse_delay(
            server.port,
            broker.port,
            comp.topics_by_meter()[meter],
            first_ts,
            args.sse_clients,
            args.repeats,
        )
    finally:
        stop.set()
        worker.join(20)
        if worker.is_alive():
            worker.kill()
            worker.join(5)
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
