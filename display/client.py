"""The display client beside a panel: polls a display's frame and hands it to the panel.

It asks the server which competition the display belongs to (for its page interval and
language), then fetches ``/api/displays/{did}/frame?format=…`` once per page interval. When the
server is away it keeps the last frame, tells the panel how long it has been stale (the panel
marks it), and retries with exponential backoff (1 s doubling to ``max_backoff_s``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from display.publish import PublishError

log = logging.getLogger(__name__)

DEFAULT_PAGE_S = 10.0


class ClientError(RuntimeError):
    """A problem retrying cannot fix (unknown display, a format it cannot show)."""


@dataclass(frozen=True)
class Frame:
    body: bytes
    media_type: str
    fetched_s: float  # Unix time the server answered [s]


class Panel(Protocol):
    format: str  # the frame format the panel needs

    def show(self, frame: Frame) -> None:
        """Show a fresh frame."""

    def show_stale(self, frame: Frame | None, since_s: float) -> None:
        """The server is unreachable since ``since_s`` (Unix s); ``frame`` is the last one."""


@dataclass
class DisplayInfo:
    page_s: float = DEFAULT_PAGE_S
    lang: str = "sv"
    awtrix_app: str = "wattleague"
    awtrix_prefix: str | None = None
    wled_url: str | None = None
    found: bool = False


def display_info(http: httpx.Client, display_id: str) -> DisplayInfo:
    """The display's settings from the competitions the server knows; raises ``ClientError``
    when the server answers but has no such display, ``httpx.HTTPError`` when unreachable."""
    comps = http.get("/api/competitions").raise_for_status().json()["competitions"]
    known = []
    for c in comps:
        detail = http.get(f"/api/competitions/{c['id']}").raise_for_status().json()
        for d in detail.get("displays", []):
            known.append(d["id"])
            if d["id"] == display_id:
                return DisplayInfo(
                    page_s=float(d.get("page_s") or DEFAULT_PAGE_S),
                    lang=d.get("lang", "sv"),
                    awtrix_app=d.get("awtrix_app") or "wattleague",
                    awtrix_prefix=d.get("awtrix_prefix"),
                    wled_url=d.get("wled_url"),
                    found=True,
                )
    raise ClientError(f"the server has no display {display_id!r}; known: {sorted(known)}")


class DisplayClient:
    def __init__(
        self,
        url: str,
        display_id: str,
        panel: Panel,
        interval_s: float | None = None,
        max_backoff_s: float = 60.0,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.display_id = display_id
        self.panel = panel
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.clock, self.sleep = clock, sleep
        self.http = httpx.Client(base_url=self.url, timeout=timeout_s)
        self.last: Frame | None = None
        self.last_ok_s: float | None = None
        self.offline_since_s: float | None = None
        self.failures = 0

    def fetch(self) -> Frame:
        r = self.http.get(
            f"/api/displays/{self.display_id}/frame", params={"format": self.panel.format}
        )
        if r.status_code in (400, 404):
            raise ClientError(_error_text(r))
        r.raise_for_status()
        return Frame(r.content, r.headers.get("content-type", ""), self.clock())

    def step(self) -> bool:
        """One poll: show the frame, or mark the last one stale. True when it was fresh."""
        try:
            frame = self.fetch()
        except (httpx.HTTPError, OSError) as exc:
            self.failures += 1
            if self.offline_since_s is None:
                self.offline_since_s = self.last_ok_s or self.clock()
                log.warning("server %s unreachable: %s", self.url, exc)
            self._to_panel(self.panel.show_stale, self.last, self.offline_since_s)
            return False
        if self.offline_since_s is not None:
            log.warning("server %s is back", self.url)
        self.failures, self.offline_since_s = 0, None
        self.last, self.last_ok_s = frame, frame.fetched_s
        self._to_panel(self.panel.show, frame)
        return True

    def _to_panel(self, method, *args) -> None:
        # a device that is away (WLED, an AWTRIX clock) must not stop the client: log and retry
        # with the next frame
        try:
            method(*args)
        except PublishError as exc:
            log.warning("%s", exc)

    def _interval_s(self) -> float:
        if self.interval_s is None:
            try:
                self.interval_s = display_info(self.http, self.display_id).page_s
            except httpx.HTTPError:
                return DEFAULT_PAGE_S  # ask again next time
        return self.interval_s

    def run(self, duration_s: float | None = None, once: bool = False) -> bool:
        """Poll until ``duration_s`` has passed (forever when None); ``once``: one poll.
        Returns whether the last poll was fresh."""
        if once:
            return self.step()
        end_s = None if duration_s is None else time.monotonic() + duration_s
        fresh = False
        while True:
            fresh = self.step()
            if fresh:
                wait_s = self._interval_s()
            else:  # 1, 2, 4 … s up to the cap, never slower than the page interval needs
                wait_s = min(self.max_backoff_s, 2.0 ** min(self.failures - 1, 16))
            if end_s is not None:
                left_s = end_s - time.monotonic()
                if left_s <= 0:
                    return fresh
                wait_s = min(wait_s, left_s)
            self.sleep(wait_s)

    def close(self) -> None:
        self.http.close()


def _error_text(r: httpx.Response) -> str:
    try:
        return r.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {r.status_code}: {r.text[:200]}"
