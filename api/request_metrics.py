"""Requests served, counted per route template, method and status class, for /metrics.

A pure ASGI wrapper: a dict increment per request (no lock: under the GIL an increment that
races loses at most one count, and the counts are for rates, not accounting). The route is the
template (``/api/competitions/{cid}/leaderboard``), so the label values stay as few as the
routes; a path that matched no route counts as ``unmatched``.
"""

from __future__ import annotations

from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS_KEY = "request_counts"  # in AppContext.extras


class RequestCounts:
    """Wraps ``app``; ``counts`` holds (method, route, status class) → requests answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts: Counter[tuple[str, str, str]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.counts[(scope["method"], template, f"{status[0] // 100}xx")] += 1


def install_request_counts(app, ctx) -> None:
    """Count ``app``'s requests (``RequestCounts`` around its middleware stack, built on the
    first request) into ``ctx.extras[REQUESTS_KEY]``, which /metrics reads."""
    build = app.build_middleware_stack

    def build_counted() -> ASGIApp:
        counted = RequestCounts(build())
        ctx.extras[REQUESTS_KEY] = counted
        return counted

    app.build_middleware_stack = build_counted
