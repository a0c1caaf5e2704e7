"""Closing a competition (token) and its certified results."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def closing_router(ctx: AppContext) -> APIRouter:
    """Placeholder: routes land with issue 19."""
    return APIRouter()
