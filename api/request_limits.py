"""Request size and rate limits for the public and organiser endpoints (issue 6)."""

from __future__ import annotations

from fastapi import FastAPI

from api.context import AppContext


def install_request_limits(app: FastAPI, ctx: AppContext) -> None:
    """Add the size and rate limits to ``app``."""
