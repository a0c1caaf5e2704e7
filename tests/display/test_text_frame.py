"""Character-sign frames fit their sign exactly, for every page, size, language and state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from display.content import Podium, state_from_api
from display.text_frame import render_text_frame, text_pages
from tests.display.test_content import SITE, TOP

SIZES = [(16, 2), (20, 4), (32, 4), (8, 1), (24, 3), (40, 8)]
LONG = "Upplands-Väsby och Sollentuna gemensamma kommunhus, Östra Göinge"

numbers = st.none() | st.floats(allow_nan=False, allow_infinity=False)
names = st.text(max_size=80)


@st.composite
def api_states(draw):
    site = {
        "name": draw(names),
        "live_power_kw": draw(numbers),
        "stale": draw(st.booleans()),
        "today": {"reduction_pct": draw(numbers)},
        "period": {
            "rank": draw(st.integers(0, 10_000)),
            "reduction_pct": draw(numbers),
            "target_pct": draw(numbers),
            "target_progress": draw(numbers),
        },
        "sites_ranked": draw(st.integers(0, 10_000)),
    }
    top = [
        {"rank": draw(st.integers(0, 10_000)), "name": draw(names), "reduction_pct": draw(numbers)}
        for _ in range(draw(st.integers(0, 3)))
    ]
    return state_from_api(site, top)


def _fits(pages, columns, rows):
    assert pages
    for page in pages:
        assert len(page) == rows
        assert all(len(line) == columns for line in page), page
        assert all(line.isprintable() for line in page), page


@settings(max_examples=150, deadline=None)
@given(state=api_states(), size=st.sampled_from(SIZES), lang=st.sampled_from(["sv", "en"]))
def test_every_page_fits_exactly(state, size, lang):
    columns, rows = size
    _fits(text_pages(state, columns, rows, lang), columns, rows)
    _fits(text_pages(state, columns, rows, lang, ascii=True), columns, rows)
    ascii_pages = text_pages(state, columns, rows, lang, ascii=True)
    assert all(line.isascii() for page in ascii_pages for line in page)


@pytest.mark.parametrize(("columns", "rows"), [(16, 2), (20, 4), (32, 4)])
@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("stale", [False, True])
def test_long_swedish_names_and_missing_values(columns, rows, lang, stale):
    site = {**SITE, "name": LONG, "stale": stale, "live_power_kw": None, "period": {"rank": 0}}
    top = [{"rank": 1, "name": LONG, "reduction_pct": None}]
    pages = text_pages(state_from_api(site, top), columns, rows, lang)
    _fits(pages, columns, rows)
    assert pages[0][0].startswith("Upplands-Väsby"[: columns - 4])
    full = state_from_api({**SITE, "name": LONG, "stale": stale}, TOP)
    _fits(text_pages(full, columns, rows, lang), columns, rows)


def test_four_row_pages():
    state = state_from_api(SITE, TOP)
    main, top, target = text_pages(state, 32, 4, "sv")
    assert main[0] == "Älvdalens                #1 av 3"
    assert main[1].startswith("Nu 8,0 kW") and main[1].endswith("Idag –")
    assert main[2] == "Sparat 20,0%             Mål 10%"
    assert top[1:3] == ["1.Älvdalens                20,0%", "2.Piteå                    10,0%"]
    assert target[2] == "[#########################] 200%"
    assert target[3].startswith("Målet nått!")
    en = text_pages(state, 32, 4, "en")[2]
    assert en[1] == "Saved 20.0%           Target 10%" and en[3].startswith("Target reached!")


def test_two_row_pages_of_a_16x2_sign():
    site = {**SITE, "today": {"reduction_pct": 5.25}, "stale": True}
    pages = text_pages(state_from_api(site, TOP), 16, 2, "sv")
    assert pages == [
        ["Älvdalen #1 av 3", "8,0 kW!  Idag 5%"],
        ["Spar 20% Mål 10%", "[#########] 200%"],
        ["1.Älvdalen 20,0%", "2.Piteå    10,0%"],
    ]
    full = [*TOP[:2], {"rank": 3, "name": "Mora kommunhus", "reduction_pct": 5.0}]
    pages = text_pages(state_from_api(site, full), 16, 2, "en")
    assert pages[3] == ["3.Mora      5.0%", "Älvdalen #1 of 3"]  # own place under the podium


def test_to_go_and_ascii():
    state = state_from_api(
        {**SITE, "period": {"rank": 2, "reduction_pct": 6.5, "target_pct": 10.0}}, TOP
    )
    target = text_pages(state, 20, 4, "sv", ascii=True)[2]
    assert target[1] == "Sparat 6,5%  Mal 10%"
    assert target[2] == "[#########-----] 65%"
    assert target[3] == "Kvar       3,5 %-enh"


def test_render_text_frame_wraps_pages():
    state_pages = text_pages(state_from_api(SITE, TOP), 20, 4, "en")
    assert render_text_frame(SITE, TOP, 20, 4, "en", page=4) == state_pages[1]
    assert Podium(1, "a", None) != Podium(2, "a", None)
