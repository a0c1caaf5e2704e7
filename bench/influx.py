"""InfluxDB store benchmark: InfluxStore.write against bare line-protocol POSTs, same run, and a
leaderboard read from a year of hourly data.

Usage (from the repository root):

    python -m bench.influx [--meters 200] [--hours 2] [--step-s 10] [--messages N]
                           [--small-messages 20] [--per-message 100] [--sites 250]
                           [--history-hours 8760] [--repeat 1] [--only write,raw,leaderboard]
                           [--profile]

Starts its own InfluxDB 1.x (Debian's /usr/bin/influxd) on free ports in a temp dir, then:

(a) store:  ``--meters`` meters x a reading (register and power) every ``--step-s`` s for
            ``--hours`` h, in messages of ``--per-message`` readings of one meter, written
            through ``InfluxStore.write`` into a fresh database in the batches the ingest
            worker makes when it has a backlog (``BATCH_MAX`` messages or ``BATCH_MAX_BYTES`` of
            JSON payload, whichever comes first; ``--messages`` overrides): the store's
            throughput, as readings/s and all points/s (readings plus the energy pieces the
            store adds), the time of the store's own queries included. (a') the same in
            batches of ``--small-messages``, as the worker makes them when messages trickle in
            (latency, not throughput, is what counts there).
(b) raw:    the same reading points (the line protocol the store writes for them, generated up
            front) POSTed with a bare httpx client, gzip, 5,000 points a request, into a fresh
            database: points/s; and (b') exactly the line protocol the store wrote in (a),
            energy pieces included, POSTed the same way, one request at a time (a bare client)
            and two at a time (as the store posts; the server takes more that way). The
            issue's goal is (a) points/s >= 70 % of (b') points/s of a bare client; the ratio
            to two requests at a time is printed next to it. (a) readings/s against (b) is
            printed as the stricter figure (a reading costs a reading point plus its energy
            pieces).
(c) leaderboard (``bench.cold_leaderboard``): ``--sites`` sites of one meter each, an hourly
            register reading over a baseline year and three competition months, seeded as
            line protocol once and kept in /tmp (``leaderboard_dir``); then the cold
            leaderboard of a fresh process, a bare InfluxQL read of the same hourly values
            (same run, same server), their ratio, the leaderboard after one new write and the
            fresh process's peak RSS.

Seeding 1,000 sites takes a few minutes, once.

With ``--profile`` the store run (a) is profiled (cProfile) and
their top functions printed.
With ``--repeat R`` figures (a) and (b) are the best of R runs.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import pstats
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import orjson

from bench import cold_leaderboard as cold
from ingest.mqtt_worker import BATCH_MAX, BATCH_MAX_BYTES
from ingest.store.base import Message, StoredReading
from ingest.store.influx import METERS_PER_QUERY, InfluxStore, _energy_lines, _reading_lines
from ingest.store.influx_hourly import ROLLUP_VERSION, hourly_lines
from ingest.store.influx_http import POSTERS
from ingest.store.influxql import any_of
from ingest.store.line_protocol import encode_point
from tests.influx import Influxd

H0 = 1_300_000_000 - 1_300_000_000 % 3600  # an hour start, March 2011
TOPIC = "wattleague/bench/{meter}"


def live_messages(meters: int, hours: float, step_s: int, per_message: int) -> list[Message]:
    """Messages of ``per_message`` readings of one meter, in the order meters would send them."""
    steps = int(hours * 3600 // step_s)
    names = [f"meter-{i:04d}" for i in range(meters)]
    out = []
    for lo in range(0, steps, per_message):
        for i, name in enumerate(names):
            readings = [
                StoredReading(
                    name,
                    (H0 + k * step_s) * 1000,
                    1000.0 * i + k * 0.0125,
                    float(300 + (k * 13 + i * 7) % 2000),
                )
                for k in range(lo, min(lo + per_message, steps))
            ]
            out.append(
                Message(TOPIC.format(meter=name), (H0 + lo * step_s) * 1000 + 5, "mqtt", readings)
            )
    return out


def worker_batch(message: Message) -> int:
    """Messages like this one that the ingest worker takes into one batch when it has a
    backlog (its ``BATCH_MAX`` messages or ``BATCH_MAX_BYTES`` of payload, in the project's
    JSON format): the batch size that bounds its throughput."""
    payload = orjson.dumps(
        [
            {"ts": r.ts_ms / 1000, "energy_kwh": r.energy_kwh, "power_w": r.power_w}
            for r in message.readings
        ]
    )
    return min(BATCH_MAX, -(-BATCH_MAX_BYTES // len(payload)))


def reading_lines(messages: list[Message]) -> list[str]:
    """The reading points ``InfluxStore`` writes for these messages (schema: influx.py)."""
    return [
        encode_point(
            "reading",
            {"meter": r.meter_id},
            {
                "energy_kwh": r.energy_kwh,
                "power_w": r.power_w,
                "received_ms": int(m.received_ms),
                "source": m.source,
                "topic": m.topic,
            },
            r.ts_ms,
        )
        for m in messages
        for r in m.readings
    ]


class CountingStore(InfluxStore):
    """Counts the points the store POSTs and the time spent in writes and queries."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.points = 0
        self.lines: list[str] = []  # every ms-precision line, to POST the same protocol bare
        self.spans: list[tuple[float, float]] = []  # (start, end) of every POST: they overlap
        self._spans_lock = threading.Lock()
        self.query_s = 0.0
        write, query = self.http.write, self.http.query

        def counted_write(lines, *args, **kwargs):
            t0 = time.perf_counter()
            write(lines, *args, **kwargs)
            with self._spans_lock:
                self.spans.append((t0, time.perf_counter()))
                self.points += len(lines)
                if kwargs.get("precision", args[0] if args else "ms") == "ms":
                    self.lines.extend(lines)

        def counted_query(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return query(*args, **kwargs)
            finally:
                self.query_s += time.perf_counter() - t0

        self.http.write, self.http.query = counted_write, counted_query


def run_store(server: Influxd, db: str, messages: list[Message], batch: int, profile: bool):
    store = CountingStore(server.url(db))
    store.http.query(f'CREATE DATABASE "{db}"')
    store.query_s = 0.0
    profiler = cProfile.Profile() if profile else None
    inserted = 0
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    for lo in range(0, len(messages), batch):
        result = store.write(messages[lo : lo + batch])
        if result.spooled:
            raise RuntimeError("the store spooled during the benchmark: InfluxDB not answering?")
        inserted += result.inserted
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - t0
    figures = {
        "seconds": elapsed,
        "readings": inserted,
        "points": store.points,
        "write_s": _covered_s(store.spans),
        "query_s": store.query_s,
        "lines": store.lines,
    }
    store.close()
    if profiler:
        _print_profile(profiler)
    return figures


def _covered_s(spans: list[tuple[float, float]]) -> float:
    """Seconds during which at least one of the (start, end) spans was running."""
    covered, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


def _print_profile(profiler: cProfile.Profile) -> None:
    for order, n in (("cumulative", 25), ("tottime", 15)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(n)
        print(out.getvalue())


def run_raw(
    server: Influxd, db: str, lines: list[str], connections: int = 1, chunk: int = 5000
) -> float:
    """Seconds to POST ``lines`` with a bare httpx client, gzip, ``chunk`` points a request,
    ``connections`` requests at a time."""
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        client.post("/query", data={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()

        def post(lo: int) -> None:
            body = gzip.compress("\n".join(lines[lo : lo + chunk]).encode(), compresslevel=1)
            response = client.post(
                "/write", params={"db": db, "precision": "ms"}, headers=headers, content=body
            )
            if response.status_code != 204:
                raise RuntimeError(f"raw write failed: {response.status_code} {response.text}")

        t0 = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            for _ in pool.map(post, range(0, len(lines), chunk)):
                pass
        return time.perf_counter() - t0


SEED_VERSION = "rollup1"  # the schema the cached leaderboard data was seeded in
SEED_CHUNK = 5000  # lines a request when seeding


def leaderboard_dir(sites: int) -> Path:
    """Where the seeded InfluxDB of ``sites`` sites is kept between runs."""
    return Path(tempfile.gettempdir()) / f"wattleague-bench-influx-{sites}-{SEED_VERSION}"


def seed_windows(sites: int, window_h: int = 168):
    """Every line the store would have written for the sites' hourly readings
    (``cold_leaderboard.register_kwh``): the readings, their energy pieces and the ``hourly``
    rollup of those pieces, a window of ``window_h`` hours of all meters at a time (InfluxDB
    takes time-ordered data fastest). Each hour's one piece is in exactly one window, so a
    window's cells are complete."""
    values = [cold.register_kwh(i, np.arange(cold.HOURS)) for i in range(sites)]
    meters = [cold.meter_name(i) for i in range(sites)]
    msg = Message("import", cold.FIRST_S * 1000, "import", [])
    for h0 in range(0, cold.HOURS, window_h):
        h1 = min(h0 + window_h, cold.HOURS)
        lo = max(h0 - 1, 0)  # the pair across the window's start is this window's
        ts_ms = ((cold.FIRST_S + 3600 * np.arange(lo, h1)) * 1000).tolist()
        chain_meters, chain_ms, chain_values, rows = [], [], [], []
        for meter, v in zip(meters, values, strict=True):
            chain_meters += [meter] * len(ts_ms)
            chain_ms += ts_ms
            chain_values += v[lo:h1].tolist()
            rows += [
                (t, meter, x, None, msg)
                for t, x in zip(ts_ms[h0 - lo :], v[h0:h1].tolist(), strict=True)
            ]
        records: list[tuple] = []
        energy = _energy_lines(chain_meters, chain_ms, chain_values, "reg", records=records)
        cells: dict = {}
        for meter, kind, hour_s, _middle_ms, kwh, seconds in records:
            kwh0, s0 = cells.get((meter, kind, hour_s), (0.0, 0.0))
            cells[(meter, kind, hour_s)] = (kwh0 + kwh, s0 + seconds)
        yield energy + _reading_lines(rows) + hourly_lines(cells)


def seed_leaderboard(server: Influxd, sites: int) -> None:
    """Write the hourly data of ``sites`` sites as line protocol, 4 requests at a time."""
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"}
    t0 = time.perf_counter()
    n = 0
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        client.post("/query", data={"q": 'CREATE DATABASE "leaderboard"'}).raise_for_status()

        def post(lines: list[str]) -> None:
            body = gzip.compress("\n".join(lines).encode(), compresslevel=1)
            response = client.post(
                "/write",
                params={"db": "leaderboard", "precision": "ms"},
                headers=headers,
                content=body,
            )
            if response.status_code != 204:
                raise RuntimeError(f"seeding failed: {response.status_code} {response.text}")

        with ThreadPoolExecutor(4) as pool:
            pending = []
            for lines in seed_windows(sites):
                n += len(lines)
                pending += [
                    pool.submit(post, lines[lo : lo + SEED_CHUNK])
                    for lo in range(0, len(lines), SEED_CHUNK)
                ]
                while len(pending) > 16:
                    pending.pop(0).result()
            for job in pending:
                job.result()
        post([f"schema hourly_rollup={ROLLUP_VERSION}i 0"])  # as mark_complete writes it
    seconds = time.perf_counter() - t0
    print(
        f"(c) seeded {sites} sites x {cold.HOURS:,} hourly readings ({n:,} points) as line "
        f"protocol in {seconds:.1f} s ({n / seconds:,.0f} points/s)"
    )


def bare_hourly_read_s(server: Influxd, sites: int) -> float:
    """Seconds a plain client takes to read the same hourly values (the ``hourly`` rollup:
    one point a meter-hour, over the hours the leaderboard reads:
    ``cold_leaderboard.read_spans_s``), 100 meters a query, two queries at a time (as the
    store reads), parsed into arrays."""
    meters = [cold.meter_name(i) for i in range(sites)]
    spans = cold.read_spans_s()

    def read(job: tuple[int, tuple[int, int]]) -> int:
        lo, (start_s, end_s) = job
        group = meters[lo : lo + METERS_PER_QUERY]
        q = (
            'SELECT "reg_kwh", "reg_s", "pow_kwh", "pow_s" FROM "hourly" WHERE '
            f"{any_of('meter', group)} AND time >= {start_s}s AND time < {end_s}s "
            'GROUP BY "meter"'
        )
        response = client.post("/query", params={"db": "leaderboard", "epoch": "ms"}, data={"q": q})
        response.raise_for_status()
        values = 0
        for result in orjson.loads(response.content)["results"]:
            for series in result.get("series", []):
                values += np.array(series["values"], dtype=float).size
        return values

    jobs = [(lo, span) for lo in range(0, sites, METERS_PER_QUERY) for span in spans]
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(POSTERS) as pool:
            values = sum(pool.map(read, jobs))
        seconds = time.perf_counter() - t0
    hours = sum(end_s - start_s for start_s, end_s in spans) // 3600
    if values < sites * (hours - 2) * 3:  # time and one chain's two fields at least
        raise RuntimeError(f"the bare read found {values:,} values: is the data seeded?")
    return seconds


def run_leaderboard(sites: int) -> None:
    """(c): cold leaderboard in a fresh process against a bare read, on cached seeded data."""
    workdir = leaderboard_dir(sites)
    server = Influxd(workdir / "influxd")
    server.start()
    try:
        if not (workdir / "seeded").exists():
            seed_leaderboard(server, sites)
            (workdir / "seeded").write_text(f"{sites} sites, {cold.HOURS} hours\n")
            (workdir / "rollup").write_text("seeded with the rollup\n")
        else:
            print(f"(c) {sites} sites x {cold.HOURS:,} hours seeded before, in {workdir}")
        if not (workdir / "rollup").exists():  # seeded as a store from before the rollup
            store = InfluxStore(server.url("leaderboard", owner="backfill"))
            t0 = time.perf_counter()
            meters, points = store.backfill_rollup()
            store.close()
            print(
                f"(c) backfilled the hourly rollup (wattleague deploy influx-rollup): {meters} "
                f"meters, {points:,} points in {time.perf_counter() - t0:.1f} s"
            )
            (workdir / "rollup").write_text("backfilled\n")
        # bare, store, bare: the faster bare read is the floor (load from elsewhere only slows)
        bare_s = bare_hourly_read_s(server, sites)  # the first also warms InfluxDB's caches
        url = server.url("leaderboard", owner=f"cold{time.time_ns()}")
        figures = cold.measure(url, sites)  # the first start warms up too
        bare_s = min(bare_s, bare_hourly_read_s(server, sites))
        cold.print_figures(figures, bare_s, f"InfluxDB {server.version()}, {sites} sites")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=200)
    parser.add_argument("--hours", type=float, default=2.0, help="hours of live readings")
    parser.add_argument("--step-s", type=int, default=10, help="seconds between readings")
    parser.add_argument(
        "--messages",
        type=int,
        help="messages per write (default: as many as the ingest worker takes into one batch)",
    )
    parser.add_argument(
        "--small-messages", type=int, default=20, help="messages per write in (a'); 0: skip"
    )
    parser.add_argument("--per-message", type=int, default=100, help="readings per message")
    parser.add_argument(
        "--sites", type=int, default=250, help="(c) sites, one meter each (the issue: 1000)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="(a), (b): best of R runs")
    parser.add_argument("--only", default="write,raw,leaderboard")
    parser.add_argument("--profile", action="store_true", help="cProfile the store run (a)")
    parser.add_argument("--workdir", help="keep InfluxDB's data here (default: a temp dir)")
    args = parser.parse_args()
    only = {part.strip() for part in args.only.split(",")}
    if not only <= {"write", "raw", "leaderboard"}:
        parser.error(f"--only: unknown part in {args.only!r}")

    if only & {"write", "raw"}:
        messages = live_messages(args.meters, args.hours, args.step_s, args.per_message)
        lines = reading_lines(messages)
        full = args.messages or worker_batch(messages[0])
        batch_sizes = {
            "(a)": full,
            **({"(a')": args.small_messages} if args.small_messages else {}),
        }
        n = len(lines)
        with tempfile.TemporaryDirectory(prefix="bench-influx-") as tmp:
            server = Influxd(Path(args.workdir or tmp) / "influxd")
            server.start()
            try:
                print(
                    f"InfluxDB {server.version()} on port {server.port}; {n:,} readings "
                    f"({args.meters} meters, every {args.step_s} s for {args.hours:g} h) in "
                    f"messages of {args.per_message} readings"
                )
                best_raw = None
                best_store: dict[str, dict] = {}  # label -> the fastest store run
                for r in range(args.repeat):
                    if "raw" in only:
                        seconds = run_raw(server, f"raw{r}", lines)
                        best_raw = seconds if best_raw is None else min(best_raw, seconds)
                    for label, size in batch_sizes.items():
                        if "write" not in only:
                            break
                        figures = run_store(
                            server,
                            f"store{r}{label[1:-1]}",
                            messages,
                            size,
                            args.profile and r == 0,
                        )
                        if (
                            label not in best_store
                            or figures["seconds"] < best_store[label]["seconds"]
                        ):
                            best_store[label] = figures
                for label, f in best_store.items():
                    print(
                        f"{label} InfluxStore.write, batches of {batch_sizes[label]} messages: "
                        f"{f['readings'] / f['seconds']:,.0f} readings/s, "
                        f"{f['points'] / f['seconds']:,.0f} points/s ({f['points']:,} points: "
                        f"readings + energy pieces) in {f['seconds']:.2f} s; the server had no "
                        f"request of it for {f['seconds'] - f['write_s'] - f['query_s']:.2f} s "
                        "(planning, encoding)"
                    )
                if best_store and "raw" in only:
                    same = next(iter(best_store.values()))["lines"]
                    rates = {}
                    for connections in sorted({1, POSTERS}):
                        seconds = min(
                            run_raw(server, f"rawsame{connections}x{r}", same, connections)
                            for r in range(args.repeat)
                        )
                        rates[connections] = len(same) / seconds
                        print(
                            f"(b') bare httpx POSTs of exactly the store's line protocol (readings "
                            f"and energy pieces, {len(same):,} points), {connections} request"
                            f"{'s' if connections > 1 else ''} at a time: "
                            f"{rates[connections]:,.0f} points/s"
                        )
                    for label, f in best_store.items():
                        store_rate = f["points"] / f["seconds"]
                        goal = store_rate / rates[1]
                        verdict = (  # the throughput: small batches are about latency
                            f" (the issue's goal >= 70 %: {'met' if goal >= 0.7 else 'NOT met'})"
                            if label == "(a)"
                            else " (small batches: for reference)"
                        )
                        print(
                            f"    ratio {label} / (b') one at a time: {100 * goal:.0f} %{verdict}; "
                            f"/ (b') {POSTERS} at a time: {100 * store_rate / rates[POSTERS]:.0f} %"
                        )
                if best_raw:
                    print(
                        f"(b) bare httpx POSTs of the same reading points (gzip, 5,000 a request): "
                        f"{n / best_raw:,.0f} points/s in {best_raw:.2f} s"
                    )
                for label, f in best_store.items():
                    if not best_raw:
                        break
                    ratio = f["readings"] / f["seconds"] / (n / best_raw)
                    print(
                        f"    ratio {label} readings/s / (b) points/s: {100 * ratio:.0f} % "
                        "(stricter: each reading also costs the energy pieces of its register "
                        "and power chains)"
                    )
            finally:
                server.stop()
    if "leaderboard" in only:
        run_leaderboard(args.sites)


if __name__ == "__main__":
    main()
