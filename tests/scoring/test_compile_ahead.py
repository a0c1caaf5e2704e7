"""``python -m scoring.compile_ahead`` compiles the whole CalTRACK daily fit ahead of use."""

from __future__ import annotations

from scoring.caltrack.daily import fit_daily
from scoring.caltrack.rules import CDD_ONLY, HDD_CDD, HDD_ONLY


def test_compile_ahead_fits_meters_of_both_final_fit_kinds():
    """``python -m scoring.compile_ahead`` runs the whole caltrack fit (so every compiled
    kernel, the single-slope final fit included) and says how long it took."""
    import scoring.compile_ahead as ahead

    seen = []

    def fit(*args, **kwargs):
        models = fit_daily(*args, **kwargs)
        seen.append(models)
        return models

    original = ahead.fit_daily
    ahead.fit_daily = fit
    try:
        seconds = ahead.compile_ahead()
    finally:
        ahead.fit_daily = original
    (models,) = seen
    assert seconds > 0
    assert models.sufficient.all()
    kinds = set(models.model_type.tolist())
    assert HDD_CDD in kinds and len(kinds & {HDD_ONLY, CDD_ONLY}) == 1
