"""Uploads of past consumption and weather files by organisers (issue 9)."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def uploads_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    return router
