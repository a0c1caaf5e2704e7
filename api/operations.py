"""Operations endpoints: health and Prometheus metrics (issue 8)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter
from fastapi.responses import Response

from api.context import AppContext


def operations_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> Response:
        try:
            ctx.store.change_token()
            store_ok = True
        except Exception:
            store_ok = False
        body = {
            "status": "ok" if store_ok else "degraded",
            "store": store_ok,
            "competitions": len(ctx.boards),
            "sse_clients": ctx.hub.listeners,
        }
        return Response(
            orjson.dumps(body), status_code=200 if store_ok else 503, media_type="application/json"
        )

    return router
