"""The FastAPI application: JSON endpoints, the SSE stream, display frames and pages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from enum import StrEnum
from importlib import metadata, resources

import orjson
from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from api.auth import TokenSet
from api.context import AppContext
from api.downloads import downloads_router
from api.errors import APIError, install_error_handlers
from api.operations import operations_router
from api.organiser import organiser_router, site_admin_router
from api.pages import pages_router
from api.request_limits import RequestLimits, install_request_limits
from api.scoreboard import Scoreboard
from api.site_edits import with_site_edits
from api.stream import LeaderboardHub
from api.uploads import uploads_router
from display.content import page_index, state_from_api
from display.frames import FrameError, FrameFormat, n_pages, render_frame
from ingest.routing import Routing
from ingest.store.base import Store
from ingest.validation import Limits
from scoring.competition import Competition

log = logging.getLogger(__name__)
# where a display lives on the network (a WLED address, an AWTRIX clock's topic prefix, which
# lets anyone on the broker drive it): organisers see them, the public view does not
PRIVATE_DISPLAY_FIELDS = {"wled_url", "awtrix_prefix"}


class Metric(StrEnum):
    reduction = "reduction"
    kwh_per_m2 = "kwh_per_m2"


class Resolution(StrEnum):
    hour = "hour"
    day = "day"


def _json(data: object) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def create_app(
    competitions: list[Competition],
    store: Store,
    clock: Callable[[], float] = time.time,
    stream_interval_s: float = 1.0,
    tokens: TokenSet | None = None,
    limits: Limits = Limits(),
    request_limits: RequestLimits | None = None,
) -> FastAPI:
    """Build the app for ``competitions`` reading from ``store``; ``clock`` gives Unix time.

    ``tokens`` guard the write endpoints (default: from the environment, see api.auth);
    ``request_limits`` bound body sizes and request rates (default: from the environment).
    Organisers' stored site edits are applied over the competition files.
    """
    competitions = [_with_stored_edits(c, store) for c in competitions]
    boards = {c.id: Scoreboard(c, store, clock) for c in competitions}
    # display id → competition id: a site edit replaces the competition, never its displays
    displays = {d.id: (c.id, d) for c in competitions for d in c.displays}
    # looked up on every call: an organiser's edit may replace a competition's board
    hub = LeaderboardHub(
        {c.id: (lambda cid=c.id: orjson.dumps(_with_label(boards[cid]))) for c in competitions},
        stream_interval_s,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await hub.start()
        yield
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
    )
    app.state.hub = hub
    app.state.boards = boards
    app.state.ctx = ctx
    install_error_handlers(app)
    install_request_limits(app, ctx, request_limits)
    app.include_router(
        organiser_router(ctx.competitions, store, ctx.routing, ctx.tokens, clock, limits)
    )
    app.include_router(site_admin_router(ctx))
    app.include_router(operations_router(ctx))
    app.include_router(pages_router(ctx))
    app.include_router(downloads_router(ctx))
    app.include_router(uploads_router(ctx))
    board = ctx.board

    def site_index(b: Scoreboard, sid: str) -> int:
        return ctx.site_index(b, sid)

    def _is_organiser(request: Request) -> bool:
        if "authorization" not in request.headers:
            return False
        try:
            ctx.tokens.check(request)
        except APIError:
            return False
        return True

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def leaderboard_page() -> HTMLResponse:
        page = resources.files("api").joinpath("pages/leaderboard.html").read_text("utf-8")
        return HTMLResponse(page)

    @app.get("/api/competitions")
    async def list_competitions() -> Response:  # the competitions in memory: no I/O
        return _json({"competitions": [_summary(c) for c in ctx.competitions.values()]})

    @app.get("/api/competitions/{cid}")
    def get_competition(cid: str, request: Request) -> Response:
        """The competition; where displays live on the network (``wled_url``,
        ``awtrix_prefix``) only for an organiser's token."""
        c = board(cid).competition
        hidden = set() if _is_organiser(request) else PRIVATE_DISPLAY_FIELDS
        return _json(
            {
                **_summary(c),
                "sites_detail": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "municipality": s.municipality,
                        "area_m2": s.area_m2,
                        "target_pct": s.target_pct,
                        "meters": [m.id for m in s.meters],
                    }
                    for s in c.sites
                ],
                "displays": [d.model_dump(exclude=hidden) for d in c.displays],
            }
        )

    @app.get("/api/competitions/{cid}/leaderboard")
    async def leaderboard(cid: str, metric: Metric = Metric.reduction) -> Response:
        b = board(cid)
        if metric is Metric.reduction and cid in hub.latest:  # the stream's bytes: no I/O
            return Response(hub.latest[cid], media_type="application/json")
        return _json(await run_in_threadpool(_with_label, b, metric.value))

    @app.get("/api/competitions/{cid}/sites/{sid}")
    def site(cid: str, sid: str) -> Response:
        b = board(cid)
        return _json(b.site_detail(site_index(b, sid)))

    @app.get("/api/competitions/{cid}/sites/{sid}/series")
    def series(cid: str, sid: str, resolution: Resolution = Resolution.hour) -> Response:
        b = board(cid)
        i = site_index(b, sid)
        return _json(
            {
                "competition": cid,
                "site": sid,
                "resolution": resolution.value,
                "series": b.site_series(i, resolution.value),
            }
        )

    @app.get("/api/competitions/{cid}/rank-history")
    def rank_history(cid: str) -> Response:
        return _json(board(cid).rank_history_view())

    @app.get("/api/competitions/{cid}/stream")
    async def stream(cid: str) -> EventSourceResponse:
        board(cid)
        return EventSourceResponse(
            hub.events(cid),
            ping=15,
            ping_message_factory=lambda: ServerSentEvent(event="ping", data=""),
        )

    # (display, format) → (snapshot, state, as_of, pages, {page: Frame}): a frame is a function
    # of the snapshot, the display's settings and the page, so the signs polling it share one
    # rendering per snapshot and page (a new snapshot replaces the entry)
    frame_cache: dict[tuple[str, FrameFormat], tuple] = {}

    def frame_state(did: str, fmt: FrameFormat, b: Scoreboard, snap, disp) -> tuple:
        """(snapshot, state, as_of, pages, {page: Frame}) of a display, built once per snapshot:
        a frame is a function of the snapshot, the display's settings and the page."""
        cached = frame_cache.get((did, fmt))
        if cached is None or cached[0] is not snap:
            i = site_index(b, disp.site)
            detail = b.site_detail(i)
            top = b.leaderboard()["entries"][:3]
            series = b.site_series(i, "hour") if fmt is FrameFormat.awtrix else None
            state = state_from_api(detail, top, series, disp.stale_after_s)
            cached = (snap, state, detail["as_of"], n_pages(disp, state, fmt), {})
            frame_cache[(did, fmt)] = cached
        return cached

    @app.get("/api/displays/{did}/frame")
    async def frame(
        did: str,
        format: FrameFormat = Query(FrameFormat.json),
        page: int | None = Query(None, ge=0, description="force a page (default: by time)"),
    ) -> Response:
        # Signs poll this endpoint all day. The common case — a snapshot checked against the
        # store under RECHECK_S ago and a page already drawn — touches no I/O and runs on the
        # event loop; anything that may read the store or draw goes to a worker thread.
        if did not in displays:
            raise APIError(404, "not_found", f"no display {did!r}; known: {sorted(displays)}")
        comp_id, disp = displays[did]
        b = board(comp_id)
        snap = b.recent_snapshot()
        if snap is None:
            snap = await run_in_threadpool(b.snapshot)
        cached = frame_cache.get((did, format))
        if cached is None or cached[0] is not snap:
            try:
                cached = await run_in_threadpool(frame_state, did, format, b, snap, disp)
            except FrameError as exc:
                raise APIError(400, "bad_request", str(exc)) from None
        _, state, as_of, pages, rendered = cached
        now_s = clock()
        shown = page if page is not None else page_index(now_s, disp.page_s, pages)
        out = rendered.get(shown)
        if out is None:  # a page out of range raises here and is never cached
            try:
                out = await run_in_threadpool(
                    render_frame, disp, state, format, now_s, shown, {"as_of": as_of}
                )
            except FrameError as exc:
                raise APIError(400, "bad_request", str(exc)) from None
            rendered[shown] = out
        return Response(
            out.body,
            media_type=out.media_type,
            headers={"X-Frame-Page": str(out.page), "X-Frame-Pages": str(out.pages)},
        )

    return app


def _with_stored_edits(competition: Competition, store: Store) -> Competition:
    """The competition with the organisers' stored site edits; the file as it is when the
    store cannot be read (it is logged: the scores then use the file's areas and targets)."""
    try:
        return with_site_edits(competition, store.organiser.site_edits(competition.id))
    except Exception:  # an unreachable store or an edit the file no longer allows
        log.exception("site edits of %r not applied", competition.id)
        return competition


def _summary(c: Competition) -> dict:
    info = c.competition
    return {
        "id": info.id,
        "name": info.name,
        "timezone": info.timezone,
        "start": info.start.isoformat(),
        "end": info.end.isoformat(),
        "baseline": info.baseline.model_dump(),
        "sites": len(c.sites),
        "price_per_kwh": info.price_per_kwh,
        "currency": info.currency,
        "co2_g_per_kwh": info.co2_g_per_kwh,
        "synthetic": info.synthetic,
    }


def _with_label(board: Scoreboard, metric: str = "reduction") -> dict:
    data = board.leaderboard(metric)
    data["synthetic"] = board.competition.competition.synthetic
    return data
