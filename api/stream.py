"""Leaderboard updates for Server-Sent Events: one poller per app, many listeners.

A single background task recomputes each competition's leaderboard every ``interval_s`` (the
scoreboard itself is cached) and wakes the listeners only when the serialised bytes changed, so
1,000 connected lobby screens cost one computation, not 1,000. The event is encoded once per
change and the same bytes go to every listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from ingest.store.availability import is_unavailable

log = logging.getLogger(__name__)


class LeaderboardHub:
    def __init__(self, compute: dict[str, Callable[[], bytes]], interval_s: float = 1.0) -> None:
        self._compute = compute
        self.interval_s = interval_s
        self.latest: dict[str, bytes] = {}
        self._event: dict[str, bytes] = {}  # the latest as one encoded SSE event
        self.version: dict[str, int] = dict.fromkeys(compute, 0)
        # set (and replaced by a new one) at each change: every waiting stream wakes in the
        # same turn of the loop, where a Condition would hand its lock on one stream at a time
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.listeners = 0

    async def start(self) -> None:
        await self._refresh_all(starting=True)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self._refresh_all()
            except Exception:  # keep serving the last good leaderboard
                log.exception("leaderboard refresh failed")

    async def _refresh_all(self, starting: bool = False) -> None:
        """Recompute every competition's leaderboard. One that fails keeps its last good one
        and the others go on; at start a store that cannot be read stops the server instead
        (it says so and exits, rather than serving nothing)."""
        changed = False
        for cid, compute in self._compute.items():
            try:
                data = await asyncio.to_thread(compute)
            except Exception as exc:
                if starting and is_unavailable(exc):
                    raise
                log.exception("leaderboard refresh of %r failed", cid)
                continue
            if data != self.latest.get(cid):
                self.latest[cid] = data
                self.version[cid] += 1
                self._event[cid] = _event(self.version[cid], data)
                changed = True
        if changed:
            woken, self._changed = self._changed, asyncio.Event()
            woken.set()

    async def events(self, cid: str) -> AsyncIterator[bytes]:
        """Yield the current leaderboard, then each new one, as encoded SSE events."""
        self.listeners += 1
        try:
            seen = -1
            while True:
                if self.version[cid] != seen:
                    seen = self.version[cid]
                    yield self._event[cid]
                while self.version[cid] == seen:
                    await self._changed.wait()
        finally:
            self.listeners -= 1


def _event(version: int, data: bytes) -> bytes:
    """One SSE ``leaderboard`` event with ``data`` (orjson's output: one line, as it escapes
    newlines in strings)."""
    return b"id: %d\r\nevent: leaderboard\r\ndata: %s\r\n\r\n" % (version, data)
