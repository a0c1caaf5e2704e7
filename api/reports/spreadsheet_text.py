"""Text that a spreadsheet shows but never runs (OWASP "CSV injection").

Site and municipality names, annotations and other organiser text end up in the summaries that
council staff open in Excel or LibreOffice. A cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is read there as a formula (``=HYPERLINK(...)`` becomes a live link,
``=cmd|...`` worse). Such text gets a leading apostrophe, which spreadsheets show as text and
people still read as the name; in XLSX the cell is also typed as a string with the quote-prefix
style, so it stays text when someone edits it.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """``text`` as a cell no spreadsheet evaluates (see module docstring).

    Leading spaces do not hide a formula from every spreadsheet, so they are looked through.
    """
    return "'" + text if text.lstrip(" ").startswith(FORMULA_STARTS) else text
