"""API benchmark: requests/s of the real server, MQTT-to-SSE delay at many SSE clients, how many
SSE clients one server holds, and light requests beside heavy ones.

Usage (from the repository root):

    python -m bench.api [--requests 20000] [--connections 32] [--rounds 3] [--sse-clients 1000]
                        [--repeats 5] [--stream-interval 0.2] [--skip-throughput] [--skip-sse]
                        [--skip-heavy] [--upload-mb 16] [--sse-capacity 1000,2000,4000,8000]

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
(3) SSE capacity (only with ``--sse-capacity``). As (2), with clients added up to each of the
    given counts in turn; at each, ``--repeats`` readings and every client's delay, and the
    server's resident memory. Prints p50/p95/max per count, the p95 as a ratio to the first
    count's and the memory per client: what sizes the stream limits (api.request_limits). The
    server's stream limits are off here; the clients share the machine with the server.
(4) Heavy beside light. One client asks for the leaderboard back to back, alone for 3 s and
    then while another client (a) uploads a ``--upload-mb`` consumption file (a dry run: parsed
    and checked, not stored), (b) downloads every site's PDF summary and the competition's
    (each drawn), (c) downloads them again (the summary cache). Prints the leaderboard's
    p50/p95/max latency and requests/s beside each, as ratios to the same client alone.

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
from datetime import UTC, datetime, timedelta
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
    from api.auth import TokenSet, hash_token
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
        tokens=TokenSet({"bench": hash_token(BENCH_TOKEN)}),
        # the bench is one client sending thousands of requests a second: exempt from the
        # rate limits (the middleware still runs, as in production)
        request_limits=RequestLimits(
            exempt=("127.0.0.1",), stream_max_clients=0, stream_max_per_client=0
        ),
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
                # the last event id in what arrived (an id line starts each event: JSON data
                # has no raw newline), found from the end: the data is most of the bytes
                at = buf.rfind(b"\nid: ")
                line_end = buf.find(b"\n", at + 1) if at >= 0 else -1
                if line_end > 0:
                    version = int(buf[at + 5 : line_end].strip())
                    self.arrived.setdefault(version, now)
                    self.latest = max(self.latest, version)
                    buf = buf[line_end:]  # keep the "\n" so that the next "\nid:" can match
                buf = buf[-64:]
        finally:
            writer.close()


async def _sse_delays(
    ports: list[int], clients: int, repeats: int, publish, timeout_s: float = 15.0
) -> list[list[float]]:
    """Each client's delay per published reading; client i streams from ``ports[i % n]`` (one
    server, or several serving the same store: each counts its own event ids)."""
    path = f"/api/competitions/{CID}/stream"
    sse = [SSEClient() for _ in range(clients)]
    opened = [asyncio.Event() for _ in range(clients)]
    # open in batches: a burst of 1,000 SYNs overflows a default accept backlog of 2048 rarely,
    # but there is no need to find out
    for lo in range(0, clients, 100):
        for i, c, ev in zip(
            range(lo, lo + 100), sse[lo : lo + 100], opened[lo : lo + 100], strict=False
        ):
            c.task = asyncio.create_task(c.run(ports[i % len(ports)], path, ev))
        await asyncio.wait_for(
            asyncio.gather(*(ev.wait() for ev in opened[lo : lo + 100])), timeout_s
        )
    try:
        await _wait(lambda: min(c.latest for c in sse) >= 0, timeout_s)
        await asyncio.sleep(1.0)  # no event of the start still on its way
        print(f"    {clients} SSE clients connected, each has the current leaderboard")
        rounds = []
        for r in range(repeats):
            before = [c.latest for c in sse]
            await asyncio.sleep(0.5)  # off the hub's poll phase a little differently each time
            t0 = time.perf_counter()
            await asyncio.to_thread(publish, r)
            await _wait(
                lambda before=before: all(c.latest > b for c, b in zip(sse, before, strict=True)),
                timeout_s,
            )
            delays = [c.arrived[b + 1] - t0 for c, b in zip(sse, before, strict=True)]
            rounds.append(delays)
            print(
                f"    round {r + 1}: first {min(delays) * 1e3:6.0f} ms   "
                f"p50 {_pct(delays, 50) * 1e3:6.0f} ms   "
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
    ports: list[int],
    mqtt_port: int,
    topic: str,
    first_ts_s: float,
    clients: int,
    repeats: int,
    heading: str = "(2)",
) -> float:
    """Publish ``repeats`` readings and print each round's and every delivery's delay to
    ``clients`` SSE clients spread over the servers on ``ports``; the p95 [s]."""
    import paho.mqtt.client as mqtt

    print(
        f"\n{heading} MQTT → ingest → SSE delay at {clients} SSE clients"
        f"{f' over {len(ports)} serve processes' if len(ports) > 1 else ''}, {repeats} "
        "readings (each changes live_power_kw of one site)"
    )
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-api-publisher")
    publisher.connect("127.0.0.1", mqtt_port)
    publisher.loop_start()

    def publish(r: int) -> None:
        payload = orjson.dumps({"ts": first_ts_s + 60.0 * r, "power_w": 50_000.0 + 7_000.0 * r})
        publisher.publish(topic, payload, qos=1)

    try:
        rounds = _uvloop_run(_sse_delays(ports, clients, repeats, publish))
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
    return p95


def _rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` [MB] (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


async def _sse_capacity(
    port: int, server_pid: int, levels: list[int], repeats: int, publish, timeout_s: float = 60.0
) -> list[tuple[int, list[float], float]]:
    """Open SSE clients up to each of ``levels`` in turn; at each, ``repeats`` readings and each
    client's delay, with the server's resident memory. Returns (clients, delays, rss_mb)."""
    path = f"/api/competitions/{CID}/stream"
    sse: list[SSEClient] = []
    out = []
    r = 0
    try:
        for level in levels:
            while len(sse) < level:
                batch = [SSEClient() for _ in range(min(200, level - len(sse)))]
                opened = [asyncio.Event() for _ in batch]
                for c, ev in zip(batch, opened, strict=True):
                    c.task = asyncio.create_task(c.run(port, path, ev))
                sse.extend(batch)
                await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in opened)), timeout_s)
            await _wait(lambda: min(c.latest for c in sse) >= 0 and _one_version(sse), timeout_s)
            delays = []
            for _ in range(repeats):
                before = sse[0].latest
                await asyncio.sleep(0.5)
                t0 = time.perf_counter()
                await asyncio.to_thread(publish, r)
                r += 1
                await _wait(lambda before=before: all(c.latest > before for c in sse), timeout_s)
                delays.extend(c.arrived[before + 1] - t0 for c in sse)
            out.append((level, delays, _rss_mb(server_pid)))
            print(
                f"    {level:6,} clients: p50 {_pct(delays, 50) * 1e3:6.0f} ms   "
                f"p95 {_pct(delays, 95) * 1e3:6.0f} ms   max {max(delays) * 1e3:6.0f} ms   "
                f"server RSS {out[-1][2]:6.0f} MB",
                flush=True,
            )
        return out
    finally:
        for c in sse:
            c.task.cancel()
        await asyncio.gather(*(c.task for c in sse), return_exceptions=True)


def sse_capacity(
    port: int,
    server_pid: int,
    mqtt_port: int,
    topic: str,
    first_ts_s: float,
    levels: list[int],
    repeats: int,
) -> None:
    """How many SSE clients one serve holds: delay and memory as clients are added, each level
    as a ratio to the first (measured in the same run)."""
    import paho.mqtt.client as mqtt

    print(
        f"\n(3) SSE capacity: clients added up to {', '.join(f'{n:,}' for n in levels)}; at each "
        f"level {repeats} readings, every client's delay (goal p95 < {GOAL_P95_S:g} s); the "
        "clients run in this process on the same 2 cores"
    )
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-api-capacity")
    publisher.connect("127.0.0.1", mqtt_port)
    publisher.loop_start()
    idle_mb = _rss_mb(server_pid)

    def publish(r: int) -> None:
        # after (2)'s readings (one a minute), 10 s apart, before the frozen clock
        payload = orjson.dumps(
            {"ts": first_ts_s + 600.0 + 10.0 * r, "power_w": 40_000.0 + 3_000.0 * (r % 7)}
        )
        publisher.publish(topic, payload, qos=1)

    try:
        results = _uvloop_run(_sse_capacity(port, server_pid, levels, repeats, publish))
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    base_n, base_delays, base_mb = results[0]
    base_p95 = _pct(base_delays, 95)
    print(
        f"    server RSS before the clients: {idle_mb:.0f} MB (memory per client: from the "
        f"first count's to each next, as memory freed by earlier clients is reused first)"
    )
    for n, delays, mb in results:
        p95 = _pct(delays, 95)
        per_client_kb = (mb - base_mb) * 1024 / (n - base_n) if n > base_n else float("nan")
        print(
            f"    {n:6,} clients: p95 x{p95 / base_p95:5.1f} of {base_n:,} clients'   "
            f"{per_client_kb:5.1f} KB/client   "
            f"{'ok' if p95 < GOAL_P95_S else 'MISSED'}"
        )


# -- heavy requests beside light ones ------------------------------------------------------

BENCH_TOKEN = "bench-api-token"


def grid_export(target_bytes: int) -> bytes:
    """A SYNTHETIC grid-operator export (15-minute rows from 2014 on) of about
    ``target_bytes``: the largest consumption file an organiser may upload."""
    lines = ["\ufeffAnläggnings-id;735999100000000001", "", "Från;Till;kWh"]
    t, step = datetime(2014, 1, 1), timedelta(minutes=15)
    size = sum(len(x.encode()) + 2 for x in lines)
    while True:
        line = f"{t:%Y-%m-%d %H:%M};{t + step:%Y-%m-%d %H:%M};{1.0 + (t.hour % 7) / 10:.3f}"
        if size + len(line) + 2 > target_bytes:
            break
        lines.append(line.replace(".", ","))
        size += len(line) + 2
        t += step
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


async def _probe(port: int, path: str, stop: asyncio.Event, latencies: list[float]) -> None:
    """GET ``path`` back to back on one keep-alive connection until ``stop``; each latency."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = _request(port, path)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            writer.write(request)
            status, body = await _read_response(reader)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
    finally:
        writer.close()


async def _send(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {BENCH_TOKEN}\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: text/csv\r\n\r\n".encode()
        )
        writer.write(body)
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()


async def _beside(port: int, probe_path: str, action, idle_s: float) -> dict:
    """The probe's latencies alone for ``idle_s``, then while ``action`` runs."""
    out = {}
    for phase in ("alone", "beside"):
        stop, latencies = asyncio.Event(), []
        probe = asyncio.create_task(_probe(port, probe_path, stop, latencies))
        t0 = time.perf_counter()
        if phase == "alone":
            await asyncio.sleep(idle_s)
        else:
            await action()
        out[f"{phase}_s"] = time.perf_counter() - t0
        stop.set()
        await probe
        out[phase] = latencies
    return out


def heavy_beside_light(port: int, meter: str, sites: list[str], upload_mb: float) -> None:
    """Leaderboard latency while another client uploads a large file or has PDFs drawn, as
    ratios to the same client's latency with nothing else running (measured just before)."""
    board = f"/api/competitions/{CID}/leaderboard"
    data = grid_export(int(upload_mb * 1024 * 1024))
    print(
        f"\n(4) heavy requests beside light ones: {board} requested back to back by one "
        "client, alone and while another client (a) uploads a "
        f"{len(data) / 1024 / 1024:.1f} MB consumption file (dry run: parsed and checked, "
        f"not stored), (b) downloads the PDF summary of each of the {len(sites)} sites and "
        "of the competition (each drawn once), (c) downloads the same PDFs again"
    )

    async def upload() -> None:
        path = f"/api/competitions/{CID}/imports/consumption?meter={meter}&dry_run=true"
        status, body = await _send(port, "POST", path, data)
        if status != 200:
            raise RuntimeError(f"upload answered {status}: {body[:300]!r}")

    pdf_times: dict[str, list[float]] = {"drawn": [], "again": []}

    def pdfs(kind: str):
        async def run() -> None:
            paths = [f"/api/competitions/{CID}/sites/{s}/summary.pdf" for s in sites]
            for path in [*paths, f"/api/competitions/{CID}/summary.pdf"]:
                t0 = time.perf_counter()
                status, body = await _send(port, "GET", path)
                pdf_times[kind].append(time.perf_counter() - t0)
                if status != 200 or not body.startswith(b"%PDF"):
                    raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")

        return run

    for label, action in (
        ("(a) upload", upload),
        ("(b) PDFs drawn", pdfs("drawn")),
        ("(c) PDFs again", pdfs("again")),
    ):
        r = _uvloop_run(_beside(port, board, action, idle_s=3.0))
        alone, beside = r["alone"], r["beside"]
        print(
            f"    {label:16s} took {r['beside_s']:6.2f} s; leaderboard latency alone p50 "
            f"{_pct(alone, 50) * 1e3:6.2f} ms p95 {_pct(alone, 95) * 1e3:6.2f} ms max "
            f"{max(alone) * 1e3:7.1f} ms; beside p50 {_pct(beside, 50) * 1e3:6.2f} ms p95 "
            f"{_pct(beside, 95) * 1e3:6.2f} ms max {max(beside) * 1e3:7.1f} ms"
        )
        print(
            f"    {'':16s} ratio beside/alone: p50 x{_pct(beside, 50) / _pct(alone, 50):.1f}  "
            f"p95 x{_pct(beside, 95) / _pct(alone, 95):.1f}  "
            f"max x{max(beside) / max(alone):.1f}  requests/s "
            f"x{len(beside) / r['beside_s'] / (len(alone) / r['alone_s']):.2f}"
        )
    drawn, again = sum(pdf_times["drawn"]), sum(pdf_times["again"])
    print(
        f"    PDFs: drawn {drawn:.2f} s for {len(pdf_times['drawn'])}, again {again:.3f} s "
        f"(x{again / drawn:.3f} of drawing them: the summary cache, same scores)"
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
    parser.add_argument("--skip-heavy", action="store_true")
    parser.add_argument("--upload-mb", type=float, default=16.0)
    parser.add_argument(
        "--sse-capacity",
        default="",
        help="comma-separated SSE client counts to step through, e.g. 1000,4000,8000,16000",
    )
    args = parser.parse_args()

    from ingest.store.sqlite import SQLiteStore
    from scoring.competition_file import parse_competition
    from wattleague.demo import seed_history
    from wattleague.demo_competition import demo_competition_toml

    levels = [int(n) for n in args.sse_capacity.split(",") if n.strip()]
    _raise_nofile(max([args.sse_clients, *levels]) + 1024)
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
            if not args.skip_heavy:
                heavy_beside_light(
                    server.port, site.meters[0].id, [s.id for s in comp.sites], args.upload_mb
                )
            if not args.skip_sse or levels:
                _run_sse(args, server, toml, tmp, comp, site, clock_s, levels)


def _run_sse(
    args, server: Server, toml: str, tmp: str, comp, site, clock_s: float, levels: list[int]
) -> None:
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
        topic = comp.topics_by_meter()[meter]
        if not args.skip_sse:
            sse_delay([server.port], broker.port, topic, first_ts, args.sse_clients, args.repeats)
        if levels:
            sse_capacity(
                server.port, server.proc.pid, broker.port, topic, first_ts, levels, args.repeats
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
