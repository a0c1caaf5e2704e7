"""The JSON response every JSON route answers with: the body encoded once by orjson.

Routes build their body as a dict of named fields and return ``json_response(body)``; FastAPI's
own encoder (``jsonable_encoder``) is skipped, which is what keeps the polled routes cheap.
"""

from __future__ import annotations

import orjson
from fastapi.responses import Response


def json_response(data: object, status: int = 200) -> Response:
    """``data`` as an ``application/json`` response with ``status``."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")
