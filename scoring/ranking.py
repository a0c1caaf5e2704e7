"""Ranks from per-site scores, with documented tie-breaks.

Reduction league: higher reduction_pct first; ties (equal to 0.01 percentage point) go to the
lower kWh/m², then to the higher completeness, then alphabetically by site id, so ranks never
depend on the order sites are listed in. Intensity league: lower kWh/m² first, ties to the
higher reduction. Ineligible sites get rank 0 (shown, not ranked).
"""

from __future__ import annotations

import numpy as np


def rank_sites(
    primary: np.ndarray,
    secondary: np.ndarray,
    completeness: np.ndarray,
    site_ids: list[str],
    eligible: np.ndarray,
    primary_higher_is_better: bool = True,
    secondary_higher_is_better: bool = False,
) -> np.ndarray:
    """1-based rank of each site (0 where not eligible or the primary score is NaN).

    Parameters
    ----------
    primary : array
        Main score (e.g. reduction [%]); rounded to 0.01 before comparing.
    secondary : array
        First tie-break (e.g. kWh/m²).
    completeness : array
        Second tie-break, higher first [0..1].
    site_ids : list of str
        Last tie-break, alphabetical.
    eligible : array of bool
        Sites that may be ranked.
    """
    n = len(site_ids)
    ok = eligible & np.isfinite(primary)
    sign1 = -1.0 if primary_higher_is_better else 1.0
    sign2 = -1.0 if secondary_higher_is_better else 1.0
    name_order = np.argsort(np.array(site_ids, dtype=object)).argsort()
    keys = (
        name_order,
        -np.nan_to_num(completeness),
        sign2 * np.nan_to_num(secondary, nan=np.inf * sign2),
        sign1 * np.round(np.where(ok, primary, 0.0), 2),
        ~ok,
    )
    order = np.lexsort(keys)
    ranks = np.zeros(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1)
    return np.where(ok, ranks, 0)


def league_ranks(
    reduction_pct: np.ndarray,
    kwh_per_m2: np.ndarray,
    completeness: np.ndarray,
    site_ids: list[str],
    eligible: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Ranks in both leagues (module docstring): by reduction [%] and by kWh/m²."""
    by_reduction = rank_sites(reduction_pct, kwh_per_m2, completeness, site_ids, eligible)
    by_intensity = rank_sites(
        kwh_per_m2,
        reduction_pct,
        completeness,
        site_ids,
        eligible,
        primary_higher_is_better=False,
        secondary_higher_is_better=True,
    )
    return by_reduction, by_intensity
