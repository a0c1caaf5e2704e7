"""Request size and rate limits for the public and organiser endpoints.

One ASGI middleware (cheap enough for the leaderboard and frame endpoints under load, and it
never buffers a response, so SSE streams pass untouched):

- bodies over ``max_body_bytes`` get a 413 JSON error before the app reads them (a chunked
  body without a length is counted as it arrives);
- each client (its address; behind a trusted reverse proxy, see ``--trusted-proxies``,
  uvicorn takes it from ``X-Forwarded-For``) has two token buckets: writes (POST, PUT, PATCH,
  DELETE) are strict, reads generous; an empty bucket gives a 429 JSON error with
  ``Retry-After`` [s];
- leaderboard streams (SSE) are counted while open, in total and per client
  (``api.stream_limits``); past either limit a new one gets a 503 JSON error with
  ``Retry-After``.

Every client is limited by default, loopback included (a reverse proxy on the same host passes
the real address in ``X-Forwarded-For``); ``WATTLEAGUE_RATE_EXEMPT`` lists addresses without
rate limits (a load test, a local tool). Settings come from the environment, read once at
start-up (``RequestLimits.from_env``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import orjson
from fastapi import FastAPI

from api.context import AppContext
from api.stream_limits import STREAM_PATH, StreamSlots, retry_after_s

_BODY_METHODS = {"POST", "PUT", "PATCH"}
_READ_METHODS = {"GET", "HEAD", "OPTIONS"}
_MAX_CLIENTS = 10_000  # buckets kept before full (idle) ones are dropped

ENVIRONMENT = {
    "max_body_bytes": "WATTLEAGUE_MAX_BODY_BYTES",
    "write_per_min": "WATTLEAGUE_RATE_WRITE_PER_MIN",
    "write_burst": "WATTLEAGUE_RATE_WRITE_BURST",
    "read_per_s": "WATTLEAGUE_RATE_READ_PER_S",
    "read_burst": "WATTLEAGUE_RATE_READ_BURST",
    "exempt": "WATTLEAGUE_RATE_EXEMPT",
    "stream_max_clients": "WATTLEAGUE_STREAM_MAX_CLIENTS",
    "stream_max_per_client": "WATTLEAGUE_STREAM_MAX_PER_CLIENT",
}
# the limits that are whole numbers (the others are rates)
_COUNTS = frozenset(
    ("max_body_bytes", "write_burst", "read_burst", "stream_max_clients", "stream_max_per_client")
)


@dataclass(frozen=True)
class RequestLimits:
    """Limits per client; a rate of 0 switches that limit off."""

    max_body_bytes: int = 16 * 1024 * 1024  # a year of 15-minute readings is ~2 MB of CSV
    write_per_min: float = 60.0  # writes per minute per client, sustained
    write_burst: int = 20  # writes at once from a full bucket
    read_per_s: float = 50.0  # reads per second per client, sustained
    read_burst: int = 300  # a page load, or many screens behind one address
    exempt: tuple[str, ...] = ()  # client addresses without rate limits
    # open leaderboard streams per server process: ~48 KB each (~190 MB at 4,000); at 4,000 an
    # update reaches 95 % of them within 0.35-0.98 s on a 2-core machine shared with the
    # clients, past 6,000 it can take over 1 s (bench/api.py --sse-capacity; README)
    stream_max_clients: int = 4000
    # per client address: a town hall's screens and staff behind one NAT address fit, one
    # host cannot take more than a fortieth of the server's streams
    stream_max_per_client: int = 100

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RequestLimits:
        """Limits from ``WATTLEAGUE_MAX_BODY_BYTES``, ``WATTLEAGUE_RATE_*`` (see ENVIRONMENT);
        ``WATTLEAGUE_RATE_EXEMPT`` is a comma-separated list of addresses ("" for none);
        ``WATTLEAGUE_STREAM_MAX_*`` bound open leaderboard streams (0: no limit)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, var in ENVIRONMENT.items():
            raw = env.get(var)
            if raw is None:
                continue
            if name == "exempt":
                values[name] = tuple(a.strip() for a in raw.split(",") if a.strip())
                continue
            kind = int if name in _COUNTS else float
            try:
                value = kind(raw)
            except ValueError:
                value = -1
            if value < 0 or (name in {"write_burst", "read_burst"} and value < 1):
                raise ValueError(
                    f"{var}={raw!r} is not a valid {name}: expected a number >= 0 "
                    "(bursts: a whole number >= 1; stream limits: a whole number; a rate or "
                    "stream limit of 0 switches its limit off)"
                )
            values[name] = value
        return cls(**values)


class _Bucket:
    __slots__ = ("at_s", "tokens")

    def __init__(self, tokens: float, at_s: float) -> None:
        self.tokens, self.at_s = tokens, at_s


class _Buckets:
    """Token buckets per client: ``rate_per_s`` refill, at most ``burst`` tokens."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate_per_s, self.burst = rate_per_s, float(burst)
        self.by_client: dict[str, _Bucket] = {}

    def take(self, client: str, now_s: float) -> float:
        """Take one token; returns 0, or the seconds until one is available."""
        b = self.by_client.get(client)
        if b is None:
            if len(self.by_client) >= _MAX_CLIENTS:
                self._forget_idle(now_s)
            b = self.by_client[client] = _Bucket(self.burst, now_s)
        b.tokens = min(self.burst, b.tokens + (now_s - b.at_s) * self.rate_per_s)
        b.at_s = now_s
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate_per_s

    def _forget_idle(self, now_s: float) -> None:
        full_after_s = self.burst / self.rate_per_s
        idle = [c for c, b in self.by_client.items() if now_s - b.at_s >= full_after_s]
        for c in idle or list(self.by_client)[: _MAX_CLIENTS // 2]:
            del self.by_client[c]


class RequestLimitMiddleware:
    def __init__(self, app, limits: RequestLimits, streams: StreamSlots | None = None) -> None:
        self.app = app
        self.limits = limits
        self.exempt = frozenset(limits.exempt)
        self.writes = _Buckets(limits.write_per_min / 60.0, limits.write_burst)
        self.reads = _Buckets(limits.read_per_s, limits.read_burst)
        if streams is None:
            streams = StreamSlots(limits.stream_max_clients, limits.stream_max_per_client)
        self.streams = streams

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        client = scope.get("client")
        host = client[0] if client else "unknown"
        if host not in self.exempt:
            read = method in _READ_METHODS
            buckets = self.reads if read else self.writes
            if buckets.rate_per_s > 0:
                wait_s = buckets.take(host, time.monotonic())
                if wait_s > 0:
                    kind = "reads" if read else "writes"
                    retry_s = max(1, math.ceil(wait_s))
                    await _error(
                        send,
                        429,
                        "too_many_requests",
                        f"too many {kind} from {host}; try again in {retry_s} s",
                        [(b"retry-after", str(retry_s).encode())],
                    )
                    return
        if method in _BODY_METHODS and self.limits.max_body_bytes > 0:
            receive = await self._bounded_body(scope, receive, send)
            if receive is None:
                return
        if method == "GET" and STREAM_PATH.fullmatch(scope["path"]):
            await self._stream(scope, receive, send, host)
            return
        await self.app(scope, receive, send)

    async def _stream(self, scope, receive, send, host: str) -> None:
        """A leaderboard stream holds a slot while the app serves it (until it ends)."""
        refused = self.streams.take(host)
        if refused is not None:
            retry_s = retry_after_s()
            await _error(
                send,
                503,
                "too_many_streams",
                f"no leaderboard stream free: {refused}; try again in {retry_s} s",
                [(b"retry-after", str(retry_s).encode())],
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.streams.give_back(host)

    async def _bounded_body(self, scope, receive, send):
        """``receive`` for the app, or None once a 413 was sent."""
        limit = self.limits.max_body_bytes
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                break
        if length is not None:
            try:
                too_large = int(length) > limit
            except ValueError:
                too_large = False  # the server itself rejects a malformed length
            if too_large:
                await _too_large(send, limit)
                return None
            return receive
        # no length (chunked): read it here, up to the limit, and hand it on in one piece
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _too_large(send, limit)
                return None
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[dict], receive):
    async def replayed():
        return messages.pop(0) if messages else await receive()

    return replayed


async def _too_large(send, limit: int) -> None:
    await _error(
        send,
        413,
        "too_large",
        f"request body over {limit} bytes; split it into smaller requests",
        [(b"connection", b"close")],
    )


async def _error(send, status: int, code: str, message: str, headers: list) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_request_limits(
    app: FastAPI, ctx: AppContext, limits: RequestLimits | None = None
) -> None:
    """Add the size, rate and stream limits to ``app`` (default: ``RequestLimits.from_env()``);
    the open streams are ``ctx.extras["stream_slots"]``."""
    limits = limits if limits is not None else RequestLimits.from_env()
    streams = StreamSlots(limits.stream_max_clients, limits.stream_max_per_client)
    ctx.extras["request_limits"] = limits
    ctx.extras["stream_slots"] = streams
    app.add_middleware(RequestLimitMiddleware, limits=limits, streams=streams)
