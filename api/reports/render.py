"""One entry point from figures to a file: the bytes, the media type and a file name, for the
API's downloads and ``wattleague report`` alike."""

from __future__ import annotations

from dataclasses import dataclass

from api.reports.csv_report import render_csv
from api.reports.figures import ReportFigures
from api.reports.pdf_report import render_pdf
from api.reports.status_email import status_email
from api.reports.xlsx_report import render_xlsx

SUMMARY_FORMATS = ("csv", "xlsx", "pdf")
EMAIL_FORMATS = ("html", "txt")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
_RENDER = {"csv": render_csv, "xlsx": render_xlsx, "pdf": render_pdf}


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    filename: str


def _stem(fig: ReportFigures) -> str:
    cid = fig.competition["id"]
    if fig.per_site and len(fig.sites) == 1:
        return f"{cid}-{fig.sites[0].detail['site']}"
    return cid


def render_summary(fig: ReportFigures, fmt: str, lang: str) -> Rendered:
    """The summary of ``fig`` as ``fmt`` (csv, xlsx or pdf) in ``lang``."""
    body = _RENDER[fmt](fig, lang)
    return Rendered(
        body=body, media_type=MEDIA_TYPES[fmt], filename=f"{_stem(fig)}-summary-{lang}.{fmt}"
    )


def render_status_email(
    fig: ReportFigures, fmt: str, lang: str, week: str | None = None
) -> Rendered:
    """The weekly status report of ``fig``'s site as ``fmt`` (html or txt); WeekError for a
    week that is malformed, outside the competition or not begun."""
    mail = status_email(fig, lang, week)
    body = mail.html if fmt == "html" else mail.text
    return Rendered(
        body=body.encode("utf-8"),
        media_type=MEDIA_TYPES[fmt],
        filename=f"{_stem(fig)}-status-{mail.week}-{lang}.{fmt}",
    )
