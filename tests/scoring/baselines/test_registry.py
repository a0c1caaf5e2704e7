"""The registry of baseline methods: what each declares, and that declaring loads no fitting
code."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from scoring import baselines
from scoring.baselines import Period
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML
from wattleague.offline_baseline import offline_methods

ROOT = Path(__file__).resolve().parents[3]
PERIOD = Period(date(2011, 3, 1), date(2011, 5, 31), "SE", 8)


def test_the_methods_in_their_order():
    assert list(baselines.METHODS) == [
        "previous-year",
        "pre-period",
        "regression",
        "regression-daytype",
        "regression-hourly",
        "billing",
    ]
    assert baselines.METHODS[baselines.DEFAULT].name == "previous-year"


@pytest.mark.parametrize("name", list(baselines.METHODS))
def test_each_method_declares_what_it_reads(name):
    method = baselines.METHODS[name]
    assert method.name == name
    assert set(method.summary) == {"sv", "en"}
    first, last = method.history_days(PERIOD)
    assert first <= last < PERIOD.first_day
    if method.needs.bills:
        bill_first, bill_last = method.bill_days(PERIOD)
        assert bill_first <= bill_last < PERIOD.first_day
    assert method.compiled <= bool(method.fit_modules)
    assert all(isinstance(reason, str) for reason in method.reasons())


def test_the_windows_are_the_methods_own():
    days = {name: m.history_days(PERIOD) for name, m in baselines.METHODS.items()}
    # previous-year: the days its competition days map to (ISO week, holidays by name)
    assert days["previous-year"] == (date(2010, 3, 2), date(2010, 6, 1))
    assert days["pre-period"] == (date(2011, 1, 4), date(2011, 2, 28))
    for name in ("regression", "regression-daytype", "regression-hourly", "billing"):
        assert days[name] == (date(2010, 3, 1), date(2011, 2, 28))  # CalTRACK's baseline year


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="use one of 'previous-year', 'pre-period'"):
        baselines.by_name("previus-year")


@pytest.mark.parametrize("name", list(baselines.METHODS))
def test_a_competition_file_takes_every_method(name):
    toml = COMPETITION_TOML.replace(
        'baseline = { method = "previous-year" }', f'baseline = {{ method = "{name}" }}'
    )
    comp = parse_competition(toml + '\n[[weather]]\nid = "station"\n')
    assert comp.competition.baseline.method == name


def test_wattleague_baseline_offers_the_methods_without_bills():
    assert offline_methods() == [n for n, m in baselines.METHODS.items() if not m.needs.bills]
    assert "billing" not in offline_methods()


def test_declaring_the_methods_loads_no_fitting_code():
    code = (
        "import sys, scoring.baselines\n"
        "print(' '.join(m for m in sys.modules if m.startswith(('numba', 'scoring.caltrack'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
