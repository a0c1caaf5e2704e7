"""The numpy CalTRACK hourly (TOWT) model against the reference, eemeter 4.1.1 HourlyModel.

One synthetic town hall (occupied 08-17 on weekdays with a heating slope, flat otherwise, 5 %
meter noise) is fitted on a baseline year and predicts the following March, once with
eemeter's ``HourlyModel`` (three-month weighted segments, temperatures in °F) and once with
``scoring.caltrack.hourly.regression_hourly``. eemeter takes about 5 s for the one meter.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from eemeter.eemeter.models.hourly_caltrack.data import (
        HourlyBaselineData,
        HourlyReportingData,
    )
    from eemeter.eemeter.models.hourly_caltrack.wrapper import HourlyModel

from scoring.caltrack.hourly import regression_hourly
from tests.scoring.caltrack.test_hourly import HISTORY, TARGET, TZ, _load_kwh, _temp_c


def _index(grid):
    return pd.DatetimeIndex(pd.to_datetime(grid.hour_start_s, unit="s", utc=True)).tz_convert(TZ)


def test_hourly_predictions_match_eemeter():
    hist_t, tgt_t = _temp_c(HISTORY, 1), _temp_c(TARGET, 2)
    hist_kwh = _load_kwh(HISTORY, hist_t, 3, noise=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline = HourlyBaselineData.from_series(
            pd.Series(hist_kwh, _index(HISTORY)),
            pd.Series(hist_t * 9 / 5 + 32, _index(HISTORY)),
            is_electricity_data=True,
        )
        model = HourlyModel().fit(baseline)
        reporting = HourlyReportingData.from_series(
            None, pd.Series(tgt_t * 9 / 5 + 32, _index(TARGET)), is_electricity_data=True
        )
        expected = model.predict(reporting)["predicted"].to_numpy()
    ours, ok = regression_hourly(
        hist_kwh[None], np.ones((1, hist_kwh.size), bool), HISTORY, TARGET, hist_t, tgt_t
    )
    assert ok.all() and np.isfinite(expected).all()
    np.testing.assert_allclose(ours[0], expected, rtol=1e-3)
    assert abs(ours.sum() / expected.sum() - 1) < 1e-4
