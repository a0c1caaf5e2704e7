"""Bills through `import_consumption`: how their periods are named and overlaps refused."""

from __future__ import annotations

from datetime import datetime

import pytest

from ingest.imports.billing import parse_bills
from ingest.imports.consumption import import_consumption
from ingest.store.sqlite import SQLiteStore
from tests.fixtures import TZ


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "bills.db")
    yield s
    s.close()


def _bills(lines: list[str], name: str = "bills.csv"):
    text = "\r\n".join(["Faktura;Bollnäs kommunhus", *lines]) + "\r\n"
    return parse_bills(text.encode("cp1252"), name, TZ)


MONTHLY = ["Från;Till;kWh"] + [
    f"2010-{m:02d}-01;2010-{m:02d}-{d};{30000 + m} " for m, d in ((1, 31), (2, 28), (3, 31))
]


def test_monthly_bills_report_their_resolution_in_words(store):
    report = import_consumption(store, "b", [_bills(MONTHLY)], billing=True, dry_run=True)
    assert report["rejected"] == [] and report["resolution"] == "month"
    bimonthly = _bills(["Från;Till;kWh", "2010-01-01;2010-02-28;61 000", "2010-03-01;2010-04-30;9"])
    report = import_consumption(store, "b", [bimonthly], billing=True, dry_run=True)
    assert report["resolution"] == "two months"


def test_a_bill_overlapping_a_stored_bill_of_other_dates_is_refused(store):
    first = import_consumption(store, "b", [_bills(MONTHLY)], billing=True)
    assert first["stored"] == 3
    other = _bills(["Från;Till;kWh", "2010-01-01;2010-02-28;61 000", "2010-04-01;2010-04-30;9"])
    report = import_consumption(store, "b", [other], billing=True)
    assert [r["line"] for r in report["rejected"]] == [3]
    assert "overlaps a stored period" in report["rejected"][0]["reason"]
    assert report["stored"] == 1
    bills = store.read_bills(["b"])["b"]
    assert bills.shape == (4, 3)
    assert bills[:, 0].tolist()[-1] == datetime(2010, 4, 1, tzinfo=TZ).timestamp()
