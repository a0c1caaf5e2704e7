"""Tests for ranks and their tie-breaks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.ranking import rank_sites

NAN = np.nan


def reduction_league(reduction, kwh_per_m2=None, completeness=None, ids=None, eligible=None):
    n = len(reduction)
    return rank_sites(
        np.array(reduction, dtype=float),
        np.array(kwh_per_m2 if kwh_per_m2 is not None else [1.0] * n, dtype=float),
        np.array(completeness if completeness is not None else [1.0] * n, dtype=float),
        ids if ids is not None else [f"site-{i}" for i in range(n)],
        np.array(eligible if eligible is not None else [True] * n, dtype=bool),
    ).tolist()


def intensity_league(kwh_per_m2, reduction, ids=None, eligible=None):
    n = len(kwh_per_m2)
    return rank_sites(
        np.array(kwh_per_m2, dtype=float),
        np.array(reduction, dtype=float),
        np.ones(n),
        ids if ids is not None else [f"site-{i}" for i in range(n)],
        np.array(eligible if eligible is not None else [True] * n, dtype=bool),
        primary_higher_is_better=False,
        secondary_higher_is_better=True,
    ).tolist()


def test_higher_reduction_ranks_first():
    # 30 > 20 > 10
    assert reduction_league([10.0, 30.0, 20.0]) == [3, 1, 2]


def test_negative_reductions_rank_below_positive_ones():
    assert reduction_league([-5.0, 0.0, 2.5, -0.5]) == [4, 2, 1, 3]


def test_reductions_equal_to_a_hundredth_tie_and_lower_intensity_wins():
    # 12.341 and 12.339 both round to 12.34: tie -> site 1 has the lower kWh/m² (1.0 < 2.0)
    assert reduction_league([12.341, 12.339], kwh_per_m2=[2.0, 1.0]) == [2, 1]


def test_reductions_two_hundredths_apart_do_not_tie():
    # 12.36 vs 12.34: the higher reduction wins despite the higher kWh/m²
    assert reduction_league([12.36, 12.34], kwh_per_m2=[2.0, 1.0]) == [1, 2]


def test_tie_on_reduction_and_intensity_goes_to_higher_completeness():
    assert reduction_league([5.0, 5.0], kwh_per_m2=[1.0, 1.0], completeness=[0.95, 1.0]) == [2, 1]


def test_full_tie_goes_to_site_id_alphabetically():
    assert reduction_league([5.0, 5.0, 5.0], ids=["charlie", "alpha", "bravo"]) == [3, 1, 2]


def test_site_id_tie_break_ignores_list_order():
    assert reduction_league([5.0, 5.0], ids=["a", "b"]) == [1, 2]
    assert reduction_league([5.0, 5.0], ids=["b", "a"]) == [2, 1]


def test_intensity_tie_break_comes_before_completeness_and_id():
    # all three tie at 7.00 %; kWh/m² 3, 1, 2 decides regardless of completeness and id
    ranks = reduction_league(
        [7.001, 6.999, 7.0],
        kwh_per_m2=[3.0, 1.0, 2.0],
        completeness=[1.0, 0.9, 0.95],
        ids=["a", "c", "b"],
    )
    assert ranks == [3, 1, 2]


def test_nan_intensity_loses_a_tie():
    assert reduction_league([5.0, 5.0], kwh_per_m2=[NAN, 3.0]) == [2, 1]


def test_ineligible_sites_get_rank_0_and_others_rank_from_1():
    # eligible: 10 and 30 -> 30 first (rank 1), 10 second (rank 2); 50 is not eligible
    assert reduction_league([50.0, 10.0, 30.0], eligible=[False, True, True]) == [0, 2, 1]


def test_nan_reduction_gets_rank_0():
    assert reduction_league([NAN, 10.0, 30.0]) == [0, 2, 1]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_infinite_reduction_gets_rank_0():
    assert reduction_league([np.inf, 10.0]) == [0, 1]


def test_no_eligible_site_gives_all_zero():
    assert reduction_league([1.0, 2.0], eligible=[False, False]) == [0, 0]


def test_no_sites_gives_empty_ranks():
    assert reduction_league([]) == []


def test_intensity_league_lower_first():
    # 1 < 2 < 3 kWh/m²
    assert intensity_league([3.0, 1.0, 2.0], reduction=[0.0, 0.0, 0.0]) == [3, 1, 2]


def test_intensity_league_tie_goes_to_higher_reduction():
    # 0.504 and 0.496 both round to 0.50: tie -> higher reduction (20 > 10) wins
    assert intensity_league([0.504, 0.496], reduction=[20.0, 10.0]) == [1, 2]


def test_intensity_league_nan_reduction_loses_a_tie():
    assert intensity_league([0.5, 0.5], reduction=[NAN, -50.0]) == [2, 1]


def test_intensity_league_nan_intensity_gets_rank_0():
    assert intensity_league([NAN, 0.4], reduction=[10.0, 10.0]) == [0, 1]


# --- properties ------------------------------------------------------------------------------


@st.composite
def league(draw):
    n = draw(st.integers(1, 12))
    # few distinct values so that ties (and the tie-breaks) are frequent
    reduction = draw(
        st.lists(
            st.one_of(st.sampled_from([NAN, -3.0, 0.0, 12.341, 12.339, 40.0]), st.floats(-50, 50)),
            min_size=n,
            max_size=n,
        )
    )
    kwh = draw(st.lists(st.sampled_from([NAN, 0.5, 1.0, 2.0]), min_size=n, max_size=n))
    completeness = draw(st.lists(st.sampled_from([0.8, 0.95, 1.0]), min_size=n, max_size=n))
    ids = draw(
        st.lists(st.text("abc", min_size=1, max_size=3), min_size=n, max_size=n, unique=True)
    )
    eligible = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    perm = draw(st.permutations(range(n)))
    return (
        np.array(reduction, dtype=float),
        np.array(kwh),
        np.array(completeness),
        ids,
        np.array(eligible),
        np.array(perm),
    )


@settings(max_examples=300, deadline=None)
@given(league())
def test_property_permuting_sites_permutes_ranks(data):
    reduction, kwh, completeness, ids, eligible, perm = data
    ranks = rank_sites(reduction, kwh, completeness, ids, eligible)
    permuted = rank_sites(
        reduction[perm], kwh[perm], completeness[perm], [ids[i] for i in perm], eligible[perm]
    )
    np.testing.assert_array_equal(permuted, ranks[perm])


@settings(max_examples=300, deadline=None)
@given(league())
def test_property_ranked_sites_get_1_to_k_exactly_once(data):
    reduction, kwh, completeness, ids, eligible, _ = data
    ranks = rank_sites(reduction, kwh, completeness, ids, eligible)
    rankable = eligible & np.isfinite(reduction)
    assert sorted(ranks[rankable].tolist()) == list(range(1, int(rankable.sum()) + 1))
    assert (ranks[~rankable] == 0).all()


@settings(max_examples=300, deadline=None)
@given(league())
def test_property_a_reduction_more_than_a_hundredth_higher_always_ranks_higher(data):
    reduction, kwh, completeness, ids, eligible, _ = data
    ranks = rank_sites(reduction, kwh, completeness, ids, eligible)
    rankable = np.flatnonzero(eligible & np.isfinite(reduction))
    for i in rankable:
        for j in rankable:
            # more than 0.01 apart: different after rounding, whatever the rounding rule
            if reduction[i] > reduction[j] + 0.0101:
                assert ranks[i] < ranks[j]
