"""What every router of the app shares: the competitions, their scoreboards, the store, tokens.

Routers take one ``AppContext`` instead of a long argument list; ``boards`` may be replaced per
competition at run time (an organiser's edit of a site rebuilds that competition's scoreboard),
so routers look a board up on every request through ``board()`` and never keep one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from api.auth import TokenSet
from api.errors import APIError
from api.scoreboard import Scoreboard
from api.stream import LeaderboardHub
from ingest.routing import Routing
from ingest.store.base import Store
from ingest.validation import Limits
from scoring.competition import Competition


@dataclass
class AppContext:
    competitions: dict[str, Competition]
    boards: dict[str, Scoreboard]
    store: Store
    routing: Routing
    tokens: TokenSet
    clock: Callable[[], float]
    limits: Limits
    hub: LeaderboardHub
    # free-form state other parts register (e.g. operation counters); keyed by owner
    extras: dict[str, object] = field(default_factory=dict)

    def board(self, cid: str) -> Scoreboard:
        """The competition's scoreboard, or a 404 naming the known ones."""
        if cid not in self.boards:
            raise APIError(
                404, "not_found", f"no competition {cid!r}; known: {sorted(self.boards)}"
            )
        return self.boards[cid]

    def site_index(self, b: Scoreboard, sid: str) -> int:
        """The site's index in ``b``, or a 404."""
        i = b.site_index(sid)
        if i is None:
            known = [s.id for s in b.competition.sites]
            listed = ", ".join(known[:50]) + (f" … ({len(known)} sites)" if len(known) > 50 else "")
            raise APIError(
                404,
                "not_found",
                f"competition {b.competition.id!r} has no site {sid!r}; known: {listed}",
            )
        return i
