"""Uploads of past consumption and weather files by organisers.

The raw file is the request body (any content type); the query names the meter or site and
the options of ``wattleague import``. The answer is the import report (``ingest.imports``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.auth import organiser_guard
from api.context import AppContext
from api.errors import APIError
from api.responses import errors, json_response
from api.schemas.imports import ImportReport
from ingest.imports.consumption import import_consumption
from ingest.imports.formats import read_consumption_file, read_weather_file
from ingest.imports.rows import UnreadableFile
from ingest.imports.weather import import_weather

MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a year of 15-minute rows is about 2 MB


# the file is the raw body, read by the route (any content type): described here
FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the file as it was exported (CSV, a grid operator's export, or the "
        "project's JSON), at most 64 MB",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
UPLOAD_RESPONSES = errors(
    400,
    401,
    404,
    413,
    503,
    s400="bad_request or unreadable_file: an empty body, a file that cannot be read (the "
    "message says which line and why), or a bad parameter",
)


async def _body(request: Request) -> bytes:
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD_BYTES:
        raise APIError(413, "too_large", f"file over {MAX_UPLOAD_BYTES} bytes; split it")
    body = await request.body()
    if len(body) > MAX_UPLOAD_BYTES:
        raise APIError(413, "too_large", f"file over {MAX_UPLOAD_BYTES} bytes; split it")
    if not body.strip():
        raise APIError(400, "bad_request", "the request body is empty: send the file as the body")
    return body


async def _off_the_loop(parse_and_import: Callable[[], dict]) -> dict:
    """Run an upload's parsing and import in a worker thread: a 16 MB file takes seconds to
    parse, and the event loop serves the streams and the frames meanwhile."""
    try:
        return await run_in_threadpool(parse_and_import)
    except UnreadableFile as exc:
        raise APIError(400, "unreadable_file", str(exc)) from None


def uploads_router(ctx: AppContext) -> APIRouter:
    router = APIRouter()
    organiser = organiser_guard(lambda: ctx.tokens)

    @router.post(
        "/api/competitions/{cid}/imports/consumption",
        response_model=ImportReport,
        responses=UPLOAD_RESPONSES,
        openapi_extra=FILE_BODY,
    )
    async def upload_consumption(
        cid: str,
        request: Request,
        meter: str = Query(min_length=1, max_length=64),
        billing: bool = False,
        columns: str | None = Query(None, max_length=500),
        format: Literal["auto", "grid", "generic", "json"] = "auto",
        dry_run: bool = False,
        on_overlap: Literal["keep-live", "use-import"] = "keep-live",
        name: str = Query("upload", max_length=200, description="file name for the report"),
        who: str = Depends(organiser),
    ) -> Response:
        comp = ctx.board(cid).competition
        if meter not in comp.meters():
            raise APIError(
                404,
                "not_found",
                f"competition {cid!r} has no meter {meter!r}; known: {sorted(comp.meters())}",
            )
        body = await _body(request)

        def parse_and_import() -> dict:
            parsed = read_consumption_file(
                body, name, comp.competition.tz, meter, format, columns, billing
            )
            return import_consumption(
                ctx.store, meter, [parsed], billing=billing, dry_run=dry_run, on_overlap=on_overlap
            )

        report = await _off_the_loop(parse_and_import)
        if not dry_run:
            ctx.board(cid).forget_history()  # looked up again: never kept between requests
        return json_response(report)

    @router.post(
        "/api/competitions/{cid}/imports/weather",
        response_model=ImportReport,
        responses=UPLOAD_RESPONSES,
        openapi_extra=FILE_BODY,
    )
    async def upload_weather(
        cid: str,
        request: Request,
        site: str | None = Query(None, max_length=64),
        columns: str | None = Query(None, max_length=500),
        dry_run: bool = False,
        name: str = Query("upload", max_length=200),
        who: str = Depends(organiser),
    ) -> Response:
        board = ctx.board(cid)
        comp = board.competition
        if site is not None:
            station = comp.station_for(comp.sites[ctx.site_index(board, site)])
        else:
            station = comp.weather[0].id if comp.weather else None
        if station is None:
            raise APIError(
                400, "bad_request", f"competition {cid!r} has no [[weather]] station to import into"
            )
        body = await _body(request)

        def parse_and_import() -> dict:
            parsed = read_weather_file(body, name, comp.competition.tz, columns)
            return import_weather(ctx.store, station, [parsed], dry_run=dry_run)

        report = await _off_the_loop(parse_and_import)
        if not dry_run:
            ctx.board(cid).forget_history()
        return json_response(report)

    return router
