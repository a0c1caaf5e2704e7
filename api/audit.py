"""The audit log (token): every change that can move a score, as JSON and CSV."""

from __future__ import annotations

from fastapi import APIRouter

from api.context import AppContext


def audit_router(ctx: AppContext) -> APIRouter:
    """Placeholder: routes land with issue 19."""
    return APIRouter()
