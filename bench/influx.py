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
(c) leaderboard: ``--sites`` sites of one meter each, ``--history-hours`` hourly register
            readings each, seeded through ``InfluxStore.write`` (seeding rate printed); then a
            competition over that year (26-week pre-period baseline, then the competition to
            the end of the data) and the time of ``Scoreboard.leaderboard()``: cold (history and
            period read from InfluxDB), cached, and after one new write (period re-read).

The defaults finish in about two minutes; the issue's leaderboard figure is ``--sites 1000``
(about six minutes: seeding 8.76 million readings takes most of it).

With ``--profile`` the store run (a) and the cold leaderboard (c) are profiled (cProfile) and
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
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import orjson

from api.scoreboard import Scoreboard
from ingest.mqtt_worker import BATCH_MAX, BATCH_MAX_BYTES
from ingest.store.base import Message, StoredReading
from ingest.store.influx import InfluxStore
from ingest.store.influx_http import POSTERS
from ingest.store.line_protocol import encode_point
from scoring.competition_file import parse_competition
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


LEADERBOARD_TOML = """
[competition]
id = "bench"
name = "Leaderboard benchmark"
timezone = "Europe/Stockholm"
start = {start}
end = {end}
baseline = {{ method = "pre-period", weeks = 26 }}
"""
SITE_TOML = """
[[site]]
id = "s{i:04d}"
municipality = "Kommun {i}"
name = "Kommunhus {i}"
area_m2 = {area}
  [[site.meter]]
  id = "meter-{i:04d}"
"""


def run_leaderboard(
    server: Influxd, sites: int, hours: int, per_message: int, batch: int, profile: bool
):
    tz = ZoneInfo("Europe/Stockholm")
    start = date(2011, 1, 3)  # a Monday; the data begin 26 weeks (the baseline) earlier
    first = datetime.combine(start - timedelta(weeks=26), dtime(0), tz).astimezone(UTC)
    end = max((first + timedelta(hours=hours)).astimezone(tz).date() - timedelta(days=1), start)
    toml = LEADERBOARD_TOML.format(start=start.isoformat(), end=end.isoformat())
    toml += "".join(SITE_TOML.format(i=i, area=500 + 10 * (i % 100)) for i in range(sites))
    competition = parse_competition(toml, "bench.toml")
    first_s = int(first.timestamp())

    store = InfluxStore(server.url("leaderboard"))
    store.http.query('CREATE DATABASE "leaderboard"')
    t0 = time.perf_counter()
    n = 0
    pending: list[Message] = []
    for lo in range(0, hours, per_message):
        for i in range(sites):
            meter = f"meter-{i:04d}"
            kw = 5.0 + (i % 17) - (0.5 if lo >= hours // 2 else 0.0)
            readings = [
                StoredReading(meter, (first_s + 3600 * h) * 1000, 100.0 + kw * h, None)
                for h in range(lo, min(lo + per_message, hours))
            ]
            pending.append(Message("import", int(time.time() * 1000), "import", readings))
            n += len(readings)
            if len(pending) == batch:
                store.write(pending)
                pending = []
    if pending:
        store.write(pending)
    seed_s = time.perf_counter() - t0
    print(
        f"(c) seeded {n:,} hourly readings ({sites} meters x {hours} h) through "
        f"InfluxStore.write in {seed_s:.1f} s: {n / seed_s:,.0f} readings/s"
    )

    now_s = first_s + 3600 * hours
    board = Scoreboard(competition, store, clock=lambda: now_s)
    profiler = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    result = board.leaderboard()
    if profiler:
        profiler.disable()
    cold = time.perf_counter() - t0
    if profiler:
        _print_profile(profiler)
    t0 = time.perf_counter()
    board.leaderboard()
    cached = time.perf_counter() - t0
    live = StoredReading("meter-0000", (now_s - 1) * 1000, 1e6, 1.0)
    store.write([Message("live", int(time.time() * 1000), "mqtt", [live])])
    t0 = time.perf_counter()
    board.leaderboard()
    after_write = time.perf_counter() - t0
    ranked = sum(1 for e in result["entries"] if e["rank"])
    grid_hours = board.grid.hour_start_s.size + board.history_grid.hour_start_s.size
    print(
        f"    leaderboard of {sites} sites over {grid_hours:,} local hours "
        f"({ranked} ranked): cold {cold:.2f} s (history + period read from "
        f"InfluxDB), cached {cached * 1000:.1f} ms, after a new write {after_write:.2f} s"
    )
    store.close()


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
    parser.add_argument("--history-hours", type=int, default=8760, help="(c) hours per meter")
    parser.add_argument("--repeat", type=int, default=1, help="(a), (b): best of R runs")
    parser.add_argument("--only", default="write,raw,leaderboard")
    parser.add_argument("--profile", action="store_true", help="cProfile the store run (a)")
    parser.add_argument("--workdir", help="keep InfluxDB's data here (default: a temp dir)")
    args = parser.parse_args()
    only = {part.strip() for part in args.only.split(",")}
    if not only <= {"write", "raw", "leaderboard"}:
        parser.error(f"--only: unknown part in {args.only!r}")

    messages = live_messages(args.meters, args.hours, args.step_s, args.per_message)
    lines = reading_lines(messages)
    full = args.messages or worker_batch(messages[0])
    batch_sizes = {"(a)": full, **({"(a')": args.small_messages} if args.small_messages else {})}
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
                        server, f"store{r}{label[1:-1]}", messages, size, args.profile and r == 0
                    )
                    if label not in best_store or figures["seconds"] < best_store[label]["seconds"]:
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
                    f"    ratio {label} readings/s / (b) points/s: {100 * ratio:.0f} % (stricter: "
                    "each reading also costs the energy pieces of its register and power chains)"
                )
            if "leaderboard" in only:
                run_leaderboard(server, args.sites, args.history_hours, 168, full, args.profile)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
