"""Baseline fingerprints in the summaries: a last column of the CSV/XLSX totals and a row of
the PDF's "how the baseline was built", each the API's value."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.reports.conftest import pdf_text

BASE = "/api/competitions/liten"


def _prints(client) -> dict[str, str]:
    entries = client.get(f"{BASE}/leaderboard").json()["entries"]
    return {e["site"]: e["baseline_fingerprint"] for e in entries}


def test_csv_and_xlsx_totals_end_with_each_sites_fingerprint(client):
    prints = _prints(client)
    assert all(len(p) == 64 for p in prints.values())

    body = client.get(f"{BASE}/summary.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    totals = rows[: rows.index([])]
    assert totals[0][-1] == "Baslinjens fingeravtryck (SHA-256)"
    assert {row[2]: row[-1] for row in totals[1:-1]} == prints
    assert totals[-1][-1] == ""  # the competition's sums have no baseline of their own

    wb = load_workbook(io.BytesIO(client.get(f"{BASE}/summary.xlsx?lang=en").content))
    sheet = list(wb["Totals"].iter_rows(values_only=True))
    assert sheet[0][-1] == "Baseline fingerprint (SHA-256)"
    assert {row[2]: row[-1] for row in sheet[1:-1]} == prints
    assert sheet[-1][-1] is None


def test_pdfs_show_the_fingerprints_where_the_baseline_is_explained(client, tmp_path):
    prints = _prints(client)
    site = pdf_text(client.get(f"{BASE}/sites/alfa/summary.pdf?lang=en").content, tmp_path)
    method_part = site[site.index("How the baseline was built") :]
    assert "Baseline fingerprint (SHA-256)" in method_part
    assert prints["alfa"] in method_part and prints["beta"] not in site

    whole = pdf_text(client.get(f"{BASE}/summary.pdf").content, tmp_path, "whole.pdf")
    method_part = whole[whole.index("Så byggdes baslinjen") :]
    method_part = method_part[: method_part.index("Energibesparing")]  # the first site's page
    assert "Baslinjens fingeravtryck" in method_part  # its label may wrap
    for sid in ("alfa", "beta", "gamma"):  # each whole, on one line
        assert prints[sid] in method_part
    # the names are the labels: a row per site, in leaderboard order
    assert method_part.index("Piteå") < method_part.index(prints["beta"])
