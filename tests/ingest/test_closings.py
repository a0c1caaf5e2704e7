"""Closed competitions in both stores: a results bundle is kept once, comes back as it went in
(a bundle of a few MB too, in parts on InfluxDB), and a bundle changed in the store is an
error, never served."""

from __future__ import annotations

import os
import sqlite3
import zlib

import pytest

from ingest.store import open_store
from ingest.store.closing import AlreadyClosed, ClosingDamaged, bundle_sha256
from ingest.store.influx import InfluxStore
from ingest.store.influx_blob import PART_CHARS
from ingest.store.sqlite import SQLiteStore

CLOSED_MS = 1_306_886_400_000  # 2011-06-01
MANIFEST = "9f" * 32


def _bundle(extra: int = 0) -> dict:
    return {
        "competition": {"id": "kommunhus-2011", "name": "Energispartävling för kommunhus"},
        "leaderboard": [
            {"rank": 1, "site": "soderhamn", "reduction_pct": 10.0, "uncertainty_pct": 0.4},
            {"rank": 2, "site": "bollnas", "reduction_pct": 9.25, "saved_kwh": None},
        ],
        "fingerprints": {"soderhamn": "ab" * 32},
        # random text does not compress: a bundle this large needs many parts on InfluxDB
        "padding": os.urandom(extra).hex() if extra else "",
    }


def test_a_competition_is_closed_once(store_url):
    store = open_store(store_url)
    try:
        organiser = store.organiser
        assert organiser.closing("kommunhus-2011") is None
        organiser.close_competition("kommunhus-2011", CLOSED_MS, "cli:anna", _bundle(), MANIFEST)
        closing = organiser.closing("kommunhus-2011")
        assert (closing.competition, closing.closed_ms, closing.who) == (
            "kommunhus-2011",
            CLOSED_MS,
            "cli:anna",
        )
        assert closing.bundle == _bundle() and closing.manifest_sha256 == MANIFEST
        with pytest.raises(AlreadyClosed, match=r"closed at 1306886400000 .* by cli:anna"):
            organiser.close_competition("kommunhus-2011", CLOSED_MS + 1, "bo", {}, MANIFEST)
        assert organiser.closing("annan") is None
        organiser.close_competition("annan", CLOSED_MS, "serve", {"a": 1}, MANIFEST)
    finally:
        store.close()
    store = open_store(store_url)  # a restart: still closed, with the first bundle
    try:
        assert store.organiser.closing("kommunhus-2011").bundle == _bundle()
        assert store.organiser.closing("annan").bundle == {"a": 1}
    finally:
        store.close()


@pytest.mark.parametrize(
    ("bundle", "manifest", "message"),
    [
        ({"x": float("nan")}, MANIFEST, "JSON value"),
        ([1, 2], MANIFEST, "JSON object"),
        ({}, "ABC", "64 lower-case hex digits"),
    ],
)
def test_a_closing_the_store_cannot_keep_is_refused(any_store, bundle, manifest, message):
    with pytest.raises(ValueError, match=message):
        any_store.organiser.close_competition("c", CLOSED_MS, "anna", bundle, manifest)
    assert any_store.organiser.closing("c") is None


def test_a_large_bundle_round_trips_on_influx(influxd, influx_database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    try:
        bundle = _bundle(extra=1_500_000)  # 3 MB of JSON
        store.organiser.close_competition("kommunhus-2011", CLOSED_MS, "anna", bundle, MANIFEST)
        # hex compresses to half: still about 2 MB of base64, in parts of PART_CHARS
        assert influxd.count_points(db, "closing_part") > 1_500_000 // PART_CHARS
        back = store.organiser.closing("kommunhus-2011")
        assert back.bundle == bundle
        assert bundle_sha256(back.bundle) == bundle_sha256(bundle)
    finally:
        store.close()


def test_influx_refuses_a_bundle_changed_in_the_store(
    influxd, influx_database, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    db = influx_database()
    store = InfluxStore(influxd.url(db))
    try:
        store.organiser.close_competition("c", CLOSED_MS, "anna", _bundle(200_000), MANIFEST)
        first_part_ns = CLOSED_MS * 1_000_000
        (result,) = influxd.query(
            db, f'SELECT "data" FROM "closing_part" WHERE time = {first_part_ns}', epoch="ns"
        )
        data = result["series"][0]["values"][0][1]
        forged = data[:100] + ("A" if data[100] != "A" else "B") + data[101:]
        line = f'closing_part,competition=c data="{forged}" {first_part_ns}'
        assert influxd.write_lines(db, line, precision="ns").status_code == 204
        with pytest.raises(ClosingDamaged, match=r"'c'.*changed in the store"):
            store.organiser.closing("c")
        influxd.query(db, f'DELETE FROM "closing_part" WHERE time = {first_part_ns + 1}')
        with pytest.raises(ClosingDamaged, match="parts are stored"):
            store.organiser.closing("c")
    finally:
        store.close()


def test_sqlite_keeps_a_closing_as_it_was_stored(tmp_path):
    path = tmp_path / "closed.db"
    store = SQLiteStore(path)
    try:
        store.organiser.close_competition("c", CLOSED_MS, "anna", _bundle(), MANIFEST)
        conn = sqlite3.connect(path, isolation_level=None)
        for sql in ("UPDATE closing SET who = 'bo'", "DELETE FROM closing"):
            with pytest.raises(sqlite3.IntegrityError, match="frozen"):
                conn.execute(sql)
        conn.execute("DROP TRIGGER closing_no_update")  # what an administrator can do
        forged = dict(_bundle(), leaderboard=[])
        packed = zlib.compress(str(forged).encode())
        conn.execute("UPDATE closing SET bundle_zlib = ?", (packed,))
        conn.close()
        with pytest.raises(ClosingDamaged, match="does not match its SHA-256"):
            store.organiser.closing("c")
    finally:
        store.close()
