"""Prometheus metrics and ``/healthz`` of one ingest worker (``wattleague ingest
--metrics-port N``).

Counters move in the writer thread after each committed batch (``batch_stored``); gauges that
describe state (broker connection, messages received but not yet stored, the InfluxDB spool,
whether the store takes writes) are read when Prometheus scrapes, so they are never stale.
Each worker has its own registry: several workers in one process (tests, benches) do not
collide. ``/healthz`` answers 200 with the worker's state while it can store what arrives, and
503 with the problem (``store_unavailable``, ``broker_disconnected``, ``writer_stopped``,
``spool_replay_stopped``) otherwise. With the InfluxDB store, ``/healthz`` shows its spool too
(depth, the oldest batch's age, the replay's last error code).
"""

from __future__ import annotations

import threading
from collections import Counter as _Tally
from collections.abc import Callable
from wsgiref.simple_server import WSGIRequestHandler, make_server

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer

from ingest.isolating_write import Written
from ingest.store.base import Message

# store write latency buckets [s]: a SQLite batch takes milliseconds, an InfluxDB one more
WRITE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestMetrics:
    """The worker's counters and gauges in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._health: Callable[[], dict] | None = None
        r = self.registry
        self.messages = Counter(
            "wattleague_ingest_messages", "MQTT messages stored or quarantined", registry=r
        )
        self.readings = Counter(
            "wattleague_ingest_readings",
            "readings newly stored (duplicates of stored readings not counted)",
            registry=r,
        )
        self.duplicates = Counter(
            "wattleague_ingest_duplicates",
            "readings received again and ignored (redelivery, repeated publishes)",
            registry=r,
        )
        self.held_readings = Counter(
            "wattleague_ingest_held_readings",
            "meter readings held because they would change a locked baseline "
            "(ingest.baseline_lock): kept for an organiser's decision, not stored",
            registry=r,
        )
        self.held_temperatures = Counter(
            "wattleague_ingest_held_temperatures",
            "weather-station temperatures held because they would change a locked baseline",
            registry=r,
        )
        self.spooled = Counter(
            "wattleague_ingest_spooled_readings",
            "readings kept in the local spool because the remote store did not answer",
            registry=r,
        )
        self.quarantined = Counter(
            "wattleague_ingest_quarantined",
            "quarantine entries written, by reason",
            ["reason"],
            registry=r,
        )
        self.write_errors = Counter(
            "wattleague_ingest_store_write_errors",
            "failed store writes (the batch stays unacknowledged and is retried)",
            registry=r,
        )
        self.write_seconds = Histogram(
            "wattleague_ingest_store_write_seconds",
            "time to store one batch durably [s]",
            buckets=WRITE_BUCKETS_S,
            registry=r,
        )
        self.batch_messages = Histogram(
            "wattleague_ingest_batch_messages",
            "messages per store transaction",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000),
            registry=r,
        )
        self.broker_connected = Gauge(
            "wattleague_ingest_broker_connected", "1 while connected to the broker", registry=r
        )
        self.backlog = Gauge(
            "wattleague_ingest_backlog_messages",
            "messages received from the broker and not yet stored",
            registry=r,
        )
        self.store_available = Gauge(
            "wattleague_ingest_store_available",
            "1 while the store takes writes; 0 while batches wait unacknowledged for it",
            registry=r,
        )
        self.store_unavailable_seconds = Gauge(
            "wattleague_ingest_store_unavailable_seconds",
            "how long the store has refused writes (0 while it takes them) [s]",
            registry=r,
        )
        self.writer_alive = Gauge(
            "wattleague_ingest_writer_alive", "1 while the writer thread runs", registry=r
        )
        self.spool_depth = Gauge(
            "wattleague_ingest_spool_depth_batches",
            "batches waiting in the InfluxDB spool (0 for SQLite)",
            registry=r,
        )

    def watch(
        self,
        connected: Callable[[], bool],
        backlog: Callable[[], int],
        spool_depth: Callable[[], int] | None,
        store_unavailable_s: Callable[[], float] = lambda: 0.0,
        writer_alive: Callable[[], bool] = lambda: True,
        health: Callable[[], dict] | None = None,
        spool_state: Callable[[], dict] | None = None,
    ) -> None:
        """Read these state gauges at scrape time; ``health`` answers ``/healthz``;
        ``spool_state`` (the InfluxDB store's) adds the spool's replay metrics."""
        self.broker_connected.set_function(lambda: 1.0 if connected() else 0.0)
        self.backlog.set_function(lambda: float(backlog()))
        self.spool_depth.set_function(lambda: float(spool_depth()) if spool_depth else 0.0)
        self.store_available.set_function(lambda: 0.0 if store_unavailable_s() > 0 else 1.0)
        self.store_unavailable_seconds.set_function(store_unavailable_s)
        self.writer_alive.set_function(lambda: 1.0 if writer_alive() else 0.0)
        self._health = health
        if spool_state is not None:
            self.registry.register(_SpoolCollector(spool_state))

    def batch_stored(self, messages: list[Message], result: Written, seconds: float) -> None:
        self.messages.inc(len(messages))
        self.readings.inc(result.inserted)
        self.duplicates.inc(result.duplicates)
        self.spooled.inc(result.spooled)
        self.held_readings.inc(result.held_readings)
        self.held_temperatures.inc(result.held_temperatures)
        self.write_seconds.observe(seconds)
        self.batch_messages.observe(len(messages))
        # reasons of what ingest rejected before the store; the store adds contradictions
        reasons = _Tally(q.reason for m in messages for q in m.rejected)
        if result.conflicts:
            reasons["conflicting_duplicate"] += result.conflicts
        if result.isolated:
            reasons["store_rejected"] += result.isolated
        for reason, n in reasons.items():
            self.quarantined.labels(reason).inc(n)

    def write_failed(self) -> None:
        self.write_errors.inc()

    def serve(self, port: int, host: str = "127.0.0.1"):
        """Serve ``/metrics`` and ``/healthz`` on ``host:port`` from a daemon thread; returns
        the server (``shutdown()`` stops it)."""
        metrics_app = make_wsgi_app(self.registry)

        def app(environ, start_response):
            if environ.get("PATH_INFO") == "/healthz":
                state = self._health() if self._health else {"status": "ok"}
                status = "200 OK" if state["status"] == "ok" else "503 Service Unavailable"
                start_response(status, [("Content-Type", "application/json")])
                return [orjson.dumps(state)]
            return metrics_app(environ, start_response)

        server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_QuietHandler)
        threading.Thread(target=server.serve_forever, name="ingest-metrics", daemon=True).start()
        return server


class _SpoolCollector:
    """The InfluxDB spool's replay, read at scrape time: what an operator needs to see a
    spool that does not drain (``InfluxStore.spool_state``)."""

    def __init__(self, state: Callable[[], dict]) -> None:
        self.state = state

    def describe(self):
        return []  # collected only at scrape time

    def collect(self):
        state = self.state()
        yield GaugeMetricFamily(
            "wattleague_ingest_spool_oldest_seconds",
            "how long the oldest batch in the InfluxDB spool has waited (0: empty) [s]",
            value=state["oldest_age_s"],
        )
        yield GaugeMetricFamily(
            "wattleague_ingest_spool_replay_alive",
            "1 while the InfluxDB spool's replay thread runs",
            value=1.0 if state["replay_alive"] else 0.0,
        )
        yield GaugeMetricFamily(
            "wattleague_ingest_spool_set_aside_batches",
            "spooled batches that could not be read back, set aside in the spool file",
            value=state["set_aside_batches"],
        )
        failures = CounterMetricFamily(
            "wattleague_ingest_spool_replay_failures",
            "failed attempts to replay the InfluxDB spool, by code (unreachable, http_<status>, "
            "influxql_error, error); each is retried with backoff",
            labels=["code"],
        )
        for code, n in sorted(state["replay_failures"].items()):
            failures.add_metric([code], n)
        yield failures


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # scrapes are not news
        pass


def spool_state_of(store: object) -> Callable[[], dict] | None:
    """The store's spool state reader, if it has one (``InfluxStore.spool_state``)."""
    state = getattr(store, "spool_state", None)
    return state if callable(state) else None


def spool_depth_of(store: object) -> Callable[[], int] | None:
    """The store's spool depth reader, if it has one (InfluxDB: batches not yet replayed)."""
    depth = getattr(store, "spool_depth", None)
    return depth if callable(depth) else None
