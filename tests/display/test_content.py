"""What a display shows: state from the api's figures, stale marks, rotation, transliteration."""

from __future__ import annotations

import pytest

from display.content import (
    DisplayState,
    page_index,
    printable,
    progress_pct,
    short_name,
    state_from_api,
    to_ascii,
)

SITE = {
    "site": "alfa",
    "name": "Älvdalens kommunhus",
    "target_pct": 10.0,
    "as_of": "2011-03-08T00:00:00+01:00",
    "live_power_kw": 8.0,
    "last_reading": "2011-03-07T23:50:00+01:00",
    "stale": False,
    "today": {"reduction_pct": None},
    "period": {"rank": 1, "reduction_pct": 20.0, "target_pct": 10.0, "target_progress": 2.0},
    "sites_ranked": 3,
}
TOP = [
    {"rank": 1, "site": "alfa", "name": "Älvdalens kommunhus", "reduction_pct": 20.0},
    {"rank": 2, "site": "beta", "name": "Piteå kommunhus", "reduction_pct": 10.0},
    {"rank": 0, "site": "gamma", "name": "Mora kommunhus", "reduction_pct": None},
]


def test_state_from_the_api_figures():
    state = state_from_api(SITE, TOP)
    assert state.name == "Älvdalens"
    assert (state.live_power_kw, state.reduction_pct, state.target_pct) == (8.0, 20.0, 10.0)
    assert (state.rank, state.sites_ranked, state.today_reduction_pct) == (1, 3, None)
    assert [(p.rank, p.name) for p in state.top] == [(1, "Älvdalens"), (2, "Piteå")]
    assert state.meets_target and not state.stale
    assert progress_pct(state) == 100


def test_stale_after_a_display_specific_silence():
    # the last reading is 600 s before as_of
    assert not state_from_api(SITE, TOP, stale_after_s=900).stale
    assert state_from_api(SITE, TOP, stale_after_s=300).stale
    assert state_from_api({**SITE, "last_reading": None}, TOP, stale_after_s=300).stale
    assert state_from_api({**SITE, "stale": True}, TOP).stale  # the api's own flag


def test_progress_is_computed_when_the_api_has_none():
    site = {**SITE, "period": {**SITE["period"], "target_progress": None, "reduction_pct": 5.0}}
    state = state_from_api(site, TOP)
    assert state.target_progress == pytest.approx(0.5) and progress_pct(state) == 50
    assert not state.meets_target


def test_recent_kw_takes_only_complete_hours():
    series = [
        {"start": f"2011-03-07T{h:02d}:00:00+01:00", "actual_kwh": float(h)} for h in range(24)
    ] + [{"start": "2011-03-08T00:00:00+01:00", "actual_kwh": 0.1}]  # started, not complete
    series[20]["actual_kwh"] = None
    state = state_from_api(SITE, TOP, series, recent_hours=5)
    assert state.recent_kw == (19.0, 0.0, 21.0, 22.0, 23.0)


def test_rotation_is_by_time():
    assert [page_index(t, 10, 3) for t in (0, 9.9, 10, 25, 30)] == [0, 0, 1, 2, 0]
    assert page_index(1299538800.0, 10, 4) == page_index(1299538809.0, 10, 4)


def test_names_and_ascii():
    assert short_name("Piteå kommunhus") == "Piteå"
    assert short_name("Stockholms stadshus") == "Stockholms"
    assert short_name("\n\t") == "?"
    assert printable("a\nb\u200bc\u0301") == "a b ć"  # NFC composes c + ◌́
    assert printable("\u0301x\u2028y") == "x y"  # a lone combining mark takes no cell
    assert to_ascii("Åsele – Öckerö, Mål: 5 °C") == "Asele - Ockero, Mal: 5 ?C"
    assert len(to_ascii("日本語 ﬁ")) == len("日本語 ﬁ")


def test_meets_target_without_figures():
    assert not DisplayState("x").meets_target
    assert DisplayState("x", reduction_pct=0.0, target_pct=None).meets_target
