"""Embeddable standing pages for a municipality's own website (``/embed/{cid}/{sid}``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def embed_router(ctx: AppContext) -> APIRouter:
    """Placeholder: routes land with issue 21."""
    return APIRouter()
