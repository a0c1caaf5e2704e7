"""Pixel frames for LED matrices (32x8, 64x32, 128x32 HUB75 …): RGB arrays, PNG and RGB565.

A frame draws a page of the character-sign layout (`display.text_frame.text_pages`) with a
bitmap font (`display.font`): 3x5 on panels under 16 px high, 5x7 from 16 px. Text is green
when the site saves at least its target, amber below it and red when its data is stale. Panels
16 px high or more get a progress bar towards the target along the bottom rows: a dim track,
filled in the text colour over ``round(width * min(progress, 1))`` pixels.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from display.content import DisplayState
from display.font import Font, font_for_height
from display.text_frame import text_pages

GREEN = (0, 255, 64)
AMBER = (255, 160, 0)
RED = (255, 0, 0)
BACKGROUND = (0, 0, 0)
TRACK = (40, 40, 40)


def status_colour(state: DisplayState) -> tuple[int, int, int]:
    """Red for stale data, green when saving at least the target, amber otherwise."""
    if state.stale:
        return RED
    return GREEN if state.meets_target else AMBER


def bar_rows(height_px: int) -> int:
    """Height of the progress bar [px]: none under 16 px, else ``max(2, height // 10)``."""
    return 0 if height_px < 16 else max(2, height_px // 10)


def text_grid(width_px: int, height_px: int) -> tuple[Font, int, int]:
    """The font, characters per line and lines of text on a panel."""
    font = font_for_height(height_px)
    bar = bar_rows(height_px)
    room = height_px - (bar + 1 if bar else 0)
    lines = max(1, (room + 1) // (font.height + 1))
    return font, font.columns(width_px), lines


def matrix_pages(state: DisplayState, width_px: int, height_px: int, lang: str) -> list[list[str]]:
    """The text pages a ``width_px`` x ``height_px`` panel rotates through."""
    _, columns, lines = text_grid(width_px, height_px)
    return text_pages(state, columns, lines, lang, progress_line=bar_rows(height_px) == 0)


def render_matrix(
    state: DisplayState, width_px: int, height_px: int, lang: str, page: int = 0
) -> np.ndarray:
    """Page ``page`` (wrapping) as an RGB image.

    Parameters
    ----------
    state : DisplayState
    width_px, height_px : int
        Panel size [px].
    lang : {"sv", "en"}
    page : int

    Returns
    -------
    numpy.ndarray
        ``(height_px, width_px, 3)`` uint8 RGB.
    """
    font, _, n_lines = text_grid(width_px, height_px)
    pages = matrix_pages(state, width_px, height_px, lang)
    lines = pages[page % len(pages)]
    colour = np.array(status_colour(state), dtype=np.uint8)
    image = np.zeros((height_px, width_px, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    bar = bar_rows(height_px)
    text_h = n_lines * (font.height + 1) - 1
    top = (height_px - (bar + 1 if bar else 0) - text_h) // 2 if not bar else 0
    for row, line in enumerate(lines):
        y = top + row * (font.height + 1)
        for col, ch in enumerate(line.rstrip()):
            x = col * font.pitch
            glyph = font.glyph(ch)
            h = min(font.height, height_px - y)
            w = min(font.width, width_px - x)
            if h <= 0 or w <= 0:
                continue
            image[y : y + h, x : x + w][glyph[:h, :w]] = colour
    if bar:
        image[height_px - bar :, :] = TRACK
        progress = state.target_progress
        filled = 0 if progress is None else round(width_px * min(max(progress, 0.0), 1.0))
        image[height_px - bar :, :filled] = colour
    return image


def to_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB image, exactly its size."""
    out = io.BytesIO()
    Image.fromarray(image, "RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def to_rgb565(image: np.ndarray) -> bytes:
    """Raw RGB565, big-endian, row by row: ``width * height * 2`` bytes.

    Notes
    -----
    ``(r >> 3) << 11 | (g >> 2) << 5 | b >> 3`` per pixel, the format of HUB75 and TFT drivers
    (Adafruit GFX ``drawRGBBitmap`` after a byte swap on little-endian MCUs).
    """
    rgb = image.astype(np.uint16)
    packed = (rgb[..., 0] >> 3) << 11 | (rgb[..., 1] >> 2) << 5 | rgb[..., 2] >> 3
    return packed.astype(">u2").tobytes()
