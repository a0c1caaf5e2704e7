"""Savings summaries to download: CSV, XLSX, PDF and the weekly status e-mail.

Every summary is drawn from the competition's current board (an organiser's edit may replace
it), so a download holds exactly what the API serves now; the summaries are cached per scores
snapshot (``api.summary_cache``): a crowd asking for the same PDF gets one drawing. A closed
competition's summaries are drawn from its frozen results, and say so in ``X-Results-Closed``.
Routes are plain functions, so FastAPI runs them in its worker threads, off the event loop.
"""

from __future__ import annotations

from enum import StrEnum

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from api.context import AppContext
from api.errors import APIError
from api.reports.figures import collect
from api.reports.render import SUMMARY_FORMATS, Rendered, render_status_email, render_summary
from api.reports.status_email import WeekError
from api.responses import ATTACHMENT, errors, files
from api.summary_cache import SummaryCache


class Lang(StrEnum):
    sv = "sv"
    en = "en"


class EmailFormat(StrEnum):
    html = "html"
    txt = "txt"


_LANG = Query(Lang.sv, description="language of the texts: sv (default) or en")
_FMT = Path(description="the file's format: csv, xlsx or pdf")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CLOSED_HEADER = {
    "X-Results-Closed": {
        "description": "only for a closed competition: when it was closed and the bundle's "
        "SHA-256 its figures were certified with (`<time>; bundle-sha256=<hex>`)",
        "schema": {"type": "string"},
    }
}
SUMMARY_RESPONSES = {
    **files(
        "text/csv",
        XLSX,
        "application/pdf",
        description="the summary as `fmt` says: csv (text/csv, UTF-8 with a BOM), xlsx "
        "(an Excel workbook) or pdf",
        headers={**ATTACHMENT, **_CLOSED_HEADER},
    ),
    **errors(
        400,
        404,
        503,
        s404="not_found: no such competition or site, or a format other than csv, xlsx or pdf",
    ),
}
EMAIL_RESPONSES = {
    **files(
        "text/html",
        "text/plain",
        description="the e-mail body: html (default) or txt, UTF-8",
        headers={**ATTACHMENT, **_CLOSED_HEADER},
    ),
    **errors(
        400,
        404,
        503,
        s400="bad_request: a week that is malformed, outside the competition or not begun, "
        "or a bad parameter",
    ),
}


def _summary_format(fmt: str) -> str:
    if fmt not in SUMMARY_FORMATS:
        raise APIError(
            404, "not_found", f"no summary format {fmt!r}; use summary.csv, .xlsx or .pdf"
        )
    return fmt


def _file(out: Rendered, inline: bool = False, closed: dict | None = None) -> Response:
    """``out`` as a file; ``closed`` (a closed competition's frozen board's) adds the
    ``X-Results-Closed`` header: the bundle's SHA-256 the figures were certified with."""
    how = "inline" if inline else "attachment"
    headers = {"Content-Disposition": f'{how}; filename="{out.filename}"'}
    if closed is not None:
        headers["X-Results-Closed"] = f"{closed['at']}; bundle-sha256={closed['bundle_sha256']}"
    return Response(out.body, media_type=out.media_type, headers=headers)


def downloads_router(ctx: AppContext, cache: SummaryCache | None = None) -> APIRouter:
    """The download routes; ``cache`` holds the drawn summaries (default: a new one, also
    ``ctx.extras["summary_cache"]``)."""
    router = APIRouter()
    cache = cache if cache is not None else SummaryCache()
    ctx.extras["summary_cache"] = cache

    @router.get(
        "/api/competitions/{cid}/summary.{fmt}",
        response_class=Response,
        responses=SUMMARY_RESPONSES,
    )
    def competition_summary(cid: str, fmt: str = _FMT, lang: Lang = _LANG) -> Response:
        """The whole competition: totals, leaderboard, every site's figures (csv|xlsx|pdf)."""
        board = ctx.board(cid)
        fmt = _summary_format(fmt)

        def draw() -> Rendered:
            return render_summary(collect(board), fmt, lang.value)

        return _file(
            cache.get(board, (None, fmt, lang.value), draw), closed=getattr(board, "closed", None)
        )

    @router.get(
        "/api/competitions/{cid}/sites/{sid}/summary.{fmt}",
        response_class=Response,
        responses=SUMMARY_RESPONSES,
    )
    def site_summary(cid: str, sid: str, fmt: str = _FMT, lang: Lang = _LANG) -> Response:
        """One site's savings summary (csv|xlsx|pdf)."""
        board = ctx.board(cid)
        i = ctx.site_index(board, sid)
        fmt = _summary_format(fmt)

        def draw() -> Rendered:
            return render_summary(collect(board, [i]), fmt, lang.value)

        return _file(
            cache.get(board, (sid, fmt, lang.value), draw), closed=getattr(board, "closed", None)
        )

    @router.get(
        "/api/competitions/{cid}/sites/{sid}/status-email",
        response_class=Response,
        responses=EMAIL_RESPONSES,
    )
    def site_status_email(
        cid: str,
        sid: str,
        format: EmailFormat = Query(EmailFormat.html, description="html (default) or txt"),
        week: str | None = Query(
            None,
            max_length=10,
            description="ISO week YYYY-Www (default: the week of the last elapsed hour)",
        ),
        lang: Lang = _LANG,
    ) -> Response:
        """The weekly status report ("lägesrapport") of one site as an e-mail body."""
        board = ctx.board(cid)
        i = ctx.site_index(board, sid)
        fig = collect(board, [i])
        try:
            out = render_status_email(fig, format.value, lang.value, week)
        except WeekError as exc:
            raise APIError(400, "bad_request", str(exc)) from None
        return _file(out, inline=True, closed=getattr(board, "closed", None))

    return router
