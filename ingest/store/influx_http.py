"""HTTP access to InfluxDB: v1 (``influxdb://``) and v2/v3 (``influxdb2://``) differ only here.

- ``influxdb://[user:pass@]host:port/database[?rp=…]``: line protocol to ``/write?db=&rp=``,
  InfluxQL to ``/query?db=``; credentials as HTTP basic auth.
- ``influxdb2://token@host:port/bucket?org=ORG``: line protocol to
  ``/api/v2/write?bucket=&org=``; InfluxQL through the v1-compatible ``/query?db=<bucket>``,
  which needs a DBRP mapping from the database name to the bucket (README); the token goes in
  ``Authorization: Token …``.

Both accept ``&tls=1`` for https and ``&spool=/path/to/spool.db``.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import orjson

from ingest.redaction import redact_url, remember_url

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.2, 0.5, 1.0)  # then the caller spools
POSTERS = 2  # write requests in flight at once: a third adds little on 2 cores


class InfluxUnavailable(RuntimeError):
    """The server could not be reached or answered 5xx: the data should be spooled."""


class InfluxRejected(ValueError):
    """The server refused the data (4xx): retrying cannot help."""


@dataclass(frozen=True)
class InfluxTarget:
    version: int  # 1 or 2
    base_url: str
    database: str  # v1 database, or v2 bucket (the DBRP-mapped database name for /query)
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None
    org: str | None = None
    spool_path: str | None = None
    options: dict = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str) -> InfluxTarget:
        remember_url(url)
        shown = redact_url(url)
        parsed = urlparse(url)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        scheme = "https" if query.get("tls") in ("1", "true") else "http"
        database = unquote(parsed.path.lstrip("/"))
        if not parsed.hostname or not database:
            raise ValueError(
                f"store URL {shown!r} needs a host and a database, e.g. "
                "influxdb://127.0.0.1:8086/wattleague or influxdb2://TOKEN@host:8086/bucket?org=ORG"
            )
        try:
            port = parsed.port or 8086
        except ValueError:
            raise ValueError(f"store URL {shown!r} has an invalid port") from None
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname  # IPv6
        base = f"{scheme}://{host}:{port}"
        if parsed.scheme == "influxdb2":
            if not parsed.username:
                raise ValueError(
                    f"store URL {shown!r} needs a token: influxdb2://TOKEN@host:port/bucket?org=ORG"
                )
            if not query.get("org"):
                raise ValueError(f"store URL {shown!r} needs ?org=ORG")
            return cls(
                2,
                base,
                database,
                token=unquote(parsed.username),
                org=query["org"],
                spool_path=query.get("spool"),
            )
        return cls(
            1,
            base,
            database,
            retention_policy=query.get("rp"),
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            spool_path=query.get("spool"),
        )

    def write_request(self, precision: str) -> tuple[str, dict, dict]:
        """(path, query parameters, headers) of a line-protocol write."""
        if self.version == 2:
            return (
                "/api/v2/write",
                {"bucket": self.database, "org": self.org, "precision": precision},
                {"Authorization": f"Token {self.token}"},
            )
        params = {"db": self.database, "precision": precision}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        return "/write", params, {}

    def query_request(self, epoch: str = "ms") -> tuple[str, dict, dict]:
        params = {"db": self.database, "epoch": epoch}
        if self.version == 2:
            return "/query", params, {"Authorization": f"Token {self.token}"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        return "/query", params, {}

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password or "") if self.username else None


class InfluxHTTP:
    """Writes (gzip, retried with backoff) and InfluxQL queries against one target."""

    def __init__(self, target: InfluxTarget, timeout_s: float = 10.0) -> None:
        self.target = target
        self.client = httpx.Client(base_url=target.base_url, timeout=timeout_s, auth=target.auth)
        self._poster: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._poster is not None:
            self._poster.shutdown(wait=True)
        self.client.close()

    def in_background(self, fn: Callable, *args) -> Future:
        """Run ``fn(*args)`` on a posting thread (a query or a write while the caller works)."""
        if self._poster is None:
            self._poster = ThreadPoolExecutor(POSTERS, thread_name_prefix="influx-post")
        return self._poster.submit(fn, *args)

    def write_stream(self, chunks: Iterable[list[str]], precision: str = "ms") -> None:
        """POST each chunk of lines, ``POSTERS`` at a time, the next chunks being made while
        earlier ones are posted; return once all are written.

        Encoding is Python work and a write is the server's: overlapping them, and giving the
        server two requests at a time (their fixed costs overlap: about 1.4x the points/s of
        one connection here), is what brings a store write close to the server's ceiling. The
        caller keeps each chunk self-contained (energy pieces before readings, of meters no
        other chunk has).
        After the first failure nothing more is posted and the error is raised here, once the
        chunks in flight have finished.
        """
        failed: list[BaseException] = []

        def post(lines: list[str]) -> None:
            if failed:
                return  # an earlier chunk failed: post nothing after it
            try:
                self.write(lines, precision=precision)
            except BaseException as exc:
                failed.append(exc)

        pending: list[Future] = []
        for lines in chunks:
            if failed:
                break
            if lines:
                pending.append(self.in_background(post, lines))
            while len(pending) > POSTERS:  # bound the lines held in memory
                pending.pop(0).result()
        for future in pending:
            future.result()
        if failed:
            raise failed[0]

    def write(self, lines: list[str], precision: str = "ms", chunk: int = 5000) -> None:
        """POST lines; raise InfluxUnavailable (after retries) or InfluxRejected."""
        path, params, headers = self.target.write_request(precision)
        headers = {
            **headers,
            "Content-Encoding": "gzip",
            "Content-Type": "text/plain; charset=utf-8",
        }
        for lo in range(0, len(lines), chunk):
            body = gzip.compress("\n".join(lines[lo : lo + chunk]).encode("utf-8"), compresslevel=1)
            self._post_with_retries(path, params, headers, body)

    def _post_with_retries(self, path: str, params: dict, headers: dict, body: bytes) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            try:
                response = self.client.post(path, params=params, headers=headers, content=body)
            except httpx.HTTPError as exc:
                problem = f"cannot reach InfluxDB at {self.target.base_url}: {exc}"
            else:
                if response.status_code < 300:
                    return
                if response.status_code < 500:
                    raise InfluxRejected(
                        f"InfluxDB refused the write ({response.status_code}): "
                        f"{response.text.strip()[:500]}"
                    )
                problem = f"InfluxDB answered {response.status_code}: {response.text[:200]}"
            if delay is None:
                raise InfluxUnavailable(problem)
            log.warning("%s; retry %d in %.1f s", problem, attempt + 1, delay)
            time.sleep(delay)

    def query(self, q: str, epoch: str = "ms") -> list[dict]:
        """Run InfluxQL (several statements may be joined by ';'); return ``results``."""
        path, params, headers = self.target.query_request(epoch)
        try:
            response = self.client.post(path, params=params, headers=headers, data={"q": q})
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(
                f"cannot reach InfluxDB at {self.target.base_url}: {exc}"
            ) from exc
        if response.status_code >= 500:
            raise InfluxUnavailable(f"InfluxDB answered {response.status_code}")
        try:
            data = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            raise InfluxRejected(
                f"{self.target.base_url} answered {response.status_code} with no InfluxQL "
                f"result (is it InfluxDB?): {response.text[:200]!r}"
            ) from None
        if response.status_code >= 400 or "error" in data:
            raise InfluxRejected(f"InfluxQL failed: {data.get('error', response.text)[:500]}")
        results = data.get("results", [])
        for r in results:
            if "error" in r and not r["error"].startswith("database not found"):  # empty
                raise InfluxRejected(f"InfluxQL failed: {r['error']}")
        return results


def series_rows(result: dict):
    """Yield (tags, row dict) for every row of every series of one statement's result."""
    for series in result.get("series", []) or []:
        columns = series["columns"]
        tags = series.get("tags", {}) or {}
        for values in series["values"]:
            yield tags, dict(zip(columns, values, strict=True))
