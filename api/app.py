"""The FastAPI application: the app context, middleware, error handlers and routers, wired.

Every route lives in a router module named for what it serves (the layout is in
``docs/architecture.md``); each router is built from the one ``AppContext`` (``api.context``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI

from api.audit import audit_router, record_configs
from api.auth import TokenSet
from api.closing import closing_router
from api.competitions import competitions_router
from api.context import AppContext
from api.downloads import downloads_router
from api.embed import embed_router
from api.errors import install_error_handlers
from api.fit_cache import FitCache
from api.frames import frames_router
from api.held import held_router
from api.home_assistant import home_assistant_publisher
from api.home_assistant_discovery import HomeAssistantLink
from api.leaderboard import leaderboard_hub, leaderboard_router
from api.operations import operations_router
from api.organiser import organiser_router, site_admin_router
from api.pages import pages_router
from api.request_limits import RequestLimits, install_request_limits
from api.request_metrics import install_request_counts
from api.scoreboard import Scoreboard
from api.security_headers import install_security_headers
from api.site_edits import with_site_edits
from api.sites import sites_router
from api.uploads import uploads_router
from ingest.routing import Routing
from ingest.store.base import Store
from ingest.validation import Limits
from scoring.competition import Competition

log = logging.getLogger(__name__)

# each is a function of the app context returning an APIRouter. A request is matched against
# the routers in this order, one router after the other (each one passed costs a few µs), so
# the routes polled all day come first: display frames, the leaderboard, the competitions.
# A path served by two routers (PATCH and GET of a site) is matched in this order too.
ROUTERS = (
    frames_router,
    leaderboard_router,
    competitions_router,
    organiser_router,
    site_admin_router,
    sites_router,
    operations_router,
    pages_router,
    downloads_router,
    uploads_router,
    held_router,
    audit_router,
    closing_router,
    embed_router,
)


def create_app(
    competitions: list[Competition],
    store: Store,
    clock: Callable[[], float] = time.time,
    stream_interval_s: float = 1.0,
    tokens: TokenSet | None = None,
    limits: Limits = Limits(),
    request_limits: RequestLimits | None = None,
    config_sources: dict[str, tuple[str, bytes]] | None = None,
    home_assistant: HomeAssistantLink | None = None,
    fit_cache: FitCache | None = None,
) -> FastAPI:
    """Build the app for ``competitions`` reading from ``store``; ``clock`` gives Unix time.

    ``tokens`` guard the write endpoints (default: from the environment, see api.auth);
    ``request_limits`` bound body sizes and request rates (default: from the environment).
    Organisers' stored site edits are applied over the competition files.
    ``config_sources`` (competition id → its file's name and bytes) are hashed into the audit
    log (``api.audit.record_configs``); a competition without one is hashed as its model.
    ``home_assistant``: the broker (and public URL) for the Home Assistant discovery of the
    competitions with ``[home_assistant]`` (``api.home_assistant``); None publishes nothing.
    ``fit_cache``: where the baseline fits are kept between restarts (``api.fit_cache``);
    None keeps them in memory only.
    """
    record_configs(store, competitions, config_sources or {}, clock)
    competitions = [_with_stored_edits(c, store) for c in competitions]
    boards = {c.id: Scoreboard(c, store, clock, fit_cache=fit_cache) for c in competitions}
    # the hub looks boards up through the context (built below), as the routes do
    hub = leaderboard_hub(list(boards), lambda cid: ctx.board(cid), stream_interval_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await hub.start()
        stop_home_assistant = home_assistant_publisher(ctx)
        yield
        if stop_home_assistant is not None:
            await stop_home_assistant()
        await hub.stop()

    app = FastAPI(title="Watt League", version=metadata.version("wattleague"), lifespan=lifespan)
    ctx = AppContext(
        competitions={c.id: c for c in competitions},
        boards=boards,
        store=store,
        routing=Routing.from_competitions(competitions),
        tokens=tokens if tokens is not None else TokenSet.from_env(),
        clock=clock,
        limits=limits,
        hub=hub,
        home_assistant=home_assistant,
        fit_cache=fit_cache,
    )
    app.state.hub = hub
    app.state.boards = boards
    app.state.ctx = ctx
    install_error_handlers(app)
    install_security_headers(app, ctx)
    install_request_counts(app, ctx)
    install_request_limits(app, ctx, request_limits)
    for router in ROUTERS:
        app.include_router(router(ctx))
    return app


def _with_stored_edits(competition: Competition, store: Store) -> Competition:
    """The competition with the organisers' stored site edits; the file as it is when the
    store cannot be read (it is logged: the scores then use the file's areas and targets)."""
    try:
        return with_site_edits(competition, store.organiser.site_edits(competition.id))
    except Exception:  # an unreachable store or an edit the file no longer allows
        log.exception("site edits of %r not applied", competition.id)
        return competition
