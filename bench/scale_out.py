"""Scale-out benchmark: 1, 2 and 4 ``wattleague ingest`` processes on one MQTT 5 shared
subscription, draining the same backlog into one store; and (``--only sse``) several ``serve``
processes on one store, their leaderboards compared and their SSE delay at 10,000 clients.

Usage (from the repository root):

    python -m bench.scale_out [--meters 200] [--messages 40000] [--per-message 1]
                              [--workers 1,2,4] [--store sqlite|influx] [--repeat 1]
                              [--only ingest,sse] [--sse-clients 10000] [--serve-processes 4]
                              [--sse-repeats 5] [--stream-interval 0.2]

Starts its own Mosquitto on a free port (and, with ``--store influx``, Debian's influxd). For
each worker count: the workers (separate processes, ``--shared-group bench``) subscribe once
to create their persistent sessions and stop; the backlog is published (not timed); the
workers start again and drain it. The clock runs from the first message any worker received
(``messages.received_ms`` in the SQLite store, or the time the first reading showed up on the
workers' /metrics for InfluxDB) to the moment every reading was stored, so process start-up
is not part of the figure. Prints readings/s and messages/s per worker count and the ratio to
one worker. Each worker's stats must add up to the backlog (none lost, none twice).

SSE (``--only sse``): the demo competition's history in one SQLite store, ``--serve-processes``
servers on it (each a process with one uvicorn worker, as ``bench.api`` starts one), one
ingest worker and a Mosquitto. First each server's leaderboard is fetched and compared (they
must be byte-identical: the same store, the same frozen clock); then ``--sse-clients`` streams
are opened, spread evenly over the servers, and ``--sse-repeats`` readings published; for each
client the time from just before the publish to the new event (``bench.api.sse_delay``:
p50/p95/max, goal p95 < 1 s); then the leaderboards are compared again. The clients run in
this one process (uvloop) on the same two cores as the servers, the broker and ingest.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.services import IngestProcess, Mosquitto, ReliablePublisher, free_port

SITES = 20


def competition_toml(n_meters: int) -> str:
    per_site = max(1, n_meters // SITES)
    out = [
        '[competition]\nid = "scale"\nname = "Scale-out bench"\ntimezone = "Europe/Stockholm"\n'
        'start = 2011-03-01\nend = 2011-03-14\nbaseline = { method = "previous-year" }\n'
    ]
    for s in range((n_meters + per_site - 1) // per_site):
        out.append(
            f'[[site]]\nid = "s{s}"\nmunicipality = "M{s}"\nname = "Site {s}"\narea_m2 = 1000\n'
        )
        for m in range(s * per_site, min(n_meters, (s + 1) * per_site)):
            out.append(f'  [[site.meter]]\n  id = "m{m}"\n')
    return "".join(out)


def topic_of(n_meters: int, m: int) -> str:
    per_site = max(1, n_meters // SITES)
    return f"wattleague/scale/s{m // per_site}/m{m}"


def backlog(n_meters: int, n_messages: int, per_message: int) -> list[tuple[str, bytes]]:
    """Register readings 10 s apart, meters in turn (as a fleet publishes them)."""
    first_ts = int(time.time()) - 86400 * 5
    out = []
    for i in range(n_messages):
        m, k = i % n_meters, i // n_meters
        rows = [
            {"ts": first_ts + 10 * (k * per_message + j), "energy_kwh": 1e3 + (k * per_message + j)}
            for j in range(per_message)
        ]
        out.append((topic_of(n_meters, m), orjson.dumps(rows[0] if per_message == 1 else rows)))
    return out


def scrape_total(port: int, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:
        return 0.0
    return sum(
        s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
        if s.name == name
    )


def run(
    n_workers: int,
    broker: Mosquitto,
    config: Path,
    store_url: str,
    sqlite_path: Path | None,
    messages: list[tuple[str, bytes]],
    readings: int,
    workdir: Path,
    tag: str,
) -> tuple[float, list[dict]]:
    ports = [free_port() for _ in range(n_workers)]

    def workers(round_: str) -> list[IngestProcess]:
        out = []
        for i, port in enumerate(ports):
            log = workdir / f"{tag}-{i}-{round_}.log"  # stop() reads the first stats line
            w = IngestProcess(config, store_url, broker.url, f"{tag}-{i}", log, "bench")
            w.args += ["--metrics-port", str(port)]
            out.append(w.start())
        return out

    first = workers("subscribe")
    for w in first:
        w.wait_subscribed(timeout_s=60)
    for w in first:
        w.stop()
    ReliablePublisher(broker.port, f"{tag}-publisher", window=2000).publish_all(
        messages, timeout_s=900
    )
    second = workers("drain")
    start_s = None
    deadline = time.monotonic() + float(os.environ.get("BENCH_TIMEOUT_S", 900))
    while True:
        done = sum(scrape_total(p, "wattleague_ingest_readings_total") for p in ports)
        now_s = time.time()
        if done and start_s is None:
            start_s = now_s  # refined below from the store when it can tell
        if done >= readings:
            end_s = now_s
            break
        if time.monotonic() > deadline:
            logs = "\n".join(w.log()[-2000:] for w in second)
            raise RuntimeError(f"{tag}: stored {done:.0f} of {readings} readings\n{logs}")
        time.sleep(0.05)
    stats = [w.stop() for w in second]
    _forget_sessions(broker.port, [f"{tag}-{i}" for i in range(n_workers)])
    if sqlite_path is not None:
        with sqlite3.connect(sqlite_path) as conn:
            first_ms = conn.execute("SELECT min(received_ms) FROM messages").fetchone()[0]
        start_s = first_ms / 1000.0
    got = sum(s.get("messages", 0) for s in stats)
    if got != len(messages) or sum(s.get("readings_stored", 0) for s in stats) != readings:
        raise RuntimeError(f"{tag}: workers stored {stats}, expected {len(messages)} messages")
    return end_s - start_s, stats


def _forget_sessions(port: int, client_ids: list[str]) -> None:
    """End the workers' persistent sessions: an offline member of the shared group would
    otherwise keep taking its share of the next run's messages."""
    import paho.mqtt.client as mqtt

    for cid in client_ids:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", port, clean_start=True)  # session expiry 0: gone on close
        client.loop_start()
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        client.disconnect()
        client.loop_stop()


def leaderboards(ports: list[int]) -> list[bytes]:
    """Each server's leaderboard JSON body."""
    from bench import api as bench_api

    out = []
    for port in ports:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/competitions/{bench_api.CID}/leaderboard", timeout=30
        ) as response:
            out.append(response.read())
    return out


def run_sse(clients: int, serve_processes: int, repeats: int, interval_s: float) -> None:
    """Several serve processes on one store: identical leaderboards, and the SSE delay."""
    import multiprocessing as mp
    from contextlib import ExitStack
    from datetime import UTC, datetime

    from bench import api as bench_api
    from ingest.store.sqlite import SQLiteStore
    from scoring.competition_file import parse_competition
    from wattleague.demo import seed_history
    from wattleague.demo_competition import demo_competition_toml

    bench_api._raise_nofile(clients + 1024)
    clock_s = time.time()
    tz = parse_competition(demo_competition_toml(datetime.now(UTC).date()), "-").competition.tz
    toml = demo_competition_toml(datetime.fromtimestamp(clock_s, tz).date())
    comp = parse_competition(toml, "bench.toml")
    with tempfile.TemporaryDirectory(prefix="bench-scale-sse-") as tmp, ExitStack() as stack:
        db = str(Path(tmp) / "store.db")
        store = SQLiteStore(db)
        seed_history(store, comp, clock_s - bench_api.HOUR_S)
        store.close()
        servers = [
            stack.enter_context(bench_api.Server(db, toml, clock_s, interval_s))
            for _ in range(serve_processes)
        ]
        ports = [s.port for s in servers]
        print(
            f"(sse) {serve_processes} serve processes on one SQLite store "
            f"({len(comp.sites)} sites), stream interval {interval_s} s"
        )
        boards = leaderboards(ports)
        print(f"    leaderboards identical before: {'yes' if len(set(boards)) == 1 else 'NO'}")
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        stack.callback(broker.stop)
        ctx = mp.get_context("spawn")
        ready, stop = ctx.Event(), ctx.Event()
        worker = ctx.Process(
            target=bench_api._ingest, args=(db, toml, broker.port, ready, stop), daemon=True
        )
        worker.start()

        def stop_worker() -> None:
            stop.set()
            worker.join(20)
            if worker.is_alive():
                worker.kill()

        stack.callback(stop_worker)
        if not ready.wait(30):
            raise RuntimeError("the ingest worker did not subscribe within 30 s")
        meter = comp.sites[0].meters[0].id
        topic = comp.topics_by_meter()[meter]
        first_ts = clock_s - bench_api.HOUR_S + 60.0
        bench_api.sse_delay(ports, broker.port, topic, first_ts, clients, repeats, "(sse)")
        time.sleep(2 * interval_s + 0.5)
        boards = leaderboards(ports)
        print(
            f"    leaderboards identical after the readings: "
            f"{'yes' if len(set(boards)) == 1 else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--per-message", type=int, default=1, help="readings per message")
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--store", choices=["sqlite", "influx"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument("--only", default="ingest,sse", help="ingest, sse or both")
    parser.add_argument("--sse-clients", type=int, default=10_000)
    parser.add_argument("--serve-processes", type=int, default=4)
    parser.add_argument("--sse-repeats", type=int, default=5)
    parser.add_argument("--stream-interval", type=float, default=0.2)
    args = parser.parse_args()
    only = {part.strip() for part in args.only.split(",")}
    if not only <= {"ingest", "sse"}:
        parser.error(f"--only takes ingest and/or sse, not {args.only!r}")
    if "ingest" in only:
        run_ingest(args)
    if "sse" in only:
        run_sse(args.sse_clients, args.serve_processes, args.sse_repeats, args.stream_interval)


def run_ingest(args) -> None:
    """1, 2 and 4 ingest workers draining one backlog."""
    counts = [int(c) for c in args.workers.split(",")]
    messages = backlog(args.meters, args.messages, args.per_message)
    readings = args.messages * args.per_message
    best: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        workdir = Path(tmp)
        config = workdir / "scale.toml"
        config.write_text(competition_toml(args.meters))
        broker = Mosquitto(workdir / "mosquitto")
        broker.start()
        influxd = None
        if args.store == "influx":
            from tests.influx import Influxd

            influxd = Influxd(workdir / "influxd")
            influxd.start()
        try:
            for r in range(args.repeat):
                for n in counts:
                    tag = f"w{n}r{r}"
                    if influxd is not None:
                        store_url, sqlite_path = influxd.url(f"bench_{tag}"), None
                    else:
                        sqlite_path = workdir / f"{tag}.db"
                        store_url = f"sqlite:///{sqlite_path}"
                    seconds, _ = run(
                        n, broker, config, store_url, sqlite_path, messages, readings, workdir, tag
                    )
                    best[n] = min(best.get(n, float("inf")), seconds)
        finally:
            broker.stop()
            if influxd is not None:
                influxd.stop()
    print(
        f"Mosquitto 2 shared subscription, QoS 1, MQTT 5; {args.messages:,} messages x "
        f"{args.per_message} reading(s) from {args.meters} meters into {args.store}; "
        f"{os.cpu_count()} CPU cores (broker, workers and this bench share them)"
    )
    base = readings / best[counts[0]] if counts else 0
    for n in counts:
        rate = readings / best[n]
        print(
            f"{n} worker(s): {rate:>10,.0f} readings/s  {args.messages / best[n]:>9,.0f} msg/s  "
            f"x{rate / base:.2f} vs {counts[0]}"
        )


if __name__ == "__main__":
    main()
