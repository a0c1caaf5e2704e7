"""The summary as an Excel workbook: a sheet of totals, one of daily values, one of the method
and its parameters. Numbers are numeric cells holding the API's rounded values, formatted with
the API's decimals; text cells are strings that no spreadsheet runs (``spreadsheet_text``)."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from api.reports.figures import ReportFigures
from api.reports.spreadsheet_text import neutralised
from api.reports.tables import Table, daily_table, method_table, totals_table
from api.reports.texts import t

_MAX_SHEET_TITLE = 31  # Excel's limit


def _text_cells(ws, row: int) -> None:
    """Every text cell of ``row`` as a string, never a formula (openpyxl makes a formula of
    any text that starts with ``=``), neutralised and quote-prefixed (``spreadsheet_text``)."""
    for cell in ws[row]:
        if isinstance(cell.value, str):
            cell.value = neutralised(cell.value)
            cell.data_type = "s"
            cell.quotePrefix = True


def _fill(ws, table: Table) -> None:
    ws.append(table.headers)
    _text_cells(ws, 1)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.rows:
        ws.append(row)
        _text_cells(ws, ws.max_row)
    for col, decimals in enumerate(table.decimals, start=1):
        if decimals is None:
            continue
        fmt = "0" if decimals == 0 else "0." + "0" * decimals
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            if isinstance(cell.value, float | int):
                cell.number_format = fmt
    for col, header in enumerate(table.headers, start=1):
        longest = max([len(str(header))] + [len(str(r[col - 1] or "")) for r in table.rows])
        ws.column_dimensions[get_column_letter(col)].width = min(max(10, longest + 2), 60)
    ws.freeze_panes = "A2"


def render_xlsx(fig: ReportFigures, lang: str) -> bytes:
    wb = Workbook()
    totals = wb.active
    totals.title = t(lang, "sheet_totals")[:_MAX_SHEET_TITLE]
    _fill(totals, totals_table(fig, lang))
    _fill(wb.create_sheet(t(lang, "sheet_daily")[:_MAX_SHEET_TITLE]), daily_table(fig, lang))
    method = wb.create_sheet(t(lang, "sheet_method")[:_MAX_SHEET_TITLE])
    _fill(method, method_table(fig, lang))
    method.column_dimensions["B"].width = 100
    for (cell,) in method.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    wb.properties.title = fig.competition["name"]
    wb.properties.creator = "Watt League"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
