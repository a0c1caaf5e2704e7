"""HTTP access to InfluxDB: v1 (``influxdb://``) and v2/v3 (``influxdb2://``) differ only here.

- ``influxdb://[user:pass@]host:port/database[?rp=…]``: line protocol to ``/write?db=&rp=``,
  InfluxQL to ``/query?db=``; credentials as HTTP basic auth.
- ``influxdb2://token@host:port/bucket?org=ORG``: line protocol to
  ``/api/v2/write?bucket=&org=``; InfluxQL through the v1-compatible ``/query?db=<bucket>``,
  which needs a DBRP mapping from the database name to the bucket (README); the token goes in
  ``Authorization: Token …``.

Both accept ``&tls=1`` for https and ``&spool=/path/to/spool.db``.

What a write's answer means:

- 2xx: written.
- 413 (too large): the request is split in halves and retried; later requests keep to the
  size that went through for ``SMALLER_REQUESTS_S``. A single line still too large is refused
  data.
- 400 or 422 that says the data is refused (``DATA_REFUSALS``: partial write, field type
  conflict, unparseable line, outside the retention period): ``InfluxDataRefused``, no retry;
  the store quarantines the messages concerned.
- 429 (rate limited) and 5xx, or no answer: retried after ``RETRY_DELAYS_S`` (or the server's
  ``Retry-After``, when it is at most ``RETRY_AFTER_INLINE_MAX_S``), then
  ``InfluxUnavailable`` (with the status and ``Retry-After``): the store spools the batch.
- any other 4xx (401/403 credentials, 404 database, a 400 about the request): not the data's
  fault, ``InfluxUnavailable`` at once; the batch is spooled and retried until it is fixed.

A query answers ``InfluxUnavailable`` for 429, 5xx, other 4xx than 400 and answers that are
not InfluxDB's, and ``InfluxRejected`` for an InfluxQL error.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import orjson

from ingest.redaction import redact_url, remember_url

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.2, 0.5, 1.0)  # then the caller spools
RETRY_AFTER_INLINE_MAX_S = 2.0  # a longer Retry-After is waited out by the spool, not here
RETRY_AFTER_MAX_S = 3600.0  # a Retry-After is honoured up to this [s]
POSTERS = 2  # write requests in flight at once: a third adds little on 2 cores
LINES_PER_REQUEST = 5000  # lines per write request; lowered for a while when one is too large
SMALLER_REQUESTS_S = 600.0  # after a 413, requests stay smaller this long [s], then try again
# what InfluxDB says when it refuses the data of a write (1.x 400, 2.x 422, 3.x 400): a point
# of another field type, a line it cannot parse, a point outside the retention period
DATA_REFUSALS = (
    "partial write",
    "field type conflict",
    "unable to parse",
    "invalid field",
    "invalid tag",
    "invalid number",
    "invalid boolean",
    "bad timestamp",
    "missing field",
    "missing tag",
    "beyond retention",
    "failure writing points",
    "max-values-per-tag",
    "parsing line protocol",
)


class InfluxUnavailable(RuntimeError):
    """The server cannot take the request now: it cannot be reached, answered 5xx or 429
    (rate limited), or refused it for a reason that is not the data (401/403 credentials, 404
    database, another 4xx). The data is kept (spooled) and the request retried later.

    ``status`` is the HTTP status (None: no answer); ``retry_after_s`` the server's
    ``Retry-After`` [s], if it sent one.
    """

    def __init__(
        self, message: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.retry_after_s = status, retry_after_s


class InfluxRejected(ValueError):
    """The server refused the request itself (an InfluxQL error): the same request fails again."""


class InfluxDataRefused(InfluxRejected):
    """The server refused the data of a write (400/422 saying so: partial write, field type
    conflict, unparseable line; or a single line larger than it takes, 413): the messages
    concerned go to the quarantine."""


class _TooLarge(Exception):
    """413: the request body is larger than the server takes."""


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
        self.max_lines = LINES_PER_REQUEST  # lines a request; lowered when one is too large
        self._lowered_at = 0.0  # monotonic time max_lines was last lowered

    def close(self) -> None:
        if self._poster is not None:
            self._poster.shutdown(wait=True)
        self.client.close()

    def in_background(self, fn: Callable, *args) -> Future:
        """Run ``fn(*args)`` on a posting thread (a query or a write while the caller works)."""
        if self._poster is None:
            self._poster = ThreadPoolExecutor(POSTERS, thread_name_prefix="influx-post")
        return self._poster.submit(fn, *args)

    def write_stream(
        self, chunks: Iterable[list[str] | tuple[list[str], str]], precision: str = "ms"
    ) -> None:
        """POST each chunk of lines, ``POSTERS`` at a time, the next chunks being made while
        earlier ones are posted; return once all are written. A chunk is a list of lines in
        ``precision``, or a tuple (lines, their precision).

        Encoding is Python work and a write is the server's: overlapping them, and giving the
        server two requests at a time (their fixed costs overlap: about 1.4x the points/s of
        one connection here), is what brings a store write close to the server's ceiling. The
        caller keeps each chunk self-contained (energy pieces before readings, of meters no
        other chunk has).
        After the first failure nothing more is posted and the error is raised here, once the
        chunks in flight have finished.
        """
        failed: list[BaseException] = []

        def post(lines: list[str], precision: str) -> None:
            if failed:
                return  # an earlier chunk failed: post nothing after it
            try:
                self.write(lines, precision=precision)
            except BaseException as exc:
                failed.append(exc)

        pending: list[Future] = []
        for chunk in chunks:
            if failed:
                break
            lines, chunk_precision = chunk if isinstance(chunk, tuple) else (chunk, precision)
            if lines:
                pending.append(self.in_background(post, lines, chunk_precision))
            while len(pending) > POSTERS:  # bound the lines held in memory
                pending.pop(0).result()
        for future in pending:
            future.result()
        if failed:
            raise failed[0]

    def write(
        self, lines: list[str], precision: str = "ms", chunk: int = LINES_PER_REQUEST
    ) -> None:
        """POST lines, at most ``chunk`` a request; raise InfluxUnavailable (after retries),
        InfluxDataRefused or InfluxRejected.

        A request the server finds too large (413) is split in halves and those retried, and
        later requests are kept to the size that went through (for ``SMALLER_REQUESTS_S``);
        one line too large on its own is refused data.
        """
        path, params, headers = self.target.write_request(precision)
        headers = {
            **headers,
            "Content-Encoding": "gzip",
            "Content-Type": "text/plain; charset=utf-8",
        }
        if self.max_lines < LINES_PER_REQUEST and (
            time.monotonic() - self._lowered_at > SMALLER_REQUESTS_S
        ):
            self.max_lines = LINES_PER_REQUEST  # perhaps the server's limit was raised
        lo = 0
        while lo < len(lines):
            hi = min(len(lines), lo + min(chunk, self.max_lines))
            body = gzip.compress("\n".join(lines[lo:hi]).encode("utf-8"), compresslevel=1)
            try:
                self._post_with_retries(path, params, headers, body)
            except _TooLarge as exc:
                if hi - lo == 1:
                    raise InfluxDataRefused(
                        f"InfluxDB refused a single line as too large (413, {len(body)} bytes "
                        f"gzipped): {exc}"
                    ) from None
                self.max_lines = max(1, (hi - lo) // 2)
                self._lowered_at = time.monotonic()
                log.warning(
                    "InfluxDB refused a request of %d lines as too large (413); sending at most "
                    "%d lines a request for %.0f s (raise the server's max-body-size)",
                    hi - lo,
                    self.max_lines,
                    SMALLER_REQUESTS_S,
                )
                continue
            lo = hi

    def _post_with_retries(self, path: str, params: dict, headers: dict, body: bytes) -> None:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            status, retry_after_s = None, None
            try:
                response = self.client.post(path, params=params, headers=headers, content=body)
            except httpx.HTTPError as exc:
                problem = f"cannot reach InfluxDB at {self.target.base_url}: {exc}"
            else:
                status = response.status_code
                if status < 300:
                    return
                text = response.text.strip()[:500]
                if status == 413:
                    raise _TooLarge(text[:200])
                if status in (400, 422) and is_data_refusal(text):
                    raise InfluxDataRefused(f"InfluxDB refused the write ({status}): {text}")
                if status != 429 and status < 500:
                    raise InfluxUnavailable(
                        f"InfluxDB refused the write ({status}), not for its data: {text[:200]}",
                        status,
                    )
                retry_after_s = retry_after(response.headers.get("Retry-After"))
                problem = f"InfluxDB answered {status}: {text[:200]}"
                if retry_after_s is not None:
                    if retry_after_s > RETRY_AFTER_INLINE_MAX_S:
                        delay = None  # too long to hold the caller: it spools
                    elif delay is not None:
                        delay = max(delay, retry_after_s)
            if delay is None:
                raise InfluxUnavailable(problem, status, retry_after_s)
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
        status = response.status_code
        if status >= 500 or status == 429:
            raise InfluxUnavailable(
                f"InfluxDB answered {status}",
                status,
                retry_after(response.headers.get("Retry-After")),
            )
        if 400 < status < 500:  # credentials, database, method: not the query's fault
            raise InfluxUnavailable(
                f"InfluxDB refused the query ({status}): {response.text.strip()[:200]}", status
            )
        try:
            data = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            raise InfluxUnavailable(
                f"{self.target.base_url} answered {response.status_code} with no InfluxQL "
                f"result (is it InfluxDB?): {response.text[:200]!r}",
                status,
            ) from None
        if response.status_code >= 400 or "error" in data:
            raise InfluxRejected(f"InfluxQL failed: {data.get('error', response.text)[:500]}")
        results = data.get("results", [])
        for r in results:
            if "error" in r and not r["error"].startswith("database not found"):  # empty
                raise InfluxRejected(f"InfluxQL failed: {r['error']}")
        return results


def is_data_refusal(text: str) -> bool:
    """Whether InfluxDB's answer to a write says the data is refused (``DATA_REFUSALS``)."""
    lowered = text.lower()
    return any(marker in lowered for marker in DATA_REFUSALS)


def retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now, at most
    ``RETRY_AFTER_MAX_S``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def series_rows(result: dict):
    """Yield (tags, row dict) for every row of every series of one statement's result."""
    for series in result.get("series", []) or []:
        columns = series["columns"]
        tags = series.get("tags", {}) or {}
        for values in series["values"]:
            yield tags, dict(zip(columns, values, strict=True))
