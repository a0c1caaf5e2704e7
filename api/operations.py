"""Operations endpoints: ``/healthz`` (store and broker connectivity) and ``/metrics``.

``/metrics`` is Prometheus text, computed at scrape time from the app's state: SSE clients,
how old each competition's served leaderboard is, each site's leaderboard figures, which
meters make each site, store latency, quarantine by reason and meters gone silent. API
replicas are stateless, so each one is scraped on its own.

A broker probe (``ingest.broker_probe.BrokerProbe``, started by ``serve --health-mqtt``) is
looked up in ``ctx.extras["broker_probe"]``; without one the broker is reported as unknown.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from api.context import AppContext
from api.request_metrics import REQUESTS_KEY
from api.responses import errors
from api.schemas.operations import Health
from api.scoreboard import STALE_AFTER_S
from ingest.store.availability import HINTS, problem

BROKER_PROBE = "broker_probe"  # key in ctx.extras
log = logging.getLogger(__name__)


def operations_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    registry = CollectorRegistry()
    registry.register(_AppCollector(ctx))
    path = getattr(ctx.store, "path", None)
    if isinstance(path, str) and os.path.isfile(path):
        _store_inode[path] = os.stat(path).st_ino  # the file this process opened

    @router.get(
        "/healthz",
        response_model=Health,
        responses={
            **errors(),
            503: {
                "model": Health,
                "description": "the store does not answer: `status` degraded, `store_error` "
                "its problem code and `store_hint` what to do",
            },
        },
    )
    def healthz(request: Request) -> Response:
        """Whether the store (and the broker, with a probe) answers; the installed version."""
        store_ok, store_error, latency_s = _probe_store(ctx)
        broker = _broker_state(ctx)
        # the API serves leaderboards without a broker; only a dead store makes it unhealthy
        healthy = store_ok and (broker is None or broker["connected"])
        body = {
            "status": "ok" if healthy else "degraded",
            "version": request.app.version,  # the installed package's (api.app)
            "store": store_ok,
            "store_error": store_error,
            "store_hint": HINTS[store_error] if store_error else None,
            "store_latency_s": round(latency_s, 6),
            "broker": broker,
            "competitions": len(ctx.boards),
            "sse_clients": ctx.hub.listeners,
        }
        return Response(
            orjson.dumps(body), status_code=200 if store_ok else 503, media_type="application/json"
        )

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _probe_store(ctx: AppContext) -> tuple[bool, str | None, float]:
    """(answers, problem code, seconds): the code (``availability.problem``) instead of the
    exception's text, which can quote paths, URLs or data; the log has the error."""
    started = time.perf_counter()
    try:
        _ask_store(ctx.store)
    except Exception as exc:  # any backend error means "not reachable" to an operator
        now = time.monotonic()
        if now - _last_logged[0] >= 60.0:  # probes come every scrape: once a minute is news
            _last_logged[0] = now
            log.warning("the store does not answer: %s: %s", type(exc).__name__, exc)
        return False, problem(exc), time.perf_counter() - started
    return True, None, time.perf_counter() - started


_last_logged = [-1e9]  # monotonic time the store's failure was last logged


_INFLUX_PROBE = 'SELECT last("n") FROM "writes"'  # one small series (InfluxStore.change_token)
_store_inode: dict[str, int] = {}  # SQLite path → inode of the file the store opened


def _ask_store(store: object) -> None:
    """Raise unless the store itself answers.

    ``change_token`` is not enough: the InfluxDB store keeps answering its last token while
    InfluxDB is away (so scores keep being served), and an open SQLite connection keeps
    answering after its file was deleted or replaced, while ingest writes into nothing.
    """
    ping = getattr(store, "ping", None)
    if callable(ping):
        ping()
        return
    http = getattr(store, "http", None)
    if callable(getattr(http, "query", None)):
        http.query(_INFLUX_PROBE)
        return
    path = getattr(store, "path", None)
    if isinstance(path, str) and path != ":memory:":
        try:
            inode = os.stat(path).st_ino
        except FileNotFoundError:
            raise FileNotFoundError(f"the store file {path} is gone") from None
        if _store_inode.setdefault(path, inode) != inode:
            raise RuntimeError(
                f"the store file {path} was replaced after this process opened it "
                "(restore with `wattleague deploy restore`, then restart ingest and serve)"
            )
    store.change_token()


def _broker_state(ctx: AppContext) -> dict | None:
    probe = ctx.extras.get(BROKER_PROBE)
    return probe.state() if probe is not None else None


class _AppCollector:
    """Reads the app's state when Prometheus scrapes."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self):
        ctx = self.ctx
        now_s = ctx.clock()
        yield _gauge("wattleague_sse_clients", "open leaderboard streams", ctx.hub.listeners)
        slots = ctx.extras.get("stream_slots")
        if slots is not None:
            yield CounterMetricFamily(
                "wattleague_sse_refused",
                "leaderboard streams refused with a 503 at the stream limits",
                value=slots.refused,
            )
        counted = ctx.extras.get(REQUESTS_KEY)
        requests = CounterMetricFamily(
            "wattleague_http_requests",
            "requests answered, by method, route template and status class",
            labels=["method", "route", "status"],
        )
        if counted is not None:
            for (method, route, status), n in sorted(counted.counts.items()):
                requests.add_metric([method, route, status], n)
        yield requests
        store_ok, _, latency_s = _probe_store(ctx)
        yield _gauge("wattleague_store_up", "1 when the store answers", 1.0 if store_ok else 0.0)
        yield _gauge(
            "wattleague_store_latency_seconds", "time the store took to answer a probe", latency_s
        )
        broker = _broker_state(ctx)
        if broker is not None:
            yield _gauge(
                "wattleague_broker_connected",
                "1 while the health probe is connected to the broker",
                1.0 if broker["connected"] else 0.0,
            )
        age = GaugeMetricFamily(
            "wattleague_leaderboard_age_seconds",
            "time since the as_of of the leaderboard being served (grows if refreshes fail)",
            labels=["competition"],
        )
        boards = {cid: orjson.loads(body) for cid, body in ctx.hub.latest.items()}
        for cid, board in boards.items():
            as_of = board.get("as_of")
            if as_of:
                age.add_metric([cid], max(0.0, now_s - datetime.fromisoformat(as_of).timestamp()))
        yield age
        yield from _site_gauges(boards)
        yield _meter_info(ctx)
        if not store_ok:
            return
        quarantine = GaugeMetricFamily(
            "wattleague_quarantine_messages",
            "quarantine entries by reason, less those reprocessed (SQLite: entries retention "
            "dropped still count)",
            labels=["reason"],
        )
        for reason, n in ctx.store.quarantine_counts().items():
            quarantine.add_metric([reason], n)
        yield quarantine
        states = ctx.store.meter_states()
        silent = GaugeMetricFamily(
            "wattleague_meters_silent",
            f"meters with no reading received in the last {STALE_AFTER_S:.0f} s",
            labels=["competition"],
        )
        newest = GaugeMetricFamily(
            "wattleague_newest_reading_age_seconds",
            "time since the newest reading of the competition was received",
            labels=["competition"],
        )
        for cid, comp in ctx.competitions.items():
            received = [
                states[m].received_s for m in comp.meters() if m in states
            ]  # meters() is keyed by meter id
            fresh = sum(1 for r in received if now_s - r <= STALE_AFTER_S)
            silent.add_metric([cid], len(comp.meters()) - fresh)
            if received:
                newest.add_metric([cid], max(0.0, now_s - max(received)))
        yield silent
        yield newest


# leaderboard entry field → (gauge, help): what Grafana and alerts can follow per site
SITE_GAUGES = {
    "rank": ("wattleague_site_rank", "the site's rank by reduction (0: not ranked)"),
    "reduction_pct": (
        "wattleague_site_reduction_percent",
        "the site's reduction against its baseline so far [%]",
    ),
    "actual_kwh": ("wattleague_site_energy_kwh", "energy the site used so far [kWh]"),
    "baseline_kwh": (
        "wattleague_site_baseline_kwh",
        "the site's baseline energy for the same hours [kWh]",
    ),
    "saved_kwh": ("wattleague_site_saved_kwh", "baseline less actual energy so far [kWh]"),
    "live_power_kw": ("wattleague_site_power_kw", "the site's power now [kW]"),
    "completeness": (
        "wattleague_site_completeness_ratio",
        "share of the elapsed hours with measured energy (0-1)",
    ),
}


def _site_gauges(boards: dict[str, dict]):
    """Per-site figures of the leaderboards being served (by reduction), labelled
    ``competition`` and ``site``; a figure the leaderboard has as null is left out."""
    for field, (name, doc) in SITE_GAUGES.items():
        family = GaugeMetricFamily(name, doc, labels=["competition", "site"])
        for cid, board in boards.items():
            for entry in board.get("entries", []):
                value = entry.get(field)
                if isinstance(value, int | float):
                    family.add_metric([cid, entry["site"]], float(value))
        yield family


def _meter_info(ctx: AppContext) -> GaugeMetricFamily:
    """1 for each meter of each site: joins the store's ``meter`` tag to the competition
    file's sites (Grafana's ``site`` variable lists a site's meters from it)."""
    info = GaugeMetricFamily(
        "wattleague_meter_info",
        "1 for each meter of each site of each competition",
        labels=["competition", "site", "meter"],
    )
    for cid, comp in ctx.competitions.items():
        for meter_id, (site, _meter) in comp.meters().items():
            info.add_metric([cid, site.id, meter_id], 1.0)
    return info


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)
