"""Summary downloads (CSV, XLSX, PDF) drawn once per scores snapshot, bounded in memory.

A summary is a function of the competition's snapshot (the scoreboard replaces it when the
store reports new data, an organiser's edit replaces the board, and a new minute moves
``as_of``), of the annotated actions it lists, and of the request (site, format, language).
While the snapshot holds, everyone asking gets the same bytes; the first request after it
changed draws them anew and the competition's older entries are dropped.

Concurrent requests for the same file wait for one drawing instead of drawing it each: a
waiter takes the result if it was drawn from data read after the waiter arrived (as fresh as
drawing it itself), so a crowd gets one drawing even while scores change.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from api.reports.render import Rendered
from api.scoreboard import Scoreboard, Snapshot

MAX_BYTES = 64 * 1024 * 1024  # all entries together; a 1,000-site PDF is a few MB


@dataclass(frozen=True)
class _Entry:
    snapshot: weakref.ref[Snapshot]  # not kept alive by the cache
    notes: tuple  # the competition's annotations then
    drawn_at_s: float  # when the drawing began reading [monotonic s]
    out: Rendered


class SummaryCache:
    """Rendered summaries keyed by (competition, what was asked); ``max_bytes`` in all."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.drawn = 0
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # guards _entries, bytes and _drawing
        self._drawing: dict[tuple, threading.Lock] = {}  # one drawing per key at a time

    def get(self, board: Scoreboard, asked: Hashable, draw: Callable[[], Rendered]) -> Rendered:
        """The summary ``asked`` of ``board``'s competition: cached for the current snapshot,
        else ``draw()`` (which reads the board). Blocking: call from a worker thread."""
        arrived_s = time.monotonic()
        key = (board.competition.id, asked)
        with self._lock:
            drawing = self._drawing.setdefault(key, threading.Lock())
        with drawing:
            entry = self._lookup(key)
            if entry is not None and entry.drawn_at_s >= arrived_s:
                return self._hit(key, entry)  # drawn for a request that waited beside this one
            drawn_at_s = time.monotonic()
            snap = board.snapshot()
            notes = _notes(board)
            if entry is not None and entry.snapshot() is snap and entry.notes == notes:
                return self._hit(key, entry)
            out = draw()
            self._put(
                key, _Entry(snapshot=weakref.ref(snap), notes=notes, drawn_at_s=drawn_at_s, out=out)
            )
            return out

    def _lookup(self, key: tuple) -> _Entry | None:
        with self._lock:
            return self._entries.get(key)

    def _hit(self, key: tuple, entry: _Entry) -> Rendered:
        with self._lock:
            self.hits += 1
            if key in self._entries:
                self._entries.move_to_end(key)
        return entry.out

    def _put(self, key: tuple, entry: _Entry) -> None:
        size = len(entry.out.body)
        with self._lock:
            self.drawn += 1
            snap = entry.snapshot()
            # the competition's entries of other snapshots can never be asked for again
            for k in [
                k
                for k, e in self._entries.items()
                if k[0] == key[0] and (k == key or e.snapshot() is not snap)
            ]:
                self._drop(k)
            if size > self.max_bytes // 4:  # one file may not push out everything else
                return
            while self._entries and self.bytes + size > self.max_bytes:
                self._drop(next(iter(self._entries)))
            self._entries[key] = entry
            self.bytes += size

    def _drop(self, key: tuple) -> None:
        self.bytes -= len(self._entries.pop(key).out.body)


def _notes(board: Scoreboard) -> tuple:
    """The competition's annotations as a comparable value: a summary lists them, and adding
    one does not change the scores (nor, on InfluxDB, the snapshot)."""
    return tuple(
        (a["id"], a["site"], a["ts_ms"], a["text"], a["author"])
        for a in board.store.organiser.list_annotations(board.competition.id)
    )
