"""The one error shape every 4xx and 5xx answer has: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(
        description="machine-readable: bad_request, unauthorized, not_found, conflict, "
        "too_large, rejected, too_many_requests, store_unavailable, too_many_streams, "
        "closing_damaged, unreadable_file, internal, …",
        examples=["not_found"],
    )
    message: str = Field(
        description="what was wrong, the value received and what to do instead",
        examples=["no competition 'x'; known: ['kommunhus-2011']"],
    )


class ErrorBody(BaseModel):
    """An error answer (any 4xx or 5xx)."""

    error: ErrorDetail
