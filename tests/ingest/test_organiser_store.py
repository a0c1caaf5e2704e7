"""The organiser part of both stores: annotations (actions a town hall took), site edits."""

from __future__ import annotations

from ingest.store.influx import InfluxStore
from ingest.store.sqlite import SQLiteStore


def test_annotations_round_trip_in_each_store(any_store):
    organiser = any_store.organiser
    first = organiser.add_annotation("c", "alfa", 1_299_500_000_000, "Nattvandring; lappar", "anna")
    second = organiser.add_annotation("c", "beta", 1_299_400_000_000, "Grenuttag med brytare", "bo")
    organiser.add_annotation("other", "alfa", 1_299_300_000_000, "x", "anna")
    assert [a["text"] for a in organiser.list_annotations("c")] == [
        "Grenuttag med brytare",
        "Nattvandring; lappar",
    ]  # in time order
    (alfa,) = organiser.list_annotations("c", "alfa")
    assert (alfa["id"], alfa["site"], alfa["ts_ms"], alfa["author"]) == (
        first,
        "alfa",
        1_299_500_000_000,
        "anna",
    )
    assert organiser.delete_annotation("c", second) is True
    assert organiser.delete_annotation("c", second) is False
    assert organiser.delete_annotation("other", first) is False  # another competition's id
    assert [a["id"] for a in organiser.list_annotations("c")] == [first]


def _check_edits(open_store):
    store = open_store()
    organiser = store.organiser
    assert organiser.site_edits("liten") == {}
    organiser.save_site_edit(
        "liten", "alfa", {"area_m2": 250.0, "name": "Älvdalens rådhus"}, "anna", 1
    )
    organiser.save_site_edit("liten", "alfa", {"area_m2": 300.0}, "bo", 2)
    organiser.save_site_edit("liten", "beta", {"target_pct": 12.5}, "anna", 3)
    organiser.save_site_edit("annan", "alfa", {"area_m2": 1.0}, "anna", 4)
    store.close()
    again = open_store()  # a restart: the edits are durable, the latest value per field wins
    assert again.organiser.site_edits("liten") == {
        "alfa": {"area_m2": 300.0, "name": "Älvdalens rådhus"},
        "beta": {"target_pct": 12.5},
    }
    again.close()


def test_sqlite_keeps_site_edits(tmp_path):
    _check_edits(lambda: SQLiteStore(tmp_path / "edits.db"))


def test_influx_keeps_site_edits(influxd, influx_database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the store's local spool file goes here
    url = influxd.url(influx_database())
    _check_edits(lambda: InfluxStore(url))
