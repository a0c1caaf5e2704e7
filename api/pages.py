"""HTML pages: kiosk, site and organiser pages (issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def pages_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    return router
