"""Savings summaries over HTTP: CSV and XLSX hold the API's figures, the PDF reads and renders
with its charts, the status e-mail compares the weeks, a site without data is said to be so."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from PIL import Image

from api.app import create_app
from ingest.store.base import Message
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import TZ, hourly_readings
from tests.reports.conftest import ACTION_TEXT, NOW, competition, pdf_text

BASE = "/api/competitions/liten"
# the leaderboard keys a summary's totals carry, with the columns of the CSV/XLSX totals
FIGURES = [
    ("saved_kwh", 6),
    ("reduction_pct", 7),
    ("uncertainty_pct_points", 8),
    ("uncertainty_kwh", 9),
    ("actual_kwh", 11),
    ("baseline_kwh", 12),
    ("kwh_per_m2", 13),
    ("saved_money", 15),
    ("saved_co2_kg", 16),
    ("completeness", 17),
    ("hours_matched", 18),
]


def _entries(client) -> dict[str, dict]:
    return {e["site"]: e for e in client.get(f"{BASE}/leaderboard").json()["entries"]}


def _csv_sections(body: bytes) -> list[list[list[str]]]:
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 byte-order mark for Excel"
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    blank = rows.index([])
    return [rows[:blank], rows[blank + 1 :]]


def test_competition_csv_equals_the_api(client):
    r = client.get(f"{BASE}/summary.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="liten-summary-sv.csv"'
    totals, daily = _csv_sections(r.content)
    entries = _entries(client)
    by_site = {row[2]: row for row in totals[1:-1]}
    assert set(by_site) == {"alfa", "beta", "gamma"}
    for sid, e in entries.items():
        row = by_site[sid]
        assert row[3] == e["name"] and row[4] == e["municipality"]
        assert row[0] == (str(e["rank"]) if e["rank"] else "")
        for key, col in FIGURES:
            assert (float(row[col]) if row[col] else None) == e[key], (sid, key)
    assert by_site["gamma"][3] == "Söderhamns kommunhus"
    assert by_site["alfa"][6] == "672.0"  # 336 h x (10 - 8) kW, shown with the API's digit
    last = totals[-1]
    assert last[3] == "Hela tävlingen"
    assert float(last[6]) == round(entries["alfa"]["saved_kwh"] + entries["beta"]["saved_kwh"], 1)
    # daily values: the API's day series
    series = client.get(f"{BASE}/sites/beta/series?resolution=day").json()["series"]
    beta_days = [row for row in daily[1:] if row[0] == "beta"]
    assert [(d[1], float(d[2]), float(d[3])) for d in beta_days] == [
        (s["start"][:10], s["actual_kwh"], s["baseline_kwh"]) for s in series
    ]


def test_site_xlsx_equals_the_api(client):
    r = client.get(f"{BASE}/sites/alfa/summary.xlsx?lang=en")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="liten-alfa-summary-en.xlsx"' in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["Totals", "Daily", "Method"]
    rows = list(wb["Totals"].iter_rows(values_only=True))
    assert len(rows) == 2  # header and the one site
    e = _entries(client)["alfa"]
    for key, col in FIGURES:
        assert rows[1][col] == e[key], key
    assert rows[1][3] == "Älvdalens kommunhus"
    days = list(wb["Daily"].iter_rows(values_only=True))[1:]
    series = client.get(f"{BASE}/sites/alfa/series?resolution=day").json()["series"]
    assert [(d[1], d[2], d[3]) for d in days] == [
        (s["start"][:10], s["actual_kwh"], s["baseline_kwh"]) for s in series
    ]
    method = dict(list(wb["Method"].iter_rows(values_only=True))[1:])
    assert method["Method"] == "previous-year"
    assert method["Baseline period"].startswith("2010-03-")
    assert method["Confidence level"] == "90 %"


def test_site_pdf_text_holds_the_figures(client, tmp_path):
    r = client.get(f"{BASE}/sites/alfa/summary.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    text = pdf_text(r.content, tmp_path)
    e = _entries(client)["alfa"]
    assert "Energibesparing – Älvdalens kommunhus" in text
    assert "Älvdalens kommun" in text
    # the API's figures with a Swedish decimal comma
    sv = lambda v, d: f"{v:.{d}f}".replace(".", ",")  # noqa: E731
    assert f"{sv(e['saved_kwh'], 1)} kWh" in text
    assert f"{sv(e['reduction_pct'], 2)} %" in text
    assert f"{sv(e['kwh_per_m2'], 3)} kWh/m²" in text
    assert f"{sv(e['saved_money'], 2)} SEK" in text
    assert f"± {sv(e['uncertainty_pct_points'], 2)} procentenheter" in text
    assert "90 % konfidens" in text
    n = client.get(f"{BASE}/sites/alfa").json()["sites_ranked"]
    assert n == 2 and f"Placering: {e['rank']} av {n}" in text  # gamma has no data
    assert ACTION_TEXT in text
    assert "Så byggdes baslinjen" in text and "2010-03-" in text


def test_english_pdf_uses_decimal_points(client, tmp_path):
    r = client.get(f"{BASE}/sites/beta/summary.pdf?lang=en")
    text = pdf_text(r.content, tmp_path)
    e = _entries(client)["beta"]
    assert "Energy savings – Piteå kommunhus" in text
    assert f"{e['saved_kwh']:.1f} kWh" in text
    assert f"{e['reduction_pct']:.2f} %" in text
    assert "How the baseline was built" in text


def _pages(pdf: bytes, tmp_path) -> list[np.ndarray]:
    (tmp_path / "r.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(tmp_path / "r.pdf"), str(tmp_path / "page")],
        check=True,
    )
    files = sorted(tmp_path.glob("page-*.png"))
    return [np.asarray(Image.open(f).convert("RGB")).astype(int) for f in files]


def _count(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> int:
    return int((np.abs(img - np.array(rgb)).sum(axis=2) < tol).sum())


def test_pdf_pages_render_with_charts(client, tmp_path):
    pages = _pages(client.get(f"{BASE}/summary.pdf").content, tmp_path)
    assert len(pages) >= 4  # the overview and at least one page per site
    for img in pages:
        assert (img < 128).any(), "a page with no dark pixel (no text) is blank"
    # each data site's first page holds the green actual bars and the blue rank line
    charted = [p for p in pages if _count(p, (0x2E, 0x7D, 0x32)) > 200]
    assert len(charted) >= 2
    assert all(_count(p, (0x15, 0x65, 0xC0)) > 5 for p in charted)


def test_competition_pdf_gives_the_total_with_its_uncertainty(client, tmp_path):
    entries = client.get(f"{BASE}/leaderboard").json()["entries"]
    parts = [e["uncertainty_kwh"] for e in entries if e["hours_matched"] and e["uncertainty_kwh"]]
    assert parts, "the fixture's sites have an uncertainty"
    total = round(sum(u * u for u in parts) ** 0.5, 1)
    text = " ".join(pdf_text(client.get(f"{BASE}/summary.pdf?lang=en").content, tmp_path).split())
    assert f"(± {total:.1f} kWh) at 90 % confidence (the sites' uncertainties added" in text


def test_site_without_data_says_so(client, tmp_path):
    for fmt in ("pdf", "csv", "xlsx"):
        assert client.get(f"{BASE}/sites/gamma/summary.{fmt}").status_code == 200
    text = pdf_text(client.get(f"{BASE}/sites/gamma/summary.pdf").content, tmp_path)
    assert "Söderhamns kommunhus" in text
    assert "Inga mätvärden har kommit in för Söderhamns kommunhus" in text
    assert "gamma-main" in text  # which meter to check
    totals, _ = _csv_sections(client.get(f"{BASE}/sites/gamma/summary.csv").content)
    gamma = _entries(client)["gamma"]
    assert gamma["hours_matched"] == 0 and gamma["reduction_pct"] is None
    assert totals[1][7] == "" and totals[1][18] == "0"  # as the API: no reduction, no hours
    assert "0,0 kWh" not in text  # a sum over no hours is not a measured zero
    assert "Förbrukning –, Baslinje –." in text
    mail = client.get(f"{BASE}/sites/gamma/status-email?format=txt").text
    assert "Inga mätvärden har kommit in för Söderhamns kommunhus denna vecka" in mail


def test_status_email_this_week_against_last(client):
    r = client.get(f"{BASE}/sites/alfa/status-email")  # default: the last complete week
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "liten-alfa-status-2011-W10-sv.html" in r.headers["content-disposition"]
    html = r.text
    # week 10 (7 days x 24 h x 8 kW) against week 9 (from Tuesday 1 March: 6 days)
    assert "Lägesrapport vecka 10: Älvdalens kommunhus" in html
    for figure in ("1344,0 kWh", "1680,0 kWh", "1152,0 kWh", "1440,0 kWh", "20,00 %"):
        assert figure in html
    assert "Målet 10,0 % är nått" in html
    text = client.get(f"{BASE}/sites/alfa/status-email?format=txt&week=2011-W10&lang=en").text
    assert text.startswith("Status report week 10: Älvdalens kommunhus")
    assert "1344.0 kWh" in text and "1152.0 kWh" in text
    assert "2011-03-08: " + ACTION_TEXT in text  # the action taken that week


@pytest.mark.parametrize(
    ("path", "status", "needle"),
    [
        (f"{BASE}/summary.docx", 404, "use summary.csv"),
        (f"{BASE}/sites/alfa/summary.txt", 404, "use summary.csv"),
        ("/api/competitions/nope/summary.pdf", 404, "no competition"),
        (f"{BASE}/sites/zz/summary.pdf", 404, "no site 'zz'"),
        (f"{BASE}/summary.csv?lang=de", 400, "lang"),
        (f"{BASE}/sites/alfa/status-email?format=pdf", 400, "format"),
        (f"{BASE}/sites/alfa/status-email?week=2011-10", 400, "YYYY-Www"),
        (f"{BASE}/sites/alfa/status-email?week=2011-W53", 400, "does not exist"),
        (f"{BASE}/sites/alfa/status-email?week=2011-W30", 400, "outside the competition"),
        (f"{BASE}/sites/alfa/status-email?week=2011-W13", 400, "not begun"),
        (f"{BASE}/sites/zz/status-email", 404, "no site"),
    ],
)
def test_bad_requests_are_4xx_json(client, path, status, needle):
    r = client.get(path)
    assert r.status_code == status
    assert needle in r.json()["error"]["message"]


def test_site_with_a_gap_is_reported_incomplete(tmp_path):
    """beta's meter stops on 5 March: 4 of 14 days, too few hours to be ranked."""
    s = SQLiteStore(tmp_path / "gap.db")
    for first, last, kw in (
        (datetime(2010, 3, 2), datetime(2010, 3, 31), 5.0),
        (datetime(2011, 3, 1), datetime(2011, 3, 5), 4.5),
    ):
        readings = hourly_readings(
            "beta-main", first.replace(tzinfo=TZ), last.replace(tzinfo=TZ), kw
        )
        s.write([Message("seed", 0, "test", readings)])
    with TestClient(create_app([competition()], s, clock=NOW.timestamp)) as c:
        entry = _entries(c)["beta"]
        assert not entry["eligible"] and 0 < entry["completeness"] < 0.9
        text = pdf_text(c.get(f"{BASE}/sites/beta/summary.pdf").content, tmp_path)
        shown = f"{100 * entry['completeness']:.1f}".replace(".", ",")
        assert f"Data saknas: bara {shown} % av de timmar som gått" in text
        assert f"({entry['hours_matched']} av 336)" in text
        mail = c.get(f"{BASE}/sites/beta/status-email?format=txt&week=2011-W10").text
        assert "Inga mätvärden har kommit in för Piteå kommunhus denna vecka" in mail
        assert "96 av 144" in mail  # last week: 1-4 March (the last reading at 5 March 00:00)
    s.close()
