"""The responses routes answer with, and how a route declares them in the OpenAPI document.

Routes build their body as a dict of named fields and return ``json_response(body)``; FastAPI's
own encoder (``jsonable_encoder``) is skipped, which is what keeps the polled routes cheap.

Each route still declares what it answers: its body's model as ``response_model`` (FastAPI
passes a returned ``Response`` through without validating it, so the model only documents),
the errors it can answer with ``errors(...)`` and files with ``files(...)``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from api.schemas.errors import ErrorBody


def json_response(data: object, status: int = 200) -> Response:
    """``data`` as an ``application/json`` response with ``status``."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 0},
    }
}

# status → what it means on this API; each one answers the ``ErrorBody`` shape
ERRORS: dict[int, str] = {
    400: "bad_request: a parameter or body that is not accepted (the message says which "
    "value, and what is accepted)",
    401: "unauthorized: no organiser token, or one that is not valid "
    "(send `Authorization: Bearer <token>`)",
    404: "not_found: no such competition, site, display or item (the message lists the known ones)",
    409: "conflict: the competition is closed (its results are frozen), or the item was "
    "already decided",
    413: "too_large: the body is over the size limit; split it",
    429: "too_many_requests: over the client's request rate; retry after `Retry-After` s",
    503: "store_unavailable: the store is down, locked or full (nothing was lost, the same "
    "request again applies nothing twice); or closing_damaged: the stored results of a "
    "closed competition cannot be served",
}
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "`Bearer`: the organiser token goes in an Authorization header",
        "schema": {"type": "string"},
    }
}
_HEADERS: dict[int, dict] = {401: _CHALLENGE, 429: _RETRY_AFTER, 503: _RETRY_AFTER}


def errors(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route answering ``statuses`` (and 429: every route is rate
    limited) with the error shape; ``described`` overrides a status's description
    (``s422="…"``). ``default`` covers the rest (a 500 has the same shape)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*statuses, 429}):
        entry: dict[str, Any] = {
            "model": ErrorBody,
            "description": described.get(f"s{status}", ERRORS.get(status, "error")),
        }
        if status in _HEADERS:
            entry["headers"] = _HEADERS[status]
        out[status] = entry
    out["default"] = {
        "model": ErrorBody,
        "description": "any other error (405, or 500 internal: the server log has details), "
        "in the same shape",
    }
    return out


def files(*media_types: str, description: str, headers: dict | None = None) -> dict:
    """A 200 answer of a file in any of ``media_types``: ``{"type": "string"}`` for text,
    ``format: binary`` for the others. Use with ``response_class=Response`` (no JSON 200)."""
    content = {
        m: {"schema": {"type": "string"} if m.startswith("text/") else _BINARY} for m in media_types
    }
    entry: dict[str, Any] = {"description": description, "content": content}
    if headers:
        entry["headers"] = headers
    return {200: entry}


_BINARY = {"type": "string", "format": "binary"}

ATTACHMENT = {
    "Content-Disposition": {
        "description": "`attachment` (or `inline`) with the file's name",
        "schema": {"type": "string"},
    }
}
