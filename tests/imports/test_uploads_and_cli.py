"""Uploads through the API (token) and `wattleague import` on the command line."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import TokenSet, hash_token
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import COMPETITION_TOML, NOW, TZ, competition
from tests.imports.grid_files import grid_csv, hourly_export
from wattleague.cli import main

TOKEN = "import-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WEEK = (datetime(2010, 3, 2, tzinfo=TZ), datetime(2010, 3, 9, tzinfo=TZ))


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "up.db")
    yield s
    s.close()


def _client(store):
    app = create_app(
        [competition()], store, clock=NOW.timestamp, tokens=TokenSet({"o": hash_token(TOKEN)})
    )
    return TestClient(app, raise_server_exceptions=False)


def test_upload_needs_a_token_and_stores_nothing_without_one(store):
    client = _client(store)
    url = "/api/competitions/liten/imports/consumption?meter=alfa-main"
    r = client.post(url, content=hourly_export(*WEEK, 10.0))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert store.count_readings() == 0
    r = client.post(url, content=hourly_export(*WEEK, 10.0), headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["meter"] == "alfa-main" and body["stored"] == 7 * 24 and body["rejected"] == []
    assert body["span"]["first_utc"] == "2010-03-01T23:00:00Z"
    again = client.post(url, content=hourly_export(*WEEK, 10.0), headers=AUTH).json()
    assert (again["stored"], again["duplicates"]) == (0, 7 * 24)


@pytest.mark.parametrize(
    ("url", "body", "status", "code"),
    [
        ("/api/competitions/nope/imports/consumption?meter=alfa-main", b"x", 404, "not_found"),
        ("/api/competitions/liten/imports/consumption?meter=nope", b"x", 404, "not_found"),
        ("/api/competitions/liten/imports/consumption?meter=alfa-main", b"", 400, "bad_request"),
        (
            "/api/competitions/liten/imports/consumption?meter=alfa-main",
            b"just;some\ntext;here\n",
            400,
            "unreadable_file",
        ),
        ("/api/competitions/liten/imports/weather", b"Datum;x\n", 400, "bad_request"),
    ],
)
def test_bad_uploads_are_4xx_json(store, url, body, status, code):
    r = _client(store).post(url, content=body, headers=AUTH)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_dry_run_upload_stores_nothing(store):
    url = "/api/competitions/liten/imports/consumption?meter=alfa-main&dry_run=true"
    body = _client(store).post(url, content=hourly_export(*WEEK, 10.0), headers=AUTH).json()
    assert body["dry_run"] is True and body["new"] == 7 * 24 and body["stored"] == 0
    assert store.count_readings() == 0


def test_cli_reports_rejected_rows_as_file_line_and_keeps_neighbours(tmp_path):
    config = tmp_path / "liten.toml"
    # the command runs now: a competition that has not started, whose baselines are not locked
    # (tests/imports/test_baseline_change.py imports into a locked one)
    config.write_text(COMPETITION_TOML.replace("2011-03", "2099-03"), "utf-8")
    rows = [(datetime(2010, 3, 2, h), datetime(2010, 3, 2, h + 1), 10.0) for h in range(0, 6)]
    data = grid_csv(rows).decode("utf-8").replace("10,000", "tio", 1).encode("utf-8")
    path = tmp_path / "ellevio.csv"
    path.write_bytes(data)
    store = f"sqlite:///{tmp_path}/cli.db"
    args = [
        "import",
        "consumption",
        "--config",
        str(config),
        "--meter",
        "alfa-main",
        "--store",
        store,
        str(path),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"{path}:5: 'tio' is not a number" in result.output
    assert "stored 5 new, 0 duplicates, 1 rejected" in result.output
    again = CliRunner().invoke(main, args)
    assert "stored 0 new, 5 duplicates" in again.output


def test_cli_fails_when_nothing_could_be_imported(tmp_path):
    config = tmp_path / "liten.toml"
    config.write_text(COMPETITION_TOML, "utf-8")
    path = tmp_path / "bad.csv"
    path.write_text("Från;Till;kWh\n2010-03-02 00:00;2010-03-02 01:00;\n", "utf-8")
    result = CliRunner().invoke(
        main,
        [
            "import",
            "consumption",
            "--config",
            str(config),
            "--meter",
            "alfa-main",
            "--store",
            f"sqlite:///{tmp_path}/x.db",
            str(path),
        ],
    )
    assert result.exit_code == 1
    assert f"{path}:2: no value" in result.output
