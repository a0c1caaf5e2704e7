"""Savings summaries to download: CSV, XLSX, PDF and the weekly status e-mail (issue 7)."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def downloads_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    return router
