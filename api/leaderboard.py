"""A competition's leaderboard: now, as it stood at the end of each day, and as a live stream.

The leaderboard by reduction is what lobby screens poll and follow: one ``LeaderboardHub``
(``api.stream``) recomputes it in the background and keeps its encoded bytes, which the
``leaderboard`` route serves as they are (no I/O, on the event loop) and the stream sends to
every listener.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import orjson
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from api.context import AppContext
from api.responses import errors, json_response
from api.schemas.scores import Leaderboard, RankHistory
from api.scoreboard import Scoreboard
from api.stream import LeaderboardHub


class Metric(StrEnum):
    reduction = "reduction"
    kwh_per_m2 = "kwh_per_m2"


def leaderboard_view(board: Scoreboard, metric: str = "reduction") -> dict:
    """The leaderboard body: ``Scoreboard.leaderboard`` and whether the data is synthetic."""
    data = board.leaderboard(metric)
    data["synthetic"] = board.competition.competition.synthetic
    return data


def leaderboard_hub(
    cids: list[str], board_of: Callable[[str], Scoreboard], interval_s: float
) -> LeaderboardHub:
    """The hub recomputing each competition's leaderboard by reduction every ``interval_s``;
    it looks the board up with ``board_of`` (``AppContext.board``) on every call, as an
    organiser's edit may replace it and a closed competition's is its frozen one."""
    return LeaderboardHub(
        {cid: (lambda cid=cid: orjson.dumps(leaderboard_view(board_of(cid)))) for cid in cids},
        interval_s,
    )


STREAM_RESPONSE = {
    200: {
        "description": "an endless event stream: `event: leaderboard` whose `data` is the "
        "leaderboard JSON (the Leaderboard schema), and `event: ping` with empty data",
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "example": 'event: leaderboard\ndata: {"competition": "kommunhus-2011", …}\n\n',
            }
        },
    }
}


def leaderboard_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    hub = ctx.hub

    @router.get(
        "/api/competitions/{cid}/leaderboard",
        response_model=Leaderboard,
        responses=errors(400, 404, 503),
    )
    async def leaderboard(cid: str, metric: Metric = Metric.reduction) -> Response:
        """Every site's figures over the elapsed part of the competition, ranked by
        ``metric``: ``reduction`` [%] against the baseline, or ``kwh_per_m2`` [kWh/m²]."""
        b = ctx.board(cid)
        # the stream's bytes (no I/O), unless closed: the frozen results from the first answer
        if metric is Metric.reduction and cid in hub.latest and cid not in ctx.frozen:
            return Response(hub.latest[cid], media_type="application/json")
        return json_response(await run_in_threadpool(leaderboard_view, b, metric.value))

    @router.get(
        "/api/competitions/{cid}/rank-history",
        response_model=RankHistory,
        responses=errors(404, 503),
    )
    def rank_history(cid: str) -> Response:
        """Every site's rank and reduction [%] at the end of each elapsed day."""
        return json_response(ctx.board(cid).rank_history_view())

    @router.get(
        "/api/competitions/{cid}/stream",
        response_class=Response,  # the errors are JSON; the 200 is declared below
        responses={
            **STREAM_RESPONSE,
            **errors(
                404,
                503,
                s503="too_many_streams: over the stream limits (retry after `Retry-After` s); "
                "or closing_damaged",
            ),
        },
    )
    async def stream(cid: str) -> EventSourceResponse:
        """Server-Sent Events: ``event: leaderboard`` with the leaderboard JSON (as
        ``GET …/leaderboard``) at once and on every change; ``event: ping`` every 15 s. Past
        the stream limits a new stream gets 503 ``too_many_streams`` with ``Retry-After``."""
        ctx.board(cid)
        return EventSourceResponse(
            hub.events(cid),
            ping=15,
            ping_message_factory=lambda: ServerSentEvent(event="ping", data=""),
        )

    return router
