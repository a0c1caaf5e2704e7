"""Display frames: what a ``[[display]]`` shows now, in any of ``display.frames``' formats.

Signs poll ``/api/displays/{did}/frame`` all day, so a frame is drawn once per scores snapshot:
it is a function of the snapshot, the display's settings and the page, and the signs polling
it share one drawing per snapshot, format and page (a new snapshot replaces them). The common
case (a snapshot checked against the store under ``api.scoreboard.RECHECK_S`` ago and a page
already drawn) touches no I/O and runs on the event loop; anything that may read the store or
draw goes to a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.context import AppContext
from api.errors import APIError
from api.responses import errors
from api.schemas.frames import AwtrixApp, TextFrame, WledState
from api.scoreboard import Scoreboard, Snapshot
from display.content import DisplayState, page_index, state_from_api
from display.frames import Frame, FrameError, FrameFormat, n_pages, render_frame
from scoring.competition import Display


@dataclass(frozen=True, slots=True)
class _ServedDisplay:
    """A display the app serves frames for and the competition it belongs to."""

    competition_id: str
    display: Display


@dataclass(slots=True)
class _Drawn:
    """A display's frames in one format for one snapshot; ``frames`` fills as pages are asked
    for (page → frame)."""

    snapshot: Snapshot
    state: DisplayState
    as_of: str  # the snapshot's time, local ISO-8601 (the site view's ``as_of``)
    meta: dict  # merged into a json frame: ``as_of``, and ``closed`` once the results are final
    pages: int
    frames: dict[int, Frame] = field(default_factory=dict)


_PAGE_HEADERS = {
    "X-Frame-Page": {"description": "the page shown, 0-based", "schema": {"type": "integer"}},
    "X-Frame-Pages": {"description": "pages it rotates through", "schema": {"type": "integer"}},
}
FRAME_RESPONSE = {
    200: {
        "description": "the display's current page: `json` a TextFrame, `awtrix` an array of "
        "three AWTRIX 3 custom apps, `wled` a WLED JSON state (application/json); `txt` "
        "exactly `rows` lines of exactly `columns` characters, each ending in a newline "
        "(text/plain, UTF-8); `png` an image of the panel's size (image/png); `rgb565` raw "
        "pixels, row by row from the top left, 2 bytes each big-endian (5 bits red, 6 green, "
        "5 blue): width x height x 2 bytes (application/octet-stream)",
        "headers": _PAGE_HEADERS,
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary"},
            },
        },
    }
}


def frames_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    # display id → display: an organiser's site edit replaces a competition, never its displays
    displays = {
        d.id: _ServedDisplay(competition_id=c.id, display=d)
        for c in ctx.competitions.values()
        for d in c.displays
    }
    drawn_by: dict[tuple[str, FrameFormat], _Drawn] = {}  # (display id, format) → its frames

    def draw(did: str, fmt: FrameFormat, b: Scoreboard, snap: Snapshot, disp: Display) -> _Drawn:
        """The display's state and page count for ``snap``, built once per snapshot (reads the
        store: in a worker thread)."""
        drawn = drawn_by.get((did, fmt))
        if drawn is None or drawn.snapshot is not snap:
            i = ctx.site_index(b, disp.site)
            detail = b.site_detail(i)
            top = b.leaderboard()["entries"][:3]
            series = b.site_series(i, "hour") if fmt is FrameFormat.awtrix else None
            state = state_from_api(detail, top, series, disp.stale_after_s)
            drawn = _Drawn(
                snapshot=snap,
                state=state,
                as_of=detail["as_of"],
                meta={
                    "as_of": detail["as_of"],
                    **({"closed": detail["closed"]} if "closed" in detail else {}),
                },
                pages=n_pages(disp, state, fmt),
            )
            drawn_by[(did, fmt)] = drawn
        return drawn

    @router.get(
        "/api/displays/{did}/frame",
        response_model=TextFrame | list[AwtrixApp] | WledState,
        responses={
            **FRAME_RESPONSE,
            **errors(
                400,
                404,
                503,
                s400="bad_request: a format the display cannot show (png and rgb565 need a "
                "pixel size), a page it does not have, or a bad parameter",
            ),
        },
    )
    async def frame(
        did: str,
        format: FrameFormat = Query(FrameFormat.json, description="the frame's format"),
        page: int | None = Query(None, ge=0, description="force a page (default: by time)"),
    ) -> Response:
        """What the display shows now, in ``format``; pages rotate every ``page_s``."""
        if did not in displays:
            raise APIError(404, "not_found", f"no display {did!r}; known: {sorted(displays)}")
        served = displays[did]
        disp = served.display
        b = ctx.board(served.competition_id)
        snap = b.recent_snapshot()
        if snap is None:
            snap = await run_in_threadpool(b.snapshot)
        drawn = drawn_by.get((did, format))
        if drawn is None or drawn.snapshot is not snap:
            try:
                drawn = await run_in_threadpool(draw, did, format, b, snap, disp)
            except FrameError as exc:
                raise APIError(400, "bad_request", str(exc)) from None
        now_s = ctx.clock()
        shown = page if page is not None else page_index(now_s, disp.page_s, drawn.pages)
        out = drawn.frames.get(shown)
        if out is None:  # a page out of range raises here and is never cached
            try:
                out = await run_in_threadpool(
                    render_frame, disp, drawn.state, format, now_s, shown, drawn.meta
                )
            except FrameError as exc:
                raise APIError(400, "bad_request", str(exc)) from None
            drawn.frames[shown] = out
        return Response(
            out.body,
            media_type=out.media_type,
            headers={"X-Frame-Page": str(out.page), "X-Frame-Pages": str(out.pages)},
        )

    return router
