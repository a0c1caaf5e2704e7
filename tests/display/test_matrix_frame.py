"""Pixel frames: exact size, the expected pixels for a known state, PNG and RGB565 agree."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from display.content import DisplayState, Podium
from display.font import FONT_3X5, FONT_5X7
from display.matrix_frame import (
    AMBER,
    BACKGROUND,
    GREEN,
    RED,
    TRACK,
    matrix_pages,
    render_matrix,
    to_png,
    to_rgb565,
)
from tests.display.test_text_frame import api_states

SAVING = DisplayState(
    "Älvdalens", 8.0, False, 5.3, 20.0, 10.0, 2.0, 1, 3,
    (Podium(1, "Älvdalens", 20.0), Podium(2, "Piteå", 10.0), Podium(3, "Mora", 5.0)),
)  # fmt: skip
BEHIND = DisplayState("Mora", 19.0, False, 1.0, 5.0, 10.0, 0.5, 3, 3)


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize(("width", "height"), [(32, 8), (64, 32), (128, 32), (8, 8), (256, 16)])
def test_png_has_the_configured_size(width, height):
    for page in range(len(matrix_pages(SAVING, width, height, "sv"))):
        pixels = _decode(to_png(render_matrix(SAVING, width, height, "sv", page)))
        assert pixels.shape == (height, width, 3)


def test_known_pixels_of_a_64x32_frame():
    pixels = _decode(to_png(render_matrix(SAVING, 64, 32, "sv", 0)))
    # first glyph "Ä" (5x7) at (0, 0): the dots on row 0 at x = 1 and 3, the crossbar on row 4
    assert tuple(pixels[0, 1]) == GREEN and tuple(pixels[0, 3]) == GREEN
    assert tuple(pixels[0, 0]) == BACKGROUND and tuple(pixels[0, 2]) == BACKGROUND
    assert [tuple(p) for p in pixels[4, 0:5]] == [GREEN] * 5
    assert tuple(pixels[0, 5]) == BACKGROUND  # the gap between glyphs
    # progress 200 % of the target: the bar (bottom 3 rows) is full
    assert all(tuple(p) == GREEN for p in pixels[29:32].reshape(-1, 3))
    assert all(tuple(p) == BACKGROUND for p in pixels[28])  # the row above the bar


def test_progress_bar_length_and_amber_below_the_target():
    pixels = render_matrix(BEHIND, 64, 32, "en", 0)
    assert tuple(pixels[31, 31]) == AMBER and tuple(pixels[31, 32]) == TRACK  # 0.5 x 64 = 32 px
    assert tuple(pixels[29, 0]) == AMBER and tuple(pixels[28, 0]) == BACKGROUND
    lit = {tuple(p) for p in pixels[:28].reshape(-1, 3)}
    assert lit == {BACKGROUND, AMBER}


def test_stale_is_red_and_unknown_progress_is_an_empty_track():
    stale = DisplayState("Mora", None, True, target_progress=None)
    pixels = render_matrix(stale, 128, 32, "sv", 0)
    assert {tuple(p) for p in pixels[:28].reshape(-1, 3)} == {BACKGROUND, RED}
    assert all(tuple(p) == TRACK for p in pixels[29:].reshape(-1, 3))


def test_8px_panel_uses_the_3x5_font_without_a_bar():
    pixels = render_matrix(SAVING, 32, 8, "sv", 0)
    glyph = FONT_3X5.glyph("Ä")  # its mark row "#.#" is drawn on row 1 (the 3x6 cell centred)
    assert [tuple(p) == GREEN for p in pixels[1, 0:3]] == list(glyph[0])
    assert all(tuple(p) == BACKGROUND for p in pixels[0]) and all(
        tuple(p) == BACKGROUND for p in pixels[7]
    )
    assert FONT_3X5.glyph("ä") is glyph and FONT_5X7.glyph("ä") is not FONT_5X7.glyph("Ä")
    assert FONT_5X7.glyph("é") is FONT_5X7.glyph("e") and FONT_5X7.glyph("☃") is FONT_5X7.glyph("?")


def test_rgb565_is_the_png_converted():
    image = render_matrix(BEHIND, 64, 32, "sv", 1)
    raw = to_rgb565(image)
    assert len(raw) == 64 * 32 * 2
    pixels = _decode(to_png(image)).astype(np.uint16)
    expected = (pixels[..., 0] >> 3) << 11 | (pixels[..., 1] >> 2) << 5 | pixels[..., 2] >> 3
    assert np.array_equal(np.frombuffer(raw, dtype=">u2").reshape(32, 64), expected)
    # amber (255, 160, 0) is 0xFD00, big-endian on the wire
    assert (0xFD00).to_bytes(2, "big") in raw


@settings(max_examples=40, deadline=None)
@given(state=api_states(), size=st.sampled_from([(32, 8), (64, 32), (128, 32)]))
def test_any_state_renders_at_size(state, size):
    width, height = size
    for page in range(len(matrix_pages(state, width, height, "sv"))):
        assert render_matrix(state, width, height, "sv", page).shape == (height, width, 3)
