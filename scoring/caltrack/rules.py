"""CalTRACK's rules as eemeter 4.1.1 applies them, and the reason flags a failed rule sets.

One home for every threshold the CalTRACK methods share (data sufficiency, the candidate
grid, significance), eemeter's optimiser settings that the daily emulation reproduces, and the
reason flags: one bit per rule and one value per name, whichever method sets it, so that a
flag means the same in the daily, hourly and billing models.

The compiled modules (``direct``, ``eemeter_loss``, ``subplex``) read some of these values
when numba compiles them; numba's cache does not notice a change here. After changing one,
delete the ``scoring/caltrack/__pycache__/*.nbi`` files (or the folder ``NUMBA_CACHE_DIR``
names) and run ``python -m scoring.compile_ahead``.

References
----------
.. [1] CalTRACK Technical Appendix (CalTRACK 2.0), sections 2.2 (data sufficiency), 3.2
   (daily and billing models) and 3.4 (hourly model), https://docs.caltrack.org
.. [2] OpenEEmeter eemeter 4.1.1: ``eemeter.eemeter.common.sufficiency_criteria`` and
   ``eemeter.eemeter.models.daily.utilities.settings`` (``DailyLegacySettings``),
   https://github.com/openeemeter/eemeter
"""

from __future__ import annotations

import numpy as np

# --- model kinds: the terms a fitted daily or billing model has (index into MODEL_NAMES of
# ``daily`` and ``billing``, which name them as eemeter and CalTRACK do)
INTERCEPT_ONLY, HDD_ONLY, CDD_ONLY, HDD_CDD = 0, 1, 2, 3

# --- reason flags: one bit per data-sufficiency rule ---------------------------------------
NO_DATA = 1  # no day (hour) with both energy and temperature
BASELINE_LENGTH = 2  # first to last valid day outside MIN_BASELINE_DAYS..MAX_BASELINE_DAYS
MISSING_DAYS = 4  # < MIN_COVERAGE of the span has both energy and temperature
MISSING_METER_DAYS = 8  # < MIN_COVERAGE of the span has energy (billing: is billed)
MISSING_TEMPERATURE_DAYS = 16  # < MIN_COVERAGE of the span has temperature
MISSING_MONTHLY_TEMPERATURE = 32  # a calendar month with < MIN_COVERAGE of its temperature
HIGH_CVRMSE = 64  # CV(RMSE) of the fit above MAX_CVRMSE
TOO_FEW_DAYS = 128  # under MIN_FIT_DAYS days to fit at all (daily)
MISSING_MONTHLY_METER = 256  # a calendar month with < MIN_COVERAGE of its hours' energy (hourly)
NO_BILLS = 512  # no bill ends before the competition starts (billing)
BILLS_TOO_OLD = 1024  # the last bill ends over MAX_BILL_AGE_DAYS before the start (billing)
TOO_FEW_PERIODS = 2048  # under MIN_PERIODS billing periods to fit (billing)

# The names a site's ``baseline_problem`` shows (eemeter's where it has one), in the order
# they are listed.
REASON_NAMES = {
    NO_DATA: "no_data",
    NO_BILLS: "no_bills_before_the_start",
    BILLS_TOO_OLD: "last_bill_ends_too_long_before_the_start",
    BASELINE_LENGTH: "incorrect_number_of_total_days",
    MISSING_DAYS: "too_many_days_with_missing_data",
    MISSING_METER_DAYS: "too_many_days_with_missing_meter_data",
    MISSING_TEMPERATURE_DAYS: "too_many_days_with_missing_temperature_data",
    MISSING_MONTHLY_TEMPERATURE: "missing_monthly_temperature_data",
    MISSING_MONTHLY_METER: "missing_monthly_meter_data",
    TOO_FEW_PERIODS: "too_few_billing_periods",
    HIGH_CVRMSE: "cvrmse",
    TOO_FEW_DAYS: "too_few_days_to_fit",
}

# the flags each method can set, in REASON_NAMES order
DAILY_REASONS = (
    NO_DATA,
    BASELINE_LENGTH,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_TEMPERATURE_DAYS,
    MISSING_MONTHLY_TEMPERATURE,
    HIGH_CVRMSE,
    TOO_FEW_DAYS,
)
HOURLY_REASONS = (
    NO_DATA,
    BASELINE_LENGTH,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_TEMPERATURE_DAYS,
    MISSING_MONTHLY_TEMPERATURE,
    MISSING_MONTHLY_METER,
)
BILLING_REASONS = (
    NO_BILLS,
    BILLS_TOO_OLD,
    BASELINE_LENGTH,
    MISSING_DAYS,
    MISSING_METER_DAYS,
    MISSING_TEMPERATURE_DAYS,
    MISSING_MONTHLY_TEMPERATURE,
    TOO_FEW_PERIODS,
    HIGH_CVRMSE,
)


def rule_names(reasons: int) -> list[str]:
    """The names of the rules whose flags are set in ``reasons``, in ``REASON_NAMES`` order."""
    return [name for bit, name in REASON_NAMES.items() if reasons & bit]


# --- data sufficiency (eemeter 4.1.1 sufficiency criteria, CalTRACK 2.2) ---------------------
MAX_BASELINE_DAYS = 365  # the baseline year
MIN_BASELINE_DAYS = 329  # ceil(0.9 * 365)
MIN_COVERAGE = 0.9  # share of the span's days (hours) with energy, temperature and both
MAX_CVRMSE = 1.0  # eemeter disqualifies a fit whose CV(RMSE) exceeds this
MIN_FIT_DAYS = 30  # ours: fewer valid days are not fitted at all
MIN_DAY_COVERAGE = 0.5  # hourly -> daily: a day counts above half its hours, scaled up
MIN_TEMP_C, MAX_TEMP_C = -90.0, 60.0  # ours: plausible means; anything else is a unit error

# --- billing data (CalTRACK 2.2.3.4/2.2.3.5, eemeter BillingBaselineData) ---------------------
MAX_BILL_AGE_DAYS = 60  # the baseline year must end at most this long before the start
MONTHLY_DAYS = (25, 35)  # on-cycle monthly periods, inclusive [days]
BIMONTHLY_DAYS = (25, 70)  # on-cycle bimonthly periods, inclusive [days]
MIN_PERIODS = 4  # ours: an HDD+CDD fit needs residual degrees of freedom

# --- the CalTRACK 2.0 candidate grid (daily day-type and billing models, CalTRACK 3.2) --------
GRID_F = np.arange(30.0, 91.0)  # balance points [°F]
MIN_NONZERO_DD_DAYS = 10  # daily: a slope's degree days must be non-zero on this many days
MIN_TOTAL_DD_F = 20.0  # a slope's degree days must total at least this [°F-day]
MAX_P_VALUE = 0.1  # two-sided p-value a slope must stay under

# --- eemeter 4.1.1 DailyLegacySettings: the legacy daily model's optimisers ----------------
SEGMENT_MIN_DAYS = 10  # segment_minimum_count: days a slope's segment needs
LASSO_ALPHA = 0.001  # regularization_alpha (percent lasso 1): the elastic net's weight
MAX_SLOPE_OOM = 2.0  # maximum_slope_oom_scalar: initial-fit slopes up to (1 + 2)x the guess
SUBPLEX_STEP = 0.1  # initial_step_percentage: initial steps, share of each range
SUBPLEX_MAXEVAL = 1999  # "iteration maximum" 2000, minus one (nlopt counts the start)
SUBPLEX_TOL = 1e-5  # x_tol_rel and f_tol_rel
DIRECT_MAXEVAL = 199  # initial guess: "iteration maximum" 200, minus one
DIRECT_FTOL_REL = 0.5  # initial guess: f_tol_rel
DIRECT_XTOL_REL = 1e-3  # initial guess: x_tol_rel

# --- CalTRACK 2.0 hourly (TOWT) model, CalTRACK 3.4 --------------------------------------------
BIN_ENDPOINTS_F = np.array([30.0, 45.0, 55.0, 65.0, 75.0, 90.0])  # temperature bins [°F]
MIN_BIN_HOURS = 20  # a temperature bin needs this many hours, else it is merged
OCCUPANCY_THRESHOLD = 0.65  # share of positive residuals above which an hour is "occupied"
OCCUPANCY_HDD_BALANCE_F = 50.0  # balance points of the occupancy regression [°F]
OCCUPANCY_CDD_BALANCE_F = 65.0
NEIGHBOUR_MONTH_WEIGHT = 0.5  # the months either side of the modelled month
