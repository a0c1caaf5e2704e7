"""One site of a competition: its live and period figures, and its actual-against-baseline
series (the organisers' edits of a site are in ``api.organiser``)."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter
from fastapi.responses import Response

from api.context import AppContext
from api.responses import json_response


class Resolution(StrEnum):
    hour = "hour"
    day = "day"


def sites_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()

    @router.get("/api/competitions/{cid}/sites/{sid}")
    def site(cid: str, sid: str) -> Response:
        b = ctx.board(cid)
        return json_response(b.site_detail(ctx.site_index(b, sid)))

    @router.get("/api/competitions/{cid}/sites/{sid}/series")
    def series(cid: str, sid: str, resolution: Resolution = Resolution.hour) -> Response:
        b = ctx.board(cid)
        i = ctx.site_index(b, sid)
        body = {
            "competition": cid,
            "site": sid,
            "resolution": resolution.value,
            "series": b.site_series(i, resolution.value),
        }
        closed = getattr(b, "closed", None)  # a closed competition's frozen results say so
        return json_response(body if closed is None else {**body, "closed": closed})

    return router
