"""Baseline fits kept between restarts (``api.fit_cache``): a fresh scoreboard reads no history
when the store's change log says nothing in the window changed, and otherwise reads it and
reuses the fits whose fingerprints match; a change of the history (from another process too, or
a store restored from a backup) is seen, and a hostile or foreign cache file is never used."""

from __future__ import annotations

import dataclasses
import os
import pickle
from datetime import datetime, timedelta

import pytest

import api.scoreboard as scoreboard_module
from api.fit_cache import FitCache, fit_cache_at, inputs_key
from api.scoreboard import Scoreboard
from ingest.store import open_store
from ingest.store.base import Message, StoredReading, StoredTemperature
from scoring import baselines
from tests.fixtures import LOADS_KW, NOW, TZ, competition, seed


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now_s = now.timestamp()

    def __call__(self) -> float:
        return self.now_s


class Counts:
    """How often the scoreboards fitted previous-year, and read hours before the start."""

    def __init__(self) -> None:
        self.fits = 0
        self.history_reads = 0


@pytest.fixture
def counts(monkeypatch) -> Counts:
    seen = Counts()
    method = baselines.METHODS["previous-year"]

    def counting_fit(history, period):
        seen.fits += 1
        return method.fit(history, period)

    monkeypatch.setitem(
        baselines.METHODS, "previous-year", dataclasses.replace(method, fit=counting_fit)
    )
    start_s = datetime(2011, 3, 1, tzinfo=TZ).timestamp()
    real_site_hours = scoreboard_module.site_hours

    def counting_site_hours(store, meters, grid, **kwargs):
        if grid.size and grid[0] < start_s:
            seen.history_reads += 1
        return real_site_hours(store, meters, grid, **kwargs)

    monkeypatch.setattr(scoreboard_module, "site_hours", counting_site_hours)
    return seen


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _late_history_reading(store) -> None:
    """An hour more of beta's history (a late upload, an accepted held reading)."""
    last = datetime(2010, 3, 31, tzinfo=TZ)
    series = store.read_series(["beta-main"], last.timestamp(), last.timestamp() + 1)
    register_kwh = float(series["beta-main"].energy_kwh[-1])
    t = last + timedelta(hours=1)
    reading = StoredReading("beta-main", _ms(t), register_kwh + LOADS_KW["beta-main"][0], None)
    store.write([Message("late", _ms(NOW), "test", [reading])])


def _board(store, cache: FitCache, clock: Clock | None = None) -> Scoreboard:
    return Scoreboard(competition(), store, clock=clock or Clock(NOW), fit_cache=cache)


def _entries(board: Scoreboard) -> list[dict]:
    return board.leaderboard()["entries"]


def test_sqlite_a_restart_reads_no_history_and_a_change_refits_only_that_method(tmp_path, counts):
    store = open_store(f"sqlite:///{tmp_path}/kept.db")
    cache = FitCache(tmp_path / "cache" / "fits")
    try:
        seed(store)
        first = _entries(_board(store, cache))
        assert counts.fits == 1
        (kept,) = cache.directory.glob("fits-*.pickle")
        assert kept.stat().st_mode & 0o777 == 0o600

        again = _entries(_board(store, cache))  # a restart
        assert again == first
        assert counts.fits == 1  # the kept fit
        assert counts.history_reads == 1  # the store's change log: nothing changed there

        _late_history_reading(store)
        changed = _entries(_board(store, cache))
        assert counts.fits == 2
        prints = {e["site"]: e["baseline_fingerprint"] for e in changed}
        before = {e["site"]: e["baseline_fingerprint"] for e in first}
        assert prints["beta"] != before["beta"] and prints["alfa"] == before["alfa"]
    finally:
        store.close()


def test_influxdb_a_restart_reads_no_history_and_sees_another_processs_change(
    tmp_path, counts, influxd, influx_database
):
    db = influx_database()
    cache = FitCache(tmp_path / "fits")
    # two serve processes' stores (each has its own spool)
    one, two = open_store(influxd.url(db, owner="one")), open_store(influxd.url(db, owner="two"))
    try:
        seed(one)
        board_one = _board(one, cache)
        first = _entries(board_one)
        assert (counts.fits, counts.history_reads) == (1, 1)

        clock_two = Clock(NOW)
        board_two = _board(two, cache, clock_two)  # a second serve (or a restart)
        assert _entries(board_two) == first
        assert (counts.fits, counts.history_reads) == (1, 1)  # nothing of the history read

        # the second process stores an hour more of beta's history
        _late_history_reading(two)
        two.change_token()  # its change marker is posted (it goes within a second anyway)
        board_one.clock.now_s += 60.0
        clock_two.now_s += 60.0
        seen_one, seen_two = _entries(board_one), _entries(board_two)
        assert seen_one == seen_two  # both processes give the same leaderboard
        beta = next(e for e in seen_one if e["site"] == "beta")
        beta_before = next(e for e in first if e["site"] == "beta")
        assert beta["baseline_fingerprint"] != beta_before["baseline_fingerprint"]
        assert counts.history_reads == 3  # each process read it again, at once

        restarted = _entries(_board(one, cache, Clock(NOW + timedelta(minutes=1))))
        assert restarted == seen_one
        assert counts.history_reads == 3  # the kept fits are current again
    finally:
        one.close()
        two.close()


def test_write_marks_say_where_a_write_changed_temperatures_and_readings_too(store_url):
    store = open_store(store_url)
    try:
        seed(store, until=NOW - timedelta(days=1))
        mark = store.write_mark()
        assert mark is not None and mark[0] > 0
        assert store.changed_since_mark(mark) == float("inf")
        t = datetime(2010, 6, 5, 12, 30, tzinfo=TZ)
        store.write(
            [Message("t", 0, "test", temperatures=[StoredTemperature("station", _ms(t), 30.0)])]
        )
        assert store.changed_since_mark(mark) == pytest.approx(t.timestamp())
        later = store.write_mark()
        assert later[0] > mark[0] and store.changed_since_mark(later) == float("inf")
        # a late reading of the history: from its tail's hour
        _late_history_reading(store)
        since = store.changed_since_mark(later)
        assert since == pytest.approx(datetime(2010, 3, 31, tzinfo=TZ).timestamp())
        latest = store.write_mark()
        store.write_bills("alfa-main", [(_ms(t), _ms(t + timedelta(days=30)), 900.0)])
        assert store.changed_since_mark(latest) is None  # a bill import does not say where
        latest = store.write_mark()
        store.delete_readings("alfa-main", _ms(NOW - timedelta(days=3)), _ms(NOW))
        since = store.changed_since_mark(latest)
        assert since is None or since <= (NOW - timedelta(days=3)).timestamp()
        assert store.changed_since_mark((latest[0], latest[1] ^ 1)) is None  # not that record
    finally:
        store.close()


def test_sqlite_a_store_restored_from_a_backup_is_not_taken_for_the_same(tmp_path, counts):
    path = tmp_path / "live.db"
    store = open_store(f"sqlite:///{path}")
    seed(store, until=NOW - timedelta(days=2))
    store.close()
    backup = tmp_path / "backup.db"
    backup.write_bytes(path.read_bytes())  # closed: the file is the whole database
    cache = FitCache(tmp_path / "fits")
    store = open_store(f"sqlite:///{path}")
    try:
        _late_history_reading(store)  # after the backup
        changed = _entries(_board(store, cache))
    finally:
        store.close()
    restored_path = tmp_path / "restored.db"  # the backup restored (as a new file: this
    restored_path.write_bytes(backup.read_bytes())  # process may still hold the old one open)
    store = open_store(f"sqlite:///{restored_path}")
    try:
        reads = counts.history_reads
        restored = _entries(_board(store, cache))
        assert counts.history_reads == reads + 1  # read again, not taken from the kept fits
        beta = [next(e for e in b if e["site"] == "beta") for b in (changed, restored)]
        assert beta[0]["baseline_fingerprint"] != beta[1]["baseline_fingerprint"]
    finally:
        store.close()


def test_a_hostile_or_foreign_cache_file_is_never_used(tmp_path, caplog):
    cache = FitCache(tmp_path / "fits")
    key = inputs_key(competition())
    cache.directory.mkdir(mode=0o700)
    path = cache._file("fits", "liten", key)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path.write_bytes(pickle.dumps({"format": "wattleague-fits/1", "key": key, "x": Payload()}))
    path.chmod(0o600)
    assert cache.load("liten", key) is None
    assert not marker.exists()
    assert "may not hold" in caplog.text

    store_cache = FitCache(tmp_path / "other")
    store_cache.directory.mkdir(mode=0o700)
    good = store_cache._file("fits", "liten", key)
    good.write_bytes(
        pickle.dumps({"format": "wattleague-fits/1", "key": key, "fits": {}, "mark": 1})
    )
    good.chmod(0o600)
    assert store_cache.load("liten", key).mark == 1
    good.chmod(0o620)  # another user could have written it
    assert store_cache.load("liten", key) is None
    assert "not this user's alone" in caplog.text
    good.chmod(0o600)
    assert store_cache.load("liten", "0" * 64) is None  # another competition file's key


def test_the_key_changes_with_what_the_fits_depend_on():
    comp = competition()
    key = inputs_key(comp)
    assert inputs_key(competition()) == key
    site = comp.sites[0]
    meter = site.meters[0].model_copy(update={"id": "alfa-new"})
    moved = comp.model_copy(
        update={"sites": [site.model_copy(update={"meters": [meter]}), *comp.sites[1:]]}
    )
    assert inputs_key(moved) != key
    area = comp.model_copy(
        update={"sites": [site.model_copy(update={"area_m2": 2.0}), *comp.sites[1:]]}
    )
    assert inputs_key(area) == key  # an area edit leaves the fits as they are


def test_the_cache_dir_setting(tmp_path, monkeypatch):
    assert fit_cache_at("off") is None
    assert fit_cache_at(str(tmp_path)).directory == tmp_path / "fits"
    monkeypatch.setenv("CACHE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert fit_cache_at("").directory == tmp_path / "a" / "fits"
    monkeypatch.delenv("CACHE_DIRECTORY")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fit_cache_at("").directory == tmp_path / "home" / ".cache" / "wattleague" / "fits"


def test_an_unwritable_cache_folder_only_costs_the_keeping(tmp_path, caplog, counts):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    store = open_store(f"sqlite:///{tmp_path}/kept.db")
    try:
        seed(store)
        entries = _entries(_board(store, FitCache(blocked / "fits")))
        assert len(entries) == 3 and counts.fits == 1
        assert "baseline fits not kept" in caplog.text
    finally:
        store.close()


def test_a_restart_reads_only_the_period_hours_changed_since_the_last_full_read(
    store_url, tmp_path, counts, monkeypatch
):
    store = open_store(store_url)
    cache = FitCache(tmp_path / "fits")
    start_s = datetime(2011, 3, 1, tzinfo=TZ).timestamp()
    period_reads: list[float] = []
    real_site_hours = scoreboard_module.site_hours

    def recording(store_, meters, grid, **kwargs):
        if grid.size and grid[0] >= start_s:
            period_reads.append(float(grid[0]))
        return real_site_hours(store_, meters, grid, **kwargs)

    monkeypatch.setattr(scoreboard_module, "site_hours", recording)
    try:
        seed(store)
        first = _entries(_board(store, cache))
        assert period_reads == [start_s]  # the whole period, and it is kept
        (kept,) = cache.directory.glob("period-*.npz")
        assert kept.stat().st_mode & 0o777 == 0o600

        period_reads.clear()
        assert _entries(_board(store, cache)) == first  # a restart
        assert period_reads and min(period_reads) >= NOW.timestamp() - 3600  # its last hour

        # another process stores a late reading inside the period, two days back
        late = NOW - timedelta(days=2, minutes=30)
        series = store.read_series(["alfa-main"], late.timestamp() - 3600, late.timestamp())
        before = series["alfa-main"]
        value = float(before.energy_kwh[-1]) + 50.0  # above the next one: the hour changes
        store.write(
            [
                Message(
                    "late", _ms(NOW), "test", [StoredReading("alfa-main", _ms(late), value, None)]
                )
            ]
        )
        period_reads.clear()
        restarted = _entries(_board(store, cache))
        assert min(period_reads) <= late.timestamp() - 1800  # from its hour (23:00) on
        fresh = _entries(Scoreboard(competition(), store, clock=Clock(NOW)))  # nothing kept
        assert fresh != first  # the late reading moved alfa's figures
        assert restarted == fresh
    finally:
        store.close()
