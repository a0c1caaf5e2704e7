"""A seeded competition for the report tests: two town halls with two weeks of readings and
one (gamma, "Söderhamns kommunhus") whose meter never sent anything."""

from __future__ import annotations

import subprocess
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from scoring.competition_file import parse_competition
from tests.fixtures import COMPETITION_TOML, LOADS_KW, TZ, hourly_readings

NOW = datetime(2011, 3, 15, 0, 0, tzinfo=TZ)  # a Tuesday: weeks 9 (6 days) and 10 complete
REPORT_TOML = COMPETITION_TOML.replace("Mora kommunhus", "Söderhamns kommunhus").replace(
    "Mora kommun", "Söderhamns kommun"
)
ACTION_TEXT = "Nattvandring: släckte ljuset i källarförrådet"


def competition():
    return parse_competition(REPORT_TOML, "liten.toml")


def seed_without_gamma(store, until: datetime = NOW) -> None:
    for meter_id in ("alfa-main", "beta-main"):
        base_kw, comp_kw = LOADS_KW[meter_id]
        readings = hourly_readings(
            meter_id, datetime(2010, 3, 2, tzinfo=TZ), datetime(2010, 3, 31, tzinfo=TZ), base_kw
        )
        readings += hourly_readings(
            meter_id, datetime(2011, 3, 1, tzinfo=TZ), until, comp_kw, register_kwh=50_000.0
        )
        store.write([Message("seed", 0, "test", readings)])


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "reports.db")
    seed_without_gamma(s)
    ts = datetime(2011, 3, 8, 12, 0, tzinfo=TZ)
    s.organiser.add_annotation("liten", "alfa", int(ts.timestamp() * 1000), ACTION_TEXT, "Åsa")
    yield s
    s.close()


@pytest.fixture
def client(store):
    app = create_app([competition()], store, clock=NOW.timestamp)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def pdf_text(pdf: bytes, tmp_path, name: str = "report.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
