"""Adding a baseline method is one module and one registry line (CONTRIBUTING.md).

The worked example, ``same_weekday_mean``, is registered here the way its line in
``scoring.baselines.METHODS`` would register it; then everything that reads the registry takes
it: the competition file, the scoreboard and the API, the summary's method table, and
``wattleague baseline``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.reports.figures import collect
from api.reports.tables import method_rows
from api.scoreboard import Scoreboard
from ingest.store.base import Message, StoredReading
from ingest.store.sqlite import SQLiteStore
from scoring import baselines
from scoring.competition_file import ConfigError, parse_competition
from tests.fixtures import COMPETITION_TOML, LOADS_KW, NOW, TZ
from tests.scoring.baselines import same_weekday_mean
from wattleague.cli import main

TOML = COMPETITION_TOML.replace(
    'baseline = { method = "previous-year" }', 'baseline = { method = "same-weekday-mean" }'
)
START = datetime(2011, 3, 1, tzinfo=TZ)


@pytest.fixture
def registered(monkeypatch):
    """The registry with the example's line added."""
    monkeypatch.setitem(baselines.METHODS, "same-weekday-mean", same_weekday_mean.METHOD)


@pytest.fixture
def store(tmp_path):
    """Each meter at its baseline load over February 2011 and its competition load from
    March (fixtures.LOADS_KW: 20 %, 10 % and 5 % saved)."""
    s = SQLiteStore(tmp_path / "example.db")
    for meter, (base_kw, comp_kw) in LOADS_KW.items():
        readings, register, t = [], 100.0, datetime(2011, 2, 1, tzinfo=TZ).astimezone(UTC)
        while t <= NOW:
            readings.append(StoredReading(meter, int(t.timestamp() * 1000), register, None))
            register += base_kw if t < START else comp_kw
            t += timedelta(hours=1)
        s.write([Message("seed", 0, "test", readings)])
    yield s
    s.close()


def test_an_unregistered_method_is_refused_by_the_competition_file():
    with pytest.raises(ConfigError, match="unknown baseline method"):
        parse_competition(TOML)


def test_a_registered_method_scores_a_competition(registered, store):
    comp = parse_competition(TOML)
    with TestClient(create_app([comp], store, clock=NOW.timestamp)) as client:
        board = client.get("/api/competitions/liten/leaderboard").json()
    assert board["baseline_method"] == "same-weekday-mean"
    saved = {e["site"]: e["reduction_pct"] for e in board["entries"]}
    assert saved == pytest.approx({"alfa": 20.0, "beta": 10.0, "gamma": 5.0})
    assert all(e["uncertainty_kwh"] is not None for e in board["entries"])


def test_the_report_reads_the_history_window_and_summary_of_the_method(registered, store):
    board = Scoreboard(parse_competition(TOML), store, clock=NOW.timestamp)
    figures = collect(board)
    assert (figures.baseline["period_start"], figures.baseline["period_end"]) == (
        "2011-02-01",
        "2011-02-28",
    )
    rows = dict(method_rows(figures, "en"))
    assert rows["Method"] == "same-weekday-mean"
    assert rows["How the baseline was built"] == same_weekday_mean.METHOD.summary["en"]


def test_wattleague_baseline_offers_it(registered, tmp_path):
    usage = ["timestamp,kwh"]
    t = datetime(2011, 2, 1, tzinfo=UTC)
    while t < datetime(2011, 3, 8, tzinfo=UTC):
        usage.append(f"{t.isoformat()},{2.0 if t < datetime(2011, 3, 1, tzinfo=UTC) else 1.5}")
        t += timedelta(hours=1)
    (tmp_path / "usage.csv").write_text("\n".join(usage) + "\n", "utf-8")
    args = ["baseline", "--usage", str(tmp_path / "usage.csv"), "--timezone", "UTC"]
    args += ["--baseline-start", "2011-02-01", "--baseline-end", "2011-02-28"]
    args += ["--report-start", "2011-03-01", "--report-end", "2011-03-07"]
    result = CliRunner().invoke(main, [*args, "--method", "same-weekday-mean"])
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.output.strip().splitlines()[1:]]
    assert [(observed, expected) for _, observed, expected in rows] == [("36.000", "48.000")] * 7
