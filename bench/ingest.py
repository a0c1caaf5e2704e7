"""Ingest benchmark: MQTT → IngestWorker → SQLite against a bare paho subscriber, same run.

Usage (from the repository root):

    python -m bench.ingest [--single 50000] [--batches 2000] [--batch-size 100] [--repeat 1]
                           [--synchronous normal,full] [--commits 2000]

Starts its own Mosquitto on a free port (needs /usr/sbin/mosquitto) and measures drains of a
backlog. Each consumer first creates its persistent session (MQTT 5, clean start off,
session expiry) and subscribes, then goes offline; the messages are published into the
broker's queue for that session (QoS 1); the clock runs from the consumer's reconnect until
the last message is consumed. Publishing is therefore not part of any figure:

(a) raw:     one paho subscriber (QoS 1, receive maximum 65,535, paho's automatic PUBACK)
             drains N single-reading messages and does nothing with them — the ceiling;
(b) single:  IngestWorker drains the same N single-reading messages into a fresh SQLite
             store (decode, validate, one transaction per batch, PUBACK after the commit);
(c) batched: IngestWorker drains M messages of K readings each into a fresh SQLite store;
    for scale, the bare subscriber's drain of the same batched messages is printed with it.

(d) commits: IngestWorker with one message per transaction (``batch_max=1``) drains N
             single-reading messages: what each commit costs, the case live traffic is
             nearest to (at tens of messages a second every message is its own commit).

(b), (c) and (d) run once per ``--synchronous`` mode of the store (SQLite's PRAGMA
synchronous in WAL mode: ``full`` syncs the WAL at every commit, ``normal`` only at
checkpoints), interleaved in the same run; each mode's rate is also printed as a ratio to the
first mode's.

Prints the rate of each (messages/s and readings/s), the ratio (b)/(a) and the issue's goals:
(b) >= 50 % of (a), (c) >= 200,000 readings/s stored. With --repeat R each figure is the
best of R runs.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.mqtt_url import parse_mqtt_url
from ingest.mqtt_worker import BATCH_MAX, IngestWorker
from ingest.routing import Routing
from ingest.store.sqlite import SYNCHRONOUS, SQLiteStore
from scoring.competition_file import parse_competition
from tests.services import Mosquitto, ReliablePublisher

COMPETITION = """
[competition]
id = "bench"
name = "Ingest benchmark"
timezone = "Europe/Stockholm"
start = 2011-03-01
end = 2011-03-14
baseline = { method = "previous-year" }

[[site]]
id = "site"
municipality = "Bench"
name = "Bench"
area_m2 = 1000
  [[site.meter]]
  id = "meter"
"""
TOPIC = "wattleague/bench/site/meter"


def _payloads(n_messages: int, per_message: int, first_ts: int) -> list[tuple[str, bytes]]:
    """Cumulative register readings of one meter, one second apart, ``per_message`` a message."""
    out = []
    for m in range(n_messages):
        rows = []
        for k in range(per_message):
            i = m * per_message + k
            rows.append({"ts": first_ts + i, "energy_kwh": 1000.0 + i * 0.125, "power_w": 450.0})
        out.append((TOPIC, orjson.dumps(rows[0] if per_message == 1 else rows)))
    return out


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    # tests.services.publish_all fails past 10,000 messages (paho's queue cap): use a window
    ReliablePublisher(port, "bench-publisher", window=2000).publish_all(messages, timeout_s=600)


def _connect_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 65_535
    return props


def raw_drain(port: int, messages: list[tuple[str, bytes]], client_id: str) -> float:
    """Seconds a bare paho subscriber needs to drain ``messages`` queued for its session."""

    def client() -> mqtt.Client:
        return mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )

    sub = client()
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", port, clean_start=False, properties=_connect_props())
    sub.loop_start()
    sub.subscribe(TOPIC, qos=1)
    if not subscribed.wait(10):
        raise RuntimeError("raw subscriber: no SUBACK")
    sub.disconnect()
    sub.loop_stop()

    _publish(port, messages)

    done = threading.Event()
    count = [0]
    n = len(messages)

    def on_message(c, userdata, msg) -> None:
        count[0] += 1
        if count[0] == n:
            done.set()

    sub = client()
    sub.on_message = on_message
    t0 = time.perf_counter()
    sub.connect("127.0.0.1", port, clean_start=False, properties=_connect_props())
    sub.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"raw subscriber got {count[0]} of {n} messages")
    elapsed = time.perf_counter() - t0
    sub.disconnect()
    sub.loop_stop()
    return elapsed


def worker_drain(
    broker: Mosquitto,
    messages: list[tuple[str, bytes]],
    readings: int,
    workdir: Path,
    name: str,
    synchronous: str = "full",
    batch_max: int = BATCH_MAX,
) -> tuple[float, dict]:
    """Seconds an IngestWorker needs to store ``readings`` readings queued for its session."""
    routing = Routing.from_competitions([parse_competition(COMPETITION, "bench.toml")])
    address = parse_mqtt_url(broker.url)
    store = SQLiteStore(workdir / f"{name}.db", synchronous=synchronous)
    # Create the session and its subscription, then go offline: a probe message proves both.
    worker = IngestWorker(address, store, routing, client_id=f"bench-{name}")
    worker.start()
    if not worker.subscribed.wait(20):
        raise RuntimeError("worker: no SUBACK")
    probe = {"ts": int(time.time()) - 86400 * 30, "energy_kwh": 1.0}
    _publish(broker.port, [(TOPIC, orjson.dumps(probe))])
    _wait(lambda: worker.stats["readings_stored"] == 1, 20, "probe not stored")
    worker.stop()

    _publish(broker.port, messages)

    worker = IngestWorker(address, store, routing, client_id=f"bench-{name}", batch_max=batch_max)
    t0 = time.perf_counter()
    worker.start()
    _wait(lambda: worker.stats["readings_stored"] >= readings, 600, "backlog not stored")
    elapsed = time.perf_counter() - t0
    worker.stop()
    stats = dict(worker.stats)
    if store.count_readings() != readings + 1:
        raise RuntimeError(f"stored {store.count_readings()} readings, expected {readings + 1}")
    store.close()
    return elapsed, stats


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {timeout_s} s")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=50_000, help="single-reading messages")
    parser.add_argument("--batches", type=int, default=2_000, help="batched messages")
    parser.add_argument("--batch-size", type=int, default=100, help="readings per batch")
    parser.add_argument("--commits", type=int, default=2_000, help="messages for (d) commits")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument(
        "--only",
        default="raw,single,batched,raw-batched,commits",
        help="comma-separated subset of raw, single, batched, raw-batched, commits",
    )
    parser.add_argument(
        "--synchronous",
        default="normal,full",
        help="the store's PRAGMA synchronous modes to run (b), (c), (d) with, comma-separated",
    )
    args = parser.parse_args()
    only = {part.strip() for part in args.only.split(",")}
    if not only <= {"raw", "single", "batched", "raw-batched", "commits"}:
        parser.error(f"--only: unknown part in {args.only!r}")
    modes = [m.strip().lower() for m in args.synchronous.split(",") if m.strip()]
    if not modes or not set(modes) <= set(SYNCHRONOUS):
        parser.error(f"--synchronous: of {', '.join(SYNCHRONOUS)}, got {args.synchronous!r}")

    first_ts = int(time.time()) - 86400 * 20  # inside the worker's plausibility limits
    single = _payloads(args.single, 1, first_ts)
    batched = _payloads(args.batches, args.batch_size, first_ts)
    commits = single[: args.commits]
    n_batched = args.batches * args.batch_size

    best: dict[str, float] = {}
    stats: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        workdir = Path(tmp)
        broker = Mosquitto(workdir / "mosquitto")
        broker.start()
        try:
            for r in range(args.repeat):
                runs = {
                    "raw": lambda r=r: (raw_drain(broker.port, single, f"bench-raw-{r}"), {}),
                    "raw-batched": lambda r=r: (
                        raw_drain(broker.port, batched, f"bench-raw-batched-{r}"),
                        {},
                    ),
                }
                for mode in modes:
                    runs[f"single/{mode}"] = lambda r=r, mode=mode: worker_drain(
                        broker, single, args.single, workdir, f"single{r}{mode}", mode
                    )
                    runs[f"batched/{mode}"] = lambda r=r, mode=mode: worker_drain(
                        broker, batched, n_batched, workdir, f"batch{r}{mode}", mode
                    )
                    runs[f"commits/{mode}"] = lambda r=r, mode=mode: worker_drain(
                        broker, commits, len(commits), workdir, f"commits{r}{mode}", mode, 1
                    )
                for key, run in runs.items():
                    if key.split("/")[0] in only:
                        seconds, stats[key] = run()
                        best[key] = min(best.get(key, float("inf")), seconds)
        finally:
            broker.stop()

    print(f"Mosquitto {broker.url}; backlog drains (publishing not timed), QoS 1, MQTT 5")
    raw = args.single / best["raw"] if "raw" in best else None
    if raw:
        print(f"(a) raw paho subscriber, {args.single:,} x 1 reading: {raw:>10,.0f} msg/s")

    def per_mode(part: str, label: str, n: int, unit: str, goal) -> None:
        first = None
        for mode in modes:
            key = f"{part}/{mode}"
            if key not in best:
                continue
            rate = n / best[key]
            first = first or rate
            vs = f"  {mode} / {modes[0]} = {rate / first:.2f}x" if mode != modes[0] else ""
            print(f"{label} synchronous={mode:<6} {rate:>10,.0f} {unit}{goal(rate)}{vs}")
            print(f"    worker stats: {stats[key]}")

    per_mode(
        "single",
        f"(b) IngestWorker → SQLite, {args.single:,} x 1:",
        args.single,
        "readings/s",
        lambda rate: f"  (b)/(a) = {rate / raw:.0%} [goal >= 50 %]" if raw else "",
    )
    per_mode(
        "batched",
        f"(c) IngestWorker → SQLite, {args.batches:,} x {args.batch_size}:",
        n_batched,
        "readings/s",
        lambda rate: "  [goal >= 200,000]",
    )
    if "raw-batched" in best:
        raw_many = n_batched / best["raw-batched"]
        print(
            f"    raw paho subscriber, same {args.batches:,} x {args.batch_size}: "
            f"{raw_many:>10,.0f} readings/s"
        )
    per_mode(
        "commits",
        f"(d) IngestWorker, one commit per message, {len(commits):,} x 1:",
        len(commits),
        "commits/s",
        lambda rate: f" ({1000 / rate:.2f} ms each)",
    )


if __name__ == "__main__":
    main()
