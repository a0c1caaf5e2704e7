"""Security headers on every response: pages, JSON, files, errors and the event stream.

Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
strict-origin-when-cross-origin`` and a minimal ``Permissions-Policy``. A response that sets
no ``Content-Security-Policy`` of its own gets ``DEFAULT_CSP`` (nothing may load, nothing may
frame it): right for JSON, files and errors. The HTML pages set their own policy (``api.pages``:
their inline script and style allowed by hash) and so does the embed page (``api.embed``: framed
by the competition's ``[embed] frame_ancestors``). ``X-Frame-Options: DENY`` goes with every
policy that lets no one frame the response, i.e. everywhere but the embed page.

FastAPI's ``/docs`` and ``/redoc`` pages load Swagger UI and ReDoc from a CDN with an inline
script: they get no policy (they would not work with one) but the other headers.

The headers are added by a pure ASGI wrapper around the whole middleware stack, outside
Starlette's ``ServerErrorMiddleware``, so a 500 answered by the app's catch-all handler carries
them too. Its cost is one header scan per response (the display frames and the leaderboard are
polled all day: ``python -m bench.api`` measures them).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from api.context import AppContext

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# features none of our pages uses (each one Chromium knows: an unknown one logs an error)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()"
_CSP = b"content-security-policy"
_NO_FRAMING = b"frame-ancestors 'none'"
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
]
_DENY = (b"x-frame-options", b"DENY")
_ALWAYS_DENY = [*_ALWAYS, _DENY]
_STRICT = [*_ALWAYS, (_CSP, DEFAULT_CSP.encode()), _DENY]
_NO_CSP = [*_ALWAYS, _DENY]


class SecurityHeaders:
    """ASGI wrapper adding the headers to each HTTP response of ``app``; ``exempt`` paths
    (the interactive API docs) get no default policy."""

    def __init__(self, app: ASGIApp, exempt: frozenset[str]) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        default = _NO_CSP if scope["path"] in self.exempt else _STRICT

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                for name, own in headers:
                    if name == _CSP:  # the response's own policy: frameable if it says so
                        extra = _ALWAYS_DENY if _NO_FRAMING in own else _ALWAYS
                        break
                else:
                    extra = default
                message["headers"] = [*headers, *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI, ctx: AppContext) -> None:
    """Wrap ``app``'s middleware stack (built on its first request) in ``SecurityHeaders``."""
    del ctx  # the per-competition policies are set by the embed route itself
    exempt = frozenset(
        p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p
    )
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), exempt)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]


_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_policy(html: str, frame_ancestors: str = "'none'", connect: bool = True) -> str:
    """The Content-Security-Policy of an HTML page of ours: its inline ``<script>`` and
    ``<style>`` elements (written with no attributes) allowed by their SHA-256, nothing else
    inline, images only from this server or ``data:`` (the empty favicon), requests (fetch,
    EventSource) only to this server when ``connect``, framed only by ``frame_ancestors``.

    A ``<script type="application/json">`` data block is never run, so it needs no hash: the
    server fills a page's configuration in there and the hashed script stays the same.
    """
    found: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        found[kind].append(_sha256(body))
    scripts = " ".join(found["script"]) or "'none'"
    styles = " ".join(found["style"]) or "'none'"
    connect_src = "'self'" if connect else "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; "
        f"img-src 'self' data:; connect-src {connect_src}; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
