"""Held data (token): what the baseline lock kept, its what-if and the organiser's decision."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def held_router(ctx: AppContext) -> APIRouter:
    """Placeholder: routes land with issue 19."""
    return APIRouter()
