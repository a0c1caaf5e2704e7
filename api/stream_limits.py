"""How many leaderboard streams (SSE) one server keeps open, in total and per client address.

An open stream costs the server memory (about 50 KB) and a share of every update's fan-out;
past the limits a new stream is refused with a 503 and ``Retry-After`` instead of slowing every
stream already open (``bench/api.py --sse-capacity`` measures what one server holds). The
slots are counted per server process: each replica behind a proxy has its own.
"""

from __future__ import annotations

import random
import re

STREAM_PATH = re.compile(r"/api/competitions/[^/]+/stream")
RETRY_AFTER_S = (15, 30)  # a refused client is told to come back within this range [s]


class StreamSlots:
    """Open streams in total and per client; a limit of 0 switches it off."""

    def __init__(self, max_total: int, max_per_client: int) -> None:
        self.max_total, self.max_per_client = max_total, max_per_client
        self.open = 0
        self.by_client: dict[str, int] = {}
        self.refused = 0  # streams refused since start

    def take(self, client: str) -> str | None:
        """Take a slot for ``client``: None, or why not (a message for the 503)."""
        if self.max_total and self.open >= self.max_total:
            self.refused += 1
            return f"the server holds its limit of {self.max_total} open streams"
        held = self.by_client.get(client, 0)
        if self.max_per_client and held >= self.max_per_client:
            self.refused += 1
            return f"{client} holds its limit of {self.max_per_client} open streams"
        self.open += 1
        self.by_client[client] = held + 1
        return None

    def give_back(self, client: str) -> None:
        self.open -= 1
        held = self.by_client[client] - 1
        if held:
            self.by_client[client] = held
        else:
            del self.by_client[client]


def retry_after_s() -> int:
    """Seconds a refused client should wait: spread, so that screens refused together do not
    come back together."""
    return random.randint(*RETRY_AFTER_S)
