"""The SQLite store: idempotent writes, conflicts quarantined, reads by meter and time."""

from __future__ import annotations

import math
import multiprocessing
import time

import pytest

from ingest.store import StoreURLError, open_store
from ingest.store.base import Message, Rejected, StoredReading
from ingest.store.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "store.db")
    yield s
    s.close()


def _msg(*readings, topic="t", received_ms=1_000):
    return Message(topic, received_ms, "mqtt", [StoredReading(*r) for r in readings])


def test_same_reading_twice_is_one_row(store):
    first = store.write([_msg(("m1", 1000, 5.0, 100.0), ("m1", 2000, 6.0, None))])
    again = store.write([_msg(("m1", 1000, 5.0, 100.0))])
    assert (first.inserted, first.duplicates) == (2, 0)
    assert (again.inserted, again.duplicates, again.conflicts) == (0, 1, 0)
    assert store.count_readings() == 2
    assert store.quarantine_counts() == {}


def test_duplicates_within_one_batch_are_one_row(store):
    result = store.write([_msg(("m1", 1000, 5.0, None)), _msg(("m1", 1000, 5.0, None))])
    assert (result.inserted, result.duplicates) == (1, 1)


def test_contradicting_reading_is_quarantined_not_overwritten(store):
    store.write([_msg(("m1", 1000, 5.0, None))])
    result = store.write([_msg(("m1", 1000, 7.5, None), topic="meters/m1", received_ms=5)])
    assert (result.inserted, result.conflicts) == (0, 1)
    assert store.read_series(["m1"], 0, 10)["m1"].energy_kwh.tolist() == [5.0]
    (row,) = store.list_quarantine()
    assert row["reason"] == "conflicting_duplicate" and row["topic"] == "meters/m1"
    assert "energy_kwh=5.0" in row["detail"] and "energy_kwh=7.5" in row["detail"]


def test_rejected_messages_are_kept_with_reason_and_payload(store):
    msg = Message(
        "wattleague/x/y/z",
        42,
        "mqtt",
        rejected=[Rejected("undecodable", "not JSON", "wattleague/x/y/z", b"\xff", 42)],
    )
    assert store.write([msg]).quarantined == 1
    (row,) = store.list_quarantine(reason="undecodable")
    assert row["payload"] == b"\xff" and row["received_ms"] == 42
    assert store.quarantine_counts() == {"undecodable": 1}


def test_read_series_filters_meters_and_time_and_keeps_missing_values_as_nan(store):
    store.write(
        [
            _msg(
                ("m1", 1000, 5.0, None),
                ("m2", 1000, None, 300.0),
                ("m1", 3000, 6.0, 50.0),
                ("m1", 9000, 7.0, None),
            )
        ]
    )
    series = store.read_series(["m1", "m2", "m3"], 0.5, 5.0)
    assert set(series) == {"m1", "m2"}
    assert series["m1"].ts_s.tolist() == [1.0, 3.0]
    assert series["m1"].energy_kwh.tolist() == [5.0, 6.0]
    assert math.isnan(series["m1"].power_w[0]) and series["m1"].power_w[1] == 50.0
    assert math.isnan(series["m2"].energy_kwh[0])


def test_meter_state_keeps_the_latest_reading_even_when_older_ones_arrive_late(store):
    store.write([_msg(("m1", 5000, 9.0, 400.0), received_ms=6000)])
    store.write([_msg(("m1", 1000, 5.0, 100.0), received_ms=7000)])
    state = store.meter_states()["m1"]
    assert (state.last_ts_s, state.power_w, state.energy_kwh) == (5.0, 400.0, 9.0)


def test_change_token_changes_on_write_from_another_connection(tmp_path):
    writer = SQLiteStore(tmp_path / "shared.db")
    reader = SQLiteStore(tmp_path / "shared.db")
    before = reader.change_token()
    writer.write([_msg(("m1", 1000, 5.0, None))])
    assert reader.change_token() != before
    assert reader.count_readings() == 1
    writer.close()
    reader.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://{tmp}/abs.db", "{tmp}/abs.db"),  # tmp starts with "/": sqlite:///tmp/…
        ("sqlite:///{tmp}/abs4.db", "{tmp}/abs4.db"),  # the four-slash form: sqlite:////tmp/…
    ],
)
def test_store_urls(tmp_path, url, expected):
    store = open_store(url.format(tmp=tmp_path))
    assert store.path == expected.format(tmp=tmp_path)
    store.close()


def test_relative_store_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///./rel.db")
    assert store.path == "./rel.db" and (tmp_path / "rel.db").exists()
    store.close()


@pytest.mark.parametrize("url", ["postgres://x/y", "sqlite://", "wattleague.db"])
def test_bad_store_urls_say_what_is_accepted(url):
    with pytest.raises(StoreURLError, match="sqlite:///"):
        open_store(url)


def _open_at(path: str, start_s: float, results) -> None:
    while time.time() < start_s:  # every process opens the file at the same moment
        pass
    try:
        SQLiteStore(path).close()
        results.put("ok")
    except Exception as exc:  # the test reports whatever went wrong
        results.put(repr(exc))


def test_processes_opening_a_new_file_at_once_all_open_it(tmp_path):
    """Workers started together on a new file: switching it to WAL at the same moment made
    SQLite refuse some at once ("database is locked")."""
    ctx = multiprocessing.get_context("fork")
    for round_ in range(12):
        results = ctx.Queue()
        start_s = time.time() + 0.3
        path = str(tmp_path / f"new-{round_}.db")
        workers = [ctx.Process(target=_open_at, args=(path, start_s, results)) for _ in range(6)]
        for w in workers:
            w.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for w in workers:
            w.join(timeout=60)
        assert outcomes == ["ok"] * 6, f"round {round_}: {outcomes}"


def _synchronous(store: SQLiteStore) -> set[int]:
    """PRAGMA synchronous of the writer and of a reader connection (1 NORMAL, 2 FULL)."""
    return {c.execute("PRAGMA synchronous").fetchone()[0] for c in (store._writer, store._reader())}


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", {2}), ("?synchronous=full", {2}), ("?synchronous=NORMAL", {1})],
)
def test_the_store_url_chooses_how_commits_reach_the_disk(tmp_path, query, expected):
    # full by default: a commit (after which ingest acknowledges) is on disk before it returns
    store = open_store(f"sqlite:///{tmp_path}/s.db{query}")
    assert _synchronous(store) == expected
    store.write([_msg(("m1", 1000, 5.0, None))])
    assert store.count_readings() == 1
    store.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?synchronous=off", "synchronous='off' is not one of full, normal"),
        ("?synchronus=normal", "unknown option synchronus; a SQLite store URL takes"),
    ],
)
def test_a_bad_sqlite_option_says_what_is_accepted(tmp_path, query, message):
    with pytest.raises(StoreURLError, match=message):
        open_store(f"sqlite:///{tmp_path}/s.db{query}")
    assert not (tmp_path / "s.db").exists()
