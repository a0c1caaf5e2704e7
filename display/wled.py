"""WLED JSON state for a scrolling-text segment (effect 122, "Scrolling Text", 2D setups).

POST it to ``http://<wled>/json/state`` (or publish it to ``<topic>/api`` over MQTT). The text
is segment 0's name ``n``: WLED keeps at most 32 bytes of it on ESP8266 (64 on ESP32) and its
fonts are ASCII only, so the text is transliterated (å→a) and cut to `MAX_TEXT_BYTES`. A sign
rotates through the one-line pages of `display.text_frame.text_pages` by time.
"""

from __future__ import annotations

from display.content import DisplayState
from display.matrix_frame import status_colour
from display.text_frame import text_pages

SCROLLING_TEXT_FX = 122
MAX_TEXT_BYTES = 32  # WLED_MAX_SEGNAME_LEN on ESP8266


def wled_pages(state: DisplayState, lang: str) -> list[str]:
    """The one-line texts a WLED sign rotates through, ASCII, at most 32 characters."""
    pages = text_pages(state, MAX_TEXT_BYTES, 1, lang, progress_line=False, ascii=True)
    return [" ".join(page[0].split()) for page in pages]


def wled_state(
    state: DisplayState,
    lang: str,
    page: int = 0,
    *,
    brightness: int = 128,
    speed: int = 128,
) -> dict:
    """The ``/json/state`` body showing page ``page`` (wrapping) as scrolling text.

    Parameters
    ----------
    state : DisplayState
    lang : {"sv", "en"}
    page : int
    brightness : int
        ``bri``, 1–255.
    speed : int
        Scroll speed ``sx``, 0–255.

    Returns
    -------
    dict
        ``{"on": true, "bri", "seg": [{"id": 0, "fx": 122, "n", "col", "sx"}]}`` with the text
        colour first and a black background.
    """
    pages = wled_pages(state, lang)
    return {
        "on": True,
        "bri": brightness,
        "seg": [
            {
                "id": 0,
                "fx": SCROLLING_TEXT_FX,
                "n": pages[page % len(pages)],
                "col": [list(status_colour(state)), [0, 0, 0], [0, 0, 0]],
                "sx": speed,
            }
        ],
    }
