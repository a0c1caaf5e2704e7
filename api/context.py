"""What every router of the app shares: the competitions, their scoreboards, the store, tokens.

Routers take one ``AppContext`` instead of a long argument list; ``boards`` may be replaced per
competition at run time (an organiser's edit of a site rebuilds that competition's scoreboard),
so routers look a board up on every request through ``board()`` and never keep one.

A closed competition's board is its ``FrozenScoreboard`` (``frozen``, loaded from the store at
start-up and set when it is closed, ``api.closing``): ``board()`` answers it whatever replaced
the entry in ``boards``, so its results stay the certified ones. A competition whose stored
closing is damaged answers 503 (``closing_problems``) rather than unfrozen figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api.auth import TokenSet
from api.errors import APIError
from api.fit_cache import FitCache
from api.frozen_board import FrozenScoreboard
from api.home_assistant_discovery import HomeAssistantLink
from api.scoreboard import Scoreboard
from api.stream import LeaderboardHub
from ingest.routing import Routing
from ingest.store.base import Store
from ingest.store.closing import ClosingDamaged
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
    # closed competitions: their frozen boards, and why a stored closing cannot be served
    frozen: dict[str, FrozenScoreboard] = field(default_factory=dict)
    closing_problems: dict[str, str] = field(default_factory=dict)
    # where Home Assistant discovery is published (serve --mqtt); None: nowhere
    home_assistant: HomeAssistantLink | None = None
    # where the scoreboards keep their baseline fits between restarts (api.fit_cache)
    fit_cache: FitCache | None = None

    def board(self, cid: str) -> Scoreboard:
        """The competition's scoreboard (frozen once it is closed), or a 404 naming the known
        ones."""
        if cid not in self.boards:
            raise APIError(
                404, "not_found", f"no competition {cid!r}; known: {sorted(self.boards)}"
            )
        if cid in self.closing_problems:
            raise APIError(503, "closing_damaged", self.closing_problems[cid])
        frozen = self.frozen.get(cid)
        if frozen is None:
            return self.boards[cid]
        if self.boards[cid] is not frozen:  # an edit replaced it: the results stay frozen
            self.boards[cid] = frozen
        return frozen

    def refuse_if_closed(self, cid: str, what: str) -> None:
        """A 409 when the competition was closed (asked of the store: it may have been closed
        by ``wattleague close`` since this server started); ``what`` says what is refused."""
        try:
            closing = self.store.organiser.closing(cid)
        except ClosingDamaged as exc:
            raise APIError(409, "conflict", f"competition {cid!r} is closed: {exc}") from None
        if closing is not None:
            closed = datetime.fromtimestamp(closing.closed_ms / 1000, UTC).isoformat()
            raise APIError(
                409,
                "conflict",
                f"competition {cid!r} was closed at {closed} by {closing.who}: its results "
                f"are frozen and {what}",
            )

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
