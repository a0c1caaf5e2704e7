"""Backup, restore and retention of the SQLite store (`wattleague deploy backup|restore|prune`)."""

from __future__ import annotations

import sqlite3
import time

import pytest
from click.testing import CliRunner

from api.scoreboard import Scoreboard
from ingest.store.base import Message, Rejected
from ingest.store.sqlite import SQLiteStore
from ingest.store.sqlite_maintenance import (
    QUARANTINE_PRUNE_STEP,
    MaintenanceError,
    prune_readings,
)
from tests.fixtures import NOW, competition, seed
from tests.ingest.test_sqlite_quarantine import old_store_file
from wattleague.cli import main

NOW_MS = int(NOW.timestamp() * 1000)


def leaderboard(store) -> dict:
    return Scoreboard(competition(), store, clock=NOW.timestamp).leaderboard()


def run(*args: str):
    return CliRunner().invoke(main, ["deploy", *args])


def test_backup_restore_round_trip(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    seed(store)  # still open: recent pages sit in the WAL, which the backup must include
    before = (store.count_readings(), leaderboard(store))
    backup = tmp_path / "backup.db"
    result = run("backup", "--store", f"sqlite:///{tmp_path}/live.db", "--out", str(backup))
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    again = run("backup", "--store", f"sqlite:///{tmp_path}/live.db", "--out", str(backup))
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output

    target = f"sqlite:///{tmp_path}/restored.db"
    result = run("restore", str(backup), "--store", target)
    assert result.exit_code == 0, result.output
    restored = SQLiteStore(tmp_path / "restored.db")
    assert (restored.count_readings(), leaderboard(restored)) == before
    restored.close()

    refused = run("restore", str(backup), "--store", target)
    assert refused.exit_code == 1
    assert "exists" in refused.output and "--force" in refused.output
    assert run("restore", str(backup), "--store", target, "--force").exit_code == 0
    store.close()


def test_restore_refuses_a_damaged_or_foreign_file(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    result = run("restore", str(junk), "--store", f"sqlite:///{tmp_path}/new.db")
    assert result.exit_code == 1 and "not a SQLite database" in result.output
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    result = run("restore", str(other), "--store", f"sqlite:///{tmp_path}/new.db")
    assert result.exit_code == 1 and "not a Watt League store" in result.output
    assert not (tmp_path / "new.db").exists()


def test_backup_needs_a_sqlite_store(tmp_path):
    result = run("backup", "--store", "influxdb://127.0.0.1:8086/db", "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and "SQLite" in result.output


def test_pruning_raw_readings_keeps_the_leaderboard(tmp_path):
    store = SQLiteStore(tmp_path / "store.db")
    seed(store)
    before_rows, before = store.count_readings(), leaderboard(store)
    result = prune_readings(
        tmp_path / "store.db", cutoff_ms=NOW_MS - 86_400_000, now_ms=NOW_MS, max_age_days=1
    )
    after_store = SQLiteStore(tmp_path / "store.db")
    assert result.readings > 0.9 * before_rows
    assert after_store.count_readings() == before_rows - result.readings
    assert result.messages == 3  # the seed stores each meter in one message "received" at 0
    assert leaderboard(after_store) == before
    after_store.close()
    store.close()


def test_pruning_refuses_to_drop_readings_ingest_still_accepts(tmp_path):
    store = SQLiteStore(tmp_path / "store.db")
    seed(store)
    with pytest.raises(MaintenanceError, match="max-age-days"):
        prune_readings(
            tmp_path / "store.db", cutoff_ms=NOW_MS - 86_400_000, now_ms=NOW_MS, max_age_days=400
        )
    result = run("prune", "--store", f"sqlite:///{tmp_path}/store.db", "--retention-days", "30")
    assert result.exit_code == 1 and "--max-age-days" in result.output
    assert store.count_readings() > 0
    store.close()


def test_backup_into_a_folder_that_does_not_exist_yet(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    seed(store)
    out = tmp_path / "backups" / "nightly" / "wl.db"
    result = run("backup", "--store", f"sqlite:///{tmp_path}/live.db", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert leaderboard(SQLiteStore(out)) == leaderboard(store)


def test_quarantine_pruned_with_raw_retention_off(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    seed(store)
    store.write([Message("x/y", 0, rejected=[Rejected("unknown_topic", "t", "x/y", b"{}", 0)])])
    readings = store.count_readings()
    result = run("prune", "--store", f"sqlite:///{tmp_path}/live.db", "--quarantine-days", "30")
    assert result.exit_code == 0, result.output
    assert "1 quarantine entries" in result.output
    assert store.list_quarantine() == []
    assert store.quarantine_counts() == {"unknown_topic": 1}  # the count stays
    assert store.count_readings() == readings  # --retention-days 0: raw readings stay


DAY_MS = 86_400_000


def _quarantine_at(*received_ms: int, reason: str = "undecodable") -> Message:
    """One message whose entries were received at ``received_ms`` (each its own entry)."""
    return Message(
        "x/y",
        received_ms[0],
        rejected=[Rejected(reason, f"#{i}", "x/y", b"{", t) for i, t in enumerate(received_ms)],
    )


def test_pruning_the_quarantine_in_steps_keeps_the_counts_exact(tmp_path):
    store = SQLiteStore(tmp_path / "live.db")
    old = NOW_MS - 100 * DAY_MS
    n_old = 2 * QUARANTINE_PRUNE_STEP + 7  # three steps
    store.write([_quarantine_at(*[old + i for i in range(n_old)])])
    store.write([_quarantine_at(NOW_MS - DAY_MS, NOW_MS, reason="unknown_meter")])
    before = store.quarantine_counts()
    assert before == {"undecodable": n_old, "unknown_meter": 2}
    result = prune_readings(
        tmp_path / "live.db",
        cutoff_ms=None,
        now_ms=NOW_MS,
        max_age_days=400,
        quarantine_cutoff_ms=NOW_MS - 90 * DAY_MS,
    )
    assert result.quarantine == n_old
    assert sorted(e["received_ms"] for e in store.list_quarantine()) == [NOW_MS - DAY_MS, NOW_MS]
    assert store.quarantine_counts() == before  # pruned entries stay counted
    # new entries keep counting on; releasing one (reprocessed) takes it off
    store.write([_quarantine_at(NOW_MS + 1, reason="unknown_meter")])
    newest = store.list_quarantine(limit=1)[0]["id"]
    store.write([], release_ids=[newest])
    assert store.quarantine_counts() == before
    store.close()


def test_pruning_an_old_file_counts_its_entries_before_dropping_any(tmp_path):
    path = tmp_path / "old.db"
    old_store_file(
        path,
        [
            (NOW_MS - 200 * DAY_MS, "mqtt", "a/b", "undecodable", "not JSON", b"{"),
            (NOW_MS - 100 * DAY_MS, "mqtt", "a/b", "unknown_topic", "no meter", b"{}"),
            (NOW_MS - DAY_MS, "mqtt", "a/b", "undecodable", "not JSON", b"{"),
        ],
    )
    result = prune_readings(
        path, None, now_ms=NOW_MS, max_age_days=400, quarantine_cutoff_ms=NOW_MS - 90 * DAY_MS
    )
    assert result.quarantine == 2
    store = SQLiteStore(path)
    assert store.quarantine_counts() == {"undecodable": 2, "unknown_topic": 1}
    assert [e["received_ms"] for e in store.list_quarantine()] == [NOW_MS - DAY_MS]
    store.close()


def test_prune_drops_quarantine_entries_after_90_days_by_default(tmp_path):
    # what the maintenance unit runs: `wattleague deploy prune` with the environment file
    url = f"sqlite:///{tmp_path}/live.db"
    store = SQLiteStore(tmp_path / "live.db")
    now_ms = int(time.time() * 1000)
    store.write([_quarantine_at(now_ms - 100 * DAY_MS, now_ms - 10 * DAY_MS, now_ms)])

    def prune(quarantine_days: str | None):
        env = {"WATTLEAGUE_RETENTION_DAYS": None, "WATTLEAGUE_QUARANTINE_DAYS": quarantine_days}
        result = CliRunner().invoke(main, ["deploy", "prune", "--store", url], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "1 quarantine entries older than 90 days" in prune(None)
    assert len(store.list_quarantine()) == 2
    assert "no quarantine entries pruned" in prune("0")
    assert len(store.list_quarantine()) == 2
    assert "1 quarantine entries older than 5 days" in prune("5")
    assert len(store.list_quarantine()) == 1
    assert store.quarantine_counts() == {"undecodable": 3}
    refused = run("prune", "--store", url, "--quarantine-days", "-1")
    assert refused.exit_code == 2 and "--quarantine-days" in refused.output
    store.close()
