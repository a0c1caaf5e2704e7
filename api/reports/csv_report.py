"""The summary as CSV: UTF-8 with a byte-order mark (so Excel reads å ä ö), comma-separated,
decimal point, the API's digits.

Two sections parted by one empty line: the totals (header, one row per site, for a whole
competition a last row of sums) and the daily values (header, one row per site and day). Text
cells are ``neutralised``: none starts a formula.
"""

from __future__ import annotations

import csv
import io

from api.reports.figures import ReportFigures
from api.reports.spreadsheet_text import neutralised
from api.reports.tables import Table, daily_table, totals_table

BOM = "\ufeff"


def _cell(value: object, decimals: int | None) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralised(value)  # names are organisers' text: never a formula
    if decimals is not None and isinstance(value, float):
        return f"{value:.{decimals}f}"
    return value


def _write(w, table: Table) -> None:
    w.writerow([neutralised(h) for h in table.headers])
    for row in table.rows:
        w.writerow([_cell(v, d) for v, d in zip(row, table.decimals, strict=True)])


def render_csv(fig: ReportFigures, lang: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    _write(w, totals_table(fig, lang))
    w.writerow([])
    _write(w, daily_table(fig, lang))
    return (BOM + buf.getvalue()).encode("utf-8")
