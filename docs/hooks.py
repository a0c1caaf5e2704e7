"""MkDocs hook: GitHub-style escaped pipes in table code spans.

GitHub needs ``\\|`` for a pipe inside a code span in a table cell (`csv\\|xlsx`) and shows the
pipe alone; Python-Markdown keeps pipes inside code spans in their cell by itself and would
show the backslash. So the pages are written for GitHub and this hook drops the backslash in
table rows before MkDocs renders them: the same Markdown reads right in both places.
"""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"`[^`\n]*`")


def _unescape_pipes(match: re.Match[str]) -> str:
    return match.group(0).replace("\\|", "|")


def on_page_markdown(markdown: str, **_: object) -> str:
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|") and "\\|" in line:
            lines[i] = _CODE_SPAN.sub(_unescape_pipes, line)
    return "\n".join(lines)
