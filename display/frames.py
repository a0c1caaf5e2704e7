"""One display's frame in any format, from what the api serves: the frame endpoint's core.

Formats: ``json`` and ``txt`` (character-sign lines), ``png`` and ``rgb565`` (pixel frames of
displays with a pixel size), ``awtrix`` (AWTRIX 3 custom apps, a JSON array) and ``wled`` (WLED JSON
state). Pages rotate by time, ``int(now_s // page_s) % n_pages``, so every display and client
agrees; ``page`` forces one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import orjson

from display.awtrix import awtrix_payload
from display.content import STALE_AFTER_S, DisplayState, page_index
from display.matrix_frame import matrix_pages, render_matrix, to_png, to_rgb565
from display.text_frame import text_pages
from display.wled import wled_pages, wled_state
from scoring.competition import Display


class FrameFormat(StrEnum):
    json = "json"
    txt = "txt"
    png = "png"
    rgb565 = "rgb565"
    awtrix = "awtrix"
    wled = "wled"


PIXEL_FORMATS = {FrameFormat.png, FrameFormat.rgb565}


class FrameError(ValueError):
    """A frame that cannot be made for this display; the message says what to do instead."""


@dataclass(frozen=True)
class Frame:
    body: bytes
    media_type: str
    page: int
    pages: int


def n_pages(display: Display, state: DisplayState, fmt: FrameFormat) -> int:
    """How many pages the display rotates through in ``fmt``."""
    if fmt is FrameFormat.awtrix:
        return 1
    if fmt is FrameFormat.wled:
        return len(wled_pages(state, display.lang))
    if fmt in PIXEL_FORMATS:
        width, height = _size(display)
        return len(matrix_pages(state, width, height, display.lang))
    return len(text_pages(state, display.columns, display.rows, display.lang))


def render_frame(
    display: Display,
    state: DisplayState,
    fmt: FrameFormat,
    now_s: float,
    page: int | None = None,
    extra: dict | None = None,
) -> Frame:
    """The frame of ``display`` in ``fmt`` at ``now_s`` (Unix time [s]), or of page ``page``.

    ``extra`` is merged into the ``json`` body (e.g. ``as_of``). Raises `FrameError` for a
    format the display cannot show or a page it does not have.
    """
    pages = n_pages(display, state, fmt)
    if page is None:
        page = page_index(now_s, display.page_s, pages)
    elif not 0 <= page < pages:
        raise FrameError(
            f"display {display.id!r} has {pages} page(s) in format {fmt.value!r}; "
            f"page must be 0..{pages - 1} (got {page}), or leave it out to rotate by time"
        )
    lang = display.lang
    if fmt in PIXEL_FORMATS:
        width, height = _size(display)
        image = render_matrix(state, width, height, lang, page)
        if fmt is FrameFormat.png:
            return Frame(to_png(image), "image/png", page, pages)
        return Frame(to_rgb565(image), "application/octet-stream", page, pages)
    if fmt is FrameFormat.awtrix:
        payload = awtrix_payload(
            state,
            lang,
            icon=display.awtrix_icon,
            duration_s=display.page_s,
            lifetime_s=display.stale_after_s or STALE_AFTER_S,
            update_s=display.page_s,  # the display client sends once per page interval
            ascii=display.ascii,
        )
        return Frame(orjson.dumps(payload), "application/json", page, pages)
    if fmt is FrameFormat.wled:
        body = wled_state(state, lang, page, brightness=display.brightness)
        return Frame(orjson.dumps(body), "application/json", page, pages)
    lines = text_pages(state, display.columns, display.rows, lang, ascii=display.ascii)[page]
    if fmt is FrameFormat.txt:
        return Frame(("\n".join(lines) + "\n").encode(), "text/plain; charset=utf-8", page, pages)
    body = {
        "display": display.id,
        "site": display.site,
        "kind": display.kind,
        "columns": display.columns,
        "rows": display.rows,
        "lines": lines,
        "page": page,
        "pages": pages,
        "stale": state.stale,
        **(extra or {}),
    }
    return Frame(orjson.dumps(body), "application/json", page, pages)


def _size(display: Display) -> tuple[int, int]:
    size = display.size_px
    if size is None:
        raise FrameError(
            f"display {display.id!r} is a {display.kind!r} display without a pixel size; "
            "png and rgb565 need kind = 'matrix' or 'awtrix', or width_px and height_px "
            "in its [[display]] table"
        )
    return size
