"""A real HTTP proxy in front of a test ``influxd`` that misbehaves when told to.

``InfluxProxy(upstream)`` listens on a free loopback port and forwards every request to
``upstream``. Tests set what it does instead, until they clear it:

- ``fail(status, paths, retry_after_s)``: answer ``status`` (429, 500, 401, …) to every request
  whose path is in ``paths``, with ``Retry-After`` when given, without forwarding;
- ``max_lines``: a write of more lines is answered 413, as a server with a small
  ``max-body-size`` does;
- ``refuse``: lines of a write for which it is true are refused the way InfluxDB 1.x refuses a
  field type conflict: the other lines are written, the answer is 400 ``partial write``;
- ``refuse_deletes``: InfluxQL ``DELETE`` is answered 400 (as InfluxDB 2.x's v1 API does);
- ``refuse_query``: a query for which it is true is answered 400 with an InfluxQL error.

``answered`` counts what it answered by kind (``"forwarded"``, ``"500"``, ``"413"``,
``"partial"``, …).
"""

from __future__ import annotations

import gzip
import http.server
import threading
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import httpx
import orjson


class InfluxProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.lock = threading.Lock()
        self.failing: tuple[int, frozenset[str], float | None] | None = None
        self.max_lines: int | None = None
        self.refuse: Callable[[str], bool] | None = None
        self.refuse_deletes = False
        self.refuse_query: Callable[[str], bool] | None = None
        self.answered: Counter[str] = Counter()
        self._client = httpx.Client(base_url=upstream, timeout=30)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as InfluxDB

            def do_GET(self) -> None:
                proxy._handle(self, b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy._handle(self, body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> InfluxProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._client.close()

    def fail(
        self,
        status: int,
        paths: tuple[str, ...] = ("/write", "/query"),
        retry_after_s: float | None = None,
    ) -> None:
        with self.lock:
            self.failing = (status, frozenset(paths), retry_after_s)

    def clear(self) -> None:
        with self.lock:
            self.failing, self.max_lines, self.refuse = None, None, None
            self.refuse_deletes, self.refuse_query = False, None

    def url(self, db: str, spool: str) -> str:
        return f"influxdb://127.0.0.1:{self.port}/{db}?spool={spool}"

    # -- the handler -------------------------------------------------------------------------

    def _handle(self, request: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        path = urlparse(request.path).path
        with self.lock:
            failing, max_lines = self.failing, self.max_lines
            refuse, refuse_deletes = self.refuse, self.refuse_deletes
            refuse_query = self.refuse_query
        if failing is not None and path in failing[1]:
            status, _, retry_after_s = failing
            headers = {} if retry_after_s is None else {"Retry-After": f"{retry_after_s:g}"}
            return self._answer(request, str(status), status, b'{"error":"test proxy"}', headers)
        if path == "/write" and (max_lines is not None or refuse is not None):
            lines = self._lines(request, body)
            if max_lines is not None and len(lines) > max_lines:
                return self._answer(request, "413", 413, b'{"error":"Request Entity Too Large"}')
            refused = [line for line in lines if refuse is not None and refuse(line)]
            if refused:
                refused_set = set(refused)
                kept = [line for line in lines if line not in refused_set]
                if kept:
                    response = self._forward(request, "\n".join(kept).encode(), plain=True)
                    if response.status_code >= 300:
                        return self._relay(request, "forwarded", response)
                error = (
                    'partial write: field type conflict: input field "power_w" on measurement '
                    '"reading" is type integer, already exists as type float '
                    f"dropped={len(refused)}"
                )
                return self._answer(request, "partial", 400, orjson.dumps({"error": error}))
        if path == "/query" and (refuse_deletes or refuse_query is not None):
            q = parse_qs(body.decode()).get("q", [""])[-1]
            if refuse_deletes and q.lstrip().upper().startswith("DELETE "):
                error = b'{"error":"error parsing query: found DELETE, expected SELECT"}'
                return self._answer(request, "delete_refused", 400, error)
            if refuse_query is not None and refuse_query(q):
                error = b'{"error":"error parsing query: found BOOM, expected identifier"}'
                return self._answer(request, "query_refused", 400, error)
        try:
            response = self._forward(request, body)
        except httpx.HTTPError:
            return self._answer(request, "502", 502, b'{"error":"upstream unreachable"}')
        self._relay(request, "forwarded", response)

    def _lines(self, request, body: bytes) -> list[str]:
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return [line for line in body.decode().split("\n") if line]

    def _forward(self, request, body: bytes, plain: bool = False) -> httpx.Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("content-type", "content-encoding", "authorization")
        }
        if plain:
            headers.pop("Content-Encoding", None)
            headers.pop("content-encoding", None)
        return self._client.request(request.command, request.path, headers=headers, content=body)

    def _relay(self, request, kind: str, response: httpx.Response) -> None:
        headers = {
            name: response.headers[name]
            for name in ("Content-Type", "X-Influxdb-Version")
            if name in response.headers
        }
        self._answer(request, kind, response.status_code, response.content, headers)

    def _answer(
        self, request, kind: str, status: int, content: bytes, headers: dict | None = None
    ) -> None:
        with self.lock:
            self.answered[kind] += 1
        request.send_response(status)
        for k, v in (headers or {}).items():
            request.send_header(k, v)
        if content and not (headers or {}).get("Content-Type"):
            request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(content)))
        request.end_headers()
        request.wfile.write(content)
