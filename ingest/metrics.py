"""Prometheus metrics of one ingest worker, served by ``wattleague ingest --metrics-port N``.

Counters move in the writer thread after each committed batch (``batch_stored``); gauges that
describe state (broker connection, messages received but not yet stored, the InfluxDB spool)
are read when Prometheus scrapes, so they are never stale. Each worker has its own registry:
several workers in one process (tests, benches) do not collide.
"""

from __future__ import annotations

from collections import Counter as _Tally
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from ingest.store.base import Message, WriteResult

# store write latency buckets [s]: a SQLite batch takes milliseconds, an InfluxDB one more
WRITE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IngestMetrics:
    """The worker's counters and gauges in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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
    ) -> None:
        """Read these state gauges at scrape time."""
        self.broker_connected.set_function(lambda: 1.0 if connected() else 0.0)
        self.backlog.set_function(lambda: float(backlog()))
        self.spool_depth.set_function(lambda: float(spool_depth()) if spool_depth else 0.0)

    def batch_stored(self, messages: list[Message], result: WriteResult, seconds: float) -> None:
        self.messages.inc(len(messages))
        self.readings.inc(result.inserted)
        self.duplicates.inc(result.duplicates)
        self.spooled.inc(result.spooled)
        self.write_seconds.observe(seconds)
        self.batch_messages.observe(len(messages))
        # reasons of what ingest rejected before the store; the store adds contradictions
        reasons = _Tally(q.reason for m in messages for q in m.rejected)
        if result.conflicts:
            reasons["conflicting_duplicate"] += result.conflicts
        for reason, n in reasons.items():
            self.quarantined.labels(reason).inc(n)

    def write_failed(self) -> None:
        self.write_errors.inc()

    def serve(self, port: int, host: str = "127.0.0.1"):
        """Serve ``/metrics`` on ``host:port`` from a daemon thread; returns the server."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server


def spool_depth_of(store: object) -> Callable[[], int] | None:
    """The store's spool depth reader, if it has one (InfluxDB: batches not yet replayed)."""
    depth = getattr(store, "spool_depth", None)
    return depth if callable(depth) else None
