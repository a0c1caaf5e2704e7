"""Annotations (actions a town hall took) in both stores."""

from __future__ import annotations


def test_annotations_round_trip_in_each_store(any_store):
    first = any_store.add_annotation("c", "alfa", 1_299_500_000_000, "Nattvandring; lappar", "anna")
    second = any_store.add_annotation("c", "beta", 1_299_400_000_000, "Grenuttag med brytare", "bo")
    any_store.add_annotation("other", "alfa", 1_299_300_000_000, "x", "anna")
    assert [a["text"] for a in any_store.list_annotations("c")] == [
        "Grenuttag med brytare",
        "Nattvandring; lappar",
    ]  # in time order
    (alfa,) = any_store.list_annotations("c", "alfa")
    assert (alfa["id"], alfa["site"], alfa["ts_ms"], alfa["author"]) == (
        first,
        "alfa",
        1_299_500_000_000,
        "anna",
    )
    assert any_store.delete_annotation("c", second) is True
    assert any_store.delete_annotation("c", second) is False
    assert any_store.delete_annotation("other", first) is False  # another competition's id
    assert [a["id"] for a in any_store.list_annotations("c")] == [first]
