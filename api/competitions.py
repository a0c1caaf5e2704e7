"""The competitions served: their list and each one's description (sites and displays).

Both are drawn from the competitions in memory (``ctx.competitions``, which an organiser's site
edit updates): no store access.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.auth import OPTIONAL_TOKEN, optional_organiser
from api.context import AppContext
from api.responses import errors, json_response
from api.schemas.competitions import CompetitionDetail, CompetitionList
from scoring.competition import Competition, Site

# where a display lives on the network (a WLED address, an AWTRIX clock's topic prefix, which
# lets anyone on the broker drive it): organisers see them, the public view does not
PRIVATE_DISPLAY_FIELDS = {"wled_url", "awtrix_prefix"}


def competitions_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    # whether the request carries a valid organiser token (none, or a wrong one: the public)
    is_organiser = optional_organiser(lambda: ctx.tokens)

    @router.get("/api/competitions", response_model=CompetitionList, responses=errors())
    async def list_competitions() -> Response:  # the competitions in memory: no I/O
        return json_response(
            {"competitions": [competition_view(c) for c in ctx.competitions.values()]}
        )

    @router.get(
        "/api/competitions/{cid}",
        response_model=CompetitionDetail,
        responses=errors(404, 503),
        openapi_extra=OPTIONAL_TOKEN,
    )
    def get_competition(cid: str, organiser: bool = Depends(is_organiser)) -> Response:
        """The competition; where displays live on the network (``wled_url``,
        ``awtrix_prefix``) only for an organiser's token."""
        c = ctx.board(cid).competition
        hidden = set() if organiser else PRIVATE_DISPLAY_FIELDS
        return json_response(
            {
                **competition_view(c),
                "sites_detail": [_site_view(s) for s in c.sites],
                "displays": [d.model_dump(exclude=hidden) for d in c.displays],
            }
        )

    return router


def competition_view(c: Competition) -> dict:
    """What ``GET /api/competitions`` lists of a competition."""
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


def _site_view(s: Site) -> dict:
    """A site as the competition's description lists it (``sites_detail``)."""
    return {
        "id": s.id,
        "name": s.name,
        "municipality": s.municipality,
        "area_m2": s.area_m2,
        "target_pct": s.target_pct,
        "meters": [m.id for m in s.meters],
    }
