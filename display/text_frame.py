"""Fixed-width text frames for character LED/LCD signs (e.g. 32x4, 20x4, 16x2).

Pure functions from a `display.content.DisplayState` to pages of exactly ``rows`` lines of
exactly ``columns`` characters. The pixel matrices draw the same pages with a bitmap font.

Pages:

- 4 rows or more: (1) name and rank, live kW and today, saved and target, the top three in
  one line; (2) name and rank, then the top three; (3) name and rank, saved and target, a
  progress bar towards the target, what is left to the target.
- fewer rows: the lines name and rank, live kW and today, saved and target, progress bar,
  the three podium lines and once more name and rank, ``rows`` at a time (a 16x2 sign shows
  four pages).
- under 16 columns: one short item a line (name, kW, today, saved, rank, progress, podium).

Swedish letters are kept; ``ascii=True`` transliterates (å→a), see `display.content.to_ascii`.
"""

from __future__ import annotations

from display.content import (
    TEXTS,
    DisplayState,
    number,
    pct,
    state_from_api,
    to_ascii,
)

COMPACT_BELOW_COLUMNS = 16


def _line(left: str, right: str, columns: int) -> str:
    """``left`` and ``right`` on one line of exactly ``columns`` characters."""
    room = columns - len(right) - 1
    if room < 1:
        return (left + " " + right)[:columns].ljust(columns)
    return left[:room].ljust(room) + " " + right


def _pair(options: list[tuple[str, str]], columns: int) -> str:
    """The first (left, right) that fits whole on a line, else the last one cut to fit."""
    for left, right in options:
        if len(left) + 1 + len(right) <= columns:
            return _line(left, right, columns)
    return _line(*options[-1], columns)


def _now_today(state: DisplayState, columns: int, lang: str) -> str:
    t = TEXTS[lang]
    power = _power(state, lang)
    today = state.today_reduction_pct
    return _pair(
        [
            (f"{t['now']} {power}", f"{t['today']} {pct(today, lang)}"),
            (power, f"{t['today']} {pct(today, lang)}"),
            (power, f"{t['today']} {pct(today, lang, 0)}"),
        ],
        columns,
    )


def _saved_target(state: DisplayState, columns: int, lang: str) -> str:
    t = TEXTS[lang]
    saved, target = state.reduction_pct, number(state.target_pct, 0, lang)
    return _pair(
        [
            (f"{t['saved']} {pct(saved, lang)}", f"{t['target']} {target}%"),
            (f"{t['saved_short']} {pct(saved, lang)}", f"{t['target_short']} {target}%"),
            (f"{t['saved_short']} {pct(saved, lang, 0)}", f"{t['target_short']} {target}%"),
            (f"-{pct(saved, lang, 0)}", f"{t['target_short']} {target}%"),
        ],
        columns,
    )


def _fit(text: str, columns: int) -> str:
    return text[:columns].ljust(columns)


def _rank(state: DisplayState, lang: str, compact: bool) -> str:
    if not state.rank:
        return "#–"
    if compact:
        return f"#{state.rank}/{state.sites_ranked}"
    return f"#{state.rank} {TEXTS[lang]['of']} {state.sites_ranked}"


def _power(state: DisplayState, lang: str) -> str:
    stale = TEXTS[lang]["stale"] if state.stale else ""
    return f"{number(state.live_power_kw, 1, lang)} kW{stale}"


def _bar_line(state: DisplayState, columns: int, lang: str) -> str:
    """``[#####-----] 80%``: progress towards the target (bar capped at the target)."""
    progress = state.target_progress
    right = "–" if progress is None else f"{number(100 * progress, 0, lang)}%"
    inner = columns - len(right) - 3
    if inner < 1:
        return _fit(right, columns)
    filled = 0 if progress is None else round(inner * min(max(progress, 0.0), 1.0))
    return f"[{'#' * filled}{'-' * (inner - filled)}] {right}"


def _podium(state: DisplayState, columns: int, lang: str, digits: int = 1) -> list[str]:
    return [
        _line(f"{p.rank}.{p.name}", pct(p.reduction_pct, lang, digits), columns) for p in state.top
    ]


def _lines(state: DisplayState, columns: int, lang: str, progress_line: bool) -> list[str]:
    """The rotating line list of signs with fewer than four rows."""
    t = TEXTS[lang]
    power = _power(state, lang)
    if columns < COMPACT_BELOW_COLUMNS:
        lines = [
            _fit(state.name, columns),
            _fit(power, columns),
            _line(t["today"], pct(state.today_reduction_pct, lang, 0), columns),
            _line(t["saved_short"], pct(state.reduction_pct, lang, 0), columns),
            _fit(_rank(state, lang, compact=True), columns),
        ]
        if progress_line:
            target = state.target_progress
            lines.append(
                _line(
                    t["target"],
                    "–" if target is None else f"{number(100 * target, 0, lang)}%",
                    columns,
                )
            )
        return lines + _podium(state, columns, lang, digits=0)
    header = _line(state.name, _rank(state, lang, compact=False), columns)
    lines = [header, _now_today(state, columns, lang), _saved_target(state, columns, lang)]
    if progress_line:
        lines.append(_bar_line(state, columns, lang))
    return [*lines, *_podium(state, columns, lang)]


def _four_row_pages(state: DisplayState, columns: int, lang: str) -> list[list[str]]:
    t = TEXTS[lang]
    header = _line(state.name, _rank(state, lang, compact=False), columns)
    podium_line = " ".join(
        f"{p.rank}.{p.name.split()[0][:8] if p.name.split() else '?'} "
        f"{number(p.reduction_pct, 0, lang)}"
        for p in state.top
    )
    saved = _saved_target(state, columns, lang)
    main = [
        header,
        _now_today(state, columns, lang),
        saved,
        _fit(podium_line or t["no_data"], columns),
    ]
    top = [header, *(_podium(state, columns, lang) or [_fit(t["no_data"], columns)])]
    if state.reduction_pct is None or state.target_pct is None:
        left = _fit(t["no_data"], columns)
    elif state.meets_target:
        left = _fit(t["reached"], columns)
    else:
        gap = state.target_pct - state.reduction_pct
        left = _line(t["to_go"], f"{number(gap, 1, lang)} {t['points']}", columns)
    target = [header, saved, _bar_line(state, columns, lang), left]
    return [main, top, target]


def text_pages(
    state: DisplayState,
    columns: int,
    rows: int,
    lang: str,
    *,
    progress_line: bool = True,
    ascii: bool = False,
) -> list[list[str]]:
    """Every page of a sign: each exactly ``rows`` lines of exactly ``columns`` characters.

    Parameters
    ----------
    state : DisplayState
    columns, rows : int
        Size of the sign [characters], at least 1.
    lang : {"sv", "en"}
    progress_line : bool
        Include the ``[###---] 80%`` line (pixel frames draw a real bar instead).
    ascii : bool
        Transliterate to ASCII (å→a), for signs without Swedish glyphs.
    """
    if rows >= 4 and columns >= COMPACT_BELOW_COLUMNS:
        pages = _four_row_pages(state, columns, lang)
    else:
        lines = _lines(state, columns, lang, progress_line)
        if columns >= COMPACT_BELOW_COLUMNS and len(lines) % rows:
            lines.append(lines[0])  # name and rank again under the podium
        pages = [lines[i : i + rows] for i in range(0, len(lines), rows)]
    blank = " " * columns
    out = []
    for page in pages:
        page = [_fit(line, columns) for line in page[:rows]]
        page += [blank] * (rows - len(page))
        out.append([to_ascii(line) for line in page] if ascii else page)
    return out


def render_text_frame(
    site: dict, top: list[dict], columns: int, rows: int, lang: str, page: int = 0
) -> list[str]:
    """Lines of page ``page`` (wrapping) of a character sign showing one town hall's state.

    Parameters
    ----------
    site : dict
        Site state as served by the api (``Scoreboard.site_detail``).
    top : list of dict
        Leaderboard entries in rank order.
    columns, rows : int
        Size of the sign [characters].
    lang : {"sv", "en"}
    page : int
        Page number; see `text_pages` for what each shows.
    """
    pages = text_pages(state_from_api(site, top), columns, rows, lang)
    return pages[page % len(pages)]
