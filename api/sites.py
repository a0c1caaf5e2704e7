"""One site of a competition: its live and period figures, and its actual-against-baseline
series (the organisers' edits of a site are in ``api.organiser``)."""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter
from fastapi.responses import Response

from api.context import AppContext
from api.responses import errors, json_response
from api.schemas.scores import Series, SiteDetail


class Resolution(StrEnum):
    hour = "hour"
    day = "day"


def sites_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/api/competitions/{cid}/sites/{sid}",
        response_model=SiteDetail,
        responses=errors(404, 503),
    )
    def site(cid: str, sid: str) -> Response:
        """One site: live power, today so far against its baseline, the period's figures,
        its energy traps, actions with their measured effect and its rank history."""
        b = ctx.board(cid)
        return json_response(b.site_detail(ctx.site_index(b, sid)))

    @router.get(
        "/api/competitions/{cid}/sites/{sid}/series",
        response_model=Series,
        responses=errors(400, 404, 503),
    )
    def series(cid: str, sid: str, resolution: Resolution = Resolution.hour) -> Response:
        """Actual against baseline energy [kWh] per elapsed local hour or day."""
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
