"""Baseline fingerprints (``scoring.fingerprint``): a defined encoding, hashed; one changed
input changes it, noise below the precision does not."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import numpy as np
import pytest

from scoring.fingerprint import FORMAT, NAN_CODE, STEP, baseline_fingerprint

FIRST, LAST = date(2010, 3, 1), date(2010, 3, 2)
PARAMS = {"competition_method": "previous-year", "weeks": 8, "holidays": "SE"}
KWH = np.array([10.0, 10.5, 9.25, np.nan])
MEASURED = np.array([True, True, True, False])


def _fp(**changes) -> str:
    args = {
        "method": "previous-year",
        "parameters": PARAMS,
        "first_day_local": FIRST,
        "last_day_local": LAST,
        "kwh": KWH,
        "measured": MEASURED,
    }
    args.update(changes)
    return baseline_fingerprint(**args)


def test_the_encoding_is_the_documented_one():
    """A jury recomputes it from the module docstring: header line, kWh steps, measured."""
    header = {
        "format": FORMAT,
        "method": "previous-year",
        "parameters": PARAMS,
        "window": ["2010-03-01", "2010-03-02"],
        "bill_window": None,
        "sections": {
            "kwh": 4,
            "measured": 4,
            "bills": None,
            "daily_temp_c": None,
            "hourly_temp_c": None,
            "bill_temp_c": None,
        },
    }
    kwh = np.array([10_000_000, 10_500_000, 9_250_000, NAN_CODE], dtype="<i8")
    data = json.dumps(header, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    data += kwh.tobytes() + bytes([1, 1, 1, 0])
    expected = hashlib.sha256(data).hexdigest()
    assert _fp() == expected
    assert len(expected) == 64 and expected == expected.lower()


def test_same_inputs_same_fingerprint_and_noise_below_the_precision_is_ignored():
    assert _fp() == _fp()
    assert _fp(kwh=KWH + STEP / 10) == _fp()  # a sum read from another store
    assert _fp(kwh=list(KWH)) == _fp()  # lists as arrays


@pytest.mark.parametrize(
    "change",
    [
        {"kwh": np.array([10.0, 10.5, 9.25 + 2 * STEP, np.nan])},  # one hour, one step
        {"kwh": np.array([10.0, 10.5, 9.25, 0.0])},  # an unknown hour becomes known
        {"measured": np.array([True, True, False, False])},  # an hour no longer counts
        {"method": "pre-period"},
        {"parameters": {**PARAMS, "weeks": 6}},
        {"first_day_local": date(2010, 2, 28)},
        {"last_day_local": date(2010, 3, 3)},
        {"daily_temp_c": np.array([-3.0, -2.5])},  # the method reads temperatures
        {"bills": np.array([[733_000.0, 733_031.0, 4_000.0]])},
    ],
)
def test_one_changed_input_changes_it(change):
    assert _fp(**change) != _fp()


def test_the_order_is_defined_hours_are_not_sorted_but_bills_are():
    # hours are in time order: swapping two is another history
    assert _fp(kwh=KWH[[1, 0, 2, 3]]) != _fp()
    bills = np.array([[733_000.0, 733_031.0, 4_000.0], [733_031.0, 733_059.0, 3_500.0]])
    assert _fp(bills=bills) == _fp(bills=bills[::-1])  # a store's order is not an input
    assert _fp(bills=bills) != _fp(bills=bills + np.array([0.0, 0.0, 1.0]))
    # where a temperature goes matters: a daily one is not an hourly one
    temps = np.array([1.0, 2.0, 3.0, 4.0])
    assert _fp(daily_temp_c=temps) != _fp(hourly_temp_c=temps)


def test_unequal_hours_are_an_error_that_says_what_to_give():
    with pytest.raises(ValueError, match="kwh has 4 hours and measured 3"):
        _fp(measured=MEASURED[:3])


def test_an_empty_window_has_a_fingerprint_too():
    assert len(_fp(kwh=np.zeros(0), measured=np.zeros(0, dtype=bool))) == 64
