"""Baseline methods: ``method`` name → its ``BaselineMethod`` (``METHODS``).

A baseline is the consumption each site would have had without the competition, hour by hour
on the competition's grid. Each module here is one method and declares it as ``METHOD``
(``method.BaselineMethod``): its name, the history window it reads, what else it needs
(outdoor temperature, bills), its fit and hourly prediction, its residuals for the savings
uncertainty and the sufficiency rules that can leave a site without a baseline.

Everything else reads this registry: the competition model's allowed names
(``scoring.competition``), ``check-config``, ``wattleague baseline``, the scoreboard
(``api.scoreboard``), the fits a server loads up front (``api.baseline_fits``) and the reports.

Adding a method is one module (its ``METHOD``) and one line in ``METHODS``. Declaring the
methods loads no fitting code: a method that needs compiled (numba) code imports it when it
fits.
"""

from __future__ import annotations

from scoring.baselines import (
    billing,
    pre_period,
    previous_year,
    regression,
    regression_daytype,
    regression_hourly,
)
from scoring.baselines.method import BaselineMethod, Fit, History, Needs, Period, Target

METHODS: dict[str, BaselineMethod] = {
    m.name: m
    for m in (
        previous_year.METHOD,
        pre_period.METHOD,
        regression.METHOD,
        regression_daytype.METHOD,
        regression_hourly.METHOD,
        billing.METHOD,
    )
}

DEFAULT = "previous-year"

__all__ = [
    "DEFAULT",
    "METHODS",
    "BaselineMethod",
    "Fit",
    "History",
    "Needs",
    "Period",
    "Target",
    "by_name",
]


def by_name(name: str) -> BaselineMethod:
    """The method called ``name``.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(repr(n) for n in METHODS)
        raise ValueError(f"unknown baseline method {name!r}; use one of {known}") from None
