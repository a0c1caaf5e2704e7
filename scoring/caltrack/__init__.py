"""CalTRACK's models as eemeter 4.1.1 fits them: the maths behind the regression and billing
baselines (``scoring.baselines`` turns them into hourly baselines).

- ``rules``: CalTRACK's rules and eemeter's settings, and the reason flags of failed rules.
- ``daily``: the daily models (``fit_daily``, ``predict_daily``, ``daily_residuals``), by
  - ``eemeter_daily``: the eemeter emulation, eemeter's legacy daily model step by step, on
    ``sorted_days`` and the compiled ``direct`` (DIRECT), ``subplex`` (nlopt Subplex),
    ``eemeter_loss`` (eemeter's loss, start and slope search), ``exact_numpy`` (NumPy's sums
    to the last bit) and ``daily_tables``;
  - ``daytype_grid``: the CalTRACK 2.0 grid with one intercept per day type.
- ``hourly``: the hourly time-of-week-and-temperature model.
- ``billing``: the billing method.
- ``load_shape``: the day → hour load shape both daily and billing baselines spread days with.

Importing this package imports nothing: ``daily`` (and what it uses) loads numba, ``hourly``,
``billing``, ``load_shape`` and ``rules`` do not.
"""
