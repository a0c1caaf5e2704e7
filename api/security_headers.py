"""Security headers on every response (issue 21)."""

from __future__ import annotations

from fastapi import FastAPI

from api.context import AppContext


def install_security_headers(app: FastAPI, ctx: AppContext) -> None:
    """Placeholder: headers land with issue 21."""
