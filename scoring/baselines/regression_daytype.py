"""``regression-daytype``: CalTRACK 2.0's daily grid with one intercept per day type (working
day, Saturday, Sunday or holiday), as an hourly baseline.

Town halls use about half as much at weekends, which the CalTRACK daily model does not see;
this method fits ``scoring.caltrack.daily`` with method "daytype" and otherwise works as
``regression`` (the same history, rules and spreading over the hours).
"""

from __future__ import annotations

from scoring.baselines.method import BaselineMethod, Needs
from scoring.baselines.regression import baseline_year_days, daily_reasons, fit_regression

METHOD = BaselineMethod(
    name="regression-daytype",
    summary={
        "sv": (
            "Regression mot utetemperatur per dagtyp (vardag, lördag, sön- och helgdag) över året "
            "före tävlingen."
        ),
        "en": (
            "Regression on outdoor temperature by day type (working day, Saturday, Sunday and "
            "holiday) over the year before the competition."
        ),
    },
    history_days=baseline_year_days,
    fit=lambda history, period: fit_regression(history, "daytype"),
    needs=Needs(history_temperature=("daily",), target_temperature="daily"),
    reasons=daily_reasons,
    fit_modules=("scoring.caltrack.daily",),
    compiled=True,
)
