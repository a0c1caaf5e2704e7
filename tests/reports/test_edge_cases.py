"""Summaries in the cases a municipality meets before and around the figures: a competition not
yet begun, a site whose meter reports but has no baseline, a competition with no figures yet,
and the parameters written the Swedish way."""

from __future__ import annotations

from datetime import datetime

from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import TZ, hourly_readings
from tests.reports.conftest import REPORT_TOML, competition, pdf_text, seed_without_gamma
from wattleague.cli import main

BASE = "/api/competitions/liten"
BEFORE = datetime(2011, 2, 20, tzinfo=TZ)  # nine days before the competition's first day


def _client(store, now: datetime) -> TestClient:
    return TestClient(create_app([competition()], store, clock=now.timestamp))


def test_before_the_start_the_reports_say_when_it_begins(tmp_path):
    s = SQLiteStore(tmp_path / "early.db")
    seed_without_gamma(s, until=BEFORE)
    with _client(s, BEFORE) as c:
        r = c.get(f"{BASE}/sites/alfa/status-email?format=txt")
        assert r.status_code == 200, r.text
        assert "Tävlingen börjar 2011-03-01" in r.text
        html = c.get(f"{BASE}/sites/alfa/status-email?lang=en").text
        assert "The competition begins on 2011-03-01" in html
        text = pdf_text(c.get(f"{BASE}/sites/alfa/summary.pdf").content, tmp_path)
        assert "Tävlingen har inte börjat: den börjar 2011-03-01" in text
        assert "Kontrollera mätaren" not in text  # the meter is fine: nothing has begun
        whole = pdf_text(c.get(f"{BASE}/summary.pdf").content, tmp_path, "whole.pdf")
        assert "Sparad energi: –; Minskning: –" in whole  # no total before any hour
        assert "0,0 kWh" not in whole
        # an explicit week that has not begun stays an error
        assert c.get(f"{BASE}/sites/alfa/status-email?week=2011-W09").status_code == 400
    s.close()


def test_cli_email_before_the_start_is_written(tmp_path):
    s = SQLiteStore(tmp_path / "store.db")
    seed_without_gamma(s, until=BEFORE)
    s.close()
    config = tmp_path / "liten.toml"
    config.write_text(REPORT_TOML, encoding="utf-8")
    r = CliRunner().invoke(
        main,
        [
            "report",
            "--competition",
            str(config),
            "--store",
            f"sqlite:///{tmp_path}/store.db",
            "--format",
            "email",
            "--site",
            "alfa",
            "--as-of",
            "2011-02-20T00:00+01:00",
            "--out",
            str(tmp_path / "mail"),
        ],
    )
    assert r.exit_code == 0, r.output
    written = (tmp_path / "mail" / "liten-alfa-status-2011-W09-sv.txt").read_text("utf-8")
    assert "Tävlingen börjar 2011-03-01" in written


def test_site_with_readings_but_no_baseline_says_the_baseline_is_missing(tmp_path):
    """gamma's meter was installed for the competition: readings, but no year-earlier history."""
    s = SQLiteStore(tmp_path / "new-meter.db")
    now = datetime(2011, 3, 15, tzinfo=TZ)
    seed_without_gamma(s, until=now)
    readings = hourly_readings("gamma-main", datetime(2011, 3, 1, tzinfo=TZ), now, 19.0)
    s.write([Message("seed", 0, "test", readings)])
    with _client(s, now) as c:
        text = pdf_text(c.get(f"{BASE}/sites/gamma/summary.pdf").content, tmp_path)
        assert "Baslinje saknas" in text
        assert "det finns inga mätvärden från baslinjeperioden" in text
        assert "Data saknas: bara 0,0 %" not in text  # the readings are there
        en = pdf_text(c.get(f"{BASE}/sites/gamma/summary.pdf?lang=en").content, tmp_path, "e.pdf")
        assert "No baseline, so no saving can be computed" in en
    s.close()


def test_swedish_parameters_have_a_decimal_comma(client, tmp_path):
    text = pdf_text(client.get(f"{BASE}/sites/alfa/summary.pdf").content, tmp_path)
    assert "1,2 SEK/kWh" in text and "1.2 SEK/kWh" not in text
    en = pdf_text(client.get(f"{BASE}/sites/alfa/summary.pdf?lang=en").content, tmp_path, "e.pdf")
    assert "1.2 SEK/kWh" in en
